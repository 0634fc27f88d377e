"""Settings of a recording analysis: audio stage, batching, presentation, registration numbers.

How windows become a decision is the bundle's (`DecisionRules`, evaluated with the model). A rule
set here overrides the bundle's for this run; each analysis then says so in its notes, since the
model card's figures were measured with the bundle's rules.
"""

from __future__ import annotations

import re

from pydantic import Field, field_validator

from dialectid.audio import AudioConfig
from dialectid.config import StrictModel
from dialectid.errors import ConfigError
from dialectid.models.contract import DecisionRules

# The fields of a registration template and the width of what each becomes.
REGISTRATION_FIELDS = {"date": 8, "time": 6, "random": 8, "sha8": 8}
REGISTRATION_FIELD = re.compile(r"\{(" + "|".join(REGISTRATION_FIELDS) + r")\}")
REGISTRATION_LENGTH = 60  # the case file's column; the number also names a report file
_SAFE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


class WindowConfig(StrictModel):
    window_s: float | None = Field(None, gt=0.5, le=60, description="seconds of speech per window [the bundle's]")
    hop_s: float | None = Field(None, gt=0.1, le=60, description="seconds of speech between windows [the bundle's]")
    max_windows: int | None = Field(None, ge=1, le=10_000, description="at most this many windows [the bundle's]")
    batch: int = Field(16, ge=1, le=512, description="windows scored together")


class DecisionConfig(StrictModel):
    min_speech_s: float | None = Field(None, ge=0, le=600, description="less net speech: no result [the bundle's]")
    low_confidence: float | None = Field(
        None, gt=0, lt=1, description="top probability below: low_confidence [the bundle's]"
    )
    open_set_margin: float | None = Field(
        None, gt=0, le=100, description="novelty > margin x threshold: out_of_set [the bundle's]"
    )
    open_set_min_speech_s: float | None = Field(
        None, ge=0, le=600, description="less net speech: a novel recording is low_confidence [the bundle's]"
    )
    bootstrap: int = Field(200, ge=10, le=5000, description="bootstrap draws over windows for the interval")
    interval: float = Field(0.95, gt=0.5, lt=1)


class ScoringConfig(StrictModel):
    audio: AudioConfig = AudioConfig()
    windows: WindowConfig = WindowConfig()
    decision: DecisionConfig = DecisionConfig()
    registration: str = Field("DID-{date}-{random}", description="fields: {date} {time} {random} {sha8}")

    @field_validator("registration")
    @classmethod
    def _registration(cls, template: str) -> str:
        """The number becomes a file name (`--reports DIR/<number>.json`): letters, digits, `._-`
        and the fields only, no `..`, starting with a letter, digit or field."""
        widest = REGISTRATION_FIELD.sub(lambda m: "0" * REGISTRATION_FIELDS[m[1]], template)
        if not _SAFE.fullmatch(widest) or ".." in widest:
            raise ValueError(f"template {template!r} may hold only letters, digits, '.', '_', '-' and the fields "
                             f"{' '.join('{' + f + '}' for f in REGISTRATION_FIELDS)}, must not start with '.' or "
                             "'-' and must not contain '..'")  # fmt: skip
        if len(widest) > REGISTRATION_LENGTH:
            raise ValueError(f"template {template!r} makes numbers longer than {REGISTRATION_LENGTH} characters")
        return template

    def require_unique_registration(self) -> None:
        """Refuse a template that can give two analyses one number where each is a file named by it
        (`--reports`): only {random} differs between two analyses of one recording in one second."""
        if "{random}" not in self.registration:
            raise ConfigError(f"registration template {self.registration!r} can give two analyses the same number, "
                              "so one report would replace another in --reports; put {random} in it")  # fmt: skip

    def overrides(self) -> dict[str, float]:
        """The decision rules this config sets, which replace the bundle's."""
        chosen = {**self.windows.model_dump(), **self.decision.model_dump()}
        return {name: chosen[name] for name in DecisionRules.model_fields if chosen.get(name) is not None}

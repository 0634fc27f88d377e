"""Settings of a recording analysis: audio stage, batching, presentation, registration numbers.

How windows become a decision is the bundle's (`DecisionRules`, evaluated with the model). A rule
set here overrides the bundle's for this run; each analysis then says so in its notes, since the
model card's figures were measured with the bundle's rules.
"""

from __future__ import annotations

from pydantic import Field

from dialectid.audio import AudioConfig
from dialectid.config import StrictModel
from dialectid.models.contract import DecisionRules


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
    bootstrap: int = Field(200, ge=10, le=5000, description="bootstrap draws over windows for the interval")
    interval: float = Field(0.95, gt=0.5, lt=1)


class ScoringConfig(StrictModel):
    audio: AudioConfig = AudioConfig()
    windows: WindowConfig = WindowConfig()
    decision: DecisionConfig = DecisionConfig()
    registration: str = Field("DID-{date}-{random}", description="fields: {date} {time} {random} {sha8}")

    def overrides(self) -> dict[str, float]:
        """The decision rules this config sets, which replace the bundle's."""
        chosen = {**self.windows.model_dump(), **self.decision.model_dump()}
        return {name: chosen[name] for name in DecisionRules.model_fields if chosen.get(name) is not None}

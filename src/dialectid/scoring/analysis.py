"""The `Analysis`: everything one recording's analysis found, typed end to end.

One schema, validated on the way in and out: the scorer builds it, batch results, the case file
and the web API store and serve its JSON form (`to_dict`), and read it back with `from_dict`.

>>> a = Analysis.from_dict(EXAMPLE)
>>> (a.status, a.top_label, a.audio.sample_rate, a.uncertainty.low)
('ok', 'en', 8000, 0.7)
>>> Analysis.from_dict(a.to_dict()) == a
True

Schema 2 added `dialects` (None where no dialect head was asked or applied); JSON of schema 1
reads as before, with `dialects` None.
"""

from __future__ import annotations

from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = 2  # 2: the optional `dialects` block
Status = Literal["ok", "low_confidence", "insufficient_speech", "out_of_set", "rejected_audio"]
STATUSES: tuple[str, ...] = get_args(Status)
ANSWERED: tuple[str, ...] = ("ok", "low_confidence")  # the statuses that give a label
MEANING = {
    "ok": "a result is given",
    "low_confidence": "no label is clearly more likely than the others",
    "insufficient_speech": "too little speech for any result",
    "out_of_set": "the speech fits none of the languages or dialects the model knows",
    "rejected_audio": "the recording is unfit for analysis",
}


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class LabelProbability(_Frozen):
    label: str
    probability: float

    def __init__(self, label: str, probability: float) -> None:  # positional, as it reads best
        BaseModel.__init__(self, label=label, probability=probability)  # `_Frozen`'s typed __init__ has no fields


class Window(_Frozen):
    start: float = Field(description="seconds in the recording")
    end: float
    speech_s: float
    top_label: str
    probabilities: dict[str, float]


class AudioFacts(_Frozen):
    sha256: str
    container: str
    codec: str
    sample_rate: int
    channels: int
    duration_s: float


class QualityCheck(_Frozen):
    name: str
    value: float | None
    unit: str
    status: Literal["ok", "warn", "reject"]


class QualityBlock(_Frozen):
    status: Literal["ok", "warn", "reject"]
    flags: list[str]
    reasons: list[str]
    checks: list[QualityCheck]


class Uncertainty(_Frozen):
    """Percentile interval of the top label's probability when the windows are resampled."""

    low: float
    high: float
    level: float


class OpenSet(_Frozen):
    novelty: float
    threshold: float


class ModelRef(_Frozen):
    id: str | None = None
    name: str | None = None
    bundle_sha256: str


DialectStatus = Literal["ok", "dialect_uncertain"]
DIALECT_MEANING = {
    "ok": "a dialect result is given",
    "dialect_uncertain": "the language is given, but no dialect is clearly more likely than the others",
}


class DialectResult(_Frozen):
    """The dialect head's split of one language's probability (scoring/dialects.py): `children` are
    the dialects' calibrated posteriors times `parent_probability`, so they sum to it."""

    parent: str = Field(description="the language label the dialect head splits, e.g. 'ar'")
    parent_probability: float
    children: list[LabelProbability] = Field(description="every dialect, sorted; sums to parent_probability")
    status: DialectStatus
    top_dialect: str | None = Field(description="None unless status is ok: no dialect is named when uncertain")
    top_share: float = Field(description="the top dialect's probability given the parent (what the threshold tests)")
    threshold: float = Field(description="below this share given the parent: dialect_uncertain")
    reason: str | None = Field(None, description="why the dialect is uncertain")
    model: ModelRef
    groups: list[LabelProbability] = Field(
        default_factory=list, description="nodes between parent and dialects (regions over countries): their sums"
    )

    @property
    def meaning(self) -> str:
        return DIALECT_MEANING[self.status]


class Analysis(_Frozen):
    registration_number: str
    created_at: str
    audio: AudioFacts
    quality: QualityBlock
    speech_s: float
    status: Status
    probabilities: list[LabelProbability] = Field(description="every label, calibrated, sorted; empty: no result")
    family_probabilities: list[LabelProbability]
    node_probabilities: list[LabelProbability] = Field(description="every inner node of the taxonomy")
    top_label: str | None
    top_probability: float | None
    uncertainty: Uncertainty | None
    consistency: float | None
    timeline: list[Window]
    open_set: OpenSet | None = Field(description="where the model has a novelty measure")
    model: ModelRef
    toolkit_version: str
    schema_version: int = SCHEMA_VERSION
    notes: list[str] = Field(default_factory=list)
    dialects: DialectResult | None = Field(None, description="where a dialect head split the top language")

    @property
    def meaning(self) -> str:
        return MEANING[self.status]

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Analysis:
        return cls.model_validate(data)


EXAMPLE: dict[str, Any] = {
    "registration_number": "DID-20261201-0A1B2C3D", "created_at": "2026-12-01T10:00:00+00:00",
    "audio": {"sha256": "ab" * 32, "container": "wav", "codec": "pcm_mulaw", "sample_rate": 8000, "channels": 1,
              "duration_s": 42.6},
    "quality": {"status": "ok", "flags": ["telephone_band"], "reasons": [], "checks": []},
    "speech_s": 34.2, "status": "ok",
    "probabilities": [{"label": "en", "probability": 0.8}, {"label": "fr", "probability": 0.2}],
    "family_probabilities": [], "node_probabilities": [], "top_label": "en", "top_probability": 0.8,
    "uncertainty": {"low": 0.7, "high": 0.9, "level": 0.95}, "consistency": 0.9, "timeline": [], "open_set": None,
    "model": {"id": "lid-accurate", "name": "whisper-lid", "bundle_sha256": "cd" * 32}, "toolkit_version": "0.1.0",
}  # fmt: skip

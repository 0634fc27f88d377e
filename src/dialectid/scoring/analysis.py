"""The `Analysis`: everything one recording's analysis found, with a stable JSON form."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

SCHEMA_VERSION = 1
Status = Literal["ok", "low_confidence", "insufficient_speech", "out_of_set", "rejected_audio"]
STATUSES = ("ok", "low_confidence", "insufficient_speech", "out_of_set", "rejected_audio")
MEANING = {
    "ok": "a result is given",
    "low_confidence": "no label is clearly more likely than the others",
    "insufficient_speech": "too little speech for any result",
    "out_of_set": "the speech fits none of the languages or dialects the model knows",
    "rejected_audio": "the recording is unfit for analysis",
}


@dataclass(frozen=True)
class LabelProbability:
    label: str
    probability: float


@dataclass(frozen=True)
class Window:
    start: float  # seconds in the recording
    end: float
    speech_s: float
    top_label: str
    probabilities: dict[str, float]


@dataclass(frozen=True)
class Analysis:
    registration_number: str
    created_at: str
    audio: dict[str, Any]  # sha256, container, codec, sample_rate, channels, duration_s
    quality: dict[str, Any]  # status, flags, reasons, checks
    speech_s: float
    status: Status
    probabilities: list[LabelProbability]  # every label, calibrated, sorted; empty when no result
    family_probabilities: list[LabelProbability]
    node_probabilities: list[LabelProbability]  # every inner node of the taxonomy
    top_label: str | None
    top_probability: float | None
    uncertainty: dict[str, float] | None  # {"low", "high", "level"} for the top probability
    consistency: float | None
    timeline: list[Window]
    open_set: dict[str, float] | None  # {"novelty", "threshold"} where the model has one
    model: dict[str, str]  # id, name, bundle_sha256
    toolkit_version: str
    schema_version: int = SCHEMA_VERSION
    notes: list[str] = field(default_factory=list)

    @property
    def meaning(self) -> str:
        return MEANING[self.status]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Analysis:
        data = dict(data)
        for key in ("probabilities", "family_probabilities", "node_probabilities"):
            data[key] = [LabelProbability(**p) for p in data[key]]
        data["timeline"] = [Window(**w) for w in data["timeline"]]
        return cls(**data)

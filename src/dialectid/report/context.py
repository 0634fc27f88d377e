"""What a report says besides the Analysis: the case, the subject's pseudonym and the model."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ModelFacts:
    """The model as the report describes it, from its bundle."""

    name: str
    model: str
    version: str
    bundle_sha256: str
    test_accuracy: float | None
    test_cavg: float | None
    test_cllr: float | None
    test_clips: int | None
    unseen_speakers: bool | None
    limitations: list[str] = field(default_factory=list)
    test_coverage: float | None = None  # share of test clips given a label

    @classmethod
    def from_bundle(cls, bundle: Any) -> ModelFacts:
        metrics = bundle.metrics or {}
        return cls(
            name=bundle.model_id,
            model=bundle.model.name,
            version=bundle.description.get("toolkit_version", ""),
            bundle_sha256=bundle.sha256,
            test_accuracy=metrics.get("accuracy"),
            test_cavg=metrics.get("cavg"),
            test_cllr=metrics.get("cllr"),
            test_clips=metrics.get("n"),
            test_coverage=metrics.get("coverage"),
            unseen_speakers=metrics.get("speakers_unseen_in_training"),
            limitations=limitations_from_card((bundle.path / "MODEL_CARD.md").read_text()),
        )


@dataclass(frozen=True)
class ReportContext:
    case_reference: str
    subject_pseudonym: str
    recorded_at: str  # ISO time the recording was made (or added)
    model: ModelFacts


def limitations_from_card(card: str) -> list[str]:
    """The bullet points under the model card's 'Limitations' heading."""
    lines, inside = [], False
    for line in card.splitlines():
        if line.startswith("## "):
            inside = line.strip().lower() == "## limitations"
            continue
        if inside and line.startswith("- "):
            lines.append(line[2:].strip())
    return lines

"""What every rendering of a report says, worked out once from an Analysis and its context;
the PDF, HTML and JSON renderings only lay it out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dialectid.report.context import ReportContext
from dialectid.scoring.analysis import MEANING, Analysis

TITLE = "Language and dialect identification report"
NOTICE = ("This result is an indication that supports a human assessment by a trained caseworker or linguist. "
          "It is not evidence and must not be the sole basis of any decision.")  # fmt: skip
QUALITY_OK = "No quality problems were found."


def _pct(value: float | None) -> str:
    return "not measured" if value is None else f"{100 * value:.1f} %"


@dataclass(frozen=True)
class ReportContent:
    registration_number: str
    header: list[tuple[str, str]]
    recording: list[tuple[str, str]]
    quality_lines: list[str]
    status: str
    status_line: str
    probabilities: list[tuple[str, float]]
    families: list[tuple[str, float]]
    evidence_lines: list[str]
    timeline: list[tuple[float, float, str, float]]  # start, end, top label, its probability
    model_rows: list[tuple[str, str]]
    limitations: list[str]

    def to_json(self) -> dict[str, Any]:
        return {
            "title": TITLE, "registration_number": self.registration_number, "header": dict(self.header),
            "recording": dict(self.recording), "quality": self.quality_lines, "status": self.status,
            "status_line": self.status_line, "probabilities": dict(self.probabilities),
            "family_probabilities": dict(self.families), "evidence": self.evidence_lines,
            "model": dict(self.model_rows), "limitations": self.limitations, "notice": NOTICE,
        }  # fmt: skip


def build_content(analysis: Analysis, context: ReportContext) -> ReportContent:
    a, model = analysis, context.model
    channel = "telephone band" if "telephone_band" in a.quality.flags else "wideband"
    header = [
        ("Registration number", a.registration_number),
        ("Case reference", context.case_reference),
        ("Subject (pseudonym)", context.subject_pseudonym),
        ("Recorded", context.recorded_at),
        ("Analysed", a.created_at),
    ]
    recording = [
        ("Duration", f"{a.audio.duration_s:.1f} s"),
        ("Net speech", f"{a.speech_s:.1f} s"),
        ("Sample rate", f"{a.audio.sample_rate} Hz"),
        ("Channel", f"{channel} ({a.audio.channels} channel{'s' if a.audio.channels > 1 else ''})"),
        ("Format", f"{a.audio.container} / {a.audio.codec}"),
        ("SHA-256 of the file", a.audio.sha256),
    ]
    quality = [f"Quality: {a.quality.status}."] + [f"– {reason}" for reason in a.quality.reasons]
    if not a.quality.reasons:
        quality.append(QUALITY_OK)
    status_line = f"Status: {a.status} – {MEANING[a.status]}."
    if a.status in ("insufficient_speech", "rejected_audio"):
        why = "; ".join(a.quality.reasons) or f"only {a.speech_s:.1f} s of speech"
        status_line += f" No result can be given ({why})."
    elif a.status == "out_of_set" and a.open_set:
        status_line += (f" The speech fits none of the known classes: its novelty {a.open_set.novelty:.2f} is above "
                        f"the model's open-set threshold {a.open_set.threshold:.2f} (see its model card); "
                        "the probabilities below only compare the known classes.")  # fmt: skip
    evidence = []
    if a.probabilities:
        evidence = [
            f"Top label {a.top_label}: {_pct(a.top_probability)}; {int(100 * a.uncertainty.level)} % interval "
            f"{_pct(a.uncertainty.low)} to {_pct(a.uncertainty.high)} (bootstrap over the speech windows).",
            f"Consistency: {_pct(a.consistency)} of the speech lies in windows whose most likely label is "
            f"{a.top_label} ({len(a.timeline)} windows).",
        ]  # fmt: skip
    model_rows = [
        ("Model", f"{model.name} ({model.model})"),
        ("Toolkit version", model.version),
        ("Bundle SHA-256", model.bundle_sha256),
        ("Accuracy on its test set", _pct(model.test_accuracy) + (
            f" of the {_pct(model.test_coverage)} of {model.test_clips} clips it gave a label" if model.test_clips else "")),
        ("Test speakers unseen in training", {True: "yes", False: "no", None: "unknown"}[model.unseen_speakers]),
        ("Calibration on its test set", f"Cavg {_num(model.test_cavg)}, Cllr {_num(model.test_cllr)} bits"),
    ]  # fmt: skip
    return ReportContent(
        registration_number=a.registration_number,
        header=header,
        recording=recording,
        quality_lines=quality,
        status=a.status,
        status_line=status_line,
        probabilities=[(p.label, p.probability) for p in a.probabilities],
        families=[(p.label, p.probability) for p in a.node_probabilities],
        evidence_lines=evidence,
        timeline=[(w.start, w.end, w.top_label, w.probabilities[w.top_label]) for w in a.timeline],
        model_rows=model_rows,
        limitations=model.limitations,
    )


def _num(value: float | None) -> str:
    return "not measured" if value is None else f"{value:.3f}"

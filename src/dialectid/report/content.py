"""What every rendering of a report says, worked out once from an Analysis and its context;
the PDF, HTML and JSON renderings only lay it out.

`ANALYSIS_FACTS` is the one place that puts an analysis's own facts into words, for the report
(PDF, HTML, JSON), the case page and the JSON API alike (`casefile.summaries`): a new field of
`Analysis` reaches every one of them by one line there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from dialectid.names import label_name
from dialectid.report.context import ReportContext
from dialectid.report.dialect import DialectContent, dialect_content, dialect_model_rows, limitations_with_dialect
from dialectid.report.explain import (
    can_do_line,
    facts_summary,
    model_lines,
    reading_lines,
    speech_lines,
    status_lines,
)
from dialectid.scoring.analysis import Analysis

TITLE = "Language identification report"
DIALECT_TITLE = "Language and dialect identification report"  # only where a dialect result is present
NOTICE = ("This result is an indication that supports a human assessment by a trained caseworker or linguist. "
          "It is not evidence and must not be the sole basis of any decision.")  # fmt: skip
QUALITY_OK = "No quality problems were found."
QUALITY_WORDS = {"ok": "no problems found", "warn": "usable, with the warnings below", "reject": "unfit for analysis"}


@dataclass(frozen=True)
class Fact:
    """One fact of an analysis as every rendering shows it: its name and its value, in words."""

    label: str
    value: str


def _channel(a: Analysis) -> str:
    band = "telephone band" if "telephone_band" in a.quality.flags else "wideband"
    return f"{band} ({a.audio.channels} channel{'s' if a.audio.channels > 1 else ''})"


# The report's "Recording" table, the case page's facts of each analysis and the API's `facts`, in
# this order. Each entry: the fact's name, and how it is written from the Analysis.
ANALYSIS_FACTS: list[tuple[str, Callable[[Analysis], str]]] = [
    ("Duration", lambda a: f"{a.audio.duration_s:.1f} s"),
    ("Net speech", lambda a: f"{a.speech_s:.1f} s"),
    ("Sample rate", lambda a: f"{a.audio.sample_rate} Hz"),
    ("Channel", _channel),
    ("Format", lambda a: f"{a.audio.container} / {a.audio.codec}"),
    ("SHA-256 of the file", lambda a: a.audio.sha256),
]


def analysis_facts(analysis: Analysis) -> list[Fact]:
    """What every rendering shows of `analysis`'s own facts (`ANALYSIS_FACTS`).

    >>> from dialectid.scoring.analysis import EXAMPLE
    >>> [f"{f.label}: {f.value}" for f in analysis_facts(Analysis.from_dict(EXAMPLE))][:2]
    ['Duration: 42.6 s', 'Net speech: 34.2 s']
    """
    return [Fact(label, written(analysis)) for label, written in ANALYSIS_FACTS]


def title_of(analysis: Analysis) -> str:
    """What the report identifies: a dialect only where the analysis carries a dialect result."""
    return DIALECT_TITLE if getattr(analysis, "dialects", None) else TITLE


@dataclass(frozen=True)
class ReportContent:
    registration_number: str
    header: list[tuple[str, str]]
    recording: list[Fact]  # the analysis's own facts (`analysis_facts`)
    quality_lines: list[str]
    status: str
    status_lines: list[str]  # the status first, then what it means here
    probabilities: list[tuple[str, float]]  # label codes; `label_names` names them for people
    families: list[tuple[str, float]]  # totals per language family (top-level groups only)
    reading_lines: list[str]  # the probabilities, the interval and the consistency in words
    timeline: list[tuple[float, float, str, float]]  # start, end, top label, its probability
    model_rows: list[tuple[str, str]]
    model_lines: list[str]  # the test figures in words
    speech_lines: list[str]  # how often the model was right by amount of speech
    can_do: str | None
    limitations: list[str]
    title: str = TITLE
    label_names: dict[str, str] = field(default_factory=dict)
    dialect: DialectContent | None = None  # the dialect head's split of the top language, where one was made

    @property
    def status_line(self) -> str:
        return " ".join(self.status_lines)

    def name(self, label: str) -> str:
        return self.label_names.get(label, label)

    def to_json(self) -> dict[str, Any]:
        return {
            "title": self.title, "registration_number": self.registration_number, "header": dict(self.header),
            "recording": {f.label: f.value for f in self.recording}, "quality": self.quality_lines, "status": self.status,
            "status_line": self.status_line, "probabilities": dict(self.probabilities),
            "label_names": self.label_names, "family_probabilities": dict(self.families),
            "reading": self.reading_lines, "model": dict(self.model_rows), "model_figures": self.model_lines,
            "by_speech": self.speech_lines, "can_do": self.can_do, "limitations": self.limitations, "notice": NOTICE,
            "dialect": asdict(self.dialect) if self.dialect else None,
        }  # fmt: skip


def build_content(analysis: Analysis, context: ReportContext) -> ReportContent:
    a, model = analysis, context.model
    header = [
        ("Registration number", a.registration_number),
        ("Case reference", context.case_reference),
        ("Subject (pseudonym)", context.subject_pseudonym),
        ("Recorded", context.recorded_at),
        ("Analysed", a.created_at),
    ]
    quality = [f"Quality: {QUALITY_WORDS.get(a.quality.status, a.quality.status)}."]
    quality += [f"– {reason}" for reason in a.quality.reasons] or [QUALITY_OK]
    labels = [p.label for p in a.probabilities] + [p.label for p in a.family_probabilities] + list(model.labels or [])
    families = [(p.label, p.probability) for p in a.family_probabilities]
    return ReportContent(
        registration_number=a.registration_number,
        header=header,
        recording=analysis_facts(a),
        quality_lines=quality,
        status=a.status,
        status_lines=status_lines(a, model),
        probabilities=[(p.label, p.probability) for p in a.probabilities],
        families=families if len(families) > 1 else [],  # one family holding everything says nothing
        reading_lines=reading_lines(a),
        timeline=[(w.start, w.end, w.top_label, w.probabilities[w.top_label]) for w in a.timeline],
        model_rows=list(facts_summary(model).items()) + dialect_model_rows(model.dialect),
        model_lines=model_lines(model),
        speech_lines=speech_lines(model, a.speech_s),
        can_do=can_do_line(model),
        limitations=limitations_with_dialect(model),
        title=title_of(a),
        label_names={label: label_name(label) for label in labels},
        dialect=dialect_content(a.dialects),
    )

"""What the case file shows of its cases, recordings, analyses and audit events, typed: one shape
for `dialectid case show --json`, the web pages and the JSON API, whose response bodies are these
classes (`web.api_models`). `to_json` writes any of them as JSON-ready data.

An analysis that is not the one stored (`integrity`) keeps only what identifies it: its status
reads "not_valid", and no figure of a changed row is shown.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from pydantic import TypeAdapter, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from dialectid.casefile.integrity import (
    Integrity,
    ReportSignature,
    analysis_gone,
    analysis_problem,
    integrity_status,
    report_gone,
)
from dialectid.casefile.schema import AnalysisRow, Feedback, Recording
from dialectid.report.content import Fact, analysis_facts
from dialectid.scoring.analysis import Analysis, DialectResult, LabelProbability

NOT_VALID = "not_valid"  # the status shown for an analysis that is not the one stored
_ANY: TypeAdapter[Any] = TypeAdapter(Any)  # serialises dataclasses and pydantic models by what they are


def to_json(summary: Any) -> Any:
    """A summary (or a list of them) as JSON-ready data, as the API writes it.

    >>> to_json([LatestResult("ok", "en", 0.9)])
    [{'status': 'ok', 'top_label': 'en', 'top_probability': 0.9}]
    """
    return _ANY.dump_python(summary, mode="json")


@dataclass(frozen=True)
class CaseRow:
    """A line of the case list."""

    reference: str
    status: str
    pseudonym: str
    created_at: str
    recordings: int
    assigned_to: str | None


@dataclass(frozen=True)
class QualitySummary:
    status: str | None
    flags: list[str]
    reasons: list[str]


@dataclass(frozen=True)
class FeedbackEntry:
    author: str
    role: str
    agrees: bool | None  # with the top label; None: no opinion
    linguist_outcome: str | None
    comment: str | None
    created_at: str


@dataclass(frozen=True)
class AnalysisSummary:
    """One stored analysis as the case page, the API and `case show` give it."""

    registration_number: str
    status: str  # the Analysis's status; "not_valid": not the analysis stored, its figures withheld
    top_label: str | None
    top_probability: float | None
    model: str
    report: bool  # a signed report is attached
    created_at: str
    speech_s: float | None
    probabilities: list[LabelProbability]
    dialects: DialectResult | None
    quality: QualitySummary
    facts: list[Fact]  # what every rendering says of the analysis (`report.content.ANALYSIS_FACTS`)
    feedback: list[FeedbackEntry]
    integrity: Integrity
    signature: ReportSignature | None = None  # the report's, once checked (`CaseSummary.with_signatures`)


@dataclass(frozen=True)
class RecordingSummary:
    sha256: str
    codec: str
    container: str
    duration_s: float
    recorded_by: str
    recorded_at: str
    analyses: list[AnalysisSummary]


@dataclass(frozen=True)
class CaseSummary:
    """A case as its caseworker sees it: its recordings, and every analysis of each."""

    reference: str
    status: str
    pseudonym: str
    created_at: str
    assigned_to: str | None
    recordings: list[RecordingSummary]

    def with_signatures(self, signatures: Mapping[str, ReportSignature]) -> CaseSummary:
        """This summary with the signature status of each report in `signatures` (by registration
        number: `CaseStore.check_report`)."""
        return replace(self, recordings=[
            replace(r, analyses=[replace(a, signature=signatures.get(a.registration_number)) for a in r.analyses])
            for r in self.recordings])  # fmt: skip

    @property
    def reports(self) -> list[str]:
        """The registration numbers of the analyses with a report, in the order they are shown."""
        return [a.registration_number for r in self.recordings for a in r.analyses if a.report]


@dataclass(frozen=True)
class SubjectIdentity:
    """Who the subject is: kept in the identity map alone, shown only where asked for (and audited)."""

    name: str
    date_of_birth: str
    claimed_origin: str | None


@dataclass(frozen=True)
class LatestResult:
    """What the case list says of a recording's latest analysis."""

    status: str
    top_label: str | None
    top_probability: float | None


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: str
    actor: str
    action: str
    case: str | None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ModelAgreement:
    """How often feedback agreed with one model's top label (no opinion: not counted)."""

    model: str
    feedback: int
    agree: int
    disagree: int
    no_opinion: int
    agreement: float | None  # agree / (agree + disagree); None before any such feedback


# ---- from the case file's rows -------------------------------------------------------------------
def shown_analysis(session: Session, row: AnalysisRow, has_report: bool, recording_sha256: str,
                   record: dict[str, Any] | None, report_recorded: bool = False) -> AnalysisSummary:  # fmt: skip
    """The summary of stored analysis `row`, and whether it is the analysis that was stored (its
    audit event `record`), with its report if one was attached (`report_recorded`: an audit event
    says one was). One that is not the analysis stored is `not_valid`."""
    number = row.registration_number
    problem = analysis_problem(row, recording_sha256, record)
    if problem is None and report_recorded and not has_report:
        problem = report_gone(number)
    if problem is not None:
        return not_valid(number, row.model_id, has_report, row.created_at.isoformat(), record, problem)
    try:
        analysis = Analysis.from_dict(row.data)
    except ValidationError:  # only an analysis stored before digests, its columns intact, gets here
        problem = f"analysis {number}: what is stored is not an analysis this toolkit can read"
        return not_valid(number, row.model_id, has_report, row.created_at.isoformat(), record, problem)
    feedback = session.scalars(select(Feedback).where(Feedback.analysis_id == row.id).order_by(Feedback.id))
    return AnalysisSummary(
        registration_number=number, status=analysis.status, top_label=analysis.top_label,
        top_probability=analysis.top_probability, model=row.model_id, report=has_report,
        created_at=row.created_at.isoformat(), speech_s=analysis.speech_s, probabilities=analysis.probabilities,
        dialects=analysis.dialects,
        quality=QualitySummary(analysis.quality.status, analysis.quality.flags, analysis.quality.reasons),
        facts=analysis_facts(analysis),
        feedback=[FeedbackEntry(f.author, f.role, f.agrees, f.linguist_outcome, f.comment, f.created_at.isoformat())
                  for f in feedback],
        integrity=integrity_status(record, None),
    )  # fmt: skip


def gone_analyses(present: Sequence[AnalysisRow], records: dict[str, dict[str, Any]],
                  recording_sha256: str) -> list[AnalysisSummary]:  # fmt: skip
    """The analyses of a recording that audit events record but whose rows are missing: shown NOT
    VALID in their place, never as "not analysed yet"."""
    kept = {row.registration_number for row in present}
    return [not_valid(number, str(((record.get("model_facts") or {}).get("model")) or "unknown"), False, "",
                      record, analysis_gone(number))
            for number, record in records.items() if record.get("sha256") == recording_sha256 and number not in kept]  # fmt: skip


def not_valid(number: str, model: str, has_report: bool, created_at: str, record: dict[str, Any] | None,
              problem: str) -> AnalysisSummary:  # fmt: skip
    return AnalysisSummary(registration_number=number, status=NOT_VALID, top_label=None, top_probability=None,
                           model=model, report=has_report, created_at=created_at, speech_s=None, probabilities=[],
                           dialects=None, quality=QualitySummary(None, [], []), facts=[], feedback=[],
                           integrity=integrity_status(record, problem))  # fmt: skip


def latest_result(session: Session, recording: Recording, records: dict[str, dict[str, Any]]) -> LatestResult | None:
    """The latest analysis of `recording` for the case list (None: not analysed yet); one that is
    not the analysis stored is only `not_valid`, as on the case page."""
    row = session.scalar(select(AnalysisRow).where(AnalysisRow.recording_id == recording.id)
                         .order_by(AnalysisRow.id.desc()).limit(1))  # fmt: skip
    if row is None:
        return None
    if analysis_problem(row, recording.sha256, records.get(row.registration_number)):
        return LatestResult(NOT_VALID, None, None)
    return LatestResult(row.status, row.top_label, row.data.get("top_probability"))

"""`analyse_case`: score every unanalysed recording of a case, render, sign and attach reports.

Crash-safe: analyses and reports are stored in separate transactions, and each run first
completes analyses that lack their report, so rerunning after a crash finishes the work
without duplicates. Two processes on the same case race harmlessly: the database's unique
constraints let one of them store each analysis and each report.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from dialectid.casefile.schema import AnalysisRow, Recording
from dialectid.casefile.store import CaseStore
from dialectid.models.bundle import Bundle, require_signed_for_cases
from dialectid.report import ModelFacts, ReportContext, render, sign_pdf, signing_key
from dialectid.scoring import Analysis, Scorer, ScoringConfig


@dataclass
class AnalyseOutcome:
    analysed: list[str] = field(default_factory=list)  # registration numbers
    reports: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # messages


# progress(done, total, stage): called before each recording is scored and once when all are
Progress = Callable[[int, int, str], None]


def analyse_case(store: CaseStore, reference: str, bundle: Bundle, actor: str,
                 config: ScoringConfig | None = None, progress: Progress | None = None) -> AnalyseOutcome:  # fmt: skip
    from dialectid.audio import AudioError

    require_signed_for_cases(bundle, store.keys_dir)  # where DIALECTID_REQUIRE_SIGNED_MODELS is set
    progress = progress or (lambda done, total, stage: None)
    outcome = AnalyseOutcome()
    _attach_missing_reports(store, reference, bundle, actor, outcome)
    scorer = Scorer(bundle, config)
    pending = store.pending(reference, bundle.sha256)
    for done, recording in enumerate(pending):
        progress(done, len(pending), f"analysing recording {done + 1} of {len(pending)}")
        try:
            analysis = scorer.analyse(store.recording_path(recording.sha256))
        except AudioError as error:
            outcome.failed.append(f"recording {recording.sha256[:12]}: {error.problem}")
            continue
        if store.store_analysis(reference, recording, analysis, actor) is None:
            continue  # another process analysed it first
        outcome.analysed.append(analysis.registration_number)
    progress(len(pending), len(pending), "signing the reports")
    _attach_missing_reports(store, reference, bundle, actor, outcome)
    return outcome


def _attach_missing_reports(
    store: CaseStore, reference: str, bundle: Bundle, actor: str, outcome: AnalyseOutcome
) -> None:
    key = signing_key(store.keys_dir)
    facts = ModelFacts.from_bundle(bundle)
    for row, recording in store.without_report(reference):
        pdf = render_report(store, reference, row, recording, facts)
        signed = sign_pdf(pdf, row.registration_number, row.model_id, key)
        signature = {"registration_number": row.registration_number, "model": row.model_id}
        if store.attach_report(reference, row.id, signed, signature, actor, model_facts=asdict(facts)):
            outcome.reports.append(row.registration_number)


def render_report(store: CaseStore, reference: str, row: AnalysisRow, recording: Recording, facts: ModelFacts) -> bytes:
    with store.transaction() as session:
        pseudonym = store.pseudonym(session, store.case(session, reference))
    context = ReportContext(reference, pseudonym, recording.recorded_at.isoformat(timespec="seconds"), facts)
    return render(Analysis.from_dict(row.data), context, "pdf")

"""`analyse_case`: score every unanalysed recording of a case, render, sign and attach reports.

Crash-safe: analyses and reports are stored in separate transactions, and each run first
completes analyses that lack their report, so rerunning after a crash finishes the work
without duplicates. Two processes on the same case race harmlessly: the database's unique
constraints let one of them store each analysis and each report.

A report describes the model that made its analysis, whichever model the run that signs it has
loaded: the model's facts are stored with the analysis (in the audit event that records it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from dialectid.casefile.integrity import analysis_problem
from dialectid.casefile.schema import AnalysisRow, Recording
from dialectid.casefile.store import CaseStore, RecordingIntegrityError
from dialectid.models.bundle import Bundle, require_signed_for_cases
from dialectid.report import ModelFacts, ReportContext, render, report_binding, sign_pdf, signing_key
from dialectid.scoring import Analysis, Scorer, ScoringConfig


@dataclass
class AnalyseOutcome:
    analysed: list[str] = field(default_factory=list)  # registration numbers
    reports: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # messages


# progress(done, total, stage): called before each recording is scored and once when all are
Progress = Callable[[int, int, str], None]


def analyse_case(store: CaseStore, reference: str, bundle: Bundle, actor: str, config: ScoringConfig | None = None,
                 progress: Progress | None = None, dialect: Bundle | None = None) -> AnalyseOutcome:  # fmt: skip
    """`dialect`: a dialect bundle under `bundle` (scoring/dialects.py), whose facts the reports
    then state beside the language model's."""
    from dialectid.audio import AudioError

    for used in (bundle, dialect) if dialect is not None else (bundle,):
        require_signed_for_cases(used, store.keys_dir)  # where DIALECTID_REQUIRE_SIGNED_MODELS is set
    progress = progress or (lambda done, total, stage: None)
    outcome = AnalyseOutcome()
    scorer = Scorer(bundle, config, dialect)  # a dialect bundle that does not fit is refused before anything
    facts = ModelFacts.from_bundle(bundle, dialect)
    _attach_missing_reports(store, reference, facts, actor, outcome)
    pending = store.pending(reference, bundle.sha256)
    for done, recording in enumerate(pending):
        progress(done, len(pending), f"analysing recording {done + 1} of {len(pending)}")
        try:
            analysis = scorer.analyse(store.verified_recording(reference, recording.sha256, actor))
        except RecordingIntegrityError as error:  # audited by the store; the other recordings go on
            outcome.failed.append(error.message)
            continue
        except AudioError as error:
            outcome.failed.append(f"recording {recording.sha256[:12]}: {error.problem}")
            continue
        if store.store_analysis(reference, recording, analysis, actor, model_facts=asdict(facts)) is None:
            continue  # another process analysed it first
        outcome.analysed.append(analysis.registration_number)
    progress(len(pending), len(pending), "signing the reports")
    _attach_missing_reports(store, reference, facts, actor, outcome)
    return outcome


def _attach_missing_reports(store: CaseStore, reference: str, current: ModelFacts, actor: str,
                            outcome: AnalyseOutcome) -> None:  # fmt: skip
    """Sign and attach a report for every analysis of the case that has none. `current`: the facts
    of the model this run has loaded, used only for analyses that model made. An analysis that is
    not the one its audit event recorded, or whose model's facts are unknown, is not signed."""
    key = signing_key(store.keys_dir)
    records = store.analysis_records(reference)
    for row, recording in store.without_report(reference):
        record = records.get(row.registration_number)
        facts, problem = _model_facts(reference, row, record, current)
        problem = analysis_problem(row, recording.sha256, record) or problem
        if problem is not None or facts is None:  # facts are None only with the problem that says why
            if f"{problem}; its report was not signed" not in outcome.failed:  # said once, not before and after
                outcome.failed.append(f"{problem}; its report was not signed")
            continue
        signed = _signed_report(store, reference, row, recording, facts, key)
        signature = {"registration_number": row.registration_number, "model": row.model_id}
        if store.attach_report(reference, row.id, signed, signature, actor, model_facts=asdict(facts)):
            outcome.reports.append(row.registration_number)


def _model_facts(reference: str, row: AnalysisRow, record: dict[str, Any] | None,
                 current: ModelFacts) -> tuple[ModelFacts | None, str | None]:  # fmt: skip
    """The facts of the model that made `row` (stored with it; for an analysis stored by an older
    version without them, the running model's if it is the same bundle), or why they are unknown."""
    stored = (record or {}).get("model_facts")
    if stored is not None:
        facts = ModelFacts(**stored)
        if facts.bundle_sha256 == row.bundle_sha256:
            return facts, None
        return None, f"analysis {row.registration_number}: the model facts stored with it are of another bundle"
    if row.bundle_sha256 == current.bundle_sha256:
        return current, None
    return None, (f"analysis {row.registration_number} was made by model {row.model_id} (bundle "
                  f"{row.bundle_sha256[:12]}), whose facts were not stored with it: re-analyse with that bundle "
                  f"(dialectid case analyse {reference} --model <its bundle>) to sign its report from its own facts")  # fmt: skip


def _signed_report(store: CaseStore, reference: str, row: AnalysisRow, recording: Recording, facts: ModelFacts,
                   key: Ed25519PrivateKey) -> bytes:  # fmt: skip
    """The report as a signed PDF, binding what it was rendered from and the chain's head."""
    with store.transaction() as session:
        pseudonym = store.pseudonym(session, store.case(session, reference))
    context = ReportContext(reference, pseudonym, recording.recorded_at.isoformat(timespec="seconds"), facts)
    binding: dict[str, Any] = report_binding(row.data, context)
    if (head := store.chain.tip()) is not None:
        binding["audit_head"] = head
    return sign_pdf(render(Analysis.from_dict(row.data), context, "pdf"), row.registration_number, row.model_id, key,
                    binding)  # fmt: skip

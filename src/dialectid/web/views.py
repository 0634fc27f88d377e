"""What the pages and the JSON API show and do, worked out once; the routes only lay it out as
HTML or JSON. Every function that shows a case checks access first and audits the view."""

from __future__ import annotations

from pathlib import Path

from markupsafe import Markup

from dialectid.audio.formats import MEDIA_TYPES
from dialectid.casefile import CaseError
from dialectid.casefile.integrity import CheckedReport
from dialectid.casefile.schema import Recording
from dialectid.casefile.summaries import AuditEntry, CaseRow
from dialectid.report import render
from dialectid.scoring.analysis import Analysis
from dialectid.web.api_models import CaseDetail, JobOut
from dialectid.web.auth import Principal, open_case
from dialectid.web.context import WebContext
from dialectid.web.errors import NotFound, WebError
from dialectid.web.jobs import Job
from dialectid.web.playback import plays_natively, wav_rendition
from dialectid.web.wording import list_result

AGREEMENT = {"agree": True, "disagree": False, "unsure": None}
MAX_OUTCOME, MAX_COMMENT = 200, 4000
Checked = dict[str, CheckedReport]


# ---- cases ----------------------------------------------------------------------------------------
def visible_cases(web: WebContext, user: Principal, search: str | None, status: str | None) -> list[CaseRow]:
    """The cases `user` may see: a caseworker's own, everyone else's all; searched by reference only,
    so that nothing but a reference is ever typed into (and logged with) a search URL."""
    mine = user.account.id if user.role == "caseworker" else None
    try:
        return web.store.list_cases(search or None, status or None, assigned_to=mine)
    except CaseError as error:  # a search that is no part of a reference
        raise WebError(error.message) from None


def case_results(web: WebContext, cases: list[CaseRow]) -> dict[str, list[str]]:
    """For the case list: per case, the latest result of each recording, in words (the cases are
    the user's own already: `visible_cases`)."""
    found = web.store.latest_results([case.reference for case in cases])
    return {reference: [list_result(result) for result in results] for reference, results in found.items()}


def case_view(web: WebContext, user: Principal, reference: str, path: str) -> tuple[CaseDetail, Checked]:
    """The case with its recordings, analyses, reports' signature status and analysis jobs
    (audited), and each report as checked, by registration number: the case page shows the latest
    from the same check."""
    open_case(web, user, reference, path)
    summary = web.store.show(reference, user.name)
    checked = {number: _check_report(web, reference, number) for number in summary.reports}
    signed = summary.with_signatures({number: report.signature for number, report in checked.items()})
    return CaseDetail(**vars(signed), jobs=[JobOut.of(job) for job in web.jobs.for_case(reference)]), checked


def _check_report(web: WebContext, reference: str, number: str) -> CheckedReport:
    """The report's stored parts and whether its signature vouches for them (`CaseStore.check_report`,
    `audit verify`'s check too)."""
    try:
        return web.store.check_report(reference, number)
    except CaseError:
        raise NotFound(f"case {reference} has no report {number}") from None


def audit_trail(web: WebContext, user: Principal, reference: str, path: str) -> list[AuditEntry]:
    open_case(web, user, reference, path)
    events = web.store.events(reference)
    web.store.record(user.name, "audit trail viewed", reference)
    return events


# ---- reports and recordings -----------------------------------------------------------------------
def report_view(web: WebContext, user: Principal, reference: str, number: str, path: str, fmt: str,
                checked: CheckedReport | None = None) -> CheckedReport:  # fmt: skip
    """A report to show as `fmt` (html, json) and its signature's status, once access is checked;
    the view is audited. `checked`: the report as the case page checked it already."""
    open_case(web, user, reference, path)
    checked = checked or _check_report(web, reference, number)
    web.store.record(user.name, "report viewed", reference, registration_number=number, format=fmt)
    return checked


def report_html(checked: CheckedReport) -> Markup:
    """The report as an HTML fragment, rebuilt from what its signed PDF was rendered from (the
    stored analysis, the case details and the model facts) once the signature vouches for them;
    otherwise a notice, never figures the signature does not cover."""
    if not checked.signature.valid:
        return Markup('<p class="signature invalid">{} The report is not shown here: what the case file holds for '
                      "it is not what was signed.</p>").format(checked.signature.message)  # fmt: skip
    return Markup(render(Analysis.from_dict(checked.parts.analysis), checked.context, "html"))  # autoescaped by Jinja


def report_pdf(web: WebContext, user: Principal, reference: str, number: str, path: str, download: bool) -> bytes:
    open_case(web, user, reference, path)
    action = "report downloaded" if download else "report viewed"
    try:
        return web.store.report_pdf(reference, number, user.name, action=action)[1]
    except CaseError:
        raise NotFound(f"case {reference} has no report {number}") from None


def recording_file(web: WebContext, user: Principal, reference: str, sha256: str, path: str,
                   first_request: bool) -> tuple[Path, str]:  # fmt: skip
    """The stored original and its media type. A player fetches in ranges: only the first is audited."""
    stored, recording = _verified_recording(web, user, reference, sha256, path, first_request)
    return stored, MEDIA_TYPES.get(recording.container, "application/octet-stream")


def playable_file(web: WebContext, user: Principal, reference: str, sha256: str, path: str,
                  first_request: bool) -> tuple[Path, str, bool]:  # fmt: skip
    """What the page's player loads (`playback`): the original where browsers play it, else a
    temporary PCM WAV made from the verified original; (file, media type, whether it is temporary).
    The same access check and audit as `recording_file`."""
    stored, recording = _verified_recording(web, user, reference, sha256, path, first_request)
    if plays_natively(recording.container, recording.codec):
        return stored, MEDIA_TYPES.get(recording.container, "application/octet-stream"), False
    return wav_rendition(stored, recording.sample_rate), "audio/wav", True


def _verified_recording(web: WebContext, user: Principal, reference: str, sha256: str, path: str,
                        first_request: bool) -> tuple[Path, Recording]:  # fmt: skip
    open_case(web, user, reference, path)
    try:
        recording = web.store.recording(reference, sha256)
    except CaseError:
        raise NotFound(f"case {reference} has no such recording") from None
    if first_request:
        web.store.record(user.name, "recording played", reference, sha256=recording.sha256)
    return web.store.verified_recording(reference, recording.sha256, user.name), recording  # a changed file: refused


# ---- feedback ----------------------------------------------------------------------------------
def give_feedback(web: WebContext, user: Principal, reference: str, number: str, agreement: str,
                  linguist_outcome: str | None, comment: str | None, path: str) -> None:  # fmt: skip
    """Store the caseworker's judgement of one analysis of their case (the store audits it)."""
    open_case(web, user, reference, path)
    if agreement not in AGREEMENT:
        raise WebError(f"agreement must be one of: {', '.join(AGREEMENT)}")
    linguist_outcome, comment = (linguist_outcome or "").strip(), (comment or "").strip()
    if len(linguist_outcome) > MAX_OUTCOME or len(comment) > MAX_COMMENT:
        raise WebError(f"the linguist's outcome may have {MAX_OUTCOME} characters, the comment {MAX_COMMENT}")
    try:
        web.store.add_feedback(number, user.name, user.role, AGREEMENT[agreement], linguist_outcome or None,
                               comment or None, reference=reference)  # fmt: skip
    except CaseError:
        raise NotFound(f"case {reference} has no analysis {number}") from None


# ---- analyses (uploads: `uploads`) ---------------------------------------------------------------
def start_analysis(web: WebContext, user: Principal, reference: str, path: str) -> Job:
    open_case(web, user, reference, path)
    return web.jobs.start(reference, user.name)


def job_status(web: WebContext, user: Principal, job_id: str, path: str) -> Job:
    """A job of a case the user may see; another case's job gets the same answer as no job at all."""
    missing = NotFound("no such analysis job; it finished long ago or the server was restarted")
    job = web.jobs.get(job_id)
    if job is None:
        raise missing
    try:
        open_case(web, user, job.case_reference, path)  # audits the refusal
    except NotFound:
        raise missing from None
    return job

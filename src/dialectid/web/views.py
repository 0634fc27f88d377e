"""What the pages and the JSON API show and do, worked out once; the routes only lay it out as
HTML or JSON. Every function that shows a case checks access first and audits the view."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from markupsafe import Markup

from dialectid.audio.formats import MEDIA_TYPES
from dialectid.casefile.integrity import report_status
from dialectid.casefile.store import CaseError, ReportParts
from dialectid.report import ReportContext, render, trusted_key
from dialectid.report.dialect import DialectContent, dialect_content
from dialectid.scoring import Analysis
from dialectid.scoring.analysis import DialectResult
from dialectid.web.auth import Principal, open_case
from dialectid.web.context import WebContext
from dialectid.web.errors import NotFound, WebError
from dialectid.web.jobs import Job
from dialectid.web.playback import plays_natively, wav_rendition
from dialectid.web.wording import list_result, result_wording

AGREEMENT = {"agree": True, "disagree": False, "unsure": None}
MAX_OUTCOME, MAX_COMMENT = 200, 4000


# ---- cases ----------------------------------------------------------------------------------------
def visible_cases(web: WebContext, user: Principal, search: str | None, status: str | None) -> list[dict[str, Any]]:
    """The cases `user` may see: a caseworker's own, everyone else's all; searched by reference only,
    so that nothing but a reference is ever typed into (and logged with) a search URL."""
    mine = user.account.id if user.role == "caseworker" else None
    try:
        return web.store.list_cases(search or None, status or None, assigned_to=mine)
    except CaseError as error:  # a search that is no part of a reference
        raise WebError(error.message) from None


def case_results(web: WebContext, cases: list[dict[str, Any]]) -> dict[str, list[str]]:
    """For the case list: per case, the latest result of each recording, in words (the cases are
    the user's own already: `visible_cases`)."""
    found = web.store.latest_results([case["reference"] for case in cases])
    return {reference: [list_result(result) for result in results] for reference, results in found.items()}


def case_view(web: WebContext, user: Principal, reference: str, path: str) -> dict[str, Any]:
    """The case with its recordings, analyses, reports' signature status and analysis jobs (audited)."""
    open_case(web, user, reference, path)
    case = web.store.show(reference, user.name)
    for number, recording in enumerate(case["recordings"], start=1):
        recording["label"] = recording_label(number)
        native = plays_natively(recording["container"], recording["codec"])
        recording["player"] = f"/cases/{reference}/recordings/{recording['sha256']}" + ("" if native else "/playable")
        for analysis in recording["analyses"]:
            number = analysis["registration_number"]
            analysis["signature"] = signature_status(web, reference, number) if analysis["report"] else None
            analysis["wording"] = result_wording(analysis)
            analysis["dialect"] = _dialect_view(analysis.get("dialects"))
    case["jobs"] = [job.to_dict() for job in web.jobs.for_case(reference)]
    return case


def recording_label(number: int) -> str:
    """What people read for the `number`-th recording of a case (from 1, in the order added): its
    hash is for machines. The original file name is not kept: names of files often carry the name
    of the person recorded, which the case file keeps in its identity table alone."""
    return f"Recording {number}"


def _dialect_view(block: dict[str, Any] | None) -> DialectContent | None:
    """What the page says of a stored analysis's dialect block: the report's own wording."""
    return dialect_content(DialectResult.model_validate(block)) if block else None


def signature_status(web: WebContext, reference: str, number: str) -> dict[str, Any]:
    """Whether the stored PDF still carries a valid signature by this case file's key, and whether
    what the pages rebuild the report from (the stored analysis, case details and model facts) is
    what was signed."""
    return _checked_report(web, reference, number)[2]


def _checked_report(web: WebContext, reference: str, number: str) -> tuple[ReportParts, ReportContext, dict[str, Any]]:
    """The report's stored parts, the context they give, and the signature's status over them."""
    parts = _report_parts(web, reference, number)
    context, status = report_status(reference, parts, trusted_key(web.store.keys_dir))  # audit verify's check too
    return parts, context, status


def audit_trail(web: WebContext, user: Principal, reference: str, path: str) -> list[dict[str, Any]]:
    open_case(web, user, reference, path)
    events = web.store.events(reference)
    web.store.record(user.name, "audit trail viewed", reference)
    return events


# ---- reports and recordings -----------------------------------------------------------------------
def report_rendering(web: WebContext, user: Principal, reference: str, number: str, path: str, fmt: str):
    """The report as an HTML fragment or a JSON-ready dict, rebuilt from what its signed PDF was
    rendered from (the stored analysis, the case details and the model facts) once the signature
    vouches for them; otherwise a notice (JSON: no report, no analysis), never figures the
    signature does not cover (audited)."""
    open_case(web, user, reference, path)
    parts, context, status = _checked_report(web, reference, number)
    web.store.record(user.name, "report viewed", reference, registration_number=number, format=fmt)
    if not status["valid"]:
        if fmt == "json":
            return {"analysis": None, "report": None}
        return Markup('<p class="signature invalid">{} The report is not shown here: what the case file holds for '
                      "it is not what was signed.</p>").format(status["message"])  # fmt: skip
    return render(Analysis.from_dict(parts.analysis), context, fmt)


def report_pdf(web: WebContext, user: Principal, reference: str, number: str, path: str, download: bool) -> bytes:
    open_case(web, user, reference, path)
    action = "report downloaded" if download else "report viewed"
    try:
        return web.store.report_pdf(reference, number, user.name, action=action)[1]
    except CaseError:
        raise NotFound(f"case {reference} has no report {number}") from None


def _report_parts(web: WebContext, reference: str, number: str):
    try:
        return web.store.report_parts(reference, number)
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
                        first_request: bool) -> tuple[Path, Any]:  # fmt: skip
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

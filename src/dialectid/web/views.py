"""What the pages and the JSON API show and do, worked out once; the routes only lay it out as
HTML or JSON. Every function that shows a case checks access first and audits the view."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Any, BinaryIO

from dialectid.audio import AudioError
from dialectid.audio.formats import MEDIA_TYPES
from dialectid.casefile.store import CaseError
from dialectid.report import ModelFacts, ReportContext, VerificationError, render, trusted_key, verify_pdf
from dialectid.scoring import Analysis
from dialectid.web.auth import Principal, open_case
from dialectid.web.context import WebContext
from dialectid.web.errors import NotAudio, NotFound, TooLarge, WebError
from dialectid.web.jobs import Job

AGREEMENT = {"agree": True, "disagree": False, "unsure": None}
MAX_OUTCOME, MAX_COMMENT = 200, 4000
_SEARCH = re.compile(r"[A-Za-z0-9-]{1,40}")


# ---- cases ----------------------------------------------------------------------------------------
def visible_cases(web: WebContext, user: Principal, search: str | None, status: str | None) -> list[dict[str, Any]]:
    """The cases `user` may see: a caseworker's own, everyone else's all; searched by reference only,
    so that nothing but a reference is ever typed into (and logged with) a search URL."""
    if search and not _SEARCH.fullmatch(search):
        raise WebError("search by case reference: letters, digits and '-' only (for example C-2026-0A1B2C)")
    mine = user.account.id if user.role == "caseworker" else None
    return web.store.list_cases(search or None, status or None, assigned_to=mine)


def case_view(web: WebContext, user: Principal, reference: str, path: str) -> dict[str, Any]:
    """The case with its recordings, analyses, reports' signature status and analysis jobs (audited)."""
    open_case(web, user, reference, path)
    case = web.store.show(reference, user.name)
    for recording in case["recordings"]:
        for analysis in recording["analyses"]:
            number = analysis["registration_number"]
            analysis["signature"] = signature_status(web, reference, number) if analysis["report"] else None
    case["jobs"] = [job.to_dict() for job in web.jobs.for_case(reference)]
    return case


def signature_status(web: WebContext, reference: str, number: str) -> dict[str, Any]:
    """Whether the stored PDF still carries a valid signature by this case file's key."""
    pdf = web.store.report_parts(reference, number).pdf
    try:
        info = verify_pdf(pdf, trusted_key(web.store.keys_dir), f"report {number}")
    except VerificationError as error:
        return {"valid": False, "message": f"NOT VALID: {error.message}", "signed_at": None, "key_id": None}
    return {"valid": True, "message": f"valid: signed {info.signed_at} with key {info.key_id}",
            "signed_at": info.signed_at, "key_id": info.key_id}  # fmt: skip


def audit_trail(web: WebContext, user: Principal, reference: str, path: str) -> list[dict[str, Any]]:
    open_case(web, user, reference, path)
    events = web.store.events(reference)
    web.store.record(user.name, "audit trail viewed", reference)
    return events


# ---- reports and recordings -----------------------------------------------------------------------
def report_rendering(web: WebContext, user: Principal, reference: str, number: str, path: str, fmt: str):
    """The report as an HTML fragment or a JSON-ready dict, built from what its signed PDF was
    built from: the stored analysis, the case context and the model facts (audited)."""
    open_case(web, user, reference, path)
    parts = _report_parts(web, reference, number)
    facts = ModelFacts(**parts.model_facts) if parts.model_facts else _facts_without_bundle(parts.analysis)
    context = ReportContext(reference, parts.pseudonym, parts.recorded_at, facts)
    rendered = render(Analysis.from_dict(parts.analysis), context, fmt)
    web.store.record(user.name, "report viewed", reference, registration_number=number, format=fmt)
    return rendered


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


def _facts_without_bundle(analysis: dict[str, Any]) -> ModelFacts:
    """Reports attached before the model facts were stored with them: what the analysis itself says."""
    model = analysis["model"]
    return ModelFacts(name=model.get("id", ""), model=model.get("name", ""), version=analysis.get("toolkit_version", ""),
                      bundle_sha256=model.get("bundle_sha256", ""), test_accuracy=None, test_cavg=None,
                      test_cllr=None, test_clips=None, unseen_speakers=None,
                      limitations=["The model's test figures were not stored with this report; the PDF has them."])  # fmt: skip


def recording_file(web: WebContext, user: Principal, reference: str, sha256: str, path: str,
                   first_request: bool) -> tuple[Path, str]:  # fmt: skip
    """The stored original and its media type. A player fetches in ranges: only the first is audited."""
    open_case(web, user, reference, path)
    try:
        recording = web.store.recording(reference, sha256)
    except CaseError:
        raise NotFound(f"case {reference} has no such recording") from None
    if first_request:
        web.store.record(user.name, "recording played", reference, sha256=recording.sha256)
    return web.store.recording_path(recording.sha256), MEDIA_TYPES.get(recording.container, "application/octet-stream")


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


# ---- uploads and analyses -------------------------------------------------------------------------
def register_upload(web: WebContext, user: Principal, reference: str, upload: BinaryIO, recorded_by: str | None,
                    path: str) -> tuple[dict[str, Any], Job]:  # fmt: skip
    """Store an uploaded recording under its sha256 (its file name is never used) and start its
    analysis. The content decides whether it is audio, not the name or the declared type."""
    open_case(web, user, reference, path)
    recorded_by = (recorded_by or "").strip() or user.name
    if len(recorded_by) > 120:
        raise WebError("'recorded by' may have 120 characters")
    spooled = _spool(web, upload)
    try:
        facts = web.store.add_recording(reference, spooled, recorded_by, user.name)
    except AudioError as error:
        raise NotAudio(f"the upload is not a recording dialectid can use: {error.problem}; {error.advice}") from None
    except CaseError as error:
        raise WebError(error.message.replace(str(spooled), "the upload")) from None
    finally:
        spooled.unlink(missing_ok=True)
    return facts, web.jobs.start(reference, user.name)


def _spool(web: WebContext, upload: BinaryIO) -> Path:
    """Copy the upload into a private temporary file, refusing it past the size limit."""
    limit = web.settings.upload_limit_bytes
    folder = web.store.root / "uploads"
    folder.mkdir(mode=0o700, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=folder, delete=False) as spooled:
        copied = 0
        while chunk := upload.read(1024 * 1024):
            copied += len(chunk)
            if copied > limit:
                spooled.close()
                os.unlink(spooled.name)
                raise TooLarge(upload_too_large(web))
            spooled.write(chunk)
    if copied == 0:
        os.unlink(spooled.name)
        raise WebError("the upload is empty; choose a recording to upload")
    return Path(spooled.name)


def upload_too_large(web: WebContext) -> str:
    return (f"the upload is larger than the limit of {web.settings.upload_limit_mb:g} MB; "
            "compress the recording or ask an administrator to raise the limit")  # fmt: skip


def start_analysis(web: WebContext, user: Principal, reference: str, path: str) -> Job:
    open_case(web, user, reference, path)
    return web.jobs.start(reference, user.name)


def job_status(web: WebContext, user: Principal, job_id: str, path: str) -> Job:
    job = web.jobs.get(job_id)
    if job is None:
        raise NotFound("no such analysis job; it finished long ago or the server was restarted")
    open_case(web, user, job.case_reference, path)
    return job

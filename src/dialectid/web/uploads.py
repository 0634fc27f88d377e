"""Uploads of recordings, checked in the order that costs the server least first:

1. the session, the role and, for the API, the CSRF header, before a byte of the body is read:
   the upload routes declare no form fields, so FastAPI runs their dependencies first and leaves
   the body to `receive_upload`;
2. the user's quota (`limits.UploadQuota`) and whether they may see the case;
3. the body, counted as it arrives and refused past the size limit (`middleware.BodyLimit`);
   a page's form must start with its CSRF token, which is checked before the file is read;
4. the recording's header: length, sample rate and channels, before anything decodes it;
5. `CaseStore.add_recording`, which decodes and stores it, and the analysis job.
"""

from __future__ import annotations

import hmac
import os
import re
import tempfile
from pathlib import Path
from typing import Any, BinaryIO

from fastapi import Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.formparsers import parse_options_header
from starlette.types import Message, Receive

from dialectid.audio import AudioError, probe_file
from dialectid.casefile.store import CaseError
from dialectid.web.auth import Principal, open_case
from dialectid.web.context import WebContext
from dialectid.web.errors import CSRF_MESSAGE, Forbidden, NotAudio, TooLarge, Unprocessable, WebError
from dialectid.web.jobs import Job
from dialectid.web.settings import WebSettings

PEEK_BYTES = 16 * 1024  # a page form's first field, its CSRF token, arrives well within this
MAX_RECORDED_BY = 120
_NAME_PARAMETER = re.compile(rb'(?:^|;)\s*name="([^"]*)"', re.IGNORECASE)
OPENAPI_BODY = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["recording"], "properties": {
        "recording": {"type": "string", "format": "binary", "description": "The recording; its name is never used."},
        "recorded_by": {"type": "string", "maxLength": MAX_RECORDED_BY,
                        "description": "Who made the recording [you]."}}}}}}}  # fmt: skip


async def receive_upload(request: Request, web: WebContext, user: Principal, reference: str,
                         form_token: bool) -> tuple[dict[str, Any], Job]:  # fmt: skip
    """Read, check and store the upload of `request`; start its analysis. `form_token`: the CSRF
    token is the form's first field (pages); otherwise the route checked the X-CSRF-Token header."""
    quota = web.guards.uploads
    waiting = await run_in_threadpool(quota.waiting, user.name, lambda job_id: _finished(web, job_id))
    with quota.admit(user.name, waiting) as accepted:
        await run_in_threadpool(open_case, web, user, reference, request.url.path)
        form = await _read_form(request, user.csrf_token if form_token else None)
        try:
            recording = form.get("recording")
            if not isinstance(recording, UploadFile):
                raise WebError("the form has no recording; choose a file to upload")
            recorded_by = form.get("recorded_by")
            facts, job = await run_in_threadpool(register_upload, web, user, reference, recording.file,
                                                 recorded_by if isinstance(recorded_by, str) else "", request.url.path)  # fmt: skip
        finally:
            await form.close()
        accepted.append(job.id)
    return facts, job


def _finished(web: WebContext, job_id: str) -> bool:
    job = web.jobs.get(job_id)
    return job is None or job.finished


async def _read_form(request: Request, token: str | None) -> FormData:
    content_type, options = parse_options_header(request.headers.get("content-type", ""))
    boundary = options.get(b"boundary")
    if content_type != b"multipart/form-data" or not boundary:
        raise WebError("send the recording as a file upload (multipart/form-data)")
    receive = request.receive if token is None else await _token_checked(request, boundary, token)
    return await Request(request.scope, receive).form(max_files=1, max_fields=3)


async def _token_checked(request: Request, boundary: bytes, token: str) -> Receive:
    """Read the body until its first field is complete; refuse it unless that is the right CSRF
    token. Returns a `receive` that hands on what was read, then the rest."""
    events: list[Message] = []
    buffered, value, more = b"", None, True
    while value is None and more and len(buffered) < PEEK_BYTES:
        event = await request.receive()
        events.append(event)
        buffered += event.get("body", b"")
        more = event["type"] == "http.request" and event.get("more_body", False)
        value = first_field(buffered, boundary, "csrf_token")
    if not value or not hmac.compare_digest(value, token.encode()):
        raise Forbidden(CSRF_MESSAGE)

    async def replay() -> Message:
        return events.pop(0) if events else await request.receive()

    return replay


def first_field(body: bytes, boundary: bytes, name: str) -> bytes | None:
    """The value of a multipart body's first part if that part is the field `name`; b"" if it is
    another; None while the part is incomplete.

    >>> body = b'--xx\\r\\nContent-Disposition: form-data; name="csrf_token"\\r\\n\\r\\nabc\\r\\n--xx'
    >>> first_field(body, b"xx", "csrf_token"), first_field(body, b"xx", "other"), first_field(body[:40], b"xx", "x")
    (b'abc', b'', None)
    """
    delimiter = b"--" + boundary
    start = body.find(delimiter)
    headers_end = body.find(b"\r\n\r\n", start) if start >= 0 else -1
    if headers_end < 0:
        return None
    disposition = next((line.split(b":", 1)[1] for line in body[start:headers_end].split(b"\r\n")
                        if line.lower().startswith(b"content-disposition:")), b"")  # fmt: skip
    names = _NAME_PARAMETER.findall(disposition)
    if names != [name.encode()]:
        return b""
    end = body.find(b"\r\n" + delimiter, headers_end + 4)
    return None if end < 0 else body[headers_end + 4 : end]


# ---- storing it ----------------------------------------------------------------------------------
def register_upload(web: WebContext, user: Principal, reference: str, upload: BinaryIO, recorded_by: str | None,
                    path: str) -> tuple[dict[str, Any], Job]:  # fmt: skip
    """Store an uploaded recording under its sha256 (its file name is never used) and start its
    analysis. The content decides whether it is audio, not the name or the declared type."""
    open_case(web, user, reference, path)
    recorded_by = (recorded_by or "").strip() or user.name
    if len(recorded_by) > MAX_RECORDED_BY:
        raise WebError(f"'recorded by' may have {MAX_RECORDED_BY} characters")
    spooled = _spool(web, upload)
    try:
        check_recording(spooled, web.settings)
        facts = web.store.add_recording(reference, spooled, recorded_by, user.name)
    except AudioError as error:
        raise NotAudio(f"the upload is not a recording dialectid can use: {error.problem}; {error.advice}") from None
    except CaseError as error:
        raise WebError(error.message.replace(str(spooled), "the upload")) from None
    finally:
        spooled.unlink(missing_ok=True)
    return facts, web.jobs.start(reference, user.name)


def check_recording(path: Path, settings: WebSettings) -> None:
    """Refuse, from its header and before anything decodes it, a recording the web view will not
    analyse: above `max_sample_rate_hz` or `max_channels`, or longer than `max_recording_minutes`
    (a few hundred KB of FLAC can hold hours of near-silence, minutes of the single analysis
    worker). Where the container does not state its length, it is decoded up to the limit and no
    further, and only once rate and channels passed. Raises `Unprocessable`, or an `AudioError`
    for a file that is not audio (`probe_file` is the audio stage's own admission check)."""
    header = probe_file(path, count_limit_s=0)
    if header.sample_rate > settings.max_sample_rate_hz:
        raise Unprocessable(f"the recording's sample rate of {header.sample_rate} Hz is above the "
                            f"{settings.max_sample_rate_hz} Hz the web view takes; resample it (16 kHz is enough "
                            "for the models)")  # fmt: skip
    if header.channels > settings.max_channels:
        raise Unprocessable(f"the recording has {header.channels} channels, more than the {settings.max_channels} "
                            "the web view takes; mix it down to mono or stereo")  # fmt: skip
    limit_s = settings.max_recording_minutes * 60
    facts = header if header.whole else probe_file(path, count_limit_s=limit_s)
    if facts.duration_s > limit_s:
        minutes = f"{facts.duration_s / 60:.1f}" if facts.whole else f"more than {limit_s / 60:g}"
        raise Unprocessable(f"the recording lasts {minutes} min; the web view takes "
                            f"recordings of up to {settings.max_recording_minutes:g} min: cut it into parts, or ask "
                            "an administrator to raise the limit")  # fmt: skip


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
                raise TooLarge(upload_too_large(web.settings))
            spooled.write(chunk)
    if copied == 0:
        os.unlink(spooled.name)
        raise WebError("the upload is empty; choose a recording to upload")
    return Path(spooled.name)


def upload_too_large(settings: WebSettings) -> str:
    return (f"the upload is larger than the limit of {settings.upload_limit_mb:g} MB; "
            "compress the recording or ask an administrator to raise the limit")  # fmt: skip

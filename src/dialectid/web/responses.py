"""Responses that pages and API send alike: a report's PDF and a stored recording."""

from __future__ import annotations

import os
import re

from fastapi import Request
from fastapi.responses import FileResponse, Response
from starlette.background import BackgroundTask

from dialectid.web import views
from dialectid.web.auth import Principal
from dialectid.web.context import WebContext


def pdf_response(web: WebContext, user: Principal, request: Request, reference: str, number: str,
                 download: bool) -> Response:  # fmt: skip
    pdf = views.report_pdf(web, user, reference, number, request.url.path, download)
    filename = re.sub(r"[^A-Za-z0-9._-]", "_", number) + ".pdf"
    disposition = f'{"attachment" if download else "inline"}; filename="{filename}"'
    return Response(pdf, media_type="application/pdf", headers={"Content-Disposition": disposition})


def recording_response(web: WebContext, user: Principal, request: Request, reference: str, sha256: str,
                       playable: bool = False) -> Response:  # fmt: skip
    """The original file (`playable`: what the player can play, `views.playable_file`), in ranges
    for the audio player; only a request from its start is audited."""
    first = request.headers.get("range", "bytes=0-").replace(" ", "").startswith("bytes=0-")
    if not playable:
        path, media_type = views.recording_file(web, user, reference, sha256, request.url.path, first)
        return FileResponse(path, media_type=media_type, content_disposition_type="inline")
    path, media_type, temporary = views.playable_file(web, user, reference, sha256, request.url.path, first)
    cleanup = BackgroundTask(os.unlink, path) if temporary else None
    return FileResponse(path, media_type=media_type, content_disposition_type="inline", background=cleanup)

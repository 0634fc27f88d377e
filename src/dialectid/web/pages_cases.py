"""The case pages: the list, one case, its audit trail, its reports and recordings, the feedback
form (caseworkers) and the upload form (analysts)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from dialectid.web import admin, audit_words, auth, uploads, views
from dialectid.web.context import Web
from dialectid.web.errors import WebError
from dialectid.web.responses import pdf_response, recording_response
from dialectid.web.templating import page

router = APIRouter(include_in_schema=False)
DONE = {"feedback": "Your feedback was saved and written to the audit trail.",
        "upload": "The recording was stored; its analysis is running.", "analysis": "The analysis was started.",
        "opened": "The case was opened. From now on it shows only its reference and the pseudonym.",
        "status": "The status was changed and written to the audit trail.",
        "assigned": "The case was assigned and the assignment written to the audit trail."}  # fmt: skip


@router.get("/")
def home(user: auth.User) -> Response:
    return RedirectResponse("/cases", status_code=303)


@router.get("/cases")
def case_list(request: Request, web: Web, user: auth.User, status: str | None = None) -> Response:
    return _case_list(request, web, user, None, status)


@router.post("/cases", dependencies=[Depends(auth.form_csrf)])
def case_search(request: Request, web: Web, user: auth.User, q: Annotated[str | None, Form()] = None,
                status: Annotated[str | None, Form()] = None) -> Response:  # fmt: skip
    """The search is posted, never put in the address: whatever is typed into the box (a
    reference, or a name by mistake) stays out of URLs, browser history and proxy logs."""
    return _case_list(request, web, user, q, status)


def _case_list(request: Request, web: Web, user: auth.Principal, q: str | None, status: str | None) -> Response:
    message = None
    try:
        cases = views.visible_cases(web, user, q, status)
    except WebError as error:
        cases, message = [], error.message
    return page(request, "cases.html.j2", user, status=400 if message else 200, cases=cases, message=message,
                results=views.case_results(web, cases), statuses=web.store.statuses(), q=q or "",
                selected_status=status or "")  # fmt: skip


@router.get("/cases/{reference}")
def case_page(request: Request, web: Web, user: auth.User, reference: str, done: str | None = None) -> Response:
    """The case, and its latest report shown from the check the case's view made of it (each
    report's signature is checked once per page)."""
    case, checked = views.case_view(web, user, reference, request.url.path)
    latest = case.reports[-1] if case.reports else None
    report_html = None
    if latest is not None:
        report = views.report_view(web, user, reference, latest, request.url.path, "html", checked=checked[latest])
        report_html = views.report_html(report)
    caseworkers = admin.caseworkers(web) if user.role in ("analyst", "admin") else []
    return page(request, "case.html.j2", user, case=case, latest=latest, report_html=report_html,
                done=DONE.get(done or ""), running=next((j for j in case.jobs if not j.finished), None),
                caseworkers=caseworkers)  # fmt: skip


@router.get("/cases/{reference}/audit")
def audit_page(request: Request, web: Web, user: auth.User, reference: str) -> Response:
    events = views.audit_trail(web, user, reference, request.url.path)
    names = audit_words.recording_names(events)
    return page(request, "audit.html.j2", user, reference=reference,
                events=[(event, audit_words.describe(event, names)) for event in events])  # fmt: skip


@router.get("/cases/{reference}/reports/{number}")
def report_page(request: Request, web: Web, user: auth.User, reference: str, number: str) -> Response:
    report = views.report_view(web, user, reference, number, request.url.path, "html")
    return page(request, "report.html.j2", user, reference=reference, number=number,
                report_html=views.report_html(report), signature=report.signature)  # fmt: skip


@router.get("/cases/{reference}/reports/{number}/pdf")
def report_pdf(request: Request, web: Web, user: auth.User, reference: str, number: str, download: bool = False):
    return pdf_response(web, user, request, reference, number, download)


@router.get("/cases/{reference}/recordings/{sha256}")
def recording(request: Request, web: Web, user: auth.User, reference: str, sha256: str) -> Response:
    return recording_response(web, user, request, reference, sha256)


@router.get("/cases/{reference}/recordings/{sha256}/playable")
def playable_recording(request: Request, web: Web, user: auth.User, reference: str, sha256: str) -> Response:
    """What the page's player loads: the original where browsers play its format, else a PCM WAV
    made from the verified original (GSM and other telephone codecs); the same checks and audit."""
    return recording_response(web, user, request, reference, sha256, playable=True)


@router.post("/cases/{reference}/feedback", dependencies=[Depends(auth.form_csrf)])
def feedback(
    request: Request,
    web: Web,
    user: auth.Caseworker,
    reference: str,
    registration_number: Annotated[str, Form(max_length=60)],
    agreement: Annotated[str, Form(max_length=10)],
    linguist_outcome: Annotated[str, Form()] = "",
    comment: Annotated[str, Form()] = "",
) -> Response:
    views.give_feedback(web, user, reference, registration_number, agreement, linguist_outcome, comment,
                        request.url.path)  # fmt: skip
    return RedirectResponse(f"/cases/{reference}?done=feedback", status_code=303)


@router.post("/cases/{reference}/recordings")
async def upload(request: Request, web: Web, user: auth.Analyst, reference: str) -> Response:
    """The form's first field is its CSRF token, checked before the file is read (`uploads`)."""
    await uploads.receive_upload(request, web, user, reference, form_token=True)
    return RedirectResponse(f"/cases/{reference}?done=upload", status_code=303)


@router.post("/cases/{reference}/analyses", dependencies=[Depends(auth.form_csrf)])
def analyse(request: Request, web: Web, user: auth.Analyst, reference: str) -> Response:
    views.start_analysis(web, user, reference, request.url.path)
    return RedirectResponse(f"/cases/{reference}?done=analysis", status_code=303)

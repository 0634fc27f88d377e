"""The JSON API under /api/: the pages' data and actions for programs. Same session cookie as the
pages; calls that change something also need the X-CSRF-Token header."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse

from dialectid.report import build_content
from dialectid.scoring.analysis import Analysis
from dialectid.web import admin, auth, uploads, views
from dialectid.web.api_models import (
    AssignmentIn,
    AuditEntry,
    CaseDetail,
    CaseRow,
    FeedbackIn,
    JobOut,
    LoginIn,
    ModelAgreement,
    ReportOut,
    SessionOut,
    UploadOut,
    UserIn,
    UserOut,
    UserPatch,
)
from dialectid.web.context import Web
from dialectid.web.pages_auth import set_session_cookie
from dialectid.web.responses import pdf_response, recording_response
from dialectid.web.sessions import SESSION_COOKIE

router = APIRouter(prefix="/api")
Changes = [Depends(auth.api_csrf)]
Responses = dict[int | str, dict[str, Any]]  # what FastAPI's `responses=` takes
PDF: Responses = {200: {"content": {"application/pdf": {}}, "description": "the signed PDF"}}
TOO_MANY: Responses = {429: {"description": "too many attempts from this client or user; see Retry-After"}}
TRY_LATER: Responses = TOO_MANY | {503: {"description": "too many logins being checked at once; see Retry-After"}}
AUDIO: Responses = {200: {"content": {"audio/*": {}}, "description": "the original recording, unchanged"}}


# ---- session ------------------------------------------------------------------------------------
@router.post("/session", tags=["session"], responses=TRY_LATER)
def log_in(request: Request, body: LoginIn, web: Web, response: Response) -> SessionOut:
    """Log in: sets the session cookie and returns the CSRF token for later calls. After failed
    logins a client is told to wait (429), and while many logins are being checked at once the
    server answers 503; both say when to try again in `Retry-After`."""
    token, account = auth.login(web, body.name.strip(), body.password, auth.client_of(request, web))
    set_session_cookie(response, web, token)
    return SessionOut(name=account.name, role=account.role, csrf_token=web.signer.csrf(token))


@router.get("/session", tags=["session"])
def who_am_i(user: auth.User) -> SessionOut:
    return SessionOut(name=user.name, role=user.role, csrf_token=user.csrf_token)


@router.delete("/session", tags=["session"], status_code=204, dependencies=Changes)
def log_out(web: Web, user: auth.User) -> Response:
    web.accounts.end_session(user.session_id, user.name)
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/openapi.json", tags=["admin"])
def openapi_document(request: Request, user: auth.Admin) -> JSONResponse:
    """This API's OpenAPI document (for admins only: it lists every route, the admins' too)."""
    return JSONResponse(request.app.openapi())


# ---- cases --------------------------------------------------------------------------------------
@router.get("/cases", tags=["cases"])
def list_cases(web: Web, user: auth.User, q: str | None = None, status: str | None = None) -> list[CaseRow]:
    """The cases you may see (a caseworker: those assigned to them), searched by reference."""
    return views.visible_cases(web, user, q, status)


@router.get("/cases/{reference}", tags=["cases"])
def get_case(request: Request, web: Web, user: auth.User, reference: str) -> CaseDetail:
    """One case with its recordings, analyses and analysis jobs (the view is audited)."""
    return views.case_view(web, user, reference, request.url.path)[0]


@router.get("/cases/{reference}/audit", tags=["cases"])
def get_audit_trail(request: Request, web: Web, user: auth.User, reference: str) -> list[AuditEntry]:
    return views.audit_trail(web, user, reference, request.url.path)


@router.get("/cases/{reference}/reports/{number}", tags=["reports"])
def get_report(request: Request, web: Web, user: auth.User, reference: str, number: str) -> ReportOut:
    checked = views.report_view(web, user, reference, number, request.url.path, "json")
    if not checked.signature.valid:  # nothing the signature does not cover
        return ReportOut(registration_number=number, signature=checked.signature, report=None, analysis=None)
    analysis = Analysis.from_dict(checked.parts.analysis)
    return ReportOut(registration_number=number, signature=checked.signature, analysis=analysis,
                     report=build_content(analysis, checked.context).to_json())  # fmt: skip


@router.get("/cases/{reference}/reports/{number}/pdf", tags=["reports"], response_class=Response, responses=PDF)
def get_report_pdf(request: Request, web: Web, user: auth.User, reference: str, number: str,
                   download: bool = False) -> Response:  # fmt: skip
    return pdf_response(web, user, request, reference, number, download)


@router.get("/cases/{reference}/recordings/{sha256}", tags=["cases"], response_class=Response, responses=AUDIO)
def get_recording(request: Request, web: Web, user: auth.User, reference: str, sha256: str) -> Response:
    return recording_response(web, user, request, reference, sha256)


@router.post("/cases/{reference}/feedback", tags=["cases"], status_code=204, dependencies=Changes)
def post_feedback(request: Request, web: Web, user: auth.Caseworker, reference: str, body: FeedbackIn) -> Response:
    """Your agreement or disagreement with an analysis's top label (caseworkers, on their cases)."""
    views.give_feedback(web, user, reference, body.registration_number, body.agreement, body.linguist_outcome,
                        body.comment, request.url.path)  # fmt: skip
    return Response(status_code=204)


@router.post("/cases/{reference}/recordings", tags=["analyses"], status_code=202, dependencies=Changes,
             openapi_extra=uploads.OPENAPI_BODY, responses=TOO_MANY)  # fmt: skip
async def post_recording(request: Request, web: Web, user: auth.Analyst, reference: str) -> UploadOut:
    """Store a recording (content-addressed) and start its analysis in the background. The session,
    the role and the CSRF header are checked before the body is read; an analyst may start a few
    uploads a minute and have a few recordings waiting for analysis (429 past either)."""
    facts, job = await uploads.receive_upload(request, web, user, reference, form_token=False)
    return UploadOut(**facts, job=JobOut.of(job))


@router.post("/cases/{reference}/analyses", tags=["analyses"], status_code=202, dependencies=Changes)
def post_analysis(request: Request, web: Web, user: auth.Analyst, reference: str) -> JobOut:
    """Analyse the case's recordings that have no analysis yet, in the background."""
    return JobOut.of(views.start_analysis(web, user, reference, request.url.path))


@router.get("/jobs/{job_id}", tags=["analyses"])
def get_job(request: Request, web: Web, user: auth.User, job_id: str) -> JobOut:
    """How far an analysis job got; `finished` turns true when it is done or failed."""
    return JobOut.of(views.job_status(web, user, job_id, request.url.path))


# ---- admin --------------------------------------------------------------------------------------
@router.get("/users", tags=["admin"])
def list_users(web: Web, user: auth.Admin) -> list[UserOut]:
    return [UserOut(**row) for row in web.accounts.list()]


@router.post("/users", tags=["admin"], status_code=201, dependencies=Changes)
def add_user(web: Web, user: auth.Admin, body: UserIn) -> UserOut:
    account = admin.add_user(web, user, body.name, body.role, body.password)
    return UserOut(id=account.id, name=account.name, role=account.role, active=account.active)


@router.patch("/users/{name}", tags=["admin"], dependencies=Changes)
def change_user(web: Web, user: auth.Admin, name: str, body: UserPatch) -> UserOut:
    """Deactivate (ends the user's sessions) or activate a user."""
    account = admin.set_active(web, user, name, body.active)
    return UserOut(id=account.id, name=account.name, role=account.role, active=account.active)


@router.put("/cases/{reference}/assignment", tags=["admin"], status_code=204, dependencies=Changes)
def assign_case(web: Web, user: auth.Admin, reference: str, body: AssignmentIn) -> Response:
    admin.assign(web, user, reference, body.assignee)
    return Response(status_code=204)


@router.get("/agreement", tags=["admin"])
def agreement(web: Web, user: auth.Admin) -> list[ModelAgreement]:
    """Per model: how often caseworkers' and linguists' feedback agreed with the top label."""
    return web.store.agreement_by_model()

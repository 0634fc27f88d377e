"""The login form and logging out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from dialectid.web import auth
from dialectid.web.context import Web, WebContext
from dialectid.web.errors import CSRF_MESSAGE, WebError
from dialectid.web.sessions import LOGIN_COOKIE, LOGIN_COOKIE_SECONDS, SESSION_COOKIE, new_token
from dialectid.web.templating import page

router = APIRouter(include_in_schema=False)


def safe_next(target: str | None) -> str:
    """Only a path on this site: never another host (`//host`, `/\\host`) after logging in.

    >>> safe_next("/cases/C-2026-0A1B2C"), safe_next("//evil.example/"), safe_next("https://x")
    ('/cases/C-2026-0A1B2C', '/cases', '/cases')
    """
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")) or "\\" in target:
        return "/cases"
    return target


def set_session_cookie(response: Response, web: WebContext, token: str) -> None:
    response.set_cookie(SESSION_COOKIE, web.signer.cookie(token), max_age=int(web.settings.session_lifetime.total_seconds()),
                        httponly=True, samesite="strict", secure=web.settings.https, path="/")  # fmt: skip


def _login_form(request: Request, web: WebContext, next_page: str, message: str | None = None,
                status: int = 200) -> Response:  # fmt: skip
    """The form, bound to a fresh nonce in a cookie of its own (CSRF protection before a session exists)."""
    nonce = new_token()
    response = page(request, "login.html.j2", None, status=status, login_csrf=web.signer.csrf(nonce, "login"),
                    next_page=safe_next(next_page), message=message)  # fmt: skip
    response.set_cookie(LOGIN_COOKIE, nonce, max_age=LOGIN_COOKIE_SECONDS, httponly=True, samesite="strict",
                        secure=web.settings.https, path="/login")  # fmt: skip
    return response


@router.get("/login")
def login_page(request: Request, web: Web, next: str | None = None) -> Response:  # noqa: A002 - the form's name
    return _login_form(request, web, next or "/cases")


@router.post("/login")
def login_submit(
    request: Request,
    web: Web,
    name: Annotated[str, Form(max_length=64)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    csrf_token: Annotated[str | None, Form()] = None,
    next: Annotated[str, Form()] = "/cases",  # noqa: A002 - the form's name
) -> Response:
    if not web.signer.csrf_ok(request.cookies.get(LOGIN_COOKIE), csrf_token, "login"):
        return _login_form(request, web, next, CSRF_MESSAGE, status=403)
    try:
        token, _ = auth.login(web, name.strip(), password, auth.client_of(request, web))
    except WebError as error:
        refused = _login_form(request, web, next, error.message, status=error.status)
        refused.headers.update(error.headers)  # Retry-After, when told to wait
        return refused
    response = RedirectResponse(safe_next(next), status_code=303)
    set_session_cookie(response, web, token)
    response.delete_cookie(LOGIN_COOKIE, path="/login")
    return response


@router.post("/logout", dependencies=[Depends(auth.form_csrf)])
def logout(web: Web, user: auth.User) -> Response:
    web.accounts.end_session(user.session_id, user.name)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response

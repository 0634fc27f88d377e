"""Logging in and out, and the checks every route runs: who is asking (authentication), may they
(authorisation: their role, and for a case, whether it is theirs), and did this site send the form
(CSRF). Refused attempts at a case or a role's page are audited."""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Form, Request

from dialectid.casefile.accounts import Account
from dialectid.casefile.store import CaseError, now
from dialectid.web import passwords
from dialectid.web.context import WebContext, web_context
from dialectid.web.errors import CSRF_MESSAGE, Forbidden, Locked, NotAuthenticated, NotFound, WebError
from dialectid.web.sessions import SESSION_COOKIE, new_token, token_hash

WRONG_LOGIN = "wrong user name or password"
_REFERENCE = re.compile(r"[A-Za-z0-9-]{1,40}")


@dataclass(frozen=True)
class Principal:
    """The logged-in user of this request."""

    account: Account
    session_id: str  # sha256 of the session token
    csrf_token: str

    @property
    def name(self) -> str:
        return self.account.name

    @property
    def role(self) -> str:
        return self.account.role


# ---- logging in ---------------------------------------------------------------------------------
def login(web: WebContext, name: str, password: str) -> tuple[str, Account]:
    """Check the credentials; returns a new session token and the account. Wrong credentials raise
    `WebError` with one message for every cause, a locked account raises `Locked`."""
    found = web.accounts.credentials(name) if name else None
    account, stored = found if found else (None, None)
    if account is None or not account.active:
        passwords.spend_equal_time(password)
        web.accounts.login_failed(None, web.settings.max_failed_logins, web.settings.lockout)
        raise WebError(WRONG_LOGIN)
    if account.locked_until and account.locked_until > now():
        raise Locked(_locked_message(account.locked_until))
    if not passwords.check_password(stored, password):
        locked = web.accounts.login_failed(account, web.settings.max_failed_logins, web.settings.lockout)
        raise Locked(_locked_message(locked)) if locked else WebError(WRONG_LOGIN)
    if upgraded := passwords.upgraded_hash(stored, password):
        web.accounts.rehash(account.id, upgraded)
    token = new_token()
    web.accounts.open_session(account, token_hash(token), web.settings.session_lifetime)
    return token, account


def _locked_message(until: datetime) -> str:
    return (f"too many failed logins: the account is locked until {until:%H:%M} UTC; "
            "an administrator can unlock it sooner")  # fmt: skip


# ---- dependencies -------------------------------------------------------------------------------
def current_user(request: Request, web: Annotated[WebContext, Depends(web_context)]) -> Principal:
    """The user of a live session, else `NotAuthenticated` (pages redirect to the login form)."""
    cookie = request.cookies.get(SESSION_COOKIE)
    token = web.signer.token(cookie, web.settings.session_lifetime.total_seconds()) if cookie else None
    account = web.accounts.session_account(token_hash(token)) if token else None
    if account is None:
        raise NotAuthenticated("log in first" if not cookie else "your session has ended; log in again")
    return Principal(account, token_hash(token), web.signer.csrf(token))


User = Annotated[Principal, Depends(current_user)]


def require(*roles: str):
    """A dependency that admits only users with one of `roles`; other attempts are audited."""

    def check(request: Request, user: User, web: Annotated[WebContext, Depends(web_context)]) -> Principal:
        if user.role not in roles:
            web.store.record(user.name, "access denied", None, path=request.url.path[:200], role=user.role)
            raise Forbidden(f"a {user.role} may not do this; it needs the role {' or '.join(roles)}")
        return user

    return check


Caseworker = Annotated[Principal, Depends(require("caseworker"))]
Analyst = Annotated[Principal, Depends(require("analyst"))]
Admin = Annotated[Principal, Depends(require("admin"))]


def form_csrf(user: User, csrf_token: Annotated[str | None, Form()] = None) -> None:
    """Pages' forms carry the token in a hidden field."""
    if not _same(user.csrf_token, csrf_token):
        raise Forbidden(CSRF_MESSAGE)


def api_csrf(request: Request, user: User) -> None:
    """API calls that change something carry the token in the X-CSRF-Token header."""
    if not _same(user.csrf_token, request.headers.get("x-csrf-token")):
        raise Forbidden(CSRF_MESSAGE)


def _same(expected: str, sent: str | None) -> bool:
    return bool(sent) and hmac.compare_digest(expected, sent)


def open_case(web: WebContext, user: Principal, reference: str, path: str) -> None:
    """Raise `NotFound` unless `user` may see the case: a caseworker only their assigned cases,
    analysts and admins every case. The answer is the same whether the case exists or is someone
    else's, so guessing references reveals nothing; every refusal is audited."""
    try:
        assignee = web.store.assignee(reference)
        exists = True
    except CaseError:
        assignee, exists = None, False
    if exists and (user.role != "caseworker" or assignee == user.account.id):
        return
    requested = reference if _REFERENCE.fullmatch(reference) else "(not a case reference)"
    web.store.record(user.name, "access denied", reference if exists else None,
                     path=path.replace(reference, requested)[:200],
                     requested=requested, reason="not assigned to this user" if exists else "no such case")  # fmt: skip
    raise NotFound(f"no case {requested} among the cases you may see")

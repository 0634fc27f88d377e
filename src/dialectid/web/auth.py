"""Logging in and out, and the checks every route runs: who is asking (authentication), may they
(authorisation: their role, and for a case, whether it is theirs), and did this site send the form
(CSRF). Refused attempts at a case or a role's page are audited."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Form, Request

from dialectid.casefile import CaseError
from dialectid.casefile.accounts import ANONYMOUS, Account
from dialectid.web import passwords
from dialectid.web.auditing import case_reference, path_shape
from dialectid.web.context import WebContext, web_context
from dialectid.web.errors import CSRF_MESSAGE, Forbidden, NotAuthenticated, NotFound, WebError
from dialectid.web.limits import client_address
from dialectid.web.sessions import SESSION_COOKIE, new_token, token_hash

WRONG_LOGIN = "wrong user name or password"


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
def login(web: WebContext, name: str, password: str, client: str) -> tuple[str, Account]:
    """Check the credentials of a login from address `client`; returns a new session token and the
    account. Every wrong login raises `WebError` with one message, whatever the cause; a client
    that failed too often is told to wait (`Throttled`), and when too many logins are being
    checked at once the server says so (`Busy`). Both come before the name is even looked up, so
    they answer alike for names that exist and names that do not; so does the time taken, since a
    name that does not exist is checked against a dummy hash made with the same parameters."""
    guards = web.guards
    guards.logins.check(name, client)
    if delay := guards.logins.account_delay(name):  # a name under attack from many addresses: its answers slow down
        guards.logins.sleep(delay)
    with guards.hashing.turn():
        found = web.accounts.credentials(name) if name else None
        account, stored = found if found is not None and found[0].active else (None, passwords.dummy_hash())
        right = passwords.check_password(stored, password)
        upgraded = passwords.upgraded_hash(stored, password) if account and right else None
    if account is None or not right:
        guards.logins.failed(name, client)
        actor = account.name if account else ANONYMOUS
        guards.audit.note(("login failed", actor, client),
                          lambda attempts, since: web.accounts.login_failed(account, attempts, client, since))  # fmt: skip
        raise WebError(WRONG_LOGIN)
    guards.logins.succeeded(name, client)
    if upgraded:
        web.accounts.rehash(account.id, upgraded)
    token = new_token()
    web.accounts.open_session(account, token_hash(token), web.settings.session_lifetime)
    return token, account


def client_of(request: Request, web: WebContext) -> str:
    """The address the login throttle keys on (behind a proxy: from X-Forwarded-For)."""
    return client_address(request.scope, web.settings.behind_proxy, web.settings.trusted_proxies)


# ---- dependencies -------------------------------------------------------------------------------
def current_user(request: Request, web: Annotated[WebContext, Depends(web_context)]) -> Principal:
    """The user of a live session, else `NotAuthenticated` (pages redirect to the login form)."""
    cookie = request.cookies.get(SESSION_COOKIE)
    token = web.signer.token(cookie, web.settings.session_lifetime.total_seconds()) if cookie else None
    account = web.accounts.session_account(token_hash(token)) if token else None
    if account is None or token is None:
        raise NotAuthenticated("log in first" if not cookie else "your session has ended; log in again")
    return Principal(account, token_hash(token), web.signer.csrf(token))


User = Annotated[Principal, Depends(current_user)]


def require(*roles: str):
    """A dependency that admits only users with one of `roles`; other attempts are audited."""

    def check(request: Request, user: User, web: Annotated[WebContext, Depends(web_context)]) -> Principal:
        if user.role not in roles:
            shape = path_shape(request.url.path, web.guards.route_words)
            web.guards.audit.note(("access denied", user.name, None, shape),
                                  lambda attempts, since: web.store.record(user.name, "access denied", None, path=shape,
                                                                           role=user.role, **_repeated(attempts, since)))  # fmt: skip
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
    return sent is not None and sent != "" and hmac.compare_digest(expected, sent)


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
    # The row takes no text from the URL: the route's own words, and a reference of the right form.
    # Repeats are counted, not written one by one (`auditing.AuditAggregator`).
    case, shape = reference if exists else None, path_shape(path, web.guards.route_words)
    reason = "not assigned to this user" if exists else "no such case"
    web.guards.audit.note(("access denied", user.name, case, shape, reason),
                          lambda attempts, since: web.store.record(user.name, "access denied", case, path=shape,
                                                                   requested=case_reference(reference), reason=reason,
                                                                   **_repeated(attempts, since)))  # fmt: skip
    raise NotFound(f"no case {case_reference(reference)} among the cases you may see")


def _repeated(attempts: int, since: str | None) -> dict[str, int | str]:
    return {"attempts": attempts} | ({"since": since} if since else {})

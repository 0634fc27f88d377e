"""What admins do, shared by the admin pages and the API: add and (de)activate users, assign cases."""

from __future__ import annotations

from dialectid.casefile.accounts import ROLES, Account
from dialectid.casefile.store import CaseError
from dialectid.web.auth import Principal
from dialectid.web.context import WebContext
from dialectid.web.errors import NotFound, WebError
from dialectid.web.passwords import PasswordError, hash_password

__all__ = ["ROLES", "add_user", "assign", "caseworkers", "set_active"]


def add_user(web: WebContext, user: Principal, name: str, role: str, password: str) -> Account:
    try:
        return web.accounts.add(name.strip(), role, hash_password(password, role, name.strip()), user.name)
    except (CaseError, PasswordError) as error:
        raise WebError(error.message) from None


def set_active(web: WebContext, user: Principal, name: str, active: bool) -> Account:
    if name == user.name and not active:
        raise WebError("you cannot deactivate your own account; ask another admin")
    try:
        return web.accounts.set_active(name, active, user.name)
    except CaseError as error:
        raise NotFound(error.message) from None


def caseworkers(web: WebContext) -> list[str]:
    """Whom a case can be assigned to: the active caseworkers, the one list every assign form offers."""
    return [u["name"] for u in web.accounts.list() if u["role"] == "caseworker" and u["active"]]


def assign(web: WebContext, user: Principal, reference: str, assignee: str | None) -> None:
    try:
        web.store.assignee(reference)
    except CaseError as error:
        raise NotFound(error.message) from None
    try:
        web.store.assign(reference, assignee, user.name)
    except CaseError as error:
        raise WebError(error.message) from None

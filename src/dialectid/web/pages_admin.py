"""Admin pages: users, case assignments, and how often feedback agrees with each model."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from dialectid.web import admin, auth
from dialectid.web.context import Web
from dialectid.web.templating import page

router = APIRouter(prefix="/admin", include_in_schema=False)


@router.get("/users")
def users_page(request: Request, web: Web, user: auth.Admin) -> Response:
    return page(request, "users.html.j2", user, users=web.accounts.list(), roles=admin.ROLES)


@router.post("/users", dependencies=[Depends(auth.form_csrf)])
def add_user(
    web: Web,
    user: auth.Admin,
    name: Annotated[str, Form(max_length=64)],
    role: Annotated[str, Form(max_length=20)],
    password: Annotated[str, Form(max_length=1024)],
) -> Response:
    admin.add_user(web, user, name, role, password)
    return RedirectResponse("/admin/users", status_code=303)


@router.post("/users/{name}/active", dependencies=[Depends(auth.form_csrf)])
def set_active(web: Web, user: auth.Admin, name: str, active: Annotated[bool, Form()]) -> Response:
    admin.set_active(web, user, name, active)
    return RedirectResponse("/admin/users", status_code=303)


@router.get("/cases")
def assignments_page(request: Request, web: Web, user: auth.Admin) -> Response:
    return page(request, "assignments.html.j2", user, cases=web.store.list_cases(), caseworkers=admin.caseworkers(web))


@router.post("/cases/{reference}/assignment", dependencies=[Depends(auth.form_csrf)])
def assign(web: Web, user: auth.Admin, reference: str, assignee: Annotated[str, Form(max_length=64)] = "") -> Response:
    admin.assign(web, user, reference, assignee or None)
    return RedirectResponse("/admin/cases", status_code=303)


@router.get("/agreement")
def agreement_page(request: Request, web: Web, user: auth.Admin) -> Response:
    return page(request, "agreement.html.j2", user, models=web.store.agreement_by_model())

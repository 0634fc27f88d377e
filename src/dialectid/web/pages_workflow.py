"""The case workflow for analysts and admins: open a case (the identity is typed once and
pseudonymised), change its status, assign it; and the walkthrough page every user can read."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from dialectid.casefile import CaseError
from dialectid.web import auth
from dialectid.web.context import Web
from dialectid.web.errors import WebError
from dialectid.web.templating import page

router = APIRouter(include_in_schema=False)
Manager = Annotated[auth.Principal, Depends(auth.require("analyst", "admin"))]
Text = Annotated[str, Form(max_length=200)]


@router.get("/walkthrough")
def walkthrough(request: Request, user: auth.User) -> Response:
    return page(request, "walkthrough.html.j2", user)


@router.get("/cases-new")
def new_case_form(request: Request, user: Manager) -> Response:
    return page(request, "new_case.html.j2", user, message=None)


@router.post("/cases-new", dependencies=[Depends(auth.form_csrf)])
def open_case(request: Request, web: Web, user: Manager, name: Text, date_of_birth: Annotated[str, Form(max_length=10)],
              claimed_origin: Text = "") -> Response:  # fmt: skip
    """The identity goes to the identity map only; every later page shows the pseudonym."""
    try:
        opened = web.store.new_case(name, date_of_birth, claimed_origin or None, user.name)
    except CaseError as error:
        return page(request, "new_case.html.j2", user, status=400, message=error.message)
    return RedirectResponse(f"/cases/{opened.reference}?done=opened", status_code=303)


@router.post("/cases/{reference}/status", dependencies=[Depends(auth.form_csrf)])
def change_status(request: Request, web: Web, user: Manager, reference: str,
                  status: Annotated[str, Form(max_length=20)]) -> Response:  # fmt: skip
    auth.open_case(web, user, reference, request.url.path)
    _act(lambda: web.store.set_status(reference, status, user.name))
    return RedirectResponse(f"/cases/{reference}?done=status", status_code=303)


@router.post("/cases/{reference}/assignee", dependencies=[Depends(auth.form_csrf)])
def assign(request: Request, web: Web, user: Manager, reference: str,
           assignee: Annotated[str, Form(max_length=64)] = "") -> Response:  # fmt: skip
    auth.open_case(web, user, reference, request.url.path)
    _act(lambda: web.store.assign(reference, assignee or None, user.name))
    return RedirectResponse(f"/cases/{reference}?done=assigned", status_code=303)


def _act(action) -> None:
    try:
        action()
    except CaseError as error:
        raise WebError(error.message) from None

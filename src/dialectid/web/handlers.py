"""Every error a request can end in becomes one line for the user: an error page for the pages,
`{"detail": ...}` for the API (unexpected exceptions: `middleware.ErrorBoundary`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException

from dialectid.errors import DialectidError
from dialectid.web.errors import NotAuthenticated, WebError
from dialectid.web.middleware import is_api

_HTTP_MESSAGES = {404: "no such page", 405: "this address does not accept that method"}
E = TypeVar("E", bound=Exception)


def error_response(request: Request, status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    if is_api(request.url.path):
        return JSONResponse({"detail": message}, status_code=status, headers=headers)
    from dialectid.web.templating import page

    response = page(request, "error.html.j2", None, status=status, message=message, status_code=status)
    response.headers.update(headers or {})
    return response


async def _web_error(request: Request, error: WebError) -> Response:
    if isinstance(error, NotAuthenticated) and not is_api(request.url.path):
        return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)
    return error_response(request, error.status, error.message, error.headers)


async def _http_error(request: Request, error: HTTPException) -> Response:
    detail = error.detail if isinstance(error.detail, str) and error.detail else ""
    message = _HTTP_MESSAGES.get(error.status_code) if detail in ("", "Not Found", "Method Not Allowed") else detail
    return error_response(request, error.status_code, message or "the request cannot be served")


async def _validation_error(request: Request, error: RequestValidationError) -> Response:
    first = error.errors()[0] if error.errors() else {}
    where = " ".join(str(part) for part in first.get("loc", ())[1:]) or "request"
    return error_response(request, 422, f"bad request: {where}: {first.get('msg', 'invalid')}".replace("\n", " "))


async def _user_error(request: Request, error: DialectidError) -> Response:
    return error_response(request, 400, error.message)


def install_error_handlers(app: FastAPI) -> None:
    _install(app, WebError, _web_error)
    _install(app, HTTPException, _http_error)
    _install(app, RequestValidationError, _validation_error)
    _install(app, DialectidError, _user_error)


def _install(app: FastAPI, kind: type[E], handle: Callable[[Request, E], Awaitable[Response]]) -> None:
    """Register `handle` for `kind`: Starlette passes the handler any Exception; this one gets `kind`."""

    async def handler(request: Request, error: Exception) -> Response:
        if not isinstance(error, kind):  # cannot happen: Starlette looks the handler up by the class
            raise error
        return await handle(request, error)

    app.add_exception_handler(kind, handler)

"""ASGI middleware around the whole app: security headers on every response, a cap on request
bodies, an access log that never records a query string (the only place a user could type
something that is not a reference into a URL) and writes control characters out (`logsafe`), and
a boundary that turns an unexpected exception into a one-line 500 (logged in full on the server,
never shown to the user)."""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable

from starlette.exceptions import HTTPException

from dialectid.web.errors import TooLarge
from dialectid.web.logsafe import escape

access_log = logging.getLogger("dialectid.web.access")
log = logging.getLogger("dialectid.web")
INTERNAL = "internal error; the administrator can find the details in the server log"

# No inline script or style anywhere: every script and style sheet is a file under /static.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; media-src 'self'; "
       "object-src 'none'; frame-src 'self'; frame-ancestors 'self'; base-uri 'none'; form-action 'self'")  # fmt: skip
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"SAMEORIGIN"),  # the case page frames its own PDF reports, nobody else may
    (b"referrer-policy", b"no-referrer"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
    (b"cross-origin-opener-policy", b"same-origin"),
]
HSTS = (b"strict-transport-security", b"max-age=31536000")
NO_STORE = (b"cache-control", b"no-store")  # case data must not linger in shared or browser caches
UPLOAD_PATH = re.compile(r"^(/api)?/cases/[^/]+/recordings$")
MULTIPART_OVERHEAD = 64 * 1024  # boundaries and the small fields beside the file


class AllowedHosts:
    """Answer only requests whose Host header is one of `hosts`, so nothing is built from a name a
    stranger chose (Starlette's trailing-slash redirects are absolute URLs made from it, and a cache
    or a link in a mail could carry them on). Empty `hosts` accepts every name: an app made in
    tests or embedded elsewhere; `dialectid serve` always names its own."""

    def __init__(self, app, hosts: tuple[str, ...]) -> None:
        self.app, self.hosts = app, frozenset(host_name(h) for h in hosts)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or not self.hosts:
            return await self.app(scope, receive, send)
        if host_name(dict(scope.get("headers", [])).get(b"host", b"").decode("latin-1")) in self.hosts:
            return await self.app(scope, receive, send)
        await send_plain_error(scope, send, 400, "this server does not answer to that host name; use the address "
                               "its administrator gave you")  # fmt: skip


def host_name(host: str) -> str:
    """The name in a Host header or an allowed-hosts entry, without port, brackets or final dot.

    >>> host_name("[::1]:8000"), host_name("Example.ORG.:443"), host_name("127.0.0.1"), host_name("::1")
    ('::1', 'example.org', '127.0.0.1', '::1')
    """
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    if host.count(":") == 1:  # a name or IPv4 address with a port; more colons: a bare IPv6 address
        host = host.split(":", 1)[0]
    return host.rstrip(".")


class SecurityHeaders:
    """With `https_only` (the server sits behind TLS) browsers are also told never to use plain HTTP."""

    def __init__(self, app, https_only: bool = False) -> None:
        self.app = app
        self.headers = SECURITY_HEADERS + ([HSTS] if https_only else [])

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def with_headers(message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if not scope["path"].startswith("/static/"):
                    headers = [h for h in headers if h[0].lower() != b"cache-control"] + [NO_STORE]
                message = {**message, "headers": headers + self.headers}
            await send(message)

        await self.app(scope, receive, with_headers)


class BodyLimit:
    """Refuse request bodies over the limit: uploads get `upload_limit` (plus the multipart
    framing), everything else `form_limit`. A declared Content-Length over the limit is refused
    before a byte is read; a body sent without one is counted as it arrives. An upload answered
    before its body was read to the end (refused) closes the connection, so that its sender stops."""

    def __init__(self, app, upload_limit: int, form_limit: int, message: Callable[[], str]) -> None:
        self.app, self.upload_limit, self.form_limit, self.message = app, upload_limit, form_limit, message

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        upload = bool(UPLOAD_PATH.match(scope["path"]))
        limit = self.upload_limit + MULTIPART_OVERHEAD if upload else self.form_limit
        message = self.message() if upload else f"the request is larger than {self.form_limit // 1024} KB"
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            return await send_plain_error(scope, send, TooLarge.status, message, close=True)
        received, complete = 0, False

        async def counted():
            nonlocal received, complete
            event = await receive()
            received += len(event.get("body", b""))
            complete = complete or not event.get("more_body", False)
            if received > limit:  # FastAPI lets an HTTPException from here through to the app's handler
                raise HTTPException(TooLarge.status, message)
            return event

        async def closing(event) -> None:
            if upload and event["type"] == "http.response.start" and not complete:
                event = {**event, "headers": [*event.get("headers", []), (b"connection", b"close")]}
            await send(event)

        await self.app(scope, counted, closing)


def is_api(path: str) -> bool:
    return path.startswith("/api/") or path == "/api"


async def send_plain_error(scope, send, status: int, message: str, close: bool = False) -> None:
    """An error answered below the app (no templates there): JSON for the API, a bare page otherwise."""
    from html import escape

    if is_api(scope["path"]):
        body, kind = json.dumps({"detail": message}).encode(), b"application/json"
    else:
        body = (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Error {status}</title>'
                f'<link rel="stylesheet" href="/static/style.css"></head><body><main><h1>Error {status}</h1>'
                f'<p class="error">{escape(message)}</p></main></body></html>').encode()  # fmt: skip
        kind = b"text/html; charset=utf-8"
    headers = [(b"content-type", kind), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status,
                "headers": headers + ([(b"connection", b"close")] if close else [])})  # fmt: skip
    await send({"type": "http.response.body", "body": body})


class AccessLog:
    """One line per request: method, path without its query, status, milliseconds."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started, status = time.perf_counter(), 500

        async def seen(message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, seen)
        finally:
            access_log.info("%s %s %d %.0f ms", escape(scope["method"]), escape(scope["path"]), status,
                            1000 * (time.perf_counter() - started))  # fmt: skip


class ErrorBoundary:
    """Innermost middleware: an exception no handler took is logged and answered with a one-line
    500 that still passes through the security headers."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = False

        async def tracked(message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except Exception:
            log.exception("%s %s failed", escape(scope["method"]), escape(scope["path"]))
            if started:
                raise
            await send_plain_error(scope, send, 500, INTERNAL)

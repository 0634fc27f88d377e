"""Errors a web request can end in, each with one line for the user and its HTTP status.

Pages show the line in the site's layout, the API answers `{"detail": line}`; no response ever
carries a traceback.
"""

from __future__ import annotations

import math


class WebError(Exception):
    status = 400
    headers: dict[str, str] = {}  # extra response headers; never changed in place

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = " ".join(message.split())


class NotAuthenticated(WebError):
    status = 401

    def __init__(self, message: str = "log in first") -> None:
        super().__init__(message)


class Forbidden(WebError):
    status = 403


class NotFound(WebError):
    status = 404


class TooLarge(WebError):
    status = 413


class NotAudio(WebError):
    status = 415


class Unprocessable(WebError):
    status = 422  # a recording the web view will not analyse (too long, an absurd sample rate)


class TryLater(WebError):
    """Refused for now: the answer says when to ask again (Retry-After, whole seconds)."""

    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after = max(1, math.ceil(retry_after_s))
        self.headers = {"Retry-After": str(self.retry_after)}


class Throttled(TryLater):
    status = 429  # this client or user asked too often


class Busy(TryLater):
    status = 503  # the server is doing as much of this as it will at once


CSRF_MESSAGE = ("the form expired or was not sent from this site (CSRF token missing or wrong); "
                "reload the page and try again")  # fmt: skip

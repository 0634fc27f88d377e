"""Errors a web request can end in, each with one line for the user and its HTTP status.

Pages show the line in the site's layout, the API answers `{"detail": line}`; no response ever
carries a traceback.
"""

from __future__ import annotations


class WebError(Exception):
    status = 400

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


class Locked(WebError):
    status = 429  # too many failed logins: try again later


CSRF_MESSAGE = ("the form expired or was not sent from this site (CSRF token missing or wrong); "
                "reload the page and try again")  # fmt: skip

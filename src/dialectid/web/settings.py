"""What an operator may tune in the web view; the defaults are the production values."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

MB = 1024 * 1024


@dataclass(frozen=True)
class WebSettings:
    """Limits and lifetimes of the web view.

    >>> WebSettings(upload_limit_mb=2).upload_limit_bytes
    2097152
    """

    session_lifetime: timedelta = timedelta(hours=8)  # a working day; then log in again
    upload_limit_mb: float = 100.0  # two hours of 8 kHz 16-bit WAV are about 110 MB; compressed much less
    form_limit_bytes: int = 64 * 1024  # every request but an upload
    max_failed_logins: int = 5  # in a row; then the account is locked
    lockout: timedelta = timedelta(minutes=15)
    secure_cookies: bool = False  # True behind HTTPS: cookies are then never sent in clear text

    @property
    def upload_limit_bytes(self) -> int:
        return int(self.upload_limit_mb * MB)

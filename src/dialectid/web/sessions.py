"""Session cookies and CSRF tokens.

The session cookie holds a random token, signed and time-stamped (itsdangerous), HttpOnly and
SameSite=Strict. The database keeps only the token's sha256 (`Accounts.open_session`), so logging
out ends a session for good, and a stolen copy of the database logs nobody in.

A form's CSRF token is an HMAC of the session token: an attacker's page cannot read it, and it
changes with every login. The login form, before any session exists, is bound the same way to a
random nonce in a short-lived cookie of its own.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from pathlib import Path

from itsdangerous import BadSignature, URLSafeTimedSerializer

from dialectid.keys import key_file

SESSION_COOKIE = "dialectid_session"
LOGIN_COOKIE = "dialectid_login"
LOGIN_COOKIE_SECONDS = 3600
SECRET_FILE = "web-session.key"


def session_secret(keys_dir: Path) -> bytes:
    """The key that signs cookies, created on first use (mode 0600) beside the report-signing key,
    so that sessions survive a restart of the server."""
    return bytes.fromhex(key_file(keys_dir / SECRET_FILE, lambda: secrets.token_bytes(32).hex().encode()).decode())


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class CookieSigner:
    """Signs session tokens into cookie values and derives the CSRF tokens bound to them.

    >>> signer = CookieSigner(b"k" * 32)
    >>> signer.token(signer.cookie("abc"), max_age_s=60)
    'abc'
    >>> signer.token("abc.forged", max_age_s=60) is None
    True
    """

    def __init__(self, secret: bytes) -> None:
        self._secret = secret
        self._serializer = URLSafeTimedSerializer(secret, salt="dialectid-session")

    def cookie(self, token: str) -> str:
        return self._serializer.dumps(token)

    def token(self, cookie: str, max_age_s: float) -> str | None:
        """The token in a cookie value; None if forged, altered or older than `max_age_s`."""
        try:
            token = self._serializer.loads(cookie, max_age=int(max_age_s))
        except BadSignature:  # SignatureExpired is one too
            return None
        return token if isinstance(token, str) else None

    def csrf(self, bound_to: str, purpose: str = "form") -> str:
        return hmac.new(self._secret, f"{purpose}:{bound_to}".encode(), hashlib.sha256).hexdigest()

    def csrf_ok(self, bound_to: str | None, sent: str | None, purpose: str = "form") -> bool:
        if not bound_to or not sent:
            return False
        return hmac.compare_digest(self.csrf(bound_to, purpose), sent)


def new_token() -> str:
    return secrets.token_urlsafe(32)

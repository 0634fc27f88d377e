"""Passwords: argon2id hashes (argon2-cffi's defaults, RFC 9106's low-memory profile).

Checking a login against an unknown user still hashes once, so the time taken does not tell
whether a user name exists.

>>> stored = hash_password("correct horse battery")
>>> check_password(stored, "correct horse battery"), check_password(stored, "wrong")
(True, False)
"""

from __future__ import annotations

from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from dialectid.errors import DialectidError

MIN_LENGTH = 12
MAX_LENGTH = 1024  # argon2 takes any length; a cap keeps a login request from costing much


class PasswordError(DialectidError):
    """A new password that is too short, too long or empty."""


@lru_cache(maxsize=1)
def _hasher() -> PasswordHasher:
    return PasswordHasher()


def hash_password(password: str) -> str:
    if not MIN_LENGTH <= len(password) <= MAX_LENGTH:
        raise PasswordError(f"the password must have {MIN_LENGTH} to {MAX_LENGTH} characters")
    return _hasher().hash(password)


def check_password(stored_hash: str, password: str) -> bool:
    if len(password) > MAX_LENGTH:
        return False
    try:
        return _hasher().verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def upgraded_hash(stored_hash: str, password: str) -> str | None:
    """After a successful check: a new hash with today's parameters if the stored one was made with
    others (weaker ones, say), else None. The password's length rules were checked when it was set."""
    try:
        return _hasher().hash(password) if _hasher().check_needs_rehash(stored_hash) else None
    except InvalidHashError:
        return None


def spend_equal_time(password: str) -> None:
    """Hash as a real check would, for a login under a name that does not exist."""
    check_password(_dummy_hash(), password)


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _hasher().hash("not the password of anyone")

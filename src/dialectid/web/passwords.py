"""Passwords: the rules a new one must meet, and argon2id hashes (argon2-cffi's defaults, RFC
9106's low-memory profile: 64 MiB and about a tenth of a second to half a second per check).

A new password needs 12 characters (16 for an admin), no control characters, not only white space,
and must not be one that attackers try first: not on the list of 19,640 common passwords shipped
in `data/` (from Django; see its NOTICE), also with digits or symbols around it or letters
written as digits (`P@ssw0rd2024!`), not a simple pattern (`aaaaaaaaaaab`, `123456789012`,
`qwertyuiop12`, a word repeated) and not containing the user's name. Passwords set before these
rules keep working; the rules apply when one is set.

Checking a login under a name that does not exist still hashes once, with the same parameters,
so the time taken does not tell whether a user name exists.

>>> stored = hash_password("correct horse battery")
>>> check_password(stored, "correct horse battery"), check_password(stored, "wrong")
(True, False)
"""

from __future__ import annotations

import gzip
import re
import unicodedata
from functools import lru_cache
from importlib import resources

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from dialectid.errors import DialectidError

MIN_LENGTH = 12
MIN_ADMIN_LENGTH = 16  # an admin's password opens every case and every account
MAX_LENGTH = 1024  # argon2 takes any length; a cap keeps a login request from costing much
LESS_STRICT_ROLES = ("caseworker", "analyst")  # any other role (or none) gets an admin's rules
BETTER = "a few unrelated words make a better one"
_CONTROL_CATEGORIES = {"Cc", "Cf", "Cs", "Zl", "Zp"}  # control, invisible format, lone surrogates, line breaks
_AROUND = re.compile(r"^[\W\d_]+|[\W\d_]+$")  # digits and symbols put before or after a word
_AS_LETTERS = str.maketrans("@4310$5!7+", "aaeiossitt")  # p@ssw0rd
_SEQUENCES = ("0123456789", "abcdefghijklmnopqrstuvwxyz", "qwertyuiopasdfghjklzxcvbnm", "qwertzuiopasdfghjklyxcvbnm",
              "azertyuiopqsdfghjklmwxcvbn", "1qaz2wsx3edc4rfv5tgb6yhn7ujm8ik9ol0p", "1q2w3e4r5t6y7u8i9o0p",
              "qazwsxedcrfvtgbyhnujmikolp")  # fmt: skip


class PasswordError(DialectidError):
    """A new password that breaks the rules: too short or long, control characters, too common."""


@lru_cache(maxsize=1)
def _hasher() -> PasswordHasher:
    return PasswordHasher()


def check_new_password(password: str, role: str | None = None, name: str = "") -> None:
    """Raise `PasswordError` unless `password` may be set for user `name` with `role` (None: the
    strictest rules, an admin's).

    >>> check_new_password("violet kettle 9", "caseworker", "cora")
    >>> check_new_password("Password1234!", "caseworker", "cora")
    Traceback (most recent call last):
    ...
    dialectid.web.passwords.PasswordError: the password is on a list of common passwords that attackers try first; a few unrelated words make a better one
    """
    minimum = MIN_LENGTH if role in LESS_STRICT_ROLES else MIN_ADMIN_LENGTH
    if not minimum <= len(password) <= MAX_LENGTH:
        whose = "the" if minimum == MIN_LENGTH else "an admin's"
        raise PasswordError(f"{whose} password must have {minimum} to {MAX_LENGTH} characters")
    if any(unicodedata.category(c) in _CONTROL_CATEGORIES for c in password):
        raise PasswordError("the password contains control characters (tabs, line breaks, NUL and the like); "
                            "use letters, digits, spaces and punctuation")  # fmt: skip
    if not password.strip():
        raise PasswordError("the password is only white space")
    lowered = password.lower()
    if _is_common(lowered):
        raise PasswordError(f"the password is on a list of common passwords that attackers try first; {BETTER}")
    if _is_pattern(lowered):
        raise PasswordError("the password is a simple pattern (repeated characters or words, or a keyboard or "
                            f"number sequence); {BETTER}")  # fmt: skip
    if len(name) >= 3 and name.lower() in lowered:
        raise PasswordError("the password contains the user name; choose one that does not")


def _is_common(lowered: str) -> bool:
    core = _AROUND.sub("", lowered)
    return bool(({lowered, core, core.translate(_AS_LETTERS)} - {""}) & _common_passwords())


def _is_pattern(lowered: str) -> bool:
    compact = "".join(lowered.split())
    if len(set(compact)) < 5:
        return True
    for size in range(1, len(lowered) // 2 + 1):  # a unit repeated: "abcabcabcabc", "password password"
        unit = lowered[:size]
        if (unit * (len(lowered) // size + 1)).startswith(lowered):
            return True
    return any(compact in (sequence * 3) or compact in (sequence[::-1] * 3) for sequence in _SEQUENCES)


@lru_cache(maxsize=1)
def _common_passwords() -> frozenset[str]:
    data = resources.files("dialectid.web").joinpath("data/common-passwords.txt.gz").read_bytes()
    return frozenset(line.strip() for line in gzip.decompress(data).decode("utf-8").splitlines() if line.strip())


def hash_password(password: str, role: str | None = None, name: str = "") -> str:
    """The argon2id hash of a new password, after `check_new_password`."""
    check_new_password(password, role, name)
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
    others (weaker ones, say), else None. The password's rules were checked when it was set."""
    try:
        return _hasher().hash(password) if _hasher().check_needs_rehash(stored_hash) else None
    except InvalidHashError:
        return None


def dummy_hash() -> str:
    """A hash to check a login under a name that does not exist against: made with the current
    parameters, so that the check takes as long as a real one."""
    return _dummy_for(_hasher())


@lru_cache(maxsize=4)
def _dummy_for(hasher: PasswordHasher) -> str:
    return hasher.hash("not the password of anyone")

"""The case file's errors: what a user asked for that cannot be met, and a damaged store."""

from __future__ import annotations

from dialectid.errors import DialectidError


class CaseError(DialectidError):
    """Unknown case, bad identity data, or another case-file request that cannot be met."""


class RecordingIntegrityError(DialectidError):
    """A stored recording no longer has the bytes it was stored with (changed or damaged on disk,
    or missing). Not a CaseError: nothing the user asked for is unknown, the store is damaged."""

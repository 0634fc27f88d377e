"""The mock electronic case file: cases, pseudonymised subjects, recordings, analyses, reports,
feedback and a hash-chained audit log, in SQLite or PostgreSQL."""

from dialectid.casefile.errors import CaseError, RecordingIntegrityError
from dialectid.casefile.store import CaseStore, NewCase

__all__ = ["CaseError", "CaseStore", "NewCase", "RecordingIntegrityError"]

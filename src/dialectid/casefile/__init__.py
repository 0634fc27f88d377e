"""The mock electronic case file: cases, pseudonymised subjects, recordings, analyses, reports,
feedback and a hash-chained audit log, in SQLite or PostgreSQL."""

from dialectid.casefile.errors import CaseError, RecordingIntegrityError
from dialectid.casefile.store import CASE_REFERENCE, CaseStore, NewCase

__all__ = ["CASE_REFERENCE", "CaseError", "CaseStore", "NewCase", "RecordingIntegrityError"]

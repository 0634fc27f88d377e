"""The mock electronic case file: cases, pseudonymised subjects, recordings, analyses, reports,
feedback and a hash-chained audit log, in SQLite or PostgreSQL."""

from dialectid.casefile.store import CaseError, CaseStore, NewCase, RecordingIntegrityError

__all__ = ["CaseError", "CaseStore", "NewCase", "RecordingIntegrityError"]

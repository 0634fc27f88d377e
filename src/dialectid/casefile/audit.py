"""The case file's audit log: every change an event in a hash-chained, append-only chain, whose
head is signed into the data home after every transaction that appended to it (`integrity`).

`AuditChain` appends, reads and checks the chain; `CaseStore` holds one and runs every transaction
through it, so that no change is committed without its head being signed.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import secrets
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from dialectid.casefile.errors import CaseError
from dialectid.casefile.integrity import (
    HEAD_FILE,
    AuditVerdict,
    Walk,
    advance_head,
    analysis_gone,
    analysis_problem,
    head_problem,
    read_anchor,
    read_head,
    report_gone,
    walk,
)
from dialectid.casefile.schema import AnalysisRow, AuditEvent, Recording, Report
from dialectid.casefile.summaries import AuditEntry
from dialectid.keys import VerificationError, key_file, signing_key, trusted_key

GENESIS = "0" * 64
TEXT_KEY = "free-text.key"  # keys the digests of free text in the audit log
_CHAIN_LOCK = 727_301  # PostgreSQL advisory lock id that serialises appends to the audit chain


def event_hash(fields: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


class AuditChain:
    """The chain in the database of `sessions`, its head signed with the key in `keys_dir` into
    `root` (the data home). `postgres`: appends take turns through an advisory lock (on SQLite
    every transaction begins IMMEDIATE, one writer at a time, which does it already)."""

    def __init__(self, sessions: sessionmaker[Session], postgres: bool, root: Path, keys_dir: Path) -> None:
        self._sessions, self._postgres, self.root, self.keys_dir = sessions, postgres, root, keys_dir

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Session]:
        """One transaction: everything in it happens, or nothing does. Once one that appended to the
        chain has committed, the chain's new head is signed into the data home."""
        with self._sessions.begin() as session:
            yield session
        if "audit_head" in session.info:
            self._sign_head(*session.info["audit_head"])

    def append(self, session: Session, actor: str, action: str, case_reference: str | None, **details: Any) -> None:
        """Append an event to the chain inside `session`'s transaction (one of `transaction`'s)."""
        self._lock(session)
        previous = session.scalar(select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)) or GENESIS
        fields = {"at": datetime.now(UTC).isoformat(timespec="microseconds"), "actor": actor, "action": action,
                  "case_reference": case_reference, "details": details, "previous_hash": previous}  # fmt: skip
        appended = AuditEvent(**fields, hash=event_hash(fields))
        session.add(appended)
        session.flush()
        session.info["audit_head"] = (appended.id, appended.hash)

    def record(self, actor: str, action: str, case_reference: str | None, **details: Any) -> None:
        """An event on its own (a view, a refused access), in a transaction of its own."""
        with self.transaction() as session:
            self.append(session, actor, action, case_reference, **details)

    def _lock(self, session: Session) -> None:
        if self._postgres:
            session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _CHAIN_LOCK})

    # ---- free text ------------------------------------------------------------------------------
    def text_digest(self, free_text: str | None) -> str | None:
        """What the log keeps of free text: an HMAC-SHA256 under a key in keys/, never the text.
        A plain sha256 would let anyone holding the log confirm a guessed name for good, even after
        the text itself was erased; this digest can be checked only with the key."""
        if not free_text:
            return None
        return hmac.new(self._text_key(), free_text.encode(), "sha256").hexdigest()

    def _text_key(self) -> bytes:
        """Created on first use, 0600 (`keys.key_file`)."""
        return bytes.fromhex(key_file(self.keys_dir / TEXT_KEY, lambda: secrets.token_hex(32).encode()).decode())

    # ---- the signed head ------------------------------------------------------------------------
    @property
    def head_path(self) -> Path:
        """The chain's head signed with the store's key (`integrity`), outside the database."""
        return self.root / HEAD_FILE

    @cached_property
    def _head_key(self) -> Ed25519PrivateKey:
        return signing_key(self.keys_dir)

    def _sign_head(self, event_id: int, hash_: str) -> None:
        advance_head(self.head_path, self._head_key, event_id, hash_, self._hash_at)

    def _hash_at(self, event_id: int) -> str | None:
        with self._sessions.begin() as session:
            return session.scalar(select(AuditEvent.hash).where(AuditEvent.id == event_id))

    def tip(self) -> dict[str, Any] | None:
        """The chain's last committed event, as a report's signature carries it; None: no events."""
        with self._sessions.begin() as session:
            row = session.execute(
                select(AuditEvent.id, AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)
            ).first()
        return None if row is None else {"event": row.id, "hash": row.hash}

    def export_head(self) -> bytes:
        """The signed head file, to keep a copy where this machine cannot change it (signed now if
        there is none yet: the chain was last written by an older version)."""
        if not self.head_path.exists():
            tip = self.tip()
            if tip is None:
                raise CaseError("the audit log is empty: there is no head to export yet")
            self._sign_head(tip["event"], tip["hash"])
        return self.head_path.read_bytes()

    # ---- reading and checking -------------------------------------------------------------------
    def events(self, reference: str | None = None) -> list[AuditEntry]:
        """The events of the case `reference` (None: all), oldest first."""
        with self._sessions.begin() as session:
            query = select(AuditEvent).order_by(AuditEvent.id)
            if reference:
                query = query.where(AuditEvent.case_reference == reference)
            rows = session.scalars(query)
            return [AuditEntry(e.id, e.at, e.actor, e.action, e.case_reference, e.details) for e in rows]

    def check(self, anchors: Sequence[Path] = (), public_key: Path | None = None) -> AuditVerdict:
        """Walk the chain link by link; check that it passes unchanged through the head signed into
        the data home and through each of `anchors` (exported heads or signed reports kept
        elsewhere), and that every stored analysis and report is the one its event recorded.
        Names the first problem. Signatures are checked with `public_key` [the store's key]."""
        head, anchored = None, []
        try:
            if public_key or anchors or self.head_path.exists():
                public = trusted_key(self.keys_dir, public_key)
                head = read_head(self.head_path, public)
                anchored = [read_anchor(path, public) for path in anchors]
        except VerificationError as error:
            return AuditVerdict(events=0, problem=error.message)
        with self.transaction() as session:
            self._lock(session)  # nothing is appended while the rows are compared with the chain
            events = session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
            found = walk(events, event_hash, GENESIS)
            heads = [h for h in (head, *anchored) if h is not None]
            problem = found.problem or next(filter(None, (head_problem(found, h) for h in heads)), None)
            digested, undigested, problem = _check_rows(session, found) if problem is None else (0, 0, problem)
        return AuditVerdict(len(events), problem, head, anchored, digested, undigested)


def analysis_records(session: Session, reference: str) -> dict[str, dict[str, Any]]:
    """The details of the events that recorded the case's analyses, by registration number: each
    analysis's digest and the facts of the model that made it."""
    events = session.scalars(select(AuditEvent.details).where(AuditEvent.case_reference == reference,
                                                              AuditEvent.action == "analysed").order_by(AuditEvent.id))  # fmt: skip
    records: dict[str, dict[str, Any]] = {}
    for details in events:
        records.setdefault(details.get("registration_number"), details)
    return records


def attached_reports(session: Session, reference: str) -> set[str]:
    """The registration numbers whose report an event of the case records as attached."""
    events = session.scalars(select(AuditEvent.details).where(AuditEvent.case_reference == reference,
                                                              AuditEvent.action == "report attached"))  # fmt: skip
    return {details.get("registration_number") for details in events}


def _check_rows(session: Session, found: Walk) -> tuple[int, int, str | None]:
    """Every analysis and report against the event that recorded it: (analyses checked against
    their digest, analyses stored before digests were recorded, the first problem)."""
    query = select(AnalysisRow, Recording.sha256).join(Recording, Recording.id == AnalysisRow.recording_id)
    digested = undigested = 0
    stored, reported = set(), set()
    for analysis, recording_sha256 in session.execute(query.order_by(AnalysisRow.id).execution_options(yield_per=100)):
        stored.add(analysis.registration_number)
        record = found.analysed.get(analysis.registration_number)
        problem = analysis_problem(analysis, recording_sha256, record)
        if problem or record is None:  # no record is a problem too
            return digested, undigested, problem
        digested, undigested = (
            (digested + 1, undigested) if record.get("analysis_sha256") else (digested, undigested + 1)
        )
    pdfs = select(AnalysisRow.registration_number, Report.pdf).join(Report, Report.analysis_id == AnalysisRow.id)
    for number, pdf in session.execute(pdfs.order_by(Report.id).execution_options(yield_per=20)):
        reported.add(number)
        if hashlib.sha256(pdf).hexdigest() != found.attached.get(number):
            return digested, undigested, (f"the report of analysis {number} is not the one attached to it (its "
                                          "sha256 differs from the audit event that recorded it)")  # fmt: skip
    gone = [analysis_gone(n) for n in found.analysed if n not in stored]
    gone += [report_gone(n) for n in found.attached if n in stored and n not in reported]
    return digested, undigested, gone[0] if gone else None

"""The case file store: SQLite by default, PostgreSQL by URL; every operation one transaction,
every change an event in a hash-chained, append-only audit log.

Home: DIALECTID_HOME (default ~/.local/share/dialectid) holds casefile.db, recordings/ (the
original files, content-addressed by sha256, never renamed after their owner) and keys/.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, func, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from dialectid.casefile.schema import AnalysisRow, AuditEvent, Case, Feedback, Identity, Recording, Report, Subject
from dialectid.errors import DialectidError
from dialectid.paths import home

GENESIS = "0" * 64
_PSEUDONYM_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud without confusion
_CHAIN_LOCK = 727_301  # PostgreSQL advisory lock id that serialises appends to the audit chain


class CaseError(DialectidError):
    """Unknown case, bad identity data, or another case-file request that cannot be met."""


def now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def database_url(root: Path) -> str:
    return os.environ.get("DIALECTID_DATABASE_URL") or f"sqlite:///{root / 'casefile.db'}"


def _engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 60})

        @event.listens_for(engine, "connect")
        def _sqlite(connection, _record) -> None:
            connection.isolation_level = None  # let SQLAlchemy's BEGIN below be the only one
            cursor = connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=60000")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _immediate(connection) -> None:
            connection.exec_driver_sql("BEGIN IMMEDIATE")  # one writer at a time: the chain stays linear

        return engine
    return create_engine(url, pool_pre_ping=True)


@dataclass(frozen=True)
class NewCase:
    reference: str
    pseudonym: str


class CaseStore:
    def __init__(self, url: str | None = None, root: Path | None = None) -> None:
        self.root = Path(root or home())
        self.root.mkdir(parents=True, exist_ok=True)
        self.recordings_dir = self.root / "recordings"
        self.keys_dir = self.root / "keys"
        self.url = url or database_url(self.root)
        self.engine = _engine(self.url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self.migrate()

    # ---- infrastructure ------------------------------------------------------------------------
    def migrate(self) -> None:
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
        try:
            with self.engine.begin() as connection:
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
        except OperationalError as err:
            raise CaseError(
                f"{self._safe_url()}: cannot open the case file ({err.orig}); check the path or URL"
            ) from None

    def _safe_url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Session]:
        """One transaction: everything in it happens, or nothing does."""
        with self._sessions.begin() as session:
            yield session

    def audit(self, session: Session, actor: str, action: str, case_reference: str | None, **details: Any) -> None:
        """Append an event to the chain inside `session`'s transaction."""
        if self.engine.dialect.name == "postgresql":
            session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _CHAIN_LOCK})
        previous = session.scalar(select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)) or GENESIS
        fields = {"at": datetime.now(UTC).isoformat(timespec="microseconds"), "actor": actor, "action": action,
                  "case_reference": case_reference, "details": details, "previous_hash": previous}  # fmt: skip
        session.add(AuditEvent(**fields, hash=event_hash(fields)))
        session.flush()

    # ---- cases -----------------------------------------------------------------------------------
    def new_case(self, name: str, date_of_birth: str, claimed_origin: str | None, actor: str) -> NewCase:
        name = " ".join(name.split())
        if not name:
            raise CaseError("the name is empty; give the subject's name")
        _check_date(date_of_birth)
        with self.transaction() as session:
            reference = f"C-{now().year}-{secrets.token_hex(3).upper()}"
            pseudonym = "S-" + "".join(secrets.choice(_PSEUDONYM_ALPHABET) for _ in range(10))
            case = Case(reference=reference, status="open", created_at=now())
            session.add(case)
            session.flush()
            session.add(Subject(case_id=case.id, pseudonym=pseudonym))
            session.add(Identity(pseudonym=pseudonym, name=name, date_of_birth=date_of_birth,
                                 claimed_origin=claimed_origin or None))  # fmt: skip
            self.audit(session, actor, "case created", reference, pseudonym=pseudonym)
        return NewCase(reference, pseudonym)

    def case(self, session: Session, reference: str) -> Case:
        case = session.scalar(select(Case).where(Case.reference == reference))
        if case is None:
            raise CaseError(f"no case {reference!r}; `dialectid case list` shows the cases")
        return case

    def pseudonym(self, session: Session, case: Case) -> str:
        return session.scalar(select(Subject.pseudonym).where(Subject.case_id == case.id))

    def list_cases(self) -> list[dict[str, Any]]:
        with self.transaction() as session:
            rows = session.execute(
                select(Case.reference, Case.status, Subject.pseudonym, Case.created_at,
                       select(func.count(Recording.id)).where(Recording.case_id == Case.id).scalar_subquery())
                .join(Subject, Subject.case_id == Case.id).order_by(Case.id)
            ).all()  # fmt: skip
        return [{"reference": r, "status": s, "pseudonym": p, "created_at": c.isoformat(), "recordings": n}
                for r, s, p, c, n in rows]  # fmt: skip

    # ---- recordings --------------------------------------------------------------------------------
    def add_recording(self, reference: str, path: Path, recorded_by: str, actor: str) -> dict[str, Any]:
        """Validate the file, store it unchanged under its sha256, record who made it."""
        from dialectid.audio import load_recording

        facts = load_recording(path).facts  # refuses non-audio and damaged files with an AudioError
        stored = self.recording_path(facts.sha256)
        if not stored.exists():
            stored.parent.mkdir(parents=True, exist_ok=True)
            with (
                tempfile.NamedTemporaryFile(dir=stored.parent, delete=False) as temporary,
                Path(path).open("rb") as source,
            ):
                shutil.copyfileobj(source, temporary)
            if hashlib.sha256(Path(temporary.name).read_bytes()).hexdigest() != facts.sha256:
                os.unlink(temporary.name)
                raise CaseError(f"{path}: the file changed while it was being stored; add it again")
            os.chmod(temporary.name, 0o440)
            os.replace(temporary.name, stored)
        with self.transaction() as session:
            case = self.case(session, reference)
            existing = session.scalar(select(Recording).where(Recording.case_id == case.id,
                                                              Recording.sha256 == facts.sha256))  # fmt: skip
            if existing is not None:
                raise CaseError(f"{path}: this recording is already in case {reference}")
            session.add(Recording(case_id=case.id, sha256=facts.sha256, size_bytes=facts.size_bytes,
                                  container=facts.container, codec=facts.codec, sample_rate=facts.sample_rate,
                                  channels=facts.channels, duration_s=facts.duration_s, recorded_by=recorded_by,
                                  recorded_at=now()))  # fmt: skip
            self.audit(session, actor, "recording added", reference, sha256=facts.sha256, recorded_by=recorded_by)
        return {"sha256": facts.sha256, "duration_s": round(facts.duration_s, 2), "codec": facts.codec}

    def recording_path(self, sha256: str) -> Path:
        return self.recordings_dir / sha256[:2] / sha256

    # ---- analyses and reports ---------------------------------------------------------------------
    def pending(self, reference: str, bundle_sha256: str) -> list[Recording]:
        """Recordings of the case without an analysis by this bundle."""
        with self.transaction() as session:
            case = self.case(session, reference)
            done = select(AnalysisRow.recording_id).where(AnalysisRow.bundle_sha256 == bundle_sha256)
            return list(session.scalars(select(Recording).where(Recording.case_id == case.id,
                                                                Recording.id.not_in(done)).order_by(Recording.id)))  # fmt: skip

    def store_analysis(self, reference: str, recording: Recording, analysis: Any, actor: str) -> int | None:
        """Store an analysis; None if another process stored one for this recording and bundle first."""
        try:
            with self.transaction() as session:
                row = AnalysisRow(recording_id=recording.id, registration_number=analysis.registration_number,
                                  model_id=analysis.model["id"], bundle_sha256=analysis.model["bundle_sha256"],
                                  status=analysis.status, top_label=analysis.top_label, data=analysis.to_dict(),
                                  created_at=now())  # fmt: skip
                session.add(row)
                session.flush()
                self.audit(session, actor, "analysed", reference, registration_number=analysis.registration_number,
                           sha256=recording.sha256, status=analysis.status)  # fmt: skip
                return row.id
        except IntegrityError:
            return None

    def without_report(self, reference: str) -> list[tuple[AnalysisRow, Recording]]:
        with self.transaction() as session:
            case = self.case(session, reference)
            return list(session.execute(
                select(AnalysisRow, Recording).join(Recording, Recording.id == AnalysisRow.recording_id)
                .where(Recording.case_id == case.id, AnalysisRow.id.not_in(select(Report.analysis_id)))
                .order_by(AnalysisRow.id)))  # fmt: skip

    def attach_report(self, reference: str, analysis_id: int, pdf: bytes, signature: dict, actor: str) -> bool:
        """Attach a signed report; False if one is already attached."""
        try:
            with self.transaction() as session:
                session.add(Report(analysis_id=analysis_id, pdf=pdf, sha256=hashlib.sha256(pdf).hexdigest(),
                                   signature=signature, created_at=now()))  # fmt: skip
                session.flush()
                self.audit(session, actor, "report attached", reference,
                           registration_number=signature["registration_number"],
                           report_sha256=hashlib.sha256(pdf).hexdigest())  # fmt: skip
                return True
        except IntegrityError:
            return False

    def report_pdf(self, reference: str, registration_number: str | None, actor: str) -> tuple[str, bytes]:
        with self.transaction() as session:
            case = self.case(session, reference)
            query = (select(AnalysisRow.registration_number, Report.pdf).join(Report, Report.analysis_id == AnalysisRow.id)
                     .join(Recording, Recording.id == AnalysisRow.recording_id).where(Recording.case_id == case.id))  # fmt: skip
            if registration_number:
                query = query.where(AnalysisRow.registration_number == registration_number)
            row = session.execute(query.order_by(AnalysisRow.id.desc()).limit(1)).first()
            if row is None:
                raise CaseError(f"case {reference} has no report{' ' + registration_number if registration_number else ''}"
                                "; run `dialectid case analyse` first")  # fmt: skip
            self.audit(session, actor, "report exported", reference, registration_number=row[0])
            return row[0], row[1]

    # ---- viewing, feedback, erasure -----------------------------------------------------------------
    def show(self, reference: str, actor: str, with_identity: bool = False) -> dict[str, Any]:
        """The case as its caseworker sees it; every view is audited."""
        with self.transaction() as session:
            case = self.case(session, reference)
            pseudonym = self.pseudonym(session, case)
            recordings = session.scalars(select(Recording).where(Recording.case_id == case.id).order_by(Recording.id))
            result = {"reference": case.reference, "status": case.status, "pseudonym": pseudonym,
                      "created_at": case.created_at.isoformat(), "recordings": []}  # fmt: skip
            for recording in recordings:
                analyses = session.execute(
                    select(AnalysisRow, Report.id).outerjoin(Report, Report.analysis_id == AnalysisRow.id)
                    .where(AnalysisRow.recording_id == recording.id).order_by(AnalysisRow.id)).all()  # fmt: skip
                result["recordings"].append({
                    "sha256": recording.sha256, "codec": recording.codec, "duration_s": round(recording.duration_s, 2),
                    "recorded_by": recording.recorded_by, "recorded_at": recording.recorded_at.isoformat(),
                    "analyses": [{"registration_number": a.registration_number, "status": a.status,
                                  "top_label": a.top_label, "model": a.model_id, "report": report_id is not None,
                                  "probabilities": a.data["probabilities"][:3]} for a, report_id in analyses],
                })  # fmt: skip
            if with_identity:
                identity = session.get(Identity, pseudonym)
                result["identity"] = None if identity is None else {
                    "name": identity.name, "date_of_birth": identity.date_of_birth,
                    "claimed_origin": identity.claimed_origin}  # fmt: skip
            self.audit(session, actor, "viewed", reference, identity=with_identity)
        return result

    def add_feedback(self, registration_number: str, author: str, role: str, agrees: bool | None,
                     linguist_outcome: str | None, comment: str | None) -> None:  # fmt: skip
        with self.transaction() as session:
            analysis = session.scalar(select(AnalysisRow).where(AnalysisRow.registration_number == registration_number))
            if analysis is None:
                raise CaseError(f"no analysis {registration_number!r}")
            recording = session.get(Recording, analysis.recording_id)
            reference = session.get(Case, recording.case_id).reference
            session.add(Feedback(analysis_id=analysis.id, author=author, role=role, agrees=agrees,
                                 linguist_outcome=linguist_outcome, comment=comment, created_at=now()))  # fmt: skip
            self.audit(session, author, "feedback given", reference, registration_number=registration_number,
                       agrees=agrees)  # fmt: skip

    def erase_identity(self, reference: str, actor: str) -> str:
        """Delete the identity-map entry: the case, analyses and reports stay, now anonymous."""
        with self.transaction() as session:
            case = self.case(session, reference)
            pseudonym = self.pseudonym(session, case)
            identity = session.get(Identity, pseudonym)
            if identity is None:
                raise CaseError(f"case {reference}: the identity was already erased")
            session.delete(identity)
            self.audit(session, actor, "identity erased", reference, pseudonym=pseudonym)
        return pseudonym

    # ---- the audit chain --------------------------------------------------------------------------
    def verify_audit(self) -> tuple[int, str | None]:
        """(events checked, None) if the chain is intact, else (index, what is wrong at the first broken link)."""
        with self.transaction() as session:
            events = session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
        previous = GENESIS
        for item in events:
            fields = {"at": item.at, "actor": item.actor, "action": item.action, "case_reference": item.case_reference,
                      "details": item.details, "previous_hash": item.previous_hash}  # fmt: skip
            if item.previous_hash != previous:
                return len(events), f"event {item.id} ({item.action}) does not follow the event before it"
            if event_hash(fields) != item.hash:
                return len(events), f"event {item.id} ({item.action}) was changed after it was written"
            previous = item.hash
        return len(events), None

    def events(self, reference: str | None = None) -> list[dict[str, Any]]:
        with self.transaction() as session:
            query = select(AuditEvent).order_by(AuditEvent.id)
            if reference:
                query = query.where(AuditEvent.case_reference == reference)
            return [{"id": e.id, "at": e.at, "actor": e.actor, "action": e.action, "case": e.case_reference,
                     "details": e.details} for e in session.scalars(query)]  # fmt: skip


def event_hash(fields: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _check_date(value: str) -> None:
    try:
        parsed = date.fromisoformat(value)
    except (TypeError, ValueError):
        raise CaseError(f"date of birth {value!r} is not a date; write it as YYYY-MM-DD") from None
    if not date(1900, 1, 1) <= parsed <= date.today():
        raise CaseError(f"date of birth {value} is not plausible; check it")

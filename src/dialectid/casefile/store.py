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

from dialectid.casefile.schema import (
    AnalysisRow,
    AuditEvent,
    Case,
    Feedback,
    Identity,
    Recording,
    Report,
    Subject,
    User,
)
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


@dataclass(frozen=True)
class ReportParts:
    """What it takes to show a stored report again: the signed PDF, and what its HTML rendering
    is built from (the analysis, the case context and the model facts stored with it)."""

    registration_number: str
    pdf: bytes
    analysis: dict[str, Any]
    pseudonym: str
    recorded_at: str
    model_facts: dict[str, Any] | None


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

    def record(self, actor: str, action: str, case_reference: str | None, **details: Any) -> None:
        """An audit event on its own (a view, a refused access), in a transaction of its own."""
        with self.transaction() as session:
            self.audit(session, actor, action, case_reference, **details)

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

    def list_cases(self, search: str | None = None, status: str | None = None,
                   assigned_to: int | None = None) -> list[dict[str, Any]]:  # fmt: skip
        """All cases, or those whose reference contains `search`, with `status`, assigned to a user id."""
        with self.transaction() as session:
            query = (select(Case.reference, Case.status, Subject.pseudonym, Case.created_at,
                            select(func.count(Recording.id)).where(Recording.case_id == Case.id).scalar_subquery(),
                            User.name)
                     .join(Subject, Subject.case_id == Case.id).outerjoin(User, User.id == Case.assigned_to))  # fmt: skip
            if search:
                query = query.where(func.upper(Case.reference).contains(search.upper(), autoescape=True))
            if status:
                query = query.where(Case.status == status)
            if assigned_to is not None:
                query = query.where(Case.assigned_to == assigned_to)
            rows = session.execute(query.order_by(Case.id)).all()
        return [{"reference": r, "status": s, "pseudonym": p, "created_at": c.isoformat(), "recordings": n,
                 "assigned_to": a} for r, s, p, c, n, a in rows]  # fmt: skip

    def statuses(self) -> list[str]:
        with self.transaction() as session:
            return sorted(session.scalars(select(Case.status).distinct()))

    def assignee(self, reference: str) -> int | None:
        """The id of the user the case is assigned to (None: nobody); an unknown case is a CaseError."""
        with self.transaction() as session:
            return self.case(session, reference).assigned_to

    def assign(self, reference: str, user_name: str | None, actor: str) -> None:
        """Assign the case to a caseworker, or to nobody (`user_name` None)."""
        with self.transaction() as session:
            case = self.case(session, reference)
            user = None
            if user_name is not None:
                user = session.scalar(select(User).where(User.name == user_name))
                if user is None or not user.active or user.role != "caseworker":
                    raise CaseError(f"{user_name!r} is not an active caseworker; cases are assigned to caseworkers")
            case.assigned_to = None if user is None else user.id
            self.audit(session, actor, "case assigned", reference, assignee=user_name)

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

    def recording(self, reference: str, sha256: str) -> Recording:
        """A recording of this case (and of no other) by its sha256."""
        with self.transaction() as session:
            case = self.case(session, reference)
            row = session.scalar(select(Recording).where(Recording.case_id == case.id, Recording.sha256 == sha256))
            if row is None:
                raise CaseError(f"case {reference} has no recording {sha256[:64]!r}")
            return row

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
                                  model_id=analysis.model.id, bundle_sha256=analysis.model.bundle_sha256,
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

    def attach_report(self, reference: str, analysis_id: int, pdf: bytes, signature: dict, actor: str,
                      model_facts: dict[str, Any] | None = None) -> bool:  # fmt: skip
        """Attach a signed report; False if one is already attached."""
        try:
            with self.transaction() as session:
                session.add(Report(analysis_id=analysis_id, pdf=pdf, sha256=hashlib.sha256(pdf).hexdigest(),
                                   signature=signature, created_at=now(), model_facts=model_facts))  # fmt: skip
                session.flush()
                self.audit(session, actor, "report attached", reference,
                           registration_number=signature["registration_number"],
                           report_sha256=hashlib.sha256(pdf).hexdigest())  # fmt: skip
                return True
        except IntegrityError:
            return False

    def report_pdf(self, reference: str, registration_number: str | None, actor: str,
                   action: str = "report exported") -> tuple[str, bytes]:  # fmt: skip
        """The signed PDF of one report of the case (default: the latest); audited as `action`."""
        with self.transaction() as session:
            row = self._report_row(session, reference, registration_number)
            self.audit(session, actor, action, reference, registration_number=row[0].registration_number)
            return row[0].registration_number, row[1].pdf

    def report_parts(self, reference: str, registration_number: str) -> ReportParts:
        """Everything to show one report again. Not audited: the caller audits the view it serves."""
        with self.transaction() as session:
            analysis, report, recording = self._report_row(session, reference, registration_number)
            return ReportParts(analysis.registration_number, report.pdf, analysis.data,
                               self.pseudonym(session, self.case(session, reference)),
                               recording.recorded_at.isoformat(timespec="seconds"), report.model_facts)  # fmt: skip

    def _report_row(self, session: Session, reference: str, registration_number: str | None):
        case = self.case(session, reference)
        query = (select(AnalysisRow, Report, Recording).join(Report, Report.analysis_id == AnalysisRow.id)
                 .join(Recording, Recording.id == AnalysisRow.recording_id).where(Recording.case_id == case.id))  # fmt: skip
        if registration_number:
            query = query.where(AnalysisRow.registration_number == registration_number)
        row = session.execute(query.order_by(AnalysisRow.id.desc()).limit(1)).first()
        if row is None:
            raise CaseError(f"case {reference} has no report{' ' + registration_number if registration_number else ''}"
                            "; run `dialectid case analyse` first")  # fmt: skip
        return row

    # ---- viewing, feedback, erasure -----------------------------------------------------------------
    def show(self, reference: str, actor: str, with_identity: bool = False) -> dict[str, Any]:
        """The case as its caseworker sees it: recordings, every analysis with all its probabilities,
        its quality verdict and the feedback on it. Every view is audited."""
        with self.transaction() as session:
            case = self.case(session, reference)
            pseudonym = self.pseudonym(session, case)
            recordings = session.scalars(select(Recording).where(Recording.case_id == case.id).order_by(Recording.id))
            assignee = session.get(User, case.assigned_to) if case.assigned_to else None
            result = {"reference": case.reference, "status": case.status, "pseudonym": pseudonym,
                      "created_at": case.created_at.isoformat(), "assigned_to": assignee and assignee.name,
                      "recordings": []}  # fmt: skip
            for recording in recordings:
                analyses = session.execute(
                    select(AnalysisRow, Report.id).outerjoin(Report, Report.analysis_id == AnalysisRow.id)
                    .where(AnalysisRow.recording_id == recording.id).order_by(AnalysisRow.id)).all()  # fmt: skip
                result["recordings"].append({
                    "sha256": recording.sha256, "codec": recording.codec, "container": recording.container,
                    "duration_s": round(recording.duration_s, 2), "recorded_by": recording.recorded_by,
                    "recorded_at": recording.recorded_at.isoformat(),
                    "analyses": [_analysis_summary(session, a, report_id is not None) for a, report_id in analyses],
                })  # fmt: skip
            if with_identity:
                identity = session.get(Identity, pseudonym)
                result["identity"] = None if identity is None else {
                    "name": identity.name, "date_of_birth": identity.date_of_birth,
                    "claimed_origin": identity.claimed_origin}  # fmt: skip
            self.audit(session, actor, "viewed", reference, identity=with_identity)
        return result

    def add_feedback(self, registration_number: str, author: str, role: str, agrees: bool | None,
                     linguist_outcome: str | None, comment: str | None, reference: str | None = None) -> None:  # fmt: skip
        """Record a caseworker's or linguist's judgement of a result. With `reference`, the analysis
        must belong to that case. The comment is stored, never copied into the audit log."""
        with self.transaction() as session:
            analysis = session.scalar(select(AnalysisRow).where(AnalysisRow.registration_number == registration_number))
            recording = analysis and session.get(Recording, analysis.recording_id)
            case = recording and session.get(Case, recording.case_id)
            if case is None or reference not in (None, case.reference):
                raise CaseError(f"no analysis {registration_number!r}" + (f" in case {reference}" if reference else ""))
            reference = case.reference
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

    def agreement_by_model(self) -> list[dict[str, Any]]:
        """Per model: how often feedback agreed with the analysis's top label (no opinion: not counted)."""
        with self.transaction() as session:
            rows = session.execute(
                select(AnalysisRow.model_id, Feedback.agrees, func.count(Feedback.id))
                .join(Feedback, Feedback.analysis_id == AnalysisRow.id)
                .group_by(AnalysisRow.model_id, Feedback.agrees)).all()  # fmt: skip
        summary: dict[str, dict[str, Any]] = {}
        for model, agrees, count in rows:
            entry = summary.setdefault(
                model, {"model": model, "feedback": 0, "agree": 0, "disagree": 0, "no_opinion": 0}
            )
            entry["feedback"] += count
            entry[{True: "agree", False: "disagree", None: "no_opinion"}[agrees]] += count
        for entry in summary.values():
            judged = entry["agree"] + entry["disagree"]
            entry["agreement"] = entry["agree"] / judged if judged else None
        return sorted(summary.values(), key=lambda e: e["model"])

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


def _analysis_summary(session: Session, analysis: AnalysisRow, has_report: bool) -> dict[str, Any]:
    data = analysis.data
    feedback = session.scalars(select(Feedback).where(Feedback.analysis_id == analysis.id).order_by(Feedback.id))
    return {"registration_number": analysis.registration_number, "status": analysis.status,
            "top_label": analysis.top_label, "top_probability": data.get("top_probability"), "model": analysis.model_id,
            "report": has_report, "created_at": analysis.created_at.isoformat(), "speech_s": data.get("speech_s"),
            "probabilities": data["probabilities"],
            "quality": {k: data["quality"].get(k) for k in ("status", "flags", "reasons")},
            "feedback": [{"author": f.author, "role": f.role, "agrees": f.agrees, "linguist_outcome": f.linguist_outcome,
                          "comment": f.comment, "created_at": f.created_at.isoformat()} for f in feedback]}  # fmt: skip


def event_hash(fields: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _check_date(value: str) -> None:
    try:
        parsed = date.fromisoformat(value)
    except (TypeError, ValueError):
        raise CaseError(f"date of birth {value!r} is not a date; write it as YYYY-MM-DD") from None
    if not date(1900, 1, 1) <= parsed <= date.today():
        raise CaseError(f"date of birth {value} is not plausible; check it")

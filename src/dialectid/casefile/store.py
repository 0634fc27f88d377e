"""The case file store: SQLite by default, PostgreSQL by URL; every operation one transaction,
every change an event in a hash-chained, append-only audit log (`audit`).

Home: DIALECTID_HOME (default ~/.local/share/dialectid) holds casefile.db, recordings/ (the
original files, `recordings`) and keys/. Everything the web view and the CLI do with the case
file goes through `CaseStore`.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from dialectid.casefile.audit import AuditChain, analysis_records, attached_reports
from dialectid.casefile.errors import CaseError, RecordingIntegrityError
from dialectid.casefile.integrity import AuditVerdict, CheckedReport, ReportParts, analysis_problem, check_report
from dialectid.casefile.recordings import RecordingFiles, integrity_error
from dialectid.casefile.schema import AnalysisRow, Case, Feedback, Identity, Recording, Report, Subject, User
from dialectid.casefile.summaries import (
    AuditEntry,
    CaseRow,
    CaseSummary,
    LatestResult,
    ModelAgreement,
    RecordingSummary,
    SubjectIdentity,
    gone_analyses,
    latest_result,
    shown_analysis,
)
from dialectid.keys import digest, trusted_key
from dialectid.paths import home
from dialectid.scoring.analysis import Analysis

__all__ = ["CASE_REFERENCE", "CASE_STATUSES", "CaseError", "CaseStore", "NewCase", "RecordingIntegrityError",
           "ReportParts", "now"]  # fmt: skip

# What `new_case` makes, and so what is a case reference: logs, audit rows and messages take text
# from a request as a reference only where it has this form. Searches may hold part of one.
CASE_REFERENCE = re.compile(r"C-\d{4}-[0-9A-F]{6}")
_SEARCH = re.compile(r"[A-Za-z0-9-]{1,40}")

_PSEUDONYM_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud without confusion
ERASED = "(erased)"  # what free text reads after the identity of its case was erased


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
            cursor.execute("PRAGMA secure_delete=ON")  # deleted and replaced content is zeroed, not left in free space
            cursor.close()

        @event.listens_for(engine, "begin")
        def _immediate(connection) -> None:
            connection.exec_driver_sql("BEGIN IMMEDIATE")  # one writer at a time: the chain stays linear

        return engine
    return create_engine(url, pool_pre_ping=True)


def _create_private(engine: Engine) -> None:
    """Create a new SQLite file 0600 before SQLite does (it would take the umask, often 0644):
    SQLite gives its -wal and -shm files the mode of the database file."""
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    if database and database != ":memory:" and not database.startswith("file:"):
        with contextlib.suppress(FileExistsError):
            os.close(os.open(database, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


@dataclass(frozen=True)
class NewCase:
    reference: str
    pseudonym: str


CASE_STATUSES = ("open", "analysed", "closed")


class CaseStore:
    def __init__(self, url: str | None = None, root: Path | None = None) -> None:
        self.root = Path(root or home())
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.keys_dir = self.root / "keys"
        self.keys_dir.mkdir(mode=0o700, exist_ok=True)
        self.recordings = RecordingFiles(self.root / "recordings")
        self.url = url or database_url(self.root)
        self.engine = _engine(self.url)
        _create_private(self.engine)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self.chain = AuditChain(self._sessions, self.engine.dialect.name == "postgresql", self.root, self.keys_dir)
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

    def transaction(self) -> contextlib.AbstractContextManager[Session]:
        """One transaction: everything in it happens, or nothing does; the audit chain's head is
        signed once one that appended to it has committed (`AuditChain.transaction`)."""
        return self.chain.transaction()

    def record(self, actor: str, action: str, case_reference: str | None, **details: Any) -> None:
        """An audit event on its own (a view, a refused access), in a transaction of its own."""
        self.chain.record(actor, action, case_reference, **details)

    # ---- cases -----------------------------------------------------------------------------------
    def new_case(self, name: str, date_of_birth: str, claimed_origin: str | None, actor: str) -> NewCase:
        name = " ".join(name.split())
        if not name:
            raise CaseError("the name is empty; give the subject's name")
        _check_date(date_of_birth)
        with self.transaction() as session:
            reference = f"C-{now().year:04d}-{secrets.token_hex(3).upper()}"
            pseudonym = "S-" + "".join(secrets.choice(_PSEUDONYM_ALPHABET) for _ in range(10))
            case = Case(reference=reference, status="open", created_at=now())
            session.add(case)
            session.flush()
            session.add(Subject(case_id=case.id, pseudonym=pseudonym))
            session.add(Identity(pseudonym=pseudonym, name=name, date_of_birth=date_of_birth,
                                 claimed_origin=claimed_origin or None))  # fmt: skip
            self.chain.append(session, actor, "case created", reference, pseudonym=pseudonym)
        return NewCase(reference, pseudonym)

    def case(self, session: Session, reference: str) -> Case:
        case = session.scalar(select(Case).where(Case.reference == reference))
        if case is None:
            raise CaseError(f"no case {reference!r}; `dialectid case list` shows the cases")
        return case

    def pseudonym(self, session: Session, case: Case) -> str:
        return session.execute(select(Subject.pseudonym).where(Subject.case_id == case.id)).scalar_one()

    def list_cases(self, search: str | None = None, status: str | None = None,
                   assigned_to: int | None = None) -> list[CaseRow]:  # fmt: skip
        """All cases, or those whose reference contains `search`, with `status`, assigned to a user id.
        A search is for (part of) a reference only, so that nothing else is ever typed into it."""
        if search and not _SEARCH.fullmatch(search):
            raise CaseError("search by case reference: letters, digits and '-' only (for example C-2026-0A1B2C)")
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
        return [CaseRow(r, s, p, c.isoformat(), n, a) for r, s, p, c, n, a in rows]

    def latest_results(self, references: Sequence[str]) -> dict[str, list[LatestResult | None]]:
        """Per case, per recording in the order added: its latest analysis's status, top label and
        top probability (None: not analysed yet). An analysis that is not the one stored
        (`integrity`) is only "not_valid", as on the case page: a case list never shows a changed
        row's figures. No audit event: it shows less than the list's own columns name."""
        results: dict[str, list[LatestResult | None]] = {}
        with self.transaction() as session:
            for reference in references:
                case, records = self.case(session, reference), analysis_records(session, reference)
                query = select(Recording).where(Recording.case_id == case.id).order_by(Recording.id)
                recordings = session.scalars(query)
                results[reference] = [latest_result(session, recording, records) for recording in recordings]
        return results

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
            self.chain.append(session, actor, "case assigned", reference, assignee=user_name)

    def set_status(self, reference: str, status: str, actor: str) -> None:
        """Move the case to `status` (open, analysed, closed; a closed case may be reopened)."""
        if status not in CASE_STATUSES:
            raise CaseError(f"unknown case status {status!r}; use one of: {', '.join(CASE_STATUSES)}")
        with self.transaction() as session:
            case = self.case(session, reference)
            if case.status != status:
                self.chain.append(session, actor, "status changed", reference, previous=case.status, status=status)
                case.status = status

    # ---- recordings --------------------------------------------------------------------------------
    def add_recording(self, reference: str, path: Path, recorded_by: str, actor: str) -> dict[str, Any]:
        """Validate the file, store it unchanged under its sha256, record who made it.

        `recorded_by` is free text: it must not hold identity data. It stays out of the audit log
        (which keeps the row and a keyed digest of the text) and is erased with the identity."""
        facts = self.recordings.put(path)  # refuses non-audio and damaged files with an AudioError
        with self.transaction() as session:
            case = self.case(session, reference)
            existing = session.scalar(select(Recording).where(Recording.case_id == case.id,
                                                              Recording.sha256 == facts.sha256))  # fmt: skip
            if existing is not None:
                raise CaseError(f"{path}: this recording is already in case {reference}")
            row = Recording(case_id=case.id, sha256=facts.sha256, size_bytes=facts.size_bytes,
                            container=facts.container, codec=facts.codec, sample_rate=facts.sample_rate,
                            channels=facts.channels, duration_s=facts.duration_s, recorded_by=recorded_by,
                            recorded_at=now())  # fmt: skip
            session.add(row)
            session.flush()
            self.chain.append(session, actor, "recording added", reference, sha256=facts.sha256, recording=row.id,
                              recorded_by_hmac=self.chain.text_digest(recorded_by))  # fmt: skip
        return {"sha256": facts.sha256, "duration_s": round(facts.duration_s, 2), "codec": facts.codec}

    def verified_recording(self, reference: str, sha256: str, actor: str) -> Path:
        """The stored recording, once its bytes are checked to hash to `sha256` still. A changed,
        damaged or missing file is a RecordingIntegrityError, and an audit event of its own."""
        if (failed := self.recordings.problem(sha256)) is not None:
            self._integrity_failed(actor, reference, sha256, *failed)
        return self.recordings.path(sha256)

    def _integrity_failed(self, actor: str, reference: str, sha256: str, found: str, problem: str) -> None:
        self.record(actor, "recording integrity failed", reference, sha256=sha256, found=found)
        raise integrity_error(sha256, problem)

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

    def store_analysis(self, reference: str, recording: Recording, analysis: Analysis, actor: str,
                       model_facts: dict[str, Any] | None = None) -> int | None:  # fmt: skip
        """Store an analysis; None if another process stored one for this recording and bundle first.
        The analysis names the sha256 of the very bytes it decoded: if those are not the recording's
        (the file was swapped after `verified_recording` checked it), it is a RecordingIntegrityError.

        The audit event that records it carries the digest of its JSON, so that a changed row is
        detected, and `model_facts` (a `ModelFacts` as a dict), the facts of the model that made
        it: its report describes that model, whichever model is loaded when the report is signed."""
        if analysis.audio.sha256 != recording.sha256:
            self._integrity_failed(actor, reference, recording.sha256, analysis.audio.sha256,
                                   "does not match its sha256: the bytes analysed are not the bytes stored")  # fmt: skip
        try:
            with self.transaction() as session:
                row = AnalysisRow(recording_id=recording.id, registration_number=analysis.registration_number,
                                  model_id=analysis.model.id, bundle_sha256=analysis.model.bundle_sha256,
                                  status=analysis.status, top_label=analysis.top_label, data=analysis.to_dict(),
                                  created_at=now())  # fmt: skip
                session.add(row)
                session.flush()
                facts = {"model_facts": model_facts} if model_facts is not None else {}
                self.chain.append(session, actor, "analysed", reference, registration_number=analysis.registration_number,
                           sha256=recording.sha256, status=analysis.status, analysis_sha256=digest(row.data),
                           **facts)  # fmt: skip
                return row.id
        except IntegrityError:
            return None

    def analysis_records(self, reference: str) -> dict[str, dict[str, Any]]:
        """The details of the audit events that recorded the case's analyses, by registration
        number: each analysis's digest and the facts of the model that made it."""
        with self._sessions.begin() as session:
            return analysis_records(session, reference)

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
                self.chain.append(session, actor, "report attached", reference,
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
            self.chain.append(session, actor, action, reference, registration_number=row[0].registration_number)
            return row[0].registration_number, row[1].pdf

    def report_parts(self, reference: str, registration_number: str) -> ReportParts:
        """Everything to show one report again. Not audited: the caller audits the view it serves."""
        with self.transaction() as session:
            analysis, report, recording = self._report_row(session, reference, registration_number)
            record = analysis_records(session, reference).get(analysis.registration_number)
            return ReportParts(analysis.registration_number, report.pdf, analysis.data,
                               self.pseudonym(session, self.case(session, reference)),
                               recording.recorded_at.isoformat(timespec="seconds"), report.model_facts,
                               analysis_problem(analysis, recording.sha256, record))  # fmt: skip

    def check_report(self, reference: str, registration_number: str, public_key: Path | None = None) -> CheckedReport:
        """One report of the case, and whether its signature (checked with `public_key` [the
        store's key]) vouches for what the case file holds for it (`integrity.check_report`): what
        the web view shows it from, and what `audit verify` checks. Not audited: the caller audits
        the view it serves."""
        parts = self.report_parts(reference, registration_number)
        return check_report(reference, parts, trusted_key(self.keys_dir, public_key))

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
    def show(self, reference: str, actor: str) -> CaseSummary:
        """The case as its caseworker sees it: recordings, every analysis with all its probabilities,
        its quality verdict and the feedback on it, and whether it is the analysis that was stored
        (an analysis changed since is shown NOT VALID, without its figures). Every view is audited."""
        with self.transaction() as session:
            case = self.case(session, reference)
            records = analysis_records(session, reference)
            attached = attached_reports(session, reference)
            assignee = session.get(User, case.assigned_to) if case.assigned_to else None
            recordings, query = [], select(Recording).where(Recording.case_id == case.id).order_by(Recording.id)
            for recording in session.scalars(query):
                rows = session.execute(
                    select(AnalysisRow, Report.id).outerjoin(Report, Report.analysis_id == AnalysisRow.id)
                    .where(AnalysisRow.recording_id == recording.id).order_by(AnalysisRow.id)).all()  # fmt: skip
                analyses = [shown_analysis(session, row, report_id is not None, recording.sha256,
                                           records.get(row.registration_number), row.registration_number in attached)
                            for row, report_id in rows]  # fmt: skip
                analyses += gone_analyses([row for row, _ in rows], records, recording.sha256)
                recordings.append(RecordingSummary(recording.sha256, recording.codec, recording.container,
                                                   round(recording.duration_s, 2), recording.recorded_by,
                                                   recording.recorded_at.isoformat(), analyses))  # fmt: skip
            shown = CaseSummary(case.reference, case.status, self.pseudonym(session, case), case.created_at.isoformat(),
                                assignee.name if assignee else None, recordings)  # fmt: skip
            self.chain.append(session, actor, "viewed", reference, identity=False)
        return shown

    def identity(self, reference: str, actor: str) -> SubjectIdentity | None:
        """Who the subject of the case is (None once erased). Audited as a view with the identity."""
        with self.transaction() as session:
            row = session.get(Identity, self.pseudonym(session, self.case(session, reference)))
            self.chain.append(session, actor, "viewed", reference, identity=True)
            return None if row is None else SubjectIdentity(row.name, row.date_of_birth, row.claimed_origin)

    def add_feedback(self, registration_number: str, author: str, role: str, agrees: bool | None,
                     linguist_outcome: str | None, comment: str | None, reference: str | None = None) -> None:  # fmt: skip
        """Record a caseworker's or linguist's judgement of a result. With `reference`, the analysis
        must belong to that case. The comment and the outcome are free text: stored, erased with the
        identity, and never copied into the audit log (which keeps the row and their keyed digests)."""
        with self.transaction() as session:
            found = session.execute(
                select(AnalysisRow, Case.reference).join(Recording, Recording.id == AnalysisRow.recording_id)
                .join(Case, Case.id == Recording.case_id)
                .where(AnalysisRow.registration_number == registration_number)).first()  # fmt: skip
            if found is None or reference not in (None, found[1]):
                raise CaseError(f"no analysis {registration_number!r}" + (f" in case {reference}" if reference else ""))
            analysis, reference = found
            row = Feedback(analysis_id=analysis.id, author=author, role=role, agrees=agrees,
                           linguist_outcome=linguist_outcome, comment=comment, created_at=now())  # fmt: skip
            session.add(row)
            session.flush()
            self.chain.append(session, author, "feedback given", reference, registration_number=registration_number,
                       agrees=agrees, feedback=row.id, comment_hmac=self.chain.text_digest(comment),
                       linguist_outcome_hmac=self.chain.text_digest(linguist_outcome))  # fmt: skip

    def erase_identity(self, reference: str, actor: str) -> str:
        """Delete the identity-map entry and blank the case's free text (who recorded, feedback
        comments and outcomes, which may name the subject): the case, analyses and reports stay,
        now anonymous. Then overwrite the old bytes (`_overwrite_erased`). Asked again, it
        overwrites them again and says the identity was already erased."""
        with self.transaction() as session:
            case = self.case(session, reference)
            pseudonym = self.pseudonym(session, case)
            identity = session.get(Identity, pseudonym)
            if identity is not None:
                session.delete(identity)
                self.chain.append(session, actor, "identity erased", reference, pseudonym=pseudonym)
                blanked = _erase_free_text(session, case)
                if any(blanked.values()):
                    self.chain.append(session, actor, "free text erased", reference, **blanked)
        self._overwrite_erased(reference)
        if identity is None:
            raise CaseError(f"case {reference}: the identity was already erased")
        return pseudonym

    def _overwrite_erased(self, reference: str) -> None:
        """Make the erased bytes unreadable in the database files, as far as the back-end allows.

        SQLite: every connection runs with secure_delete, so deleted and replaced content is
        zeroed; VACUUM rebuilds the file (no free page keeps an old row) and
        wal_checkpoint(TRUNCATE) empties the -wal file, where the old pages were logged.

        PostgreSQL: the row is deleted and the free text replaced, and VACUUM FULL rewrites those
        tables into new files. What it does not guarantee: a transaction older than the erasure
        keeps the old row versions alive until it ends; the write-ahead log (pg_wal, and any WAL
        archive or replica) and every backup keep the old bytes until they are recycled or
        expire; and the file system may keep the blocks of the old table files."""
        done = "the identity is erased; "
        try:
            if self.engine.dialect.name == "sqlite":
                raw = self.engine.raw_connection()  # outside SQLAlchemy's BEGIN: VACUUM refuses a transaction
                try:
                    cursor = raw.cursor()
                    cursor.execute("VACUUM")
                    busy = cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
                finally:
                    raw.close()
                if busy:
                    raise CaseError(f"{done}another process kept the case file busy, so its old bytes may remain in "
                                    f"casefile.db-wal; stop it and run `dialectid case erase-identity {reference}` "
                                    "again")  # fmt: skip
            else:
                with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                    connection.exec_driver_sql("SET lock_timeout = '60s'")  # a busy table: an error, not a hang
                    try:
                        for table in ("identities", "recordings", "feedback"):
                            connection.exec_driver_sql(f"VACUUM FULL {table}")
                    finally:
                        connection.exec_driver_sql("RESET lock_timeout")  # the connection goes back to the pool
        except DBAPIError as error:
            raise CaseError(f"{done}its old bytes could not be overwritten yet ({error.orig}); run "
                            f"`dialectid case erase-identity {reference}` again") from None  # fmt: skip

    def agreement_by_model(self) -> list[ModelAgreement]:
        """Per model: how often feedback agreed with the analysis's top label (no opinion: not counted)."""
        with self.transaction() as session:
            rows = session.execute(
                select(AnalysisRow.model_id, Feedback.agrees, func.count(Feedback.id))
                .join(Feedback, Feedback.analysis_id == AnalysisRow.id)
                .group_by(AnalysisRow.model_id, Feedback.agrees)).all()  # fmt: skip
        counts: dict[str, dict[bool | None, int]] = {}
        for model, agrees, count in rows:
            counts.setdefault(model, {})[agrees] = count
        summary = []
        for model, by in sorted(counts.items()):
            agree, disagree, no_opinion = by.get(True, 0), by.get(False, 0), by.get(None, 0)
            judged = agree + disagree
            summary.append(ModelAgreement(model, agree + disagree + no_opinion, agree, disagree, no_opinion,
                                          agree / judged if judged else None))  # fmt: skip
        return summary

    # ---- the audit chain --------------------------------------------------------------------------
    def verify_audit(self) -> tuple[int, str | None]:
        """(events, None) if the case file is intact, else (events, what is wrong); see `check_audit`."""
        verdict = self.check_audit()
        return verdict.events, verdict.problem

    def check_audit(self, anchors: Sequence[Path] = (), public_key: Path | None = None) -> AuditVerdict:
        """The chain's own check (`AuditChain.check`), then every report's: does its signature still
        vouch for what the case file holds for it? Names the first problem."""
        verdict = self.chain.check(anchors, public_key)
        if verdict.problem is not None:
            return verdict
        return replace(verdict, problem=self._report_problem(public_key))

    def _report_problem(self, public_key: Path | None) -> str | None:
        """The first report whose signature does not vouch for what the case file holds for it (the
        analysis, the case details, the model facts): what the web view shows as NOT VALID."""
        with self.transaction() as session:
            reports = session.execute(select(Case.reference, AnalysisRow.registration_number)
                                      .join(Recording, Recording.case_id == Case.id)
                                      .join(AnalysisRow, AnalysisRow.recording_id == Recording.id)
                                      .join(Report, Report.analysis_id == AnalysisRow.id).order_by(Report.id)).all()  # fmt: skip
        for reference, number in reports:
            signature = self.check_report(reference, number, public_key).signature
            if not signature.valid:
                return f"case {reference}: {signature.message.removeprefix('NOT VALID: ')}"
        return None

    def export_head(self) -> bytes:
        """The chain's signed head file (`AuditChain.export_head`)."""
        return self.chain.export_head()

    def events(self, reference: str | None = None) -> list[AuditEntry]:
        """The audit events of the case `reference` (None: all), oldest first."""
        return self.chain.events(reference)


def _erase_free_text(session: Session, case: Case) -> dict[str, list[int]]:
    """Blank the free text of a case's recordings and feedback; the ids of the rows changed."""
    recordings = list(session.scalars(select(Recording).where(Recording.case_id == case.id).order_by(Recording.id)))
    for recording in recordings:
        recording.recorded_by = ERASED
    analyses = select(AnalysisRow.id).where(AnalysisRow.recording_id.in_([r.id for r in recordings]))
    feedback = list(session.scalars(select(Feedback).where(Feedback.analysis_id.in_(analyses)).order_by(Feedback.id)))
    for row in feedback:
        row.comment = row.comment and ERASED
        row.linguist_outcome = row.linguist_outcome and ERASED
    session.flush()
    return {"recordings": [r.id for r in recordings],
            "feedback": [f.id for f in feedback if f.comment or f.linguist_outcome]}  # fmt: skip


def _check_date(value: str) -> None:
    try:
        parsed = date.fromisoformat(value)
    except (TypeError, ValueError):
        raise CaseError(f"date of birth {value!r} is not a date; write it as YYYY-MM-DD") from None
    if not date(1900, 1, 1) <= parsed <= date.today():
        raise CaseError(f"date of birth {value} is not plausible; check it")

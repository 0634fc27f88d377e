"""The analysis job queue, kept in the case file so that queued jobs survive a restart, a crashed
server's job is taken up again, and several server processes share the work.

A worker claims a job by taking a lease on it (its name and an expiry time) and renews the lease
while it runs. A lease that runs out means its server stopped or crashed: the job goes back to
the queue, or fails with a message once it has been started `max_attempts` times, so that a job
that kills its server every time (a recording too large for memory, say) does not do so forever.

Claiming is one statement, `UPDATE jobs … WHERE id = (SELECT … LIMIT 1) RETURNING …`: on
PostgreSQL the inner SELECT is `FOR UPDATE SKIP LOCKED`, so concurrent workers take different
jobs without waiting on each other; SQLite has no row locks, but every transaction of the case
file begins with `BEGIN IMMEDIATE` (one writer at a time), which makes the statement atomic too.

Lease times come from the clock of the server that writes them: servers that share a database
must agree on the time to well within a lease (`LEASE`).

>>> queue = JobQueue(store)                                            # doctest: +SKIP
>>> job = queue.enqueue("C-2026-0A1B2C", "anna", bundle.sha256)         # doctest: +SKIP
>>> queue.claim("worker-1", bundle.sha256).id == job.id                 # doctest: +SKIP
True
>>> queue.finish(job.id, "worker-1", "done", "1 analysed", ["DI-…"])     # doctest: +SKIP
True
"""

from __future__ import annotations

import secrets
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from dialectid.casefile.schema import Case, JobRow
from dialectid.casefile.store import CaseStore, now

LEASE = timedelta(seconds=60)  # a worker renews it every third of this while it runs
MAX_ATTEMPTS = 3
WAITING = "waiting for the analyses before it"


@dataclass
class Job:
    """What the pages and the API show of a job (the API's `JobOut`)."""

    id: str
    case_reference: str
    started_by: str
    state: str = "queued"  # queued | running | done | failed
    stage: str = WAITING
    done: int = 0
    total: int = 0
    message: str = ""
    analysed: list[str] = field(default_factory=list)
    created_at: str = ""
    finished_at: str | None = None

    @property
    def finished(self) -> bool:
        return self.state in ("done", "failed")

    def to_dict(self) -> dict:
        return {**asdict(self), "finished": self.finished}


class JobQueue:
    """The `jobs` table of `store`, as a queue with leases. Every method is one transaction."""

    def __init__(self, store: CaseStore, lease: timedelta = LEASE, max_attempts: int = MAX_ATTEMPTS) -> None:
        self.store, self.lease, self.max_attempts = store, lease, max_attempts

    def enqueue(self, reference: str, requested_by: str, bundle_sha256: str) -> Job:
        """Queue an analysis of the case's unanalysed recordings with the model `bundle_sha256`.
        A job of the case still in the queue will see them too, so it is returned instead of a
        duplicate; a running one may have listed the recordings already, so a new one follows it.
        An unknown case raises `CaseError`."""
        with self.store.transaction() as session:
            case = self.store.case(session, reference)
            # Serialises enqueues of one case on PostgreSQL (SQLite's BEGIN IMMEDIATE already does).
            session.execute(select(Case.id).where(Case.id == case.id).with_for_update(key_share=True))
            queued = session.scalar(select(JobRow).where(JobRow.case_id == case.id, JobRow.state == "queued",
                                                         JobRow.bundle_sha256 == bundle_sha256).limit(1))  # fmt: skip
            if queued is not None:
                return _job(queued, reference)
            at = now()
            row = JobRow(id=secrets.token_urlsafe(12), case_id=case.id, requested_by=requested_by,
                         bundle_sha256=bundle_sha256, state="queued", stage=WAITING, done=0, total=0, attempts=0,
                         message="", analysed=[], created_at=at, updated_at=at)  # fmt: skip
            session.add(row)
            session.flush()
            return _job(row, reference)

    def claim(self, owner: str, bundle_sha256: str) -> Job | None:
        """Take the oldest queued job for the model `bundle_sha256`, leased to `owner`; None when
        there is none. Jobs whose lease ran out are put back in the queue (or failed) first."""
        with self.store.transaction() as session:
            at = now()
            self._expire(session, at)
            oldest = (select(JobRow.id).where(JobRow.state == "queued", JobRow.bundle_sha256 == bundle_sha256)
                      .order_by(JobRow.created_at, JobRow.id).limit(1)
                      .with_for_update(skip_locked=True)  # PostgreSQL only; SQLite renders nothing
                      .scalar_subquery())  # fmt: skip
            row = session.execute(
                update(JobRow).where(JobRow.id == oldest, JobRow.state == "queued")
                .values(state="running", stage="loading the recordings", done=0, total=0,
                        attempts=JobRow.attempts + 1, lease_owner=owner, lease_expires_at=at + self.lease,
                        updated_at=at)
                .returning(JobRow)
            ).scalar_one_or_none()  # fmt: skip
            return None if row is None else _job(row, _reference(session, row))

    def renew(self, job_id: str, owner: str, **progress: int | str) -> bool:
        """Extend `owner`'s lease, recording any `done`, `total` and `stage` given; False when the
        lease is no longer `owner`'s (it ran out and the job was taken back)."""
        at = now()
        return self._update_own(job_id, owner, lease_expires_at=at + self.lease, updated_at=at, **progress)

    def finish(self, job_id: str, owner: str, state: str, message: str, analysed: list[str]) -> bool:
        """Record the end of `owner`'s run; False when the lease was no longer `owner`'s."""
        if state not in ("done", "failed"):
            raise ValueError(f"a job finishes as done or failed, not {state!r}")
        at = now()
        return self._update_own(job_id, owner, state=state, stage="finished", message=message, analysed=analysed,
                                lease_expires_at=None, updated_at=at, finished_at=at)  # fmt: skip

    def requeue_expired(self) -> None:
        """Put the jobs of stopped or crashed servers back in the queue (or fail them when they
        have had their attempts); `claim` does the same, this shows it on the pages at start-up."""
        with self.store.transaction() as session:
            self._expire(session, now())

    def get(self, job_id: str) -> Job | None:
        with self.store.transaction() as session:
            found = session.execute(select(JobRow, Case.reference).join(Case, Case.id == JobRow.case_id)
                                    .where(JobRow.id == job_id)).first()  # fmt: skip
            return None if found is None else _job(*found)

    def for_case(self, reference: str, limit: int = 50) -> list[Job]:
        """The case's newest jobs, newest first."""
        with self.store.transaction() as session:
            rows = session.scalars(select(JobRow).join(Case, Case.id == JobRow.case_id)
                                   .where(Case.reference == reference)
                                   .order_by(JobRow.created_at.desc(), JobRow.id.desc()).limit(limit))  # fmt: skip
            return [_job(row, reference) for row in rows]

    def _update_own(self, job_id: str, owner: str, **values) -> bool:
        with self.store.transaction() as session:
            changed = session.execute(update(JobRow).where(JobRow.id == job_id, JobRow.state == "running",
                                                           JobRow.lease_owner == owner).values(**values))  # fmt: skip
            return cast("CursorResult[Any]", changed).rowcount == 1  # an UPDATE's result is a cursor's

    def _expire(self, session: Session, at: datetime) -> None:
        # SKIP LOCKED: a row another worker is renewing or expiring right now is left to it, and
        # two workers never wait on each other's rows in opposite orders (a deadlock).
        expired = (select(JobRow.id).where(JobRow.state == "running", JobRow.lease_expires_at < at)
                   .with_for_update(skip_locked=True))  # fmt: skip
        gave_up = (f"gave up after {self.max_attempts} attempts: each time, the server running the analysis "
                   "stopped before it finished (a restart, a crash, or too little memory for a recording); "
                   "the recordings it did not analyse stay pending")  # fmt: skip
        session.execute(update(JobRow).where(JobRow.id.in_(expired), JobRow.attempts >= self.max_attempts)
                        .values(state="failed", stage="finished", message=gave_up, lease_expires_at=None,
                                updated_at=at, finished_at=at))  # fmt: skip
        session.execute(update(JobRow).where(JobRow.id.in_(expired), JobRow.attempts < self.max_attempts)
                        .values(state="queued", stage="waiting: the server running it stopped; it starts again",
                                lease_owner=None, lease_expires_at=None, updated_at=at))  # fmt: skip


def _reference(session: Session, row: JobRow) -> str:
    return session.execute(select(Case.reference).where(Case.id == row.case_id)).scalar_one()


def _job(row: JobRow, reference: str) -> Job:
    return Job(id=row.id, case_reference=reference, started_by=row.requested_by, state=row.state, stage=row.stage,
               done=row.done, total=row.total, message=row.message, analysed=list(row.analysed),
               created_at=_iso(row.created_at), finished_at=None if row.finished_at is None else _iso(row.finished_at))  # fmt: skip


def _iso(moment: datetime) -> str:
    return moment.replace(tzinfo=UTC).isoformat(timespec="seconds")  # stored as naive UTC

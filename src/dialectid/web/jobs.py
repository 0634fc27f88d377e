"""Analyses started from the web run in a background thread, one at a time, so that a request
returns at once and the page can show their progress.

One worker is enough and keeps memory bounded: scoring already uses every core it is given, and
`analyse_case` is crash-safe (a job lost in a restart is finished by the next one on that case).
Jobs live in memory: the results themselves are in the case file, a job only says how far it got.
"""

from __future__ import annotations

import logging
import secrets
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

from dialectid.casefile import CaseStore
from dialectid.errors import DialectidError
from dialectid.models.bundle import Bundle

log = logging.getLogger("dialectid.web.jobs")
KEEP_FINISHED = 500  # finished jobs remembered for the pages; older ones are forgotten


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class Job:
    id: str
    case_reference: str
    started_by: str
    state: str = "queued"  # queued | running | done | failed
    stage: str = "waiting for the analyses before it"
    done: int = 0
    total: int = 0
    message: str = ""
    analysed: list[str] = field(default_factory=list)
    created_at: str = field(default_factory=_now)
    finished_at: str | None = None

    @property
    def finished(self) -> bool:
        return self.state in ("done", "failed")

    def to_dict(self) -> dict:
        return {**asdict(self), "finished": self.finished}


class AnalysisJobs:
    """Queue `analyse_case` runs and report on them. Thread-safe."""

    def __init__(self, store: CaseStore, bundle: Bundle) -> None:
        self.store, self.bundle = store, bundle
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None  # started with the first job, again after a shutdown

    def start(self, reference: str, actor: str) -> Job:
        """Queue an analysis of the case's unanalysed recordings. A job of this case still in the
        queue will see them too, so it is returned instead of a duplicate; a running one may have
        listed the recordings already, so a new job follows it."""
        with self._lock:
            for job in self._jobs.values():
                if job.case_reference == reference and job.state == "queued":
                    return job
            job = Job(secrets.token_urlsafe(12), reference, actor)
            self._jobs[job.id] = job
            self._forget_old()
            if self._executor is None:
                self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dialectid-analysis")
            self._executor.submit(self._run, job)
        return job

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            job = self._jobs.get(job_id)
            return None if job is None else Job(**asdict(job))  # a copy: the worker keeps writing

    def for_case(self, reference: str) -> list[Job]:
        """The case's jobs, newest first."""
        with self._lock:
            jobs = [Job(**asdict(j)) for j in self._jobs.values() if j.case_reference == reference]
        return jobs[::-1]  # the dict keeps the order jobs were started in

    def shutdown(self) -> None:
        """Stop taking jobs; queued ones are dropped (their recordings stay pending), a running one
        finishes in its thread."""
        with self._lock:
            executor, self._executor = self._executor, None
            for job in self._jobs.values():
                if job.state == "queued":
                    job.state, job.stage, job.message = "failed", "finished", "the server stopped before it began"
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)

    def _run(self, job: Job) -> None:
        from dialectid.casefile.workflow import analyse_case

        self._update(job, state="running", stage="loading the recordings")
        try:
            outcome = analyse_case(self.store, job.case_reference, self.bundle, job.started_by,
                                   progress=lambda done, total, stage: self._update(job, done=done, total=total,
                                                                                    stage=stage))  # fmt: skip
        except DialectidError as error:
            self._finish(job, "failed", error.message)
            return
        except Exception:  # a bug, not the user's doing: logged in full, the page gets one line
            log.exception("analysis job %s on case %s failed", job.id, job.case_reference)
            self._finish(job, "failed", "internal error during the analysis; the server log has the details")
            return
        self._update(job, analysed=outcome.analysed)
        if outcome.failed:
            self._finish(job, "failed", "; ".join(outcome.failed))
        else:
            self._finish(job, "done", f"{len(outcome.analysed)} analysed, {len(outcome.reports)} reports attached")

    def _update(self, job: Job, **changes) -> None:
        with self._lock:
            for key, value in changes.items():
                setattr(job, key, value)

    def _finish(self, job: Job, state: str, message: str) -> None:
        self._update(job, state=state, message=message, stage="finished", finished_at=_now())

    def _forget_old(self) -> None:
        finished = [j for j in self._jobs.values() if j.finished]
        for job in finished[: max(0, len(finished) - KEEP_FINISHED)]:  # oldest first
            del self._jobs[job.id]

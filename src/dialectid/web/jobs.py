"""Analyses started from the web run in a background thread, one at a time, so that a request
returns at once and the page can show their progress.

The jobs are kept in the case file (`casefile.jobqueue`): a queued job survives a restart, a job
whose server crashed is taken up again once its lease runs out, and several server processes over
one case file share the work. Each server has one worker thread that polls the queue (and is woken
at once for its own jobs): scoring already uses every core it is given, and one job at a time
keeps memory bounded. A job only says how far it got; the results are in the case file, and
`analyse_case` is crash-safe (a second run finds the recordings the first one analysed).
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
from datetime import timedelta

from dialectid.casefile import CaseStore
from dialectid.casefile.jobqueue import LEASE, MAX_ATTEMPTS, Job, JobQueue
from dialectid.errors import DialectidError
from dialectid.models.bundle import Bundle

__all__ = ["AnalysisJobs", "Job"]

log = logging.getLogger("dialectid.web.jobs")
POLL_S = 2.0  # how often an idle worker looks for jobs queued by other servers


def worker_name() -> str:
    """Names the lease holder in the table, for whoever looks at a stuck job: host, pid, a nonce."""
    return f"{socket.gethostname()[:80]}:{os.getpid()}:{secrets.token_hex(4)}"


class AnalysisJobs:
    """Queue `analyse_case` runs, run them in a worker thread and report on them. Thread-safe."""

    def __init__(self, store: CaseStore, bundle: Bundle, lease: timedelta = LEASE, max_attempts: int = MAX_ATTEMPTS,
                 poll_s: float = POLL_S, dialect: Bundle | None = None) -> None:  # fmt: skip
        self.store, self.bundle, self.poll_s, self.dialect = store, bundle, poll_s, dialect
        self.queue = JobQueue(store, lease, max_attempts)
        self.owner = worker_name()
        self._lock = threading.Lock()
        self._worker: threading.Thread | None = None  # started by `run`, again after a shutdown
        self._stop = threading.Event()  # the running worker's; each worker gets its own
        self._wake = threading.Event()

    def run(self) -> None:
        """Start the worker thread, unless it runs already. It first puts the jobs of stopped or
        crashed servers back in the queue, then takes jobs until `shutdown`."""
        with self._lock:
            if self._worker is not None and self._worker.is_alive():
                return
            self._stop = threading.Event()
            # A daemon, so that an app nobody shuts down (a test's) never keeps the process alive;
            # `shutdown` waits for the job in hand, and a job cut off by an exit is taken up again.
            self._worker = threading.Thread(target=self._work, args=(self._stop,), name="dialectid-analysis",
                                            daemon=True)  # fmt: skip
            self._worker.start()

    def start(self, reference: str, actor: str) -> Job:
        """Queue an analysis of the case's unanalysed recordings (or return the case's job that is
        still queued, which will see them too) and make sure a worker takes it."""
        job = self.queue.enqueue(reference, actor, self.bundle.sha256)
        self.run()
        self._wake.set()
        return job

    def get(self, job_id: str) -> Job | None:
        return self.queue.get(job_id)

    def for_case(self, reference: str) -> list[Job]:
        """The case's jobs, newest first."""
        return self.queue.for_case(reference)

    def shutdown(self) -> None:
        """Stop taking jobs and wait for the one in hand; queued jobs stay queued for the next
        server (or another one running now)."""
        with self._lock:
            worker, self._worker = self._worker, None
            self._stop.set()
            self._wake.set()
        if worker is not None:
            worker.join()

    def _work(self, stop: threading.Event) -> None:
        try:
            self.queue.requeue_expired()
        except Exception:  # the database may be back by the next poll
            log.exception("could not requeue the jobs of stopped servers")
        while not stop.is_set():
            try:
                job = self.queue.claim(self.owner, self.bundle.sha256)
            except Exception:  # a worker outlives a database that is away for a while
                log.exception("could not take a job from the queue; trying again in %g s", self.poll_s)
                job = None
            if job is None:
                self._wake.wait(self.poll_s)
                self._wake.clear()
                continue
            try:
                self._run(job)
            except Exception:  # recording the end failed: the lease runs out and the job is taken again
                log.exception("job %s: could not record how it ended", job.id)

    def _run(self, job: Job) -> None:
        from dialectid.casefile.workflow import analyse_case

        finished = threading.Event()
        heartbeat = threading.Thread(target=self._renew, args=(job.id, finished), daemon=True,
                                     name="dialectid-analysis-lease")  # fmt: skip
        heartbeat.start()
        try:
            outcome = analyse_case(self.store, job.case_reference, self.bundle, job.started_by,
                                   progress=lambda done, total, stage: self._progress(job.id, done, total, stage),
                                   dialect=self.dialect)  # fmt: skip
        except DialectidError as error:
            self._finish(job, "failed", error.message, [])
            return
        except Exception:  # a bug, not the user's doing: logged in full, the page gets one line
            log.exception("analysis job %s on case %s failed", job.id, job.case_reference)
            self._finish(job, "failed", "internal error during the analysis; the server log has the details", [])
            return
        finally:
            finished.set()
            heartbeat.join()
        if outcome.failed:
            self._finish(job, "failed", "; ".join(outcome.failed), outcome.analysed)
        else:
            summary = f"{len(outcome.analysed)} analysed, {len(outcome.reports)} reports attached"
            self._finish(job, "done", summary, outcome.analysed)

    def _renew(self, job_id: str, finished: threading.Event) -> None:
        """Renew the lease every third of its length until the job is finished; a scoring step
        can take longer than a lease, so the progress reports alone would not do."""
        while not finished.wait(self.queue.lease.total_seconds() / 3):
            try:
                if not self.queue.renew(job_id, self.owner):
                    log.warning("job %s: the lease ran out and the job went back to the queue", job_id)
                    return
            except Exception:  # tried again at the next beat, while the lease lasts
                log.exception("job %s: could not renew the lease", job_id)

    def _progress(self, job_id: str, done: int, total: int, stage: str) -> None:
        try:
            self.queue.renew(job_id, self.owner, done=done, total=total, stage=stage[:200])
        except Exception:  # progress is for the page; the analysis goes on without it
            log.exception("job %s: could not record its progress", job_id)

    def _finish(self, job: Job, state: str, message: str, analysed: list[str]) -> None:
        if not self.queue.finish(job.id, self.owner, state, message, analysed):
            log.warning("job %s finished here (%s) after its lease ran out; the run that took it over reports",
                        job.id, state)  # fmt: skip

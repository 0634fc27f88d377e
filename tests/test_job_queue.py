"""The analysis job queue in the case file (issue #16, item 18), on SQLite and on PostgreSQL (when
DIALECTID_TEST_DATABASE_URL is set): queued jobs survive a restart, a crashed server's job is
taken again, two workers never take the same job, and a job that keeps failing its server ends."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import textwrap
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from dialectid.casefile import CaseStore
from dialectid.casefile.accounts import Accounts
from dialectid.casefile.jobqueue import JobQueue
from dialectid.casefile.schema import JobRow
from dialectid.casefile.store import now
from dialectid.models.bundle import Bundle, load_model
from dialectid.web import create_app, passwords
from dialectid.web.jobs import AnalysisJobs
from webapp import PASSWORD, cheap_passwords, log_in, page_csrf, toy_recordings, wait_for_job

POSTGRES = os.environ.get("DIALECTID_TEST_DATABASE_URL")
BACKENDS = ["sqlite"] + (["postgresql"] if POSTGRES else [])


@dataclass
class Setup:
    url: str
    root: Path
    store: CaseStore
    bundle: Bundle
    bundle_path: Path
    reference: str  # carla's case, with one recording not analysed yet

    def reopen(self) -> CaseStore:
        """The case file as another server process opens it: its own engine and connections."""
        return CaseStore(self.url, root=self.root)


@pytest.fixture(params=BACKENDS)
def database_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'casefile.db'}"
        return
    # A schema of this test's own, not `public`: other test files empty `public` for each of their
    # tests, and may run at the same time on the same database.
    schema = f"jobs_{secrets.token_hex(6)}"
    admin = sa.create_engine(POSTGRES)
    with admin.begin() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    yield f"{POSTGRES}{'&' if '?' in POSTGRES else '?'}options=-csearch_path%3D{schema}"
    with admin.begin() as connection:
        connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture
def setup(database_url, tmp_path, stats_bundle, toy_corpus):
    with cheap_passwords():
        store = CaseStore(database_url, root=tmp_path / "home")
        accounts = Accounts(store)
        for name, role in {"carla": "caseworker", "colin": "caseworker", "anna": "analyst"}.items():
            accounts.add(name, role, passwords.hash_password(PASSWORD), "setup")
        case = store.new_case("Amira Haddad", "1991-03-14", None, actor="setup")
        store.assign(case.reference, "carla", "setup")
        store.add_recording(case.reference, toy_recordings(toy_corpus, tmp_path / "audio")[0], "officer", "setup")
        yield Setup(database_url, tmp_path / "home", store, load_model(stats_bundle), stats_bundle, case.reference)
    store.engine.dispose()


def job_row(store: CaseStore, job_id: str) -> JobRow:
    with store.transaction() as session:
        return session.get(JobRow, job_id)


def expire_lease(store: CaseStore, job_id: str) -> None:
    """What a crash leaves behind: a running job whose lease nobody renews any more."""
    with store.transaction() as session:
        session.execute(sa.update(JobRow).where(JobRow.id == job_id)
                        .values(lease_expires_at=now() - timedelta(seconds=1)))  # fmt: skip


# ---- restarts and crashes ---------------------------------------------------------------------------
def test_a_queued_job_survives_a_restart_and_only_its_cases_readers_see_it(setup, monkeypatch):
    first = create_app(setup.store, setup.bundle)
    monkeypatch.setattr(first.state.web.jobs, "run", lambda: None)  # the server stops before its worker starts
    with cheap_passwords(), TestClient(first) as browser:
        log_in(browser, "anna")
        answer = browser.post(f"/api/cases/{setup.reference}/analyses", headers={"X-CSRF-Token": page_csrf(browser)})
        assert answer.status_code == 202 and answer.json()["state"] == "queued", answer.text
    job_id = answer.json()["id"]
    setup.store.engine.dispose()  # nothing of the first server is left but the case file

    restarted = setup.reopen()
    try:
        with cheap_passwords(), TestClient(create_app(restarted, setup.bundle)) as browser:
            log_in(browser, "anna")
            done = wait_for_job(browser, job_id)
            assert done["state"] == "done" and done["message"] == "1 analysed, 1 reports attached", done
            assert done["id"] == job_id and done["case_reference"] == setup.reference and done["started_by"] == "anna"
            assert browser.get(f"/api/cases/{setup.reference}").json()["jobs"][0] == done
            browser.cookies.clear()
            log_in(browser, "carla")  # her case: she follows its analyses
            assert browser.get(f"/api/jobs/{job_id}").json() == done
            browser.cookies.clear()
            log_in(browser, "colin")  # not his case: as if the job did not exist
            assert browser.get(f"/api/jobs/{job_id}").status_code == 404
    finally:
        restarted.engine.dispose()
    assert job_row(setup.store, job_id).attempts == 1


CRASHING_SERVER = textwrap.dedent("""
    import sys, time
    from datetime import timedelta
    from pathlib import Path
    from dialectid.casefile import CaseStore, workflow
    from dialectid.models.bundle import load_model
    from dialectid.web.jobs import AnalysisJobs

    url, root, bundle = sys.argv[1:]
    workflow.Scorer.analyse = lambda self, path: time.sleep(3600)  # stuck mid-analysis until killed
    AnalysisJobs(CaseStore(url, root=Path(root)), load_model(bundle), lease=timedelta(seconds=2)).run()
    time.sleep(3600)
""")


def test_the_job_of_a_killed_server_is_taken_again_and_finishes(setup):
    job = JobQueue(setup.store).enqueue(setup.reference, "anna", setup.bundle.sha256)
    command = [sys.executable, "-c", CRASHING_SERVER, setup.url, str(setup.root), str(setup.bundle_path)]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while job_row(setup.store, job.id).stage != "analysing recording 1 of 1":
            assert server.poll() is None, server.stderr.read()
            assert time.monotonic() < deadline, "the first server did not start the analysis"
            time.sleep(0.1)
    finally:
        os.kill(server.pid, signal.SIGKILL)
        server.wait()
    crashed = job_row(setup.store, job.id)
    assert crashed.state == "running" and crashed.attempts == 1 and crashed.lease_owner.split(":")[1] == str(server.pid)

    with cheap_passwords(), TestClient(create_app(setup.store, setup.bundle)) as browser:
        log_in(browser, "anna")
        done = wait_for_job(browser, job.id)
    assert done["state"] == "done" and done["message"] == "1 analysed, 1 reports attached", done
    assert job_row(setup.store, job.id).attempts == 2


def test_start_up_puts_expired_jobs_back_in_the_queue(setup):
    queue = JobQueue(setup.store)
    job = queue.enqueue(setup.reference, "anna", setup.bundle.sha256)
    assert queue.claim("crashed", setup.bundle.sha256).id == job.id
    queue.requeue_expired()
    assert queue.get(job.id).state == "running"  # its lease still runs: its server may be alive
    expire_lease(setup.store, job.id)
    queue.requeue_expired()
    back = job_row(setup.store, job.id)
    assert back.state == "queued" and back.lease_owner is None and back.attempts == 1
    assert not queue.renew(job.id, "crashed") and not queue.finish(job.id, "crashed", "done", "", [])


def test_a_job_that_keeps_stopping_its_server_fails_with_a_message(setup):
    queue = JobQueue(setup.store, max_attempts=2)
    job = queue.enqueue(setup.reference, "anna", setup.bundle.sha256)
    for attempt in (1, 2):
        assert queue.claim(f"server-{attempt}", setup.bundle.sha256).id == job.id
        assert job_row(setup.store, job.id).attempts == attempt
        expire_lease(setup.store, job.id)
    assert queue.claim("server-3", setup.bundle.sha256) is None
    failed = queue.get(job.id)
    assert failed.state == "failed" and failed.finished and failed.finished_at is not None
    assert failed.message.startswith("gave up after 2 attempts: each time, the server running the analysis stopped")
    assert "stay pending" in failed.message


def test_a_running_worker_keeps_its_lease_past_its_length(setup, monkeypatch):
    from dialectid.casefile import workflow

    analyse = workflow.Scorer.analyse
    # A scoring step twice as long as the lease; renewed every second, the lease has two seconds
    # to spare for a beat that comes late on a busy machine.
    lease = timedelta(seconds=3)
    monkeypatch.setattr(workflow.Scorer, "analyse", lambda self, path: (time.sleep(6.5), analyse(self, path))[1])
    jobs = AnalysisJobs(setup.store, setup.bundle, lease=lease)
    other = JobQueue(setup.reopen(), lease=lease)
    try:
        job = jobs.start(setup.reference, "anna")
        while job_row(setup.store, job.id).state == "queued":  # until then, the other server may take it
            time.sleep(0.05)
        while not jobs.get(job.id).finished:
            assert other.claim("another-server", setup.bundle.sha256) is None  # nothing to take over
            time.sleep(0.2)
    finally:
        jobs.shutdown()
        other.store.engine.dispose()
    assert jobs.get(job.id).state == "done" and job_row(setup.store, job.id).attempts == 1


# ---- sharing the work -------------------------------------------------------------------------------------
def test_two_workers_never_take_the_same_job(setup):
    queue = JobQueue(setup.store)
    references = [setup.store.new_case(f"Person {i}", "1980-01-01", None, "setup").reference for i in range(24)]
    queued = {queue.enqueue(reference, "anna", setup.bundle.sha256).id for reference in references}
    assert len(queued) == len(references)
    stores = [setup.reopen() for _ in range(3)]  # three servers, each with its own connections
    taken: list[list[str]] = [[] for _ in stores]
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(stores))

    def work(index: int) -> None:
        mine = JobQueue(stores[index])
        try:
            barrier.wait()
            while (job := mine.claim(f"server-{index}", setup.bundle.sha256)) is not None:
                taken[index].append(job.id)
                assert mine.finish(job.id, f"server-{index}", "done", "", [])
        except BaseException as error:  # reported by the main thread
            errors.append(error)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(stores))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    for store in stores:
        store.engine.dispose()
    assert not errors, errors
    everything = [job_id for ids in taken for job_id in ids]
    assert sorted(everything) == sorted(queued)  # each job exactly once
    assert all(queue.get(job_id).state == "done" for job_id in queued)


def test_a_case_has_one_queued_job_and_a_new_one_after_it_started(setup):
    queue = JobQueue(setup.store)
    first = queue.enqueue(setup.reference, "anna", setup.bundle.sha256)
    assert queue.enqueue(setup.reference, "anna", setup.bundle.sha256).id == first.id
    assert queue.claim("server", "another model's sha256") is None  # only a server with its model takes it
    assert queue.claim("server", setup.bundle.sha256).id == first.id
    second = queue.enqueue(setup.reference, "anna", setup.bundle.sha256)
    assert second.id != first.id and [j.id for j in queue.for_case(setup.reference)] == [second.id, first.id]

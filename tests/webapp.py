"""A small world for the web view's tests: a case file with users of every role, cases assigned to
two caseworkers with analysed recordings and signed reports, and helpers to log in."""

from __future__ import annotations

import contextlib
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from argon2 import PasswordHasher

from dialectid.casefile import CaseStore
from dialectid.casefile.accounts import Accounts
from dialectid.casefile.workflow import analyse_case
from dialectid.models.bundle import load_model
from dialectid.web import passwords
from toy import concatenate

PASSWORD = "a long enough password"
USERS = {"carla": "caseworker", "colin": "caseworker", "anna": "analyst", "adam": "admin"}
IDENTITY = ("Amira Haddad", "1991-03-14", "Aleppo")  # must never leave the identity table
# Cheap argon2 parameters for the tests only: the production defaults take ~0.4 s per check on
# two shared cores. The stored hashes say their parameters, so verification is the same code.
CHEAP_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


@contextlib.contextmanager
def cheap_passwords():
    from _pytest.monkeypatch import MonkeyPatch

    with MonkeyPatch.context() as patch:
        patch.setattr(passwords, "_hasher", lambda: CHEAP_HASHER)
        yield


@dataclass
class World:
    store: CaseStore
    bundle: object
    recordings: list[Path]
    cases: dict[str, str] = field(default_factory=dict)  # caseworker -> reference
    numbers: dict[str, str] = field(default_factory=dict)  # caseworker -> registration number of their analysis


def toy_recordings(toy_corpus, folder: Path) -> list[Path]:
    """Three recordings of unseen voices, long enough for a result: English, German, English."""
    audio = toy_corpus["train"].parent / "audio"
    folder.mkdir(parents=True, exist_ok=True)
    return [concatenate(sorted((audio / lang / voice).glob("*.wav")), folder / f"{lang}-{voice}.wav")
            for lang, voice in (("en", "v4"), ("de", "v4"), ("en", "v3"))]  # fmt: skip


@contextlib.contextmanager
def world_of(root: Path, bundle_path: Path, toy_corpus):
    """`make_world` with cheap password hashing for as long as the world is in use."""
    with cheap_passwords():
        yield make_world(root, bundle_path, toy_corpus)


def make_world(root: Path, bundle_path: Path, toy_corpus) -> World:
    """Users of every role; one analysed case for each caseworker (the first with a real identity)."""
    store = CaseStore(f"sqlite:///{root / 'casefile.db'}", root=root / "home")
    world = World(store, load_model(bundle_path), toy_recordings(toy_corpus, root / "audio"))
    accounts = Accounts(store)
    for name, role in USERS.items():
        accounts.add(name, role, passwords.hash_password(PASSWORD, role, name), "setup")
    for i, caseworker in enumerate(("carla", "colin")):
        identity = IDENTITY if i == 0 else ("Other Person", "1980-01-01", None)
        case = store.new_case(*identity, actor="setup")
        store.assign(case.reference, caseworker, "setup")
        store.add_recording(case.reference, world.recordings[i], "officer", "setup")
        (world.numbers[caseworker],) = analyse_case(store, case.reference, world.bundle, "setup").analysed
        world.cases[caseworker] = case.reference
    return world


def csrf_in(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def log_in(client, name: str, password: str = PASSWORD):
    """Log in through the login form, as a browser does; returns the response after the redirect."""
    form = client.get("/login")
    answer = client.post("/login", data={"name": name, "password": password, "csrf_token": csrf_in(form.text),
                                         "next": "/cases"}, follow_redirects=False)  # fmt: skip
    assert answer.status_code == 303, answer.text
    return answer


def page_csrf(client) -> str:
    """The CSRF token of the logged-in client's session, as its pages carry it."""
    return csrf_in(client.get("/cases").text)


def wait_for_job(client, job_id: str, timeout_s: float = 120.0) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job = client.get(f"/api/jobs/{job_id}").json()
        if job["finished"]:
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not finish in {timeout_s} s")


@contextlib.contextmanager
def serving(app):
    """`app` under uvicorn on a free localhost port, in a background thread: a real server, for
    the tests that need real sockets (a body streamed as an attacker would, parallel clients)."""
    import socket
    import threading

    import uvicorn

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@dataclass
class ServeRun:
    """A `dialectid serve` process on `port`; `output` is its whole log once it has stopped."""

    port: int
    process: object
    output: str = ""


@contextlib.contextmanager
def serve_process(home: Path, bundle: Path):
    """`dialectid serve` as a user starts it, in its own process with a fresh home, on a free port."""
    import os
    import socket
    import subprocess
    import sys

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "DIALECTID_HOME": str(home)}
    env.pop("DIALECTID_DATABASE_URL", None)
    command = [sys.executable, "-c", "from dialectid.cli import main; main()", "serve", "--port", str(port),
               "--model", str(bundle)]  # fmt: skip
    run = ServeRun(
        port, subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    )
    try:
        yield run
    finally:
        run.process.terminate()
        run.output = run.process.communicate(timeout=30)[0]


def remove_guards(store: CaseStore) -> None:
    """What anyone who can write the database can do: drop the append-only triggers of the audit
    table, the analyses and the reports (tests that tamper with rows do this first)."""
    import sqlalchemy as sa

    with store.engine.begin() as connection:
        for table in ("audit_events", "analyses", "reports"):
            if store.engine.dialect.name == "postgresql":
                connection.execute(sa.text(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}"))
            else:
                connection.execute(sa.text(f"DROP TRIGGER IF EXISTS {table}_no_update"))
                connection.execute(sa.text(f"DROP TRIGGER IF EXISTS {table}_no_delete"))

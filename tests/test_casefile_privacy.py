"""Privacy of the case file on disk (issue #16, items 1, 3, 9, 10 and 15): a private data home,
stored recordings re-verified on every read, erasure that leaves no bytes behind, free text kept
out of the audit log and erased with the identity, and no identity in the process list.

Real processes on real files, on SQLite and (where it applies) on PostgreSQL. The tests run as
root, so "another local account" is a forked child that drops to uid 65534 (`nobody`)."""

from __future__ import annotations

import json
import os
import pty
import re
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from dialectid.casefile import CaseError, CaseStore, RecordingIntegrityError
from dialectid.casefile.schema import Base
from dialectid.casefile.summaries import SubjectIdentity, to_json
from dialectid.casefile.workflow import analyse_case
from dialectid.cli import app
from dialectid.models.bundle import load_model
from dialectid.paths import HomeError, make_private
from dialectid.scoring import Scorer
from privileges import as_nobody
from test_casefile import BACKENDS, fresh_url
from toy import concatenate
from webapp import log_in, page_csrf, wait_for_job, world_of

CLI = [sys.executable, "-c", "from dialectid.cli import main; main()"]
NAME, DOB, ORIGIN = "Amira Haddad", "1991-03-14", "Aleppo"
IDENTITY = json.dumps({"name": NAME, "date_of_birth": DOB, "claimed_origin": ORIGIN})
runner = CliRunner()


# ---- helpers ---------------------------------------------------------------------------------------
@pytest.fixture
def shared(tmp_path):
    """A folder every local account may enter (pytest's own temporary folders are root's alone, which
    would make a test of what `nobody` can read pass for the wrong reason)."""
    folder = Path(tempfile.mkdtemp(prefix="dialectid-privacy-", dir="/tmp"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def recordings(toy_corpus, tmp_path_factory):
    folder = tmp_path_factory.mktemp("privacy-audio")
    audio = toy_corpus["train"].parent / "audio"
    return [concatenate(sorted((audio / lang / voice).glob("*.wav")), folder / f"{lang}-{voice}.wav")
            for lang, voice in (("en", "v3"), ("de", "v4"))]  # fmt: skip


def dialectid(home: Path, *args, stdin: str | None = None, url: str | None = None) -> subprocess.CompletedProcess:
    """`dialectid ARGS` in a process of its own, started with the usual umask 022."""
    env = {**os.environ, "DIALECTID_HOME": str(home)}
    env.pop("DIALECTID_DATABASE_URL", None)
    if url:
        env["DIALECTID_DATABASE_URL"] = url
    return subprocess.run([*CLI, *map(str, args)], input=stdin, env=env, capture_output=True, text=True,
                          timeout=600, umask=0o022)  # fmt: skip


def new_case(home: Path, url: str | None = None) -> tuple[str, str]:
    created = dialectid(home, "case", "new", "--identity-from-stdin", stdin=IDENTITY, url=url)
    assert created.returncode == 0, created.stderr
    match = re.search(r"case (C-\S+)\s+subject (S-\S+)", created.stdout)
    assert match, created.stdout
    return match.group(1), match.group(2)


def files_under(root: Path) -> list[Path]:
    return sorted(Path(folder) / name for folder, _, names in os.walk(root) for name in names)


def traces(root: Path, *texts: str) -> list[str]:
    """'file: text' for every text found in the raw bytes of any file under `root`."""
    return [f"{path.relative_to(root)}: {text}" for path in files_under(root) for text in texts
            if text.encode() in path.read_bytes()]  # fmt: skip


class Server:
    """`dialectid serve` in a process of its own (it keeps the case file open, as in production)."""

    def __init__(self, home: Path, model: Path) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        env = {**os.environ, "DIALECTID_HOME": str(home)}
        env.pop("DIALECTID_DATABASE_URL", None)
        self.process = subprocess.Popen([*CLI, "serve", "--port", str(self.port), "--model", str(model)], env=env,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, umask=0o022)  # fmt: skip

    def __enter__(self) -> Server:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/login", timeout=5) as answer:
                    if answer.status == 200:
                        return self
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise AssertionError(f"the server did not answer: {self.output}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
        self.output = self.process.communicate(timeout=30)[0]

    def __exit__(self, *exc) -> None:
        self.stop()


def loose(path: Path) -> int:
    """The permission bits that let a group or other users in (0: private to the owner)."""
    return stat.S_IMODE(path.lstat().st_mode) & 0o077


# ---- item 15: no identity in the process list ----------------------------------------------------------
def test_case_new_takes_the_identity_from_stdin_never_from_argv(shared):
    home = shared / "home"
    refused = dialectid(home, "case", "new", "--name", NAME, "--dob", DOB)
    assert refused.returncode == 2 and "--name" in refused.stderr
    assert "--name" not in dialectid(home, "case", "new", "--help").stdout
    env = {**os.environ, "DIALECTID_HOME": str(home)}
    env.pop("DIALECTID_DATABASE_URL", None)
    process = subprocess.Popen([*CLI, "case", "new", "--identity-from-stdin"], env=env, stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    argv, deadline = b"", time.monotonic() + 30
    while not argv and time.monotonic() < deadline:  # empty until the new program is in place
        argv = Path(f"/proc/{process.pid}/cmdline").read_bytes()  # what `ps` shows every local account
    stdout, stderr = process.communicate(IDENTITY, timeout=120)
    assert process.returncode == 0, stderr
    assert NAME.encode() not in argv and DOB.encode() not in argv and b"--identity-from-stdin" in argv
    reference = re.search(r"case (C-\S+)", stdout).group(1)
    identity = CaseStore(root=home).identity(reference, "test")
    assert identity == SubjectIdentity(NAME, DOB, ORIGIN)


def test_case_new_asks_at_a_prompt_on_a_terminal(shared):
    home = shared / "home"
    env = {**os.environ, "DIALECTID_HOME": str(home)}
    env.pop("DIALECTID_DATABASE_URL", None)
    terminal, child_end = pty.openpty()
    process = subprocess.Popen([*CLI, "case", "new"], env=env, stdin=child_end, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)  # fmt: skip
    os.close(child_end)
    os.write(terminal, f"{NAME}\n{DOB}\n\n".encode())  # no claimed origin
    stdout, stderr = process.communicate(timeout=120)
    os.close(terminal)
    assert process.returncode == 0, stderr
    assert "Name" in stdout and "Date of birth" in stdout
    reference = re.search(r"case (C-\S+)", stdout).group(1)
    identity = CaseStore(root=home).identity(reference, "test")
    assert identity == SubjectIdentity(NAME, DOB, None)


@pytest.mark.parametrize(
    ("stdin", "message"),
    [
        ("", "no identity on standard input"),
        ('{"name": "Amira Haddad"}', "date_of_birth"),
        ('{"name": "Amira Haddad", "date_of_birth": "1991-03-14", "dob": "x"}', "unknown key 'dob'"),
        ('["Amira Haddad", "1991-03-14"]', "a JSON object"),
        ('{"name": "Amira Haddad", "date_of_birth": ', "not valid JSON"),
        ("Amira Haddad\n", "date of birth"),
        ("Amira Haddad\n14.03.1991\n", "is not a date"),
        ("Amira Haddad\n1991-03-14\nAleppo\nmore\n", "at most three lines"),
    ],
)
def test_bad_identity_on_stdin_is_one_line(tmp_path, monkeypatch, stdin, message):
    monkeypatch.setenv("DIALECTID_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("DIALECTID_DATABASE_URL", raising=False)
    result = runner.invoke(app, ["case", "new", "--identity-from-stdin"], input=stdin)
    assert result.exit_code == 2 and message in result.stderr and result.stderr.count("\n") == 1, result.output
    assert NAME not in result.stderr  # the error names what is wrong, never the identity


def test_identity_as_lines_and_no_identity_without_a_terminal(tmp_path, monkeypatch):
    monkeypatch.setenv("DIALECTID_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("DIALECTID_DATABASE_URL", raising=False)
    created = runner.invoke(app, ["case", "new", "--identity-from-stdin"], input=f"{NAME}\n{DOB}\n{ORIGIN}\n")
    assert created.exit_code == 0, created.output
    identity = CaseStore().identity(created.stdout.split()[1], "test")
    assert identity == SubjectIdentity(NAME, DOB, ORIGIN)
    refused = runner.invoke(app, ["case", "new"], input=IDENTITY)  # a pipe without the flag: no guessing
    assert refused.exit_code == 2 and "--identity-from-stdin" in refused.stderr and refused.stderr.count("\n") == 1


# ---- item 1: a private data home -----------------------------------------------------------------------
def test_the_home_and_every_file_in_it_are_private(shared, recordings, stats_bundle):
    home = shared / "home"
    reference, _ = new_case(home)
    added = dialectid(home, "case", "add-recording", reference, recordings[0], "--recorded-by", "officer 17")
    assert added.returncode == 0, added.stderr
    analysed = dialectid(home, "case", "analyse", reference, "--model", stats_bundle)
    assert analysed.returncode == 0 and "1 analysed, 1 reports attached" in analysed.stdout, analysed.stderr
    with Server(home, stats_bundle):  # keeps casefile.db open: -wal and -shm exist now
        names = {path.name for path in files_under(home)}
        assert {"casefile.db", "casefile.db-wal", "casefile.db-shm", "report-signing.key"} <= names, names
        folders = [home, *(p for p in home.rglob("*") if p.is_dir())]
        assert [str(p) for p in folders if stat.S_IMODE(p.stat().st_mode) != 0o700] == []
        assert [f"{p} {oct(p.stat().st_mode)}" for p in files_under(home) if loose(p)] == []

        def peek() -> str:
            verdicts = []
            for path in (home, home / "recordings", *files_under(home)):
                try:
                    os.listdir(path) if path.is_dir() else path.open("rb").close()
                    verdicts.append(f"read {path.name}")
                except PermissionError:
                    pass
            return "; ".join(verdicts) or "nothing"

        assert as_nobody(peek) == "nothing"


def test_a_loose_home_is_made_private_at_start_up_and_says_so(shared):
    home = shared / "home"
    new_case(home)
    home.chmod(0o755)
    (home / "casefile.db").chmod(0o644)
    (home / "notes.txt").write_text("left here by hand")
    (home / "notes.txt").chmod(0o666)
    listed = dialectid(home, "case", "list")
    assert listed.returncode == 0, listed.stderr
    assert listed.stderr.count("\n") == 1 and listed.stderr.startswith("warning: ") and str(home) in listed.stderr
    assert "made 3 paths private" in listed.stderr
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    assert loose(home / "casefile.db") == loose(home / "notes.txt") == 0
    assert dialectid(home, "case", "list").stderr == ""  # nothing left to say


def test_a_home_that_cannot_be_made_private_is_refused(shared, monkeypatch):
    home = shared / "home"
    CaseStore(root=home).engine.dispose()
    home.chmod(0o755)
    (home / "casefile.db").chmod(0o644)
    monkeypatch.setenv("DIALECTID_HOME", str(home))
    monkeypatch.delenv("DIALECTID_DATABASE_URL", raising=False)
    runner.invoke(app, ["case", "list"])  # as root: fixes it (and loads everything the child needs)
    home.chmod(0o755)
    (home / "casefile.db").chmod(0o644)

    def run() -> str:
        result = runner.invoke(app, ["case", "list"])
        return json.dumps([result.exit_code, result.stderr])

    exit_code, stderr = json.loads(as_nobody(run))
    assert exit_code == 2 and stderr.count("\n") == 1, stderr
    assert stderr.startswith("error: ") and str(home) in stderr and "owner" in stderr
    assert stat.S_IMODE(home.stat().st_mode) == 0o755  # left as it was: nobody may change it

    def directly() -> str:
        try:
            return f"made private: {make_private(home)}"
        except HomeError as error:
            return error.message

    assert "cannot be made private" in as_nobody(directly)


def test_a_store_opened_from_python_creates_private_files(shared, recordings):
    previous = os.umask(0o022)
    try:
        store = CaseStore(root=shared / "home")
        case = store.new_case(NAME, DOB, None, "clerk")
        sha256 = store.add_recording(case.reference, recordings[0], "officer", "clerk")["sha256"]
    finally:
        os.umask(previous)
    assert stat.S_IMODE((shared / "home").stat().st_mode) == 0o700
    assert stat.S_IMODE((shared / "home" / "recordings").stat().st_mode) == 0o700
    assert loose(shared / "home" / "casefile.db") == 0
    assert stat.S_IMODE(store.recordings.path(sha256).stat().st_mode) == 0o400
    assert make_private(shared / "home") is None


# ---- item 3: stored recordings are verified on every read ----------------------------------------------
def tamper(stored: Path, how: str, other: Path) -> None:
    stored.chmod(0o600)
    if how == "xor":  # 2000 bytes of the audio flipped: still a valid WAV, still analysable
        data = bytearray(stored.read_bytes())
        for i in range(len(data) // 2, len(data) // 2 + 2000):
            data[i] ^= 0x5A
        stored.write_bytes(bytes(data))
    else:  # another recording under this one's name
        shutil.copyfile(other, stored)


@pytest.mark.parametrize("how", ["xor", "replaced"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_a_changed_recording_is_not_analysed_and_the_failure_is_audited(backend, how, shared, recordings,
                                                                        stats_bundle):  # fmt: skip
    url, home = fresh_url(backend, shared), shared / "home"
    store = CaseStore(url, root=home)
    case = store.new_case(NAME, DOB, None, "clerk")
    sha256 = store.add_recording(case.reference, recordings[0], "officer", "clerk")["sha256"]
    tamper(store.recordings.path(sha256), how, recordings[1])
    analysed = dialectid(home, "case", "analyse", case.reference, "--model", stats_bundle, url=url)
    assert analysed.returncode == 1 and "0 analysed, 0 reports attached" in analysed.stdout, analysed.stderr
    assert analysed.stderr.count("\n") == 1 and analysed.stderr.startswith(f"error: recording {sha256[:12]}")
    assert "does not match its sha256" in analysed.stderr
    with store.engine.connect() as connection:
        assert connection.execute(sa.text("SELECT count(*) FROM analyses")).scalar() == 0
    failure = store.events(case.reference)[-1]
    assert failure.action == "recording integrity failed" and failure.details["sha256"] == sha256
    assert failure.details["found"] != sha256
    assert store.verify_audit()[1] is None
    with pytest.raises(RecordingIntegrityError, match="does not match its sha256"):
        store.verified_recording(case.reference, sha256, "clerk")
    store.recordings.path(sha256).unlink()
    with pytest.raises(RecordingIntegrityError, match="is missing"):
        store.verified_recording(case.reference, sha256, "clerk")
    assert [e.action for e in store.events(case.reference)].count("recording integrity failed") == 3


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_analysis_of_other_bytes_is_never_stored(backend, tmp_path, recordings, stats_bundle):
    """The analysis carries the sha256 of the very bytes it decoded: a file swapped between the
    check and the decoding is caught there."""
    store = CaseStore(fresh_url(backend, tmp_path), root=tmp_path / "home")
    case = store.new_case("A B", "1990-01-01", None, "clerk")
    store.add_recording(case.reference, recordings[0], "officer", "clerk")
    bundle = load_model(stats_bundle)
    (recording,) = store.pending(case.reference, bundle.sha256)
    other = Scorer(bundle).analyse(recordings[1])
    with pytest.raises(RecordingIntegrityError, match="does not match its sha256"):
        store.store_analysis(case.reference, recording, other, "analyst")
    assert store.pending(case.reference, bundle.sha256) != []
    assert store.events(case.reference)[-1].action == "recording integrity failed"


@pytest.fixture(scope="module")
def world(tmp_path_factory, stats_bundle, toy_corpus):
    with world_of(tmp_path_factory.mktemp("privacy-web"), stats_bundle, toy_corpus) as made:
        yield made


@pytest.fixture
def browser(world):
    from fastapi.testclient import TestClient

    from dialectid.web import create_app

    clients = []

    def as_user(name: str) -> TestClient:
        client = TestClient(create_app(world.store, world.bundle), follow_redirects=False)
        clients.append(client)
        log_in(client, name)
        return client

    yield as_user
    for client in clients:
        client.close()


def test_the_web_view_says_why_an_analysis_failed_and_serves_no_changed_audio(world, browser):
    anna, case = browser("anna"), world.cases["colin"]
    # a recording to analyse (analyses are never deleted, so not one analysed already), changed on disk
    recording = world.store.add_recording(case, world.recordings[2], "officer", "test")
    tamper(world.store.recordings.path(recording["sha256"]), "xor", world.recordings[0])
    answer = anna.post(f"/api/cases/{case}/analyses", headers={"X-CSRF-Token": page_csrf(anna)})
    assert answer.status_code == 202, answer.text
    job = wait_for_job(anna, answer.json()["id"])
    assert job["state"] == "failed" and "does not match its sha256" in job["message"], job
    assert f"recording {recording['sha256'][:12]}" in job["message"]
    page = anna.get(f"/cases/{case}").text
    assert "Last analysis failed" in page and "does not match its sha256" in page
    audio = anna.get(f"/cases/{case}/recordings/{recording['sha256']}")
    assert audio.status_code >= 400 and "does not match its sha256" in audio.text
    actions = [e.action for e in world.store.events(case)]
    assert actions.count("recording integrity failed") == 2 and world.store.verify_audit()[1] is None


# ---- items 9 and 10: erasure leaves nothing behind; free text stays out of the audit log --------------
def test_the_forms_and_the_help_warn_against_identity_in_free_text(world, browser):
    analyst_page = browser("anna").get(f"/cases/{world.cases['carla']}").text
    caseworker_page = browser("carla").get(f"/cases/{world.cases['carla']}").text
    forms = [form.split("</form>")[0] for page in (analyst_page, caseworker_page) for form in page.split("<form")[1:]]
    for field in ("recorded_by", "comment"):
        (form,) = [form for form in forms if f'name="{field}"' in form]
        assert "never the subject's name or other identity data" in form, field
    help_text = runner.invoke(app, ["case", "add-recording", "--help"]).stdout
    assert "never the subject's" in " ".join(help_text.split())


def test_erasure_leaves_no_trace_in_any_file_of_the_home(shared, recordings, stats_bundle):
    home = shared / "home"
    reference, pseudonym = new_case(home)
    added = dialectid(home, "case", "add-recording", reference, recordings[0], "--recorded-by", f"{NAME} herself")
    assert added.returncode == 0, added.stderr
    assert dialectid(home, "case", "analyse", reference, "--model", stats_bundle).returncode == 0
    store = CaseStore(root=home)
    number = store.show(reference, "test").recordings[0].analyses[0].registration_number
    store.add_feedback(number, "carla", "caseworker", False, f"{NAME} is from {ORIGIN}", f"born {DOB}")
    store.engine.dispose()
    with Server(home, stats_bundle):  # the server holds the database open while the identity is erased
        assert traces(home, NAME, DOB, ORIGIN) != []  # the test can see the bytes it looks for
        erased = dialectid(home, "case", "erase-identity", reference)
        assert erased.returncode == 0 and pseudonym in erased.stdout, erased.stderr
        assert traces(home, NAME, DOB, ORIGIN) == []
    assert traces(home, NAME, DOB, ORIGIN) == []  # and after the server stopped
    verified = dialectid(home, "audit", "verify")
    assert verified.returncode == 0, verified.stderr
    shown = json.loads(dialectid(home, "case", "show", reference, "--json").stdout)
    assert shown["recordings"][0]["recorded_by"] == "(erased)"
    assert shown["recordings"][0]["analyses"][0]["feedback"][0]["comment"] == "(erased)"

    def peek() -> str:
        try:
            return (home / "casefile.db").read_bytes()[:16].decode(errors="replace")
        except PermissionError:
            return "refused"

    assert as_nobody(peek) == "refused"


@pytest.mark.parametrize("backend", BACKENDS)
def test_free_text_stays_out_of_the_audit_log_and_is_erased_with_the_identity(backend, shared, recordings,
                                                                              stats_bundle):  # fmt: skip
    url, home = fresh_url(backend, shared), shared / "home"
    store = CaseStore(url if backend != "sqlite" else None, root=home)
    case = store.new_case(NAME, DOB, ORIGIN, "clerk")
    store.add_recording(case.reference, recordings[0], NAME, "clerk")
    (number,) = analyse_case(store, case.reference, load_model(stats_bundle), "analyst").analysed
    store.add_feedback(number, "carla", "caseworker", True, f"{NAME} confirmed", f"{NAME}, born {DOB}")
    events = store.events(case.reference)
    assert NAME not in json.dumps(to_json(events)) and DOB not in json.dumps(to_json(events))
    added = next(e for e in events if e.action == "recording added").details
    feedback = next(e for e in events if e.action == "feedback given").details
    assert set(added) == {"sha256", "recording", "recorded_by_hmac"} and added["recording"] == 1
    assert feedback["feedback"] == 1 and feedback["comment_hmac"] and feedback["linguist_outcome_hmac"]
    assert added["recorded_by_hmac"] != __import__("hashlib").sha256(NAME.encode()).hexdigest()  # no guessing
    filenode = _filenode(store, "identities")
    store.erase_identity(case.reference, "admin")
    actions = [e.action for e in store.events(case.reference)]
    assert actions[-2:] == ["identity erased", "free text erased"]
    assert store.events(case.reference)[-1].details == {"recordings": [1], "feedback": [1]}
    with store.engine.connect() as connection:
        dump = json.dumps([list(map(str, row)) for table in Base.metadata.sorted_tables
                           for row in connection.execute(sa.select(table)).all()])  # fmt: skip
    assert NAME not in dump and DOB not in dump and ORIGIN not in dump
    assert store.verify_audit() == (len(store.events()), None)
    assert traces(home, NAME, DOB, ORIGIN) == []
    if backend == "postgresql":  # VACUUM FULL rewrote the table into a new file without the old rows
        assert _filenode(store, "identities") != filenode
    with pytest.raises(CaseError, match="already erased"):
        store.erase_identity(case.reference, "admin")


def _filenode(store: CaseStore, table: str) -> int | None:
    if store.engine.dialect.name != "postgresql":
        return None
    with store.engine.connect() as connection:
        return connection.execute(sa.text("SELECT pg_relation_filenode(:t)"), {"t": table}).scalar()

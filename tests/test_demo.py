"""`dialectid demo` (issue #18): a demo home built once with fictitious cases, analysed and signed,
reused on a second run, rebuilt on request, never the user's real data home."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

from dialectid.casefile import CaseStore
from dialectid.demo import ACCOUNTS, CASES, MARKER


def run_demo(*args, env=None):
    return subprocess.run([sys.executable, "-m", "dialectid", "demo", "--no-serve", *map(str, args)],
                          capture_output=True, text=True, timeout=600, env=env or os.environ.copy())  # fmt: skip


def test_the_demo_has_its_accounts_cases_signed_reports_and_feedback(demo_home):
    folder, logins, _ = demo_home
    assert set(logins) == {name for name, _ in ACCOUNTS} and all(len(p) >= 16 for p in logins.values())
    store = CaseStore(root=folder)
    cases = store.list_cases()
    assert len(cases) == len(CASES)
    shown = [store.show(c.reference, "test") for c in cases]
    analyses = [a for case in shown for r in case.recordings for a in r.analyses]
    assert len(analyses) == sum(len(c.recordings) for c in CASES)
    assert all(a.report for a in analyses)
    assert {a.status for a in analyses} >= {"ok", "insufficient_speech"}
    feedback = [f for a in analyses for f in a.feedback]
    assert feedback, "the demo shows what feedback looks like"
    # #25: nobody is said to have given feedback who never logged in; the demo's own says what it is
    logged_in = {e.actor for e in store.events() if e.action == "logged in"}
    assert all(f.author in logged_in or f.author == "dialectid demo" for f in feedback)
    assert all(f.comment.startswith("Demo feedback:") for f in feedback if f.author == "dialectid demo")
    assert {c.assigned_to for c in shown} == {"anna.caseworker", "ben.caseworker"}
    assert "Maria Beispiel" not in str(shown)
    assert store.verify_audit()[1] is None
    assert oct((folder / "casefile.db").stat().st_mode & 0o777) == "0o600"


def test_a_second_run_reuses_the_demo_and_rebuild_makes_a_new_one(demo_home, tmp_path):
    again = run_demo("--home", demo_home[0])
    assert again.returncode == 0 and "reusing the demo" in again.stderr and "log-ins" not in again.stdout
    folder = tmp_path / "copy"
    shutil.copytree(demo_home[0], folder)
    marker = (folder / MARKER).read_text()
    rebuilt = run_demo("--home", folder, "--rebuild", "--password-file", tmp_path / "logins.txt")
    assert rebuilt.returncode == 0 and (folder / MARKER).read_text() != marker
    written = tmp_path / "logins.txt"
    assert oct(written.stat().st_mode & 0o777) == "0o600" and len(written.read_text().splitlines()) == len(ACCOUNTS)


def test_the_demo_refuses_the_real_home_and_folders_that_are_not_demos(tmp_path):
    real = tmp_path / "real-home"
    real.mkdir()
    result = run_demo("--home", real, env={**os.environ, "DIALECTID_HOME": str(real)})
    assert result.returncode == 2 and "real data home" in result.stderr and "Traceback" not in result.stderr
    other = tmp_path / "papers"
    other.mkdir()
    (other / "thesis.txt").write_text("keep me")
    result = run_demo("--home", other)
    assert result.returncode == 2 and "not a demo home" in result.stderr
    assert (other / "thesis.txt").read_text() == "keep me"


def test_the_demo_serves_its_case_file_and_stops_cleanly_on_ctrl_c(demo_home):
    import signal
    import socket
    import time
    import urllib.request

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "dialectid", "demo", "--home", str(demo_home[0]), "--port", str(port)]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy())
    try:
        deadline, answer = time.monotonic() + 60, None
        while answer is None and time.monotonic() < deadline:
            try:
                answer = urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=2).read().decode()
            except OSError:
                time.sleep(0.2)
        assert answer and "Log in" in answer
    finally:
        server.send_signal(signal.SIGINT)
        stdout, stderr = server.communicate(timeout=30)
    assert server.returncode in (0, 130) and "Traceback" not in stderr, stderr
    assert f"http://127.0.0.1:{port}/" in stdout


def test_a_reused_demo_home_that_others_can_read_is_made_private(demo_home, tmp_path):
    """As `serve` does with the data home: a loose folder, database and signing key (readable by every
    user of the machine) are closed before the demo is reused, and the run says so."""
    import stat

    folder = tmp_path / "loose"
    shutil.copytree(demo_home[0], folder)
    loose = [folder, *folder.rglob("*")]
    for path in loose:
        if not path.is_symlink():
            path.chmod(0o755 if path.is_dir() else 0o644)
    again = run_demo("--home", folder)
    assert again.returncode == 0, again.stderr
    assert "reusing the demo" in again.stderr and f"{folder}: other users could read" in again.stderr
    opened = [p for p in loose if not p.is_symlink() and stat.S_IMODE(p.lstat().st_mode) & 0o077]
    assert opened == [] and len(loose) > 5

"""Batch scoring against the faults an unlucky or hostile operator produces (issue #15, items 1-8, 16, 17).

Each test runs the real command line as a process, bounded in time, and checks the results file:
exactly one row per input path, nothing lost, a one-line error naming the file.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import time

import pytest

from batchkit import csv_rows, dialectid, jsonl_rows, one_line_error, start, voices, wait_for_rows
from corpora import random_bytes
from dialectid.scoring.reaper import descendants
from dialectid.scoring.results import ResultsFile


@pytest.fixture(scope="module")
def clips(toy_corpus, tmp_path_factory):
    return voices(toy_corpus, tmp_path_factory.mktemp("clips"), count=6)


def test_copies_of_one_file_each_get_their_own_row(stats_bundle, clips, tmp_path):
    """Finding 1: a rerun skipped any path whose bytes were already scored under another name."""
    a, b = tmp_path / "a.wav", tmp_path / "b.wav"
    shutil.copy(clips[0], a)
    shutil.copy(clips[0], b)
    out = tmp_path / "out.jsonl"
    assert dialectid("score", a, "--model", stats_bundle, "-o", out).returncode == 0
    assert dialectid("score", a, b, "--model", stats_bundle, "-o", out).returncode == 0
    rows = jsonl_rows(out)
    assert [r["path"] for r in rows] == [str(a), str(b)]
    assert rows[0]["audio"]["sha256"] == rows[1]["audio"]["sha256"]


def test_a_changed_file_is_scored_again_and_replaces_its_row(stats_bundle, clips, tmp_path):
    target, out = tmp_path / "a.wav", tmp_path / "out.jsonl"
    shutil.copy(clips[0], target)
    dialectid("score", target, "--model", stats_bundle, "-o", out)
    (old,) = jsonl_rows(out)
    shutil.copy(clips[1], target)
    result = dialectid("score", target, "--model", stats_bundle, "-o", out)
    (row,) = jsonl_rows(out)
    assert b"skipped" not in result.stderr and row["audio"]["sha256"] != old["audio"]["sha256"]
    from dialectid.audio.source import sha256_file

    assert row["audio"]["sha256"] == sha256_file(clips[1])


def test_error_rows_do_not_pile_up_and_a_fixed_file_replaces_its_error(stats_bundle, clips, tmp_path):
    """Finding 3: every rerun appended another error row for the same failing file."""
    broken, good, out = random_bytes(tmp_path / "x.wav"), tmp_path / "good.wav", tmp_path / "out.jsonl"
    shutil.copy(clips[0], good)
    for _ in range(3):
        assert dialectid("score", good, broken, "--model", stats_bundle, "-o", out).returncode == 1
    assert [(r["path"], r["status"]) for r in jsonl_rows(out)] == [(str(good), "ok"), (str(broken), "error")]
    shutil.copy(clips[1], broken)
    assert dialectid("score", good, broken, "--model", stats_bundle, "-o", out).returncode == 0
    assert [(r["path"], r["status"]) for r in jsonl_rows(out)] == [(str(good), "ok"), (str(broken), "ok")]


def test_the_same_path_twice_on_the_command_line_gives_one_row(stats_bundle, clips, tmp_path):
    out = tmp_path / "out.csv"
    dialectid("score", clips[0], clips[0], clips[1], "--model", stats_bundle, "-o", out)
    assert [r["path"] for r in csv_rows(out)] == [str(clips[0]), str(clips[1])]


def test_a_second_run_on_the_same_results_file_is_refused(stats_bundle, clips, tmp_path):
    """Finding 2: two runs on one results file wrote every row twice."""
    out = tmp_path / "out.jsonl"
    with ResultsFile(out, ["en", "de", "es"]):
        result = dialectid("score", clips[0], "--model", stats_bundle, "-o", out)
    assert result.returncode == 2
    assert "another dialectid run is writing this results file" in one_line_error(result.stderr)
    assert out.read_bytes() == b""


def test_concurrent_runs_never_duplicate_a_row(stats_bundle, clips, tmp_path):
    """A second run started while the first writes is refused, and the file never holds two rows of a
    path. Checked before any later run could tidy the file up: a rerun compacts it, which hid two
    writers (with the lock removed this test passed 3 times in 4 while it ended with a third run)."""
    many = []
    for n in range(30):  # enough files that the first run is still writing when the second has started
        many.append(tmp_path / f"clip{n}.wav")
        os.symlink(clips[n % len(clips)], many[-1])
    out = tmp_path / "out.jsonl"
    first = start("score", *many, "--model", stats_bundle, "-o", out)
    wait_for_rows(out, 1, first)
    second = dialectid("score", *many, "--model", stats_bundle, "-o", out)
    overlapped = first.poll() is None
    assert first.wait(timeout=180) == 0
    paths = [r["path"] for r in jsonl_rows(out)]
    assert sorted(paths) == sorted(map(str, many))  # each path once, none lost
    assert overlapped, "the first run ended before the second had started; give it more files"
    assert second.returncode == 2 and "another dialectid run" in one_line_error(second.stderr)


def test_pipes_and_devices_are_refused_before_anything_reads_them(stats_bundle, clips, tmp_path):
    """Finding 4: with -o, a FIFO blocked for ever in open and /dev/zero was read for ever."""
    fifo = tmp_path / "pipe.wav"
    os.mkfifo(fifo)
    out = tmp_path / "out.jsonl"
    result = dialectid("score", fifo, "/dev/zero", clips[0], "--model", stats_bundle, "-o", out, timeout=60)
    assert result.returncode == 1
    rows = {r["path"]: r for r in jsonl_rows(out)}
    for path in (str(fifo), "/dev/zero"):
        assert rows[path]["status"] == "error" and "not a regular file" in rows[path]["error"]
        assert rows[path]["error"].startswith(path)
    assert rows[str(clips[0])]["status"] == "ok"


def _workers_of(process) -> list[int]:
    """The pool's worker processes (spawned Python interpreters below the command)."""
    return [pid for pid in descendants(process.pid) if b"spawn_main" in _cmdline(pid)]


def _cmdline(pid: int) -> bytes:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as stream:
            return stream.read()
    except OSError:
        return b""


def test_a_killed_worker_is_replaced_and_its_file_retried(stats_bundle, clips, tmp_path):
    """Finding 5: with --workers 2, one worker killed by SIGKILL hung the whole batch for ever."""
    inputs = []
    for i in range(8):
        for clip in clips:
            inputs.append(tmp_path / "in" / f"{i}-{clip.name}")
            inputs[-1].parent.mkdir(exist_ok=True)
            shutil.copy(clip, inputs[-1])
    out = tmp_path / "out.jsonl"
    process = start("score", *inputs, "--model", stats_bundle, "-o", out, "--workers", "2")
    wait_for_rows(out, 2, process)
    workers = _workers_of(process)
    assert workers, f"no worker process found (exit status {process.poll()})"
    os.kill(workers[0], signal.SIGKILL)
    code = process.wait(timeout=180)
    rows = jsonl_rows(out)
    assert code == 0, (process.stderr.read().decode(), [r.get("error") for r in rows if r["status"] == "error"])
    assert [r["path"] for r in rows] == list(map(str, inputs))
    assert "error" not in {r["status"] for r in rows}


def test_a_file_whose_worker_dies_twice_becomes_an_error_row(stats_bundle, clips, tmp_path):
    inputs = [tmp_path / f"{i}.wav" for i in range(12)]
    for i, path in enumerate(inputs):
        shutil.copy(clips[i % len(clips)], path)
    out = tmp_path / "out.jsonl"
    process = start("score", *inputs, "--model", stats_bundle, "-o", out, "--workers", "2")
    wait_for_rows(out, 1, process)
    first = _workers_of(process)
    os.kill(first[0], signal.SIGKILL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (set(_workers_of(process)) - set(first)):
        time.sleep(0.01)
    for pid in set(_workers_of(process)) - set(first):  # the pool that retries files alone
        os.kill(pid, signal.SIGKILL)
    assert process.wait(timeout=180) == 1
    rows = jsonl_rows(out)
    assert [r["path"] for r in rows] == list(map(str, inputs))
    died = [r for r in rows if r["status"] == "error"]
    assert len(died) == 1 and died[0]["error_type"] == "WorkerDiedError"
    assert died[0]["error"].startswith(died[0]["path"])


@pytest.mark.slow
def test_a_killed_ray_driver_leaves_no_ray_process_behind(stats_bundle, clips, tmp_path):
    """Finding 6: SIGKILL of the driver left ray::DashboardAgent and ray::RuntimeEnvAgent running."""
    out = tmp_path / "out.jsonl"
    inputs = [tmp_path / f"{i}.wav" for i in range(200)]
    for i, path in enumerate(inputs):
        os.link(clips[i % len(clips)], path)
    process = start("score", *inputs, "--model", stats_bundle, "-o", out, "--engine", "ray", "--workers", "1")
    wait_for_rows(out, 1, process, limit_s=180)
    below = descendants(process.pid)
    assert any(b"ray" in _cmdline(pid) for pid in below), "Ray did not start"
    process.send_signal(signal.SIGKILL)
    process.wait()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(_alive(pid) for pid in below):
        time.sleep(0.2)
    assert not [(pid, _cmdline(pid)) for pid in below if _alive(pid)]


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stream:
            return stream.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_a_file_name_that_is_not_utf8_round_trips(stats_bundle, clips, tmp_path, suffix):
    """Finding 8: a name with the bytes \\xff\\xfe crashed `score -o` with UnicodeEncodeError."""
    name = os.fsencode(tmp_path) + b"/\xff\xfe-caf\xe9.wav"
    shutil.copy(clips[0], name)
    out = tmp_path / f"out{suffix}"
    for _ in range(2):
        result = dialectid("score", name, clips[1], "--model", stats_bundle, "-o", out)
        assert result.returncode == 0, result.stderr
    rows = jsonl_rows(out) if suffix == ".jsonl" else csv_rows(out)
    assert [os.fsencode(r["path"]) for r in rows] == [name, os.fsencode(clips[1])]
    assert b"already in the results (skipped)" in result.stderr
    assert dialectid("score", name, "--model", stats_bundle).returncode == 0  # printed, not crashed


def test_csv_names_with_line_ends_and_commas_stay_one_row(stats_bundle, clips, tmp_path):
    """Finding 16: a CR in a name was not quoted; a name with newline and comma was re-scored on every rerun."""
    names = [tmp_path / "a\rb.wav", tmp_path / "c\n,d.wav", tmp_path / 'e"f.wav']
    for name, clip in zip(names, clips, strict=False):
        shutil.copy(clip, name)
    out = tmp_path / "out.csv"
    for _ in range(2):
        result = dialectid("score", *names, "--model", stats_bundle, "-o", out)
        assert result.returncode == 0, result.stderr
    assert [r["path"] for r in csv_rows(out)] == list(map(str, names))
    assert b"already in the results (skipped)" in result.stderr


def test_json_output_is_byte_exact(clips, tmp_path):
    """Finding 17: --json went through Rich, which turned :smile: in a path into an emoji."""
    name = tmp_path / ":smile: [bold]x[red].wav"
    shutil.copy(clips[0], name)
    result = dialectid("inspect", name, "--json")
    assert result.returncode == 0, result.stderr
    (line,) = result.stdout.decode("utf-8").splitlines()
    assert json.loads(line)["path"] == str(name)
    table = dialectid("inspect", name)
    assert ":smile:" in table.stdout.decode("utf-8") and "😄" not in table.stdout.decode("utf-8")


@pytest.mark.slow
def test_more_workers_than_the_cluster_has_cpus_does_not_hang(stats_bundle, clips, tmp_path):
    """Found while measuring scale-out: --workers 2 on a one-CPU cluster waited for ever for the
    second actor, which held half the files."""
    import socket
    import subprocess
    import sys
    from pathlib import Path

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}
    ray = str(Path(sys.executable).with_name("ray"))
    head = subprocess.Popen([ray, "start", "--block", "--head", "--num-cpus", "1", "--port", str(port),
                             "--include-dashboard=false"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, start_new_session=True)  # fmt: skip
    try:
        out = tmp_path / "out.jsonl"
        deadline, result = time.monotonic() + 60, None
        while time.monotonic() < deadline:
            result = dialectid("score", *clips, "--model", stats_bundle, "-o", out, "--engine", "ray", "--address",
                               f"127.0.0.1:{port}", "--workers", "3", timeout=180, env=env)  # fmt: skip
            if result.returncode == 0:
                break
            time.sleep(2)  # the head node may still be starting
        assert result.returncode == 0, result.stderr
        assert [r["path"] for r in jsonl_rows(out)] == list(map(str, clips))
    finally:
        os.killpg(head.pid, signal.SIGKILL)
        head.wait()


@pytest.mark.slow
def test_a_stale_ray_address_is_ignored(stats_bundle, clips, tmp_path):
    """Found while measuring scale-out: after a killed `ray start`, `--engine ray` without --address
    tried to join the dead cluster and ended in a ValueError traceback."""
    out = tmp_path / "out.jsonl"
    env = {**os.environ, "RAY_ADDRESS": "127.0.0.1:9"}  # what a stale cluster leaves behind
    local = dialectid("score", clips[0], "--model", stats_bundle, "-o", out, "--engine", "ray", env=env)
    assert local.returncode == 0, local.stderr
    assert [r["path"] for r in jsonl_rows(out)] == [str(clips[0])]


def test_an_unreachable_ray_address_is_one_line_at_once(stats_bundle, clips):
    dead = dialectid("score", clips[0], "--model", stats_bundle, "--engine", "ray", "--address", "127.0.0.1:9",
                     timeout=60)  # fmt: skip
    assert dead.returncode == 2 and "cannot start or reach the Ray cluster at 127.0.0.1:9" in one_line_error(
        dead.stderr
    )

"""SIGKILL at random moments, of the whole run or of single workers, on both engines: after a
final run, exactly one row per input path, in input order, and nothing lost."""

from __future__ import annotations

import os
import random
import signal
import time

import pytest

from batchkit import dialectid, jsonl_rows, start, wait_for_rows
from dialectid.scoring.reaper import descendants
from test_inputs import SAMPLE

ENGINES = {"local": ["--workers", "2"], "ray": ["--engine", "ray", "--workers", "2"]}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """40 recordings under distinct names (hard links to one sample) and three that always fail."""
    folder = tmp_path_factory.mktemp("kills")
    paths = []
    for i in range(40):
        os.link(SAMPLE, folder / f"call-{i:02}.wav")
        paths.append(folder / f"call-{i:02}.wav")
    for i, bad in enumerate((b"", b"RIFF" + bytes(60), os.urandom(5000))):
        (folder / f"bad-{i}.wav").write_bytes(bad)
        paths.insert(10 * i + 5, folder / f"bad-{i}.wav")
    return paths


def finish_and_check(files, out, bundle, extra) -> list[dict]:
    final = dialectid("score", *files, "--model", bundle, "-o", out, *extra, timeout=300)
    assert final.returncode == 1 and b"Traceback" not in final.stderr, final.stderr
    rows = jsonl_rows(out)
    assert [r["path"] for r in rows] == list(map(str, files))
    assert {r["path"] for r in rows if r["status"] == "error"} >= {str(f) for f in files if "bad-" in f.name}
    return rows


@pytest.mark.slow
@pytest.mark.parametrize("engine", ENGINES)
def test_random_kills_of_the_whole_run(stats_bundle, files, tmp_path, engine):
    out, chance = tmp_path / "results.jsonl", random.Random(f"driver-{engine}")
    written = [0]
    for _ in range(3):  # each time at a random row still to come, a random fraction of a second late
        process = start("score", *files, "--model", stats_bundle, "-o", out, *ENGINES[engine])
        wait_for_rows(out, chance.randint(written[-1] + 1, written[-1] + 10), process, limit_s=180)
        time.sleep(chance.uniform(0, 0.3))
        workers = _workers(process.pid, engine)
        process.send_signal(signal.SIGKILL)
        process.wait()
        written.append(out.read_bytes().count(b"\n"))
        assert _all_gone(workers, within_s=10), f"workers outlived the killed run: {workers}"
    assert all(0 < n < len(files) for n in written[1:]), f"a kill missed the middle of the run: {written}"
    rows = finish_and_check(files, out, stats_bundle, ENGINES[engine])
    assert all(r["status"] != "error" for r in rows if "call-" in r["path"])


def _all_gone(pids: list[int], within_s: float) -> bool:
    """Every process in `pids` has ended (a zombie counts as ended) within `within_s`."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if not any(_running(pid) for pid in pids):
            return True
        time.sleep(0.2)
    return False


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as stream:
            return stream.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except OSError:
        return False


def _workers(root: int, engine: str) -> list[int]:
    marker = b"ray::Worker" if engine == "ray" else b"spawn_main"
    found = []
    for pid in descendants(root):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as stream:
                if marker in stream.read():
                    found.append(pid)
        except OSError:
            pass
    return found


@pytest.mark.slow
@pytest.mark.parametrize("engine", ENGINES)
def test_random_kills_of_single_workers(stats_bundle, files, tmp_path, engine):
    out, chance = tmp_path / "results.jsonl", random.Random(f"worker-{engine}")
    process = start("score", *files, "--model", stats_bundle, "-o", out, *ENGINES[engine])
    kills, deadline = 0, time.monotonic() + 240
    while process.poll() is None and time.monotonic() < deadline and kills < 3:
        time.sleep(chance.uniform(0.5, 3.0))
        workers = _workers(process.pid, engine)
        if workers:
            os.kill(chance.choice(workers), signal.SIGKILL)
            kills += 1
    status = process.wait(timeout=max(1, deadline - time.monotonic()))
    errors = process.stderr.read()
    assert status in (0, 1) and b"Traceback" not in errors, errors.decode(errors="replace")
    assert kills, "no worker was killed: the run ended too soon"
    rows = jsonl_rows(out)
    assert [r["path"] for r in rows] == list(map(str, files)), errors.decode(errors="replace")
    lost = [r for r in rows if "call-" in r["path"] and r["status"] == "error"]
    assert all(r["error_type"] == "WorkerDiedError" for r in lost)


def test_a_worker_killed_between_two_files_does_not_end_the_run(stats_bundle, files):
    """The race behind a lost run: a worker dies just after its file's row came back, and the pool
    is already broken when the next file is submitted. That submit raised BrokenProcessPool out of
    the run, which ended with rows missing; now the pool is replaced and every file gets its row."""
    from dialectid.scoring.batch import Job, _ProcessPool
    from dialectid.scoring.config import ScoringConfig

    job = Job(str(stats_bundle), ScoringConfig().model_dump_json(exclude_unset=True), "0" * 64)
    pool = _ProcessPool(job, 2)
    paths = [str(f) for f in files if "call-" in f.name][:8]
    rows = pool.rows(paths)
    found = [next(rows)]
    victim = next(iter(pool.pool._processes))  # a worker of the running pool
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while not pool.pool._broken and time.monotonic() < deadline:  # the executor notices the death
        time.sleep(0.05)
    for future in list(pool.pool._pending_work_items.values()):
        future.future.exception()  # let every file in flight fail with the pool, as in the race
    found += list(rows)
    assert [r.path for r in found] == paths
    assert all(r.error is None or r.error.error_type == "WorkerDiedError" for r in found)

"""The results file against other names for it, a full disk and a kill before the resume (issue #26,
items 7, 8 and 14), on `ResultsFile` directly: fast, and exact about the bytes on disk."""

from __future__ import annotations

import errno
import json
import os

import pytest

from dialectid.scoring.results import ResultsError, ResultsFile

LABELS = ["de", "en"]


def row(path: str, status: str = "ok", sha: str = "a" * 64) -> dict:
    return {"path": path, "status": status, "top_label": "en", "audio": {"sha256": sha, "duration_s": 4.0},
            "model": {"bundle_sha256": "b" * 64}, "probabilities": [{"label": "en", "probability": 0.9},
                                                                    {"label": "de", "probability": 0.1}]}  # fmt: skip


def current_rows(path) -> list[str]:
    """The paths of the rows a reader takes as current (every row not marked superseded)."""
    if path.suffix == ".csv":
        import csv

        with path.open(newline="") as stream:
            return [r["path"] for r in csv.DictReader(stream) if r["status"] != "superseded"]
    return [r["path"] for r in map(json.loads, path.read_text().splitlines()) if r["status"] != "superseded"]


# ---- item 7: one file, many names -------------------------------------------------------------------
@pytest.mark.parametrize("link", ["symlink", "hardlink"])
@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_a_second_run_through_another_name_of_the_file_is_refused(tmp_path, link, suffix):
    real = tmp_path / f"rows{suffix}"
    other = tmp_path / "elsewhere" / f"alias{suffix}"
    other.parent.mkdir()
    with ResultsFile(real, LABELS) as first:
        first.write(row("a.wav"))
        other.symlink_to(real) if link == "symlink" else os.link(real, other)
        with pytest.raises(ResultsError, match="another dialectid run"):
            ResultsFile(other, LABELS)
    with ResultsFile(other, LABELS) as second:  # once the first has finished, the other name may be used
        second.write(row("b.wav"))


def test_the_identity_lock_follows_the_file_through_compaction(tmp_path):
    real = tmp_path / "rows.jsonl"
    with ResultsFile(real, LABELS) as first:
        first.write(row("a.wav", "error"))
        first.write(row("a.wav"))
    real.write_text(real.read_text() + json.dumps(row("a.wav")) + "\n")  # an older row: the next run compacts
    with ResultsFile(real, LABELS):
        os.link(real, tmp_path / "alias.jsonl")
        with pytest.raises(ResultsError, match="another dialectid run"):
            ResultsFile(tmp_path / "alias.jsonl", LABELS)


# ---- item 8: a full disk -------------------------------------------------------------------------------
def enospc(*args):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_a_full_disk_while_writing_a_row_loses_nothing(tmp_path, monkeypatch, suffix):
    path = tmp_path / f"rows{suffix}"
    results = ResultsFile(path, LABELS)
    results.write(row("a.wav"))
    before = path.read_bytes()
    real_write = os.write

    def half_then_full(fd, data):  # the disk fills up in the middle of the row
        real_write(fd, bytes(data[: len(data) // 2]))
        enospc()

    monkeypatch.setattr(os, "write", half_then_full)
    with pytest.raises(ResultsError, match="No space left on device") as caught:
        results.write(row("b.wav"))
    monkeypatch.undo()
    assert "\n" not in caught.value.message
    assert path.read_bytes() == before  # the half row was taken back
    results.close()
    with ResultsFile(path, LABELS) as again:  # the next run starts, and goes on
        assert again.scored_sha256("a.wav", "b" * 64) == "a" * 64
        again.write(row("b.wav"))
    assert current_rows(path) == ["a.wav", "b.wav"]


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_a_full_disk_during_compaction_leaves_the_file_usable(tmp_path, monkeypatch, suffix):
    path = tmp_path / f"rows{suffix}"
    real_fsync = os.fsync

    def full_for_the_copy(fd):
        if os.readlink(f"/proc/self/fd/{fd}").endswith(".compacting"):
            enospc()
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", full_for_the_copy)
    with ResultsFile(path, LABELS) as results:
        results.write(row("a.wav", "error"))
        results.write(row("b.wav"))
        results.write(row("a.wav"))  # replaces the error row: the file needs compacting at the end
    assert [p.name for p in tmp_path.iterdir() if "compacting" in p.name] == []  # no hidden copy left behind
    assert current_rows(path) == ["b.wav", "a.wav"]
    for _ in range(2):  # later runs still start while the disk is full, and once it has room
        with ResultsFile(path, LABELS) as again:
            assert again.scored_sha256("a.wav", "b" * 64) == "a" * 64
        monkeypatch.undo()
    assert current_rows(path) == ["a.wav", "b.wav"]  # compacted once there was room, each path in its first place
    assert len(path.read_text().splitlines()) == 2 + (suffix == ".csv")


# ---- item 14: a replaced row while the run is still going (or killed) ---------------------------------
@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_a_replaced_row_is_marked_superseded_before_the_run_ends(tmp_path, suffix):
    path = tmp_path / f"rows{suffix}"
    results = ResultsFile(path, LABELS)
    results.write(row("a.wav", "error"))
    results.write(row("b.wav"))
    size = path.stat().st_size
    results.write(row("a.wav"))  # what a resumed run does for a path whose row was an error
    assert current_rows(path) == ["b.wav", "a.wav"]  # as a reader of a killed run's file sees it, unclosed
    assert path.stat().st_size > size
    os.close(results._locks[0]), os.close(results._locks[1])  # killed: never closed
    with ResultsFile(path, LABELS) as again:
        assert again.scored_sha256("a.wav", "b" * 64) == "a" * 64
    assert current_rows(path) == ["a.wav", "b.wav"]  # compacted: the order of the paths as first written


def test_a_run_killed_between_the_two_writes_is_marked_by_the_next(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in (row("a.wav", "error"), row("a.wav"))))
    real_fsync = os.fsync
    calls = []

    def no_compaction(fd):
        if os.readlink(f"/proc/self/fd/{fd}").endswith(".compacting"):
            calls.append(fd)
            enospc()
        real_fsync(fd)

    os.fsync = no_compaction
    try:
        with ResultsFile(path, LABELS):
            pass
    finally:
        os.fsync = real_fsync
    assert calls and current_rows(path) == ["a.wav"]

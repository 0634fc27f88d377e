"""The results file against other names for it, a full disk and a kill before the resume (issue #26,
items 7, 8 and 14), on `ResultsFile` directly: fast, and exact about the bytes on disk."""

from __future__ import annotations

import errno
import json
import os

import pytest

from dialectid.scoring.analysis import EXAMPLE, Analysis
from dialectid.scoring.results import ResultsError, ResultsFile, Row, RowError

LABELS = ["de", "en"]


def row(path: str, status: str = "ok", sha: str = "a" * 64) -> Row:
    if status == "error":
        return Row(path, RowError(f"{path}: no such file", "FileAccessError", "b" * 64))
    return Row(path, Analysis.from_dict({**EXAMPLE, "status": status, "audio": {**EXAMPLE["audio"], "sha256": sha},
                                         "model": {**EXAMPLE["model"], "bundle_sha256": "b" * 64}}))  # fmt: skip


def current_rows(path) -> list[str]:
    """The paths of the rows a reader takes as current (every row not marked superseded)."""
    if path.suffix == ".csv":
        import csv

        with path.open(newline="") as stream:
            return [r["path"] for r in csv.DictReader(stream) if r["status"] != "superseded"]
    return [r["path"] for r in map(json.loads, path.read_text().splitlines()) if r["status"] != "superseded"]


# ---- the bytes of a row -------------------------------------------------------------------------------
def test_rows_keep_their_bytes_on_disk(tmp_path):
    """Rows became typed (`Row`: an `Analysis` or a `RowError`, issue #27); the files they make did not
    change: a results file of an earlier run is read, resumed and compacted as before."""
    with ResultsFile(tmp_path / "rows.csv", ["en", "fr"]) as results:
        results.write(row("a.wav"))
        results.write(row("b,c.wav", "error"))
    assert (tmp_path / "rows.csv").read_bytes() == (
        b"path,registration_number,status,top_label,top_probability,speech_s,duration_s,sha256,bundle_sha256,"
        b"flags,error,p:en,p:fr,error_type\r\n"
        b"a.wav,DID-20261201-0A1B2C3D,ok,en,0.8,34.2,42.6," + b"a" * 64 + b"," + b"b" * 64 + b",telephone_band,,0.8,0.2,\r\n"
        b'"b,c.wav",,error,,,,,,' + b"b" * 64 + b',,"b,c.wav: no such file",,,FileAccessError\r\n'
    )  # fmt: skip
    with ResultsFile(tmp_path / "rows.jsonl", ["en", "fr"]) as results:
        results.write(row("a.wav"))
        results.write(row("b.wav", "error"))
    scored, failed = (tmp_path / "rows.jsonl").read_text().splitlines()
    assert scored.startswith('{"path": "a.wav", "registration_number": "DID-20261201-0A1B2C3D", "created_at": ')
    assert json.loads(scored) == {"path": "a.wav", **row("a.wav").analysis.to_dict()}
    assert failed == ('{"path": "b.wav", "status": "error", "error": "b.wav: no such file", "error_type": '
                      '"FileAccessError", "model": {"bundle_sha256": "' + "b" * 64 + '"}}')  # fmt: skip


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
    real.write_text(real.read_text() + json.dumps(row("a.wav").to_dict()) + "\n")  # an older row: the next run compacts
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
    path.write_text("".join(json.dumps(r.to_dict()) + "\n" for r in (row("a.wav", "error"), row("a.wav"))))
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

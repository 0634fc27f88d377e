"""Every class of bad or odd input through one batch run, and through `inspect`: no traceback, no
hang, exactly one row per path, each error one line naming its file, and a rerun that adds nothing."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from batchkit import csv_rows, dialectid, jsonl_rows
from inputs import make_inputs

SAMPLE = Path(__file__).resolve().parents[2] / "datasets" / "samples" / "telephone-en.wav"
MUST_FAIL = {"missing", "directory", "fifo", "dangling symlink", "symlink to a folder", "/dev/zero", "/dev/null",
             "zero bytes", "random bytes", "random bytes as mp3", "text", "json", "gzip", "png header",
             "RIFF but not WAVE", "truncated header", "no fmt chunk", "65535 channels", "zero channels", "rate 0",
             "rate 1 Hz", "rate 4 GHz", "NaN samples", "inf samples", "overflowing stereo"}  # fmt: skip
MUST_SCORE = {"fmt after 8 KiB LIST", "data size beyond the file", "data size placeholder", "garbage after data",
              "damaged mp3", "damaged flac", "flac named .wav", "no extension", "upper-case extension",
              "hidden file", "name not UTF-8", "CR in name", "newline and comma in name", "quotes in name",
              "markup and emoji codes in name", "255-byte name", "symlink to a recording",
              "hard link to a recording", "8 kHz mu-law", "48 kHz stereo", "six channels", "24-bit"}  # fmt: skip


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, Path]:
    return make_inputs(tmp_path_factory.mktemp("inputs"), SAMPLE)


def test_the_generator_covers_at_least_fifty_classes(inputs):
    assert len(inputs) >= 50 and set(inputs) >= MUST_FAIL | MUST_SCORE


def check_rows(rows: list[dict], inputs: dict[str, Path], typed: bool = True) -> None:
    """One row per path in input order; errors are one line naming the file (with its type where the
    format has the column: JSONL, `typed`); the classes behave."""
    paths = [os.fsencode(p) for p in inputs.values()]
    assert [os.fsencode(r["path"]) for r in rows] == paths
    by_class = dict(zip(inputs, rows, strict=True))
    for name, row in by_class.items():
        if row["status"] == "error":
            assert row["path"] in row["error"] and "\n" not in row["error"], (name, row)
            assert row["error_type"] if typed else "error_type" not in row, (name, row)
    assert {n for n in MUST_FAIL if by_class[n]["status"] != "error"} == set()
    assert {n for n in MUST_SCORE if by_class[n]["status"] in ("error", "rejected_audio")} == set()


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_one_batch_over_every_class(stats_bundle, inputs, tmp_path, suffix):
    out = tmp_path / f"results{suffix}"
    args = [*inputs.values(), SAMPLE, "--model", stats_bundle, "-o", out]
    first = dialectid("score", *args[:-2], *args[-2:], timeout=300)
    assert first.returncode == 1 and b"Traceback" not in first.stderr
    errors = [line for line in first.stderr.decode("utf-8", "replace").splitlines() if line.startswith("error:")]
    assert len(errors) >= len(MUST_FAIL)
    read = jsonl_rows if suffix == ".jsonl" else csv_rows  # CSV too: a name with a line end or comma is one row
    before = read(out)
    again = dialectid("score", *args, timeout=300)
    assert b"Traceback" not in again.stderr and b"already in the results (skipped)" in again.stderr
    rows = read(out)
    assert len(before) == len(rows) == len(inputs) + 1  # the rerun added nothing
    check_rows(rows[:-1], inputs)  # CSV has an error_type column too (#25)
    assert rows[-1]["path"] == str(SAMPLE) and rows[-1]["status"] == "ok"


def test_inspect_over_every_class(inputs):
    result = dialectid("inspect", *inputs.values(), "--json", timeout=300)
    assert result.returncode == 1 and b"Traceback" not in result.stderr
    rows = [json.loads(line) for line in result.stdout.decode("utf-8").splitlines()]
    assert len(rows) + result.stderr.count(b"error:") >= len(inputs) - 1  # missing paths may print only an error

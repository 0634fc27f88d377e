"""Batch scoring: schemas, error rows, resume after SIGKILL, engines that agree."""

import csv
import json
import os
import signal
import subprocess
import sys
import time

import pytest
from typer.testing import CliRunner

from corpora import random_bytes
from dialectid.cli import app
from dialectid.scoring.results import CSV_FIXED, CSV_LAST
from toy import concatenate

runner = CliRunner()
VOLATILE = ("registration_number", "created_at")


@pytest.fixture(scope="module")
def recordings(toy_corpus, tmp_path_factory):
    """Six recordings of unseen voices (two per language), one short clip, one broken file."""
    folder = tmp_path_factory.mktemp("batch")
    audio = toy_corpus["train"].parent / "audio"
    paths = []
    for language in ("en", "de", "es"):
        for voice in ("v3", "v4"):
            paths.append(
                concatenate(sorted((audio / language / voice).glob("*.wav")), folder / f"{language}-{voice}.wav")
            )
    paths.append(_excerpt(sorted((audio / "en" / "v4").glob("*.wav"))[0], 0.7, folder / "short.wav"))  # too short
    paths.append(random_bytes(folder / "broken.wav"))
    return paths


def _excerpt(source, seconds, target):
    import soundfile as sf

    audio, rate = sf.read(source, dtype="float32")
    sf.write(target, audio[: int(seconds * rate)], rate)
    return target


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def rows_of(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def stable(row):
    return {k: v for k, v in row.items() if k not in VOLATILE}


def test_jsonl_rows_in_input_order_with_error_rows(whisper_bundle, recordings, tmp_path):
    out = tmp_path / "results.jsonl"
    result = invoke("score", *recordings, tmp_path / "missing.wav", "--model", whisper_bundle, "-o", out)
    assert result.exit_code == 1, result.output
    rows = rows_of(out)
    assert [r["path"] for r in rows] == [str(p) for p in recordings] + [str(tmp_path / "missing.wav")]
    assert [r["status"] for r in rows[:6]] == ["ok"] * 6
    assert [r["top_label"] for r in rows[:6]] == ["en", "en", "de", "de", "es", "es"]
    assert rows[6]["status"] == "insufficient_speech"
    assert rows[7]["status"] == rows[8]["status"] == "error"
    assert "not a recognised audio format" in rows[7]["error"] and "no such file" in rows[8]["error"]
    assert {"schema_version", "probabilities", "timeline", "audio", "model"} <= set(rows[0])
    assert "files scored" in result.stderr and "statuses" in result.stderr


def test_csv_has_one_column_per_label(whisper_bundle, recordings, tmp_path):
    out = tmp_path / "results.csv"
    result = invoke("score", *recordings[:2], recordings[-1], "--model", whisper_bundle, "-o", out)
    assert result.exit_code == 1
    with out.open() as stream:
        rows = list(csv.DictReader(stream))
    assert list(rows[0]) == [*CSV_FIXED, "p:en", "p:de", "p:es", *CSV_LAST]
    assert rows[0]["status"] == "ok" and float(rows[0]["p:en"]) > 0.5
    assert abs(sum(float(rows[0][f"p:{x}"]) for x in ("en", "de", "es")) - 1) < 1e-4
    assert rows[2]["status"] == "error" and rows[2]["error"]


def test_rerun_skips_what_is_done_and_retries_errors(whisper_bundle, recordings, tmp_path):
    out = tmp_path / "results.jsonl"
    invoke("score", *recordings[:3], "--model", whisper_bundle, "-o", out)
    result = invoke("score", *recordings[:4], "--model", whisper_bundle, "-o", out)
    assert "already in the results (skipped)" in result.stderr
    rows = rows_of(out)
    assert [r["path"] for r in rows] == [str(p) for p in recordings[:4]]


def test_single_file_table_and_reports(whisper_bundle, recordings, tmp_path):
    result = invoke("score", recordings[0], "--model", whisper_bundle, "--reports", tmp_path / "reports")
    assert result.exit_code == 0, result.output
    for text in ("status: ok", "en ", "%", "families:", "95 % interval", "not evidence"):
        assert text in result.stdout
    (report,) = (tmp_path / "reports").iterdir()
    saved = json.loads(report.read_text())
    assert report.name == f"{saved['registration_number']}.json" and "path" not in saved


def test_folders_need_recursive(whisper_bundle, recordings, tmp_path):
    result = invoke("score", recordings[0].parent, "--model", whisper_bundle, "-o", tmp_path / "r.jsonl")
    assert result.exit_code == 1 and "add --recursive" in result.stderr
    result = invoke("score", recordings[0].parent, "-r", "--model", whisper_bundle, "-o", tmp_path / "r2.jsonl")
    assert len(rows_of(tmp_path / "r2.jsonl")) == 8  # seven recordings and the broken file


def test_bad_options_are_one_line_errors(whisper_bundle, recordings, tmp_path):
    for args, match in (
        (["--engine", "spark"], "--engine must be local or ray"),
        (["-o", tmp_path / "out.txt"], "results go to a .jsonl or .csv file"),
        (["--model", tmp_path], "checksums.sha256 is missing"),
    ):
        result = invoke("score", recordings[0], *(["--model", whisper_bundle] if "--model" not in args else []), *args)
        assert result.exit_code == 2 and match in result.stderr, result.output


def test_two_workers_and_ray_agree_with_one(whisper_bundle, recordings, tmp_path):
    outputs = {}
    for name, extra in {"one": [], "two": ["--workers", "2"], "ray": ["--engine", "ray", "--workers", "2"]}.items():
        out = tmp_path / f"{name}.jsonl"
        invoke("score", *recordings, "--model", whisper_bundle, "-o", out, *extra)
        outputs[name] = [stable(r) for r in rows_of(out)]
    assert len(outputs["one"]) == len(recordings)
    assert outputs["two"] == outputs["one"]
    assert outputs["ray"] == outputs["one"]


def test_sigkill_loses_nothing_and_duplicates_nothing(whisper_bundle, recordings, tmp_path):
    inputs = recordings[:6] * 1
    copies = []
    for i in range(3):  # 18 distinct files: enough to be killed in the middle
        for path in inputs:
            copy = tmp_path / "in" / f"{i}-{path.name}"
            copy.parent.mkdir(exist_ok=True)
            copy.write_bytes(path.read_bytes() + bytes(i))  # distinct sha256 per copy
            copies.append(copy)
    out = tmp_path / "results.jsonl"
    command = [
        sys.executable,
        "-m",
        "dialectid",
        "score",
        *map(str, copies),
        "--model",
        str(whisper_bundle),
        "-o",
        str(out),
    ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=os.environ.copy())
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and (not out.exists() or out.read_text().count("\n") < 4):
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    written = out.read_text().count("\n")
    assert 4 <= written < len(copies), "the run was not killed in the middle"
    subprocess.run(command, check=False, capture_output=True, timeout=300, env=os.environ.copy())
    rows = rows_of(out)  # every line is whole JSON
    assert sorted(r["path"] for r in rows) == sorted(map(str, copies))
    assert all(r["status"] == "ok" for r in rows)


@pytest.mark.parametrize("template", ["FIXED", "DID-{date}-{time}", "DID-{sha8}"])
def test_reports_refuse_a_registration_template_that_can_repeat(template, tmp_path):
    """Each report is named by its registration number: a template without {random} gives two analyses
    (of one recording, or in one second) the same number, and the second report would replace the first."""
    files = [random_bytes(tmp_path / f"{n}.wav") for n in range(2)]
    result = invoke("score", *files, "--reports", tmp_path / "reports", "--set", f"registration={template}")
    assert result.exit_code == 2, result.output
    assert "{random}" in result.stderr and template in result.stderr and result.stderr.count("\n") == 1
    assert not (tmp_path / "reports").exists()
    result = invoke("score", *files, "--set", f"registration={template}", "-o", tmp_path / "rows.jsonl")
    assert result.exit_code == 1 and "{random}" not in result.stderr  # without --reports nothing is overwritten

"""`dialectid score` as an operator meets it (#25 operator items): help, README, CSV columns, resume
signposting, pipes and two-channel recordings."""

import csv
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from corpora import random_bytes
from dialectid.cli import app
from toy import concatenate

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()
# CSV_FIXED before `error_type` was added: existing columns keep their places
OLD_FIXED = ("path", "registration_number", "status", "top_label", "top_probability", "speech_s", "duration_s",
             "sha256", "bundle_sha256", "flags", "error")  # fmt: skip


def invoke(*args, **kwargs):
    return runner.invoke(app, [str(a) for a in args], **kwargs)


def dialectid(*args, timeout: float = 180, **kwargs) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "dialectid", *map(str, args)]
    return subprocess.run(command, capture_output=True, timeout=timeout, env=os.environ.copy(), **kwargs)


@pytest.fixture(scope="module")
def voices(toy_corpus, tmp_path_factory):
    """Four recordings of unseen voices, a few seconds each."""
    folder = tmp_path_factory.mktemp("voices")
    audio = toy_corpus["train"].parent / "audio"
    sources = [sorted((audio / lang / voice).glob("*.wav")) for lang in ("en", "de") for voice in ("v3", "v4")]
    return [concatenate(source[:3], folder / f"voice{i}.wav") for i, source in enumerate(sources)]


# ---- item 4: help, README, CSV ------------------------------------------------------------------
def test_help_names_the_default_model():
    """The help said "Model bundle ." : Rich took "[models/lid-accurate]" for markup and dropped it."""
    result = invoke("score", "--help", env={"COLUMNS": "200"})
    assert result.exit_code == 0
    line = next(line for line in result.stdout.splitlines() if "--model" in line and "-m" in line)
    assert "models/lid-accurate" in line and "DIALECTID_MODEL" in line, line


def test_the_default_model_is_found_where_the_readme_says(tmp_path, monkeypatch):
    """DIALECTID_MODEL, else DIALECTID_HOME/models/lid-accurate, else the checkout's models/ (#27: the
    checkout's was the only place, found by counting folders up from the source file)."""
    from dialectid.scoring import NoModelError, default_model_path

    monkeypatch.delenv("DIALECTID_MODEL", raising=False)
    monkeypatch.setenv("DIALECTID_HOME", str(tmp_path / "home"))
    assert default_model_path() == ROOT / "models" / "lid-accurate"  # `dialectid score FILE` in the checkout
    installed = tmp_path / "home" / "models" / "lid-accurate"
    installed.mkdir(parents=True)
    assert default_model_path() == installed
    monkeypatch.setenv("DIALECTID_MODEL", str(tmp_path / "elsewhere"))
    with pytest.raises(NoModelError, match=f"no default model at {tmp_path / 'elsewhere'} .DIALECTID_MODEL."):
        default_model_path()  # a model asked for by name is never replaced by another


def test_an_installed_toolkit_without_a_model_says_where_it_looked(tmp_path, monkeypatch):
    import dialectid.paths as paths

    site = tmp_path / "lib" / "python3" / "site-packages" / "dialectid" / "paths.py"
    monkeypatch.setattr(paths, "__file__", str(site))  # as installed from a wheel: no checkout around it
    monkeypatch.delenv("DIALECTID_MODEL", raising=False)
    monkeypatch.setenv("DIALECTID_HOME", str(tmp_path / "home"))
    result = invoke("score", ROOT / "datasets" / "samples" / "telephone-en.wav")
    assert result.exit_code == 2
    expected = tmp_path / "home" / "models" / "lid-accurate"
    assert result.stderr == (f"error: no default model: no lid-accurate bundle in {expected}; pass a model bundle "
                             f"(--model), set DIALECTID_MODEL, or copy one to {expected}\n")  # fmt: skip


def test_every_option_the_readme_gives_score_exists():
    """The README's scoring section named `--json`, which `score` did not have."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## Scoring recordings", 1)[1].split("\n## ", 1)[0]
    named = set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", section)) - {"--rebuild"}  # `demo --rebuild`, quoted there
    result = invoke("score", "--help", env={"COLUMNS": "200"})
    missing = sorted(option for option in named if option not in result.stdout)
    assert not missing, f"the README names {missing}, which `dialectid score --help` does not list"


def test_csv_has_error_type_last(stats_bundle, voices, tmp_path):
    out = tmp_path / "results.csv"
    broken = random_bytes(tmp_path / "broken.wav")
    result = invoke("score", voices[0], broken, "--model", stats_bundle, "-o", out)
    assert result.exit_code == 1, result.output
    with out.open(newline="") as stream:
        header, *rows = list(csv.reader(stream))
    assert tuple(header[: len(OLD_FIXED)]) == OLD_FIXED  # the old columns, in their old places
    assert header[-1] == "error_type" and all(c.startswith("p:") for c in header[len(OLD_FIXED) : -1])
    by_path = {row[0]: dict(zip(header, row, strict=True)) for row in rows}
    assert by_path[str(broken)]["error_type"] == "UnknownFormatError"
    assert by_path[str(voices[0])]["error_type"] == ""


# ---- item 3: resume signposting ----------------------------------------------------------------
def copies(sources, folder: Path, count: int) -> list[Path]:
    """`count` distinct files (distinct sha256) made from `sources`."""
    folder.mkdir(parents=True, exist_ok=True)
    made = []
    for i in range(count):
        source = sources[i % len(sources)]
        made.append(folder / f"{i:03d}-{source.name}")
        made[-1].write_bytes(source.read_bytes() + bytes(i // len(sources)))
    return made


@pytest.mark.parametrize("number", [signal.SIGINT, signal.SIGTERM])
def test_interrupt_says_how_many_rows_are_saved_and_how_to_go_on(number, stats_bundle, voices, tmp_path):
    files = copies(voices, tmp_path / "in", 40)
    out, summary = tmp_path / "results.jsonl", tmp_path / "summary.json"
    command = [sys.executable, "-m", "dialectid", "score", *map(str, files), "--model", str(stats_bundle), "-o",
               str(out), "--summary-json", str(summary)]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=os.environ.copy())
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and (not out.exists() or out.read_text().count("\n") < 3):
        time.sleep(0.02)
    process.send_signal(number)
    _, stderr = process.communicate(timeout=60)
    stderr = stderr.decode()
    saved = out.read_text().count("\n")
    # 3 rows were seen; a signal that lands between a row's write and its bookkeeping leaves that row
    # out of the summary, and closing the file then drops it too (file and summary agree): 2 at least
    assert 2 <= saved < len(files), f"the run was not interrupted in the middle: {saved} rows, {stderr}"
    assert process.returncode == 128 + number, stderr
    assert f"{saved} of {len(files)} rows saved in {out}; run the same command to go on" in stderr, stderr
    assert "Traceback" not in stderr
    counts = json.loads(summary.read_text())
    assert counts["interrupted"] is True and counts["scored"] == saved and counts["not_reached"] == len(files) - saved

    again = dialectid(*command[3:], timeout=300)  # the same command goes on where it stopped
    assert again.returncode == 0, again.stderr
    counts = json.loads(summary.read_text())
    assert (counts["skipped"], counts["scored"], counts["failed"]) == (saved, len(files) - saved, 0)
    assert counts["interrupted"] is False and counts["not_reached"] == 0
    assert sorted(json.loads(line)["path"] for line in out.read_text().splitlines()) == sorted(map(str, files))


def test_summary_separates_scored_skipped_and_failed(stats_bundle, voices, tmp_path):
    out, summary = tmp_path / "results.jsonl", tmp_path / "summary.json"
    broken = random_bytes(tmp_path / "broken.wav")
    args = ("score", *voices[:2], broken, "--model", stats_bundle, "-o", out, "--summary-json", summary)
    assert invoke(*args).exit_code == 1
    counts = json.loads(summary.read_text())
    assert (counts["total"], counts["scored"], counts["skipped"], counts["failed"]) == (3, 2, 0, 1)
    assert counts["failures"][0]["path"] == str(broken) and counts["failures"][0]["error_type"] == "UnknownFormatError"
    result = invoke(*args)
    counts = json.loads(summary.read_text())
    assert (counts["scored"], counts["skipped"], counts["failed"]) == (0, 2, 1)  # an error row is tried again
    lines = {line.split("│")[1].strip(): line.split("│")[2].strip() for line in result.stderr.splitlines()
             if line.count("│") == 3}  # fmt: skip
    assert lines["files scored"] == "0" and lines["already in the results (skipped)"] == "2"
    assert lines["failed (error rows)"] == "1"


def test_the_progress_counts_skipped_files(stats_bundle, voices, tmp_path):
    """The bar advanced only for scored files, so a resumed run's bar never reached its end."""
    from dialectid.models.bundle import load_model
    from dialectid.scoring import ScoringConfig
    from dialectid.scoring.batch import expand, run_batch
    from dialectid.scoring.results import ResultsFile

    bundle = load_model(stats_bundle)
    items = expand(voices, False)
    out = tmp_path / "results.jsonl"
    with ResultsFile(out, bundle.labels) as results:
        run_batch(items[:2], bundle, ScoringConfig(), results)
    events = []
    with ResultsFile(out, bundle.labels) as results:
        run_batch(items, bundle, ScoringConfig(), results, on_row=lambda row: events.append(("row", row.path)),
                  on_skip=lambda path: events.append(("skip", path)))  # fmt: skip
    assert events == [("skip", str(voices[0])), ("skip", str(voices[1])), *(("row", str(v)) for v in voices[2:])]


def test_one_worker_loads_and_verifies_the_bundle_once(stats_bundle, voices, tmp_path, monkeypatch):
    """With --workers 1 the command loaded and verified the bundle, then its one worker did it again
    (#27); worker processes still load their own copy."""
    import dialectid.models.bundle as bundles

    loaded, load = [], bundles.load_model
    monkeypatch.setattr(bundles, "load_model", lambda path: loaded.append(Path(path)) or load(path))
    result = invoke("score", *voices[:2], "--model", stats_bundle, "-o", tmp_path / "rows.jsonl")
    assert result.exit_code == 0, result.output
    assert loaded == [stats_bundle]
    assert len((tmp_path / "rows.jsonl").read_text().splitlines()) == 2


# ---- item 2: pipes -----------------------------------------------------------------------------
def test_paths_from_stdin_and_jsonl_to_stdout(stats_bundle, voices, tmp_path):
    broken = random_bytes(tmp_path / "broken.wav")
    listed = "".join(f"{p}\n" for p in [voices[1], broken, voices[0]]) + "\n"
    result = dialectid("score", "-", "--model", stats_bundle, "-o", "-", input=listed.encode())
    assert result.returncode == 1, result.stderr  # one file failed
    rows = [json.loads(line) for line in result.stdout.decode().splitlines()]  # nothing but JSON lines
    assert [r["path"] for r in rows] == [str(voices[1]), str(broken), str(voices[0])]
    assert [r["status"] == "error" for r in rows] == [False, True, False]
    assert "files scored" in result.stderr.decode() and "error:" in result.stderr.decode()


def test_one_file_to_stdout_is_one_json_line(stats_bundle, voices):
    result = dialectid("score", voices[0], "--model", stats_bundle, "-o", "-")
    assert result.returncode == 0, result.stderr
    (line,) = result.stdout.decode().splitlines()
    assert json.loads(line)["path"] == str(voices[0]) and json.loads(line)["probabilities"]


# ---- item 1: two-channel recordings ------------------------------------------------------------
@pytest.fixture(scope="module")
def two_voices(tmp_path_factory):
    """English on the left channel, Turkish (another espeak-ng voice) on the right, both at once;
    the left channel alone as a mono file; and English on both channels (one voice, two microphones)."""
    import numpy as np
    import soundfile as sf

    from audiofactory import espeak

    folder = tmp_path_factory.mktemp("channels")
    english, rate = sf.read(
        espeak(
            "The weather is fine today, so we walk to the market to buy bread, fish and "
            "apples, and then we go home again.",
            folder / "en.wav",
            "en",
        ),
        dtype="float32",
    )
    turkish, _ = sf.read(espeak("Bugün hava çok güzel, pazara gidip ekmek, balık ve elma alacağız, sonra eve "
                                "döneceğiz.", folder / "tr.wav", "tr"), dtype="float32")  # fmt: skip
    n = max(len(english), len(turkish))
    english, turkish = np.pad(english, (0, n - len(english))), np.pad(turkish, (0, n - len(turkish)))
    noise = np.random.default_rng(0).normal(0, 0.003, (n, 2)).astype(np.float32)
    files = {"call": np.stack([english, turkish], axis=1), "left": english,
             "same": np.stack([english, 0.6 * np.roll(english, 16)], axis=1) + noise}  # fmt: skip
    for name, samples in files.items():
        sf.write(folder / f"{name}.wav", samples, rate, subtype="PCM_16")
    return {name: folder / f"{name}.wav" for name in files}


def _rows(stats_bundle, tmp_path, *args):
    out = tmp_path / f"rows{len(list(tmp_path.glob('rows*')))}.jsonl"
    result = invoke("score", *args, "--model", stats_bundle, "-o", out)
    assert "Traceback" not in result.output
    return result, [json.loads(line) for line in out.read_text().splitlines()]


def test_channel_agreement_separates_two_voices_from_one(two_voices):
    from dialectid.audio import load_recording

    agreement = {name: load_recording(two_voices[name]).stats.channel_agreement for name in two_voices}
    assert agreement["left"] is None  # one channel: nothing to compare
    assert agreement["same"] > 0.9 and agreement["call"] < 0.3, agreement


def test_two_languages_on_two_channels_are_not_a_confident_answer(stats_bundle, two_voices, tmp_path):
    """Mixed by default, English on one channel and Turkish on the other gave "ok" with no warning."""
    _, (call, same) = _rows(stats_bundle, tmp_path, two_voices["call"], two_voices["same"])
    assert "channels_differ" in call["quality"]["flags"], call["quality"]
    assert call["status"] in ("low_confidence", "out_of_set"), call["status"]  # never "ok"
    assert any("--channel" in reason for reason in call["quality"]["reasons"])
    assert "channels_differ" not in same["quality"]["flags"]  # one voice on two microphones is not flagged


def test_channel_option_scores_one_channel(stats_bundle, two_voices, tmp_path):
    _, (left,) = _rows(stats_bundle, tmp_path, two_voices["call"], "--channel", "left")
    _, (zero,) = _rows(stats_bundle, tmp_path, two_voices["call"], "--channel", "0")
    _, (mono,) = _rows(stats_bundle, tmp_path, two_voices["left"])
    assert "channels_differ" not in left["quality"]["flags"]
    assert left["probabilities"] == zero["probabilities"] == mono["probabilities"]  # exactly the left channel
    _, (right,) = _rows(stats_bundle, tmp_path, two_voices["call"], "--channel", "right")
    assert right["probabilities"] != left["probabilities"]


def test_a_channel_the_recording_lacks_is_an_error_row(stats_bundle, two_voices, tmp_path):
    result, (row, other) = _rows(stats_bundle, tmp_path, two_voices["left"], two_voices["call"], "--channel", "right")
    assert result.exit_code == 1
    assert row["status"] == "error" and row["error_type"] == "ChannelError" and "no channel right" in row["error"]
    assert other["status"] != "error"  # the run goes on
    result = invoke("score", two_voices["call"], "--channel", "middle", "--model", stats_bundle)
    assert result.exit_code == 2 and result.stderr.count("\n") == 1 and "--channel must be" in result.stderr


def test_channels_differ_turns_what_would_be_ok_into_low_confidence(stats_bundle, two_voices, tmp_path):
    """With the open-set and confidence rules set so that any answer is "ok", only the channel check
    can make the mixed call low_confidence; one channel alone stays ok."""
    lenient = ("--set", "decision.open_set_margin=100", "--set", "decision.low_confidence=0.001")
    _, (mixed,) = _rows(stats_bundle, tmp_path, two_voices["call"], *lenient)
    _, (left,) = _rows(stats_bundle, tmp_path, two_voices["call"], "--channel", "left", *lenient)
    assert (mixed["status"], left["status"]) == ("low_confidence", "ok"), (mixed["status"], left["status"])

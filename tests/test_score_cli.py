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

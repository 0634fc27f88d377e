"""Scoring with a shipped bundle never imports PyTorch (torch stays for training only), nor
faster-whisper's package (its tokenizer, hub client) nor, for a WAV file, PyAV."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHECK = """
import sys
from dialectid.cli import app
try:
    app(["score", sys.argv[1], "--model", sys.argv[2]], standalone_mode=False)
finally:
    heavy = ("torch", "torchaudio", "speechbrain", "sklearn", "faster_whisper", "tokenizers", "av")
    print("IMPORTED", sorted(m for m in heavy if m in sys.modules))
"""


@pytest.mark.parametrize("model", ["lid-fast", "lid-accurate"])
def test_scoring_a_shipped_bundle_never_imports_torch(model):
    sample = ROOT / "datasets" / "samples" / "telephone-en.wav"
    result = subprocess.run([sys.executable, "-c", CHECK, str(sample), str(ROOT / "models" / model)],
                            capture_output=True, text=True, timeout=120)  # fmt: skip
    assert "IMPORTED []" in result.stdout, result.stdout + result.stderr
    assert "status: ok" in result.stdout


def test_scoring_a_network_bundle_never_imports_torch(network_bundle):
    """x-vector and ECAPA bundles are trained with torch and scored from their ONNX graph, with
    filterbanks from kaldi-native-fbank."""
    sample = ROOT / "datasets" / "samples" / "telephone-en.wav"
    result = subprocess.run([sys.executable, "-c", CHECK, str(sample), str(network_bundle)],
                            capture_output=True, text=True, timeout=120)  # fmt: skip
    assert "IMPORTED []" in result.stdout, result.stdout + result.stderr
    assert "status: " in result.stdout, result.stdout + result.stderr


def test_a_model_never_runs_more_threads_than_its_cpus_or_its_share(monkeypatch):
    """Two encoder threads on one pinned core were 7 % slower than one, with the same numbers; batch
    workers each get their share of the CPUs through DIALECTID_THREADS."""
    import os

    from dialectid.models.base import THREADS_ENV, compute_threads

    monkeypatch.delenv(THREADS_ENV, raising=False)
    assert compute_threads(64) == len(os.sched_getaffinity(0))
    assert compute_threads(1) == 1
    monkeypatch.setenv(THREADS_ENV, "1")
    assert compute_threads(2) == 1
    monkeypatch.setenv(THREADS_ENV, "many")  # not a number: ignored
    assert compute_threads(64) == len(os.sched_getaffinity(0))

"""Shared fixtures: every recording the tests use is made here, nothing is downloaded."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from audiofactory import ALL_FORMATS, espeak, speechlike, write
from corpora import SHARED_CORPORA

FORMAT_SECONDS = 3.0


def pytest_collection_modifyitems(config, items):
    """`@pytest.mark.needs_shared("voxlingua107_dev")`: skip, saying why, where that corpus is not beside
    the checkout (a clone alone has none). With DIALECTID_TEST_REQUIRE_SHARED=1 (`.ci/run`, where the
    corpora are there) a missing corpus stops the run instead, so CI cannot skip these unnoticed."""
    for item in items:
        for mark in item.iter_markers("needs_shared"):
            if not mark.args:
                raise pytest.UsageError(f"{item.nodeid}: needs_shared names no corpus, so it could never skip")
            for corpus in mark.args:
                if (SHARED_CORPORA / corpus).is_dir():
                    continue
                reason = f"needs ../shared/corpora/{corpus} beside the checkout: {SHARED_CORPORA / corpus} is absent"
                if os.environ.get("DIALECTID_TEST_REQUIRE_SHARED") == "1":
                    raise pytest.UsageError(f"{item.nodeid} {reason}, and DIALECTID_TEST_REQUIRE_SHARED=1")
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(autouse=True)
def _private_home(tmp_path_factory, monkeypatch):
    """Each test session keeps its feature cache and encoders away from the user's home."""
    monkeypatch.setenv("DIALECTID_HOME", str(_session_home(tmp_path_factory)))


_HOME: list[Path] = []


def _session_home(factory) -> Path:
    if not _HOME:
        _HOME.append(factory.mktemp("home"))
    return _HOME[0]


@pytest.fixture(scope="session")
def toy_corpus(tmp_path_factory) -> dict[str, Path]:
    from toy import make_toy_corpus

    return make_toy_corpus(tmp_path_factory.mktemp("toy"))


@pytest.fixture(scope="session")
def format_files(tmp_path_factory) -> dict[str, tuple[Path, np.ndarray, int]]:
    """name -> (file, the signal that was encoded, its rate), one file per supported format."""
    folder = tmp_path_factory.mktemp("formats")
    files = {}
    for name in ALL_FORMATS:
        rate = 8000 if name == "gsm_raw" else 16000
        signal = speechlike(FORMAT_SECONDS, rate, seed=1)
        files[name] = (write(folder / f"sample.{name}", signal, rate, name), signal, rate)
    return files


@pytest.fixture(scope="session")
def speech_clips(tmp_path_factory) -> list[np.ndarray]:
    """Two espeak-ng utterances at 16 kHz, trimmed to where the voice is audible."""
    folder = tmp_path_factory.mktemp("espeak")
    texts = [
        "Good morning. Please describe the picture in front of you, in your own words.",
        "There is a market square with people selling fruit and bread.",
    ]
    clips = []
    for i, text in enumerate(texts):
        audio, rate = sf.read(espeak(text, folder / f"clip{i}.wav"), dtype="float32")
        clips.append(trim(resample_to_16k(audio, rate)))
    return clips


def resample_to_16k(audio: np.ndarray, rate: int) -> np.ndarray:
    import soxr

    return soxr.resample(audio, rate, 16000).astype(np.float32)


def trim(audio: np.ndarray, level_db: float = -40.0) -> np.ndarray:
    loud = np.nonzero(np.abs(audio) > 10 ** (level_db / 20))[0]
    return audio[loud[0] : loud[-1] + 1]


def islands(clips: list[np.ndarray], gaps_s: list[float], rate: int = 16000, noise_db: float = -65.0):
    """Clips separated by gaps of faint noise: (signal, [(start_s, end_s) of each clip])."""
    rng = np.random.default_rng(3)
    parts, spans, t = [], [], 0.0
    for gap, clip in zip(gaps_s, [*clips, None], strict=True):
        parts.append(np.zeros(int(gap * rate), dtype=np.float32))
        t += gap
        if clip is not None:
            parts.append(clip)
            spans.append((t, t + len(clip) / rate))
            t += len(clip) / rate
    signal = np.concatenate(parts)
    signal += rng.normal(0, 10 ** (noise_db / 20), len(signal)).astype(np.float32)
    return signal, spans


@pytest.fixture(scope="session")
def whisper_bundle(toy_corpus, tmp_path_factory):
    """Whisper-base back-end trained on the toy corpus (all three languages)."""
    return _train_toy(toy_corpus, tmp_path_factory.mktemp("whisper"), "whisper-backend")


@pytest.fixture(scope="session")
def english_german_bundle(toy_corpus, tmp_path_factory):
    """The same without Spanish: Spanish speech is then from an unknown class."""
    from toy import TREE, without_label

    folder = tmp_path_factory.mktemp("ende")
    manifests = without_label(toy_corpus, "es", folder / "data")
    tree = {"germanic": TREE["germanic"]}
    return _train_toy(manifests, folder, "whisper-backend", taxonomy={"tree": tree})


@pytest.fixture(scope="session")
def english_german_fusion(toy_corpus, tmp_path_factory):
    """Whisper fusion on English and German only, calibrated on the test voices (unseen in training)."""
    from toy import TREE, without_label

    folder = tmp_path_factory.mktemp("ende-fusion")
    manifests = without_label(toy_corpus, "es", folder / "data")
    manifests["calibration"] = manifests.pop("test")
    tree = {"germanic": TREE["germanic"]}
    return _train_toy(manifests, folder, "whisper-fusion", taxonomy={"tree": tree},
                      calibration={"method": "temperature"})  # fmt: skip


@pytest.fixture(scope="session")
def stats_bundle(toy_corpus, tmp_path_factory):
    """A classical model (MFCC-SDC statistics, logistic regression) on the toy corpus, trained in
    seconds: for tests that need a real bundle to analyse with, not a good one (the web view's)."""
    features = {"kind": "mfcc_sdc", "n_mels": 24, "n_ceps": 7}
    return _train_toy(toy_corpus, tmp_path_factory.mktemp("stats"), "stats-logreg", features=features)


@pytest.fixture(scope="session")
def network_bundle(toy_corpus, tmp_path_factory):
    """A small ECAPA-TDNN on the toy corpus: trained with torch, scored from its ONNX graph."""
    model = {"name": "ecapa", "args": {"channels": 32, "embedding": 32}}
    return _train_toy(toy_corpus, tmp_path_factory.mktemp("net"), "ecapa", model=model)


def _train_toy(manifests, folder, family, **sections):
    from dialectid.config import load_config
    from dialectid.train.config import TrainConfig
    from dialectid.train.trainer import train
    from toy import write_config

    path = write_config(folder / "config.yaml", manifests, family, folder / "runs", **sections)
    return train(load_config(path, TrainConfig)).bundle


@pytest.fixture(scope="session")
def demo_home(tmp_path_factory) -> tuple[Path, dict[str, str], str]:
    """`dialectid demo --no-serve` run once, as a new user would: (its folder, the printed log-ins,
    its standard error)."""
    import os
    import subprocess
    import sys

    folder = tmp_path_factory.mktemp("demo") / "demo-home"
    result = subprocess.run([sys.executable, "-m", "dialectid", "demo", "--no-serve", "--home", str(folder)],
                            capture_output=True, text=True, timeout=600, env=os.environ.copy())  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = result.stdout.split("log-ins (shown once; --rebuild makes new ones):")[1].splitlines()[1:]
    logins = dict(line.split() for line in lines if line.startswith("  "))
    return folder, logins, result.stderr

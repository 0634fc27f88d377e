"""Checks that the native pieces of an installation load and compute: decoders, Kaldi features,
ONNX Runtime with Silero VAD, CTranslate2 with the pinned Whisper encoder, and torch for training.

A package index can serve a build that installs cleanly but does not load (a torchaudio built
against another torch did exactly that), so the install script runs these checks and stops on
the first one that fails, with one line naming the piece and what to do.

>>> [check.name for check in CHECKS]
['decoders', 'features', 'vad', 'whisper', 'torch']
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dialectid.errors import DialectidError
from dialectid.extras import MissingExtraError, require_extra

_RATE = 16000


class InstallError(DialectidError):
    """A native piece of the installation does not load or computes nonsense."""


@dataclass(frozen=True)
class Check:
    name: str
    what: str
    run: Callable[[Path], str]


def _signal(seconds: float = 2.0, rate: int = _RATE) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    voiced = sum(np.sin(2 * np.pi * 140 * k * t) / k for k in range(1, 20))
    return (0.2 * voiced * (0.5 + 0.5 * np.sin(2 * np.pi * 4 * t)) ** 2).astype(np.float32)


def _decoders(folder: Path) -> str:
    import av
    import soundfile as sf

    from dialectid.audio import load_recording

    sf.write(folder / "check.flac", _signal(), _RATE)
    with av.open(str(folder / "check.m4a"), "w", format="ipod") as container:
        stream = container.add_stream("aac", rate=_RATE, layout="mono")
        frame = av.AudioFrame.from_ndarray(_signal()[None], format="fltp", layout="mono")
        frame.sample_rate = _RATE
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            container.mux(packet)
    durations = [load_recording(folder / name).facts.duration_s for name in ("check.flac", "check.m4a")]
    if not all(1.9 < d < 2.2 for d in durations):
        raise InstallError(f"decoded durations {durations} instead of 2 s")
    return f"libsndfile {sf.__libsndfile_version__}, FFmpeg through PyAV {av.__version__}"


def _features(folder: Path) -> str:
    import kaldi_native_fbank

    from dialectid.features import FeatureConfig
    from dialectid.features.extract import extract

    for kind in ("fbank", "mfcc_sdc"):
        frames = extract(_signal(), FeatureConfig(kind=kind))
        if frames.shape[0] != 198 or not np.isfinite(frames).all():
            raise InstallError(f"{kind} features came out as {frames.shape}, not 198 finite frames")
    return f"kaldi-native-fbank {kaldi_native_fbank.__version__}"


def _vad(folder: Path) -> str:
    import onnxruntime
    import soundfile as sf

    from dialectid.audio import detect_speech, load_recording

    sf.write(folder / "vad.wav", np.concatenate([np.zeros(_RATE, np.float32), _signal()]), _RATE)
    speech = detect_speech(load_recording(folder / "vad.wav"))
    if not speech.segments or speech.segments[0].start < 0.8:  # 1 s of silence, then a voiced signal
        raise InstallError(f"Silero VAD found speech at {[(s.start, s.end) for s in speech.segments]}")
    return f"ONNX Runtime {onnxruntime.__version__}, Silero VAD verified"


def _whisper(folder: Path) -> str:
    import ctranslate2

    from dialectid.models.whisper import WHISPER_BASE_SHA256, load_encoder

    encoder = load_encoder(None)
    if encoder.sha256 != WHISPER_BASE_SHA256:
        raise InstallError(f"the Whisper encoder has sha256 {encoder.sha256[:12]}, not the pinned one")
    total = sum(encoder.language_probabilities(_signal()).values())
    if not 0.99 < total < 1.01:
        raise InstallError(f"Whisper's language probabilities sum to {total:.3f}")
    return f"CTranslate2 {ctranslate2.__version__}, Whisper base {WHISPER_BASE_SHA256[:12]}"


def _torch(folder: Path) -> str:
    try:
        require_extra("train", "training")
    except MissingExtraError as missing:  # an operator's install scores without torch
        return f"skipped, {missing.message}"
    import torch

    layer = torch.nn.Conv1d(4, 2, 3)
    if layer(torch.ones(1, 4, 10)).shape != (1, 2, 8):
        raise InstallError("a 1-d convolution gave the wrong shape")
    return f"torch {torch.__version__}"


CHECKS = (
    Check("decoders", "soundfile and PyAV decode FLAC and AAC", _decoders),
    Check("features", "Kaldi filterbanks and MFCC", _features),
    Check("vad", "ONNX Runtime runs Silero VAD", _vad),
    Check("whisper", "CTranslate2 runs the pinned Whisper encoder", _whisper),
    Check("torch", "torch trains the neural models", _torch),
)


def run_checks(report: Callable[[Check, str], None]) -> None:
    """Run every check in order; `report(check, versions)` after each one that passes. The first
    failure raises `InstallError` naming the check and the piece that failed."""
    with tempfile.TemporaryDirectory(prefix="dialectid-doctor-") as folder:
        for check in CHECKS:
            try:
                versions = check.run(Path(folder))
            except Exception as error:  # noqa: BLE001 - any failure of a native piece is the finding
                detail = str(error).splitlines()[0] if str(error) else type(error).__name__
                raise InstallError(
                    f"{check.name}: {check.what} failed ({type(error).__name__}: {detail}); "
                    "reinstall with scripts/install.sh, which installs the locked versions"
                ) from None
            report(check, versions)

"""Whisper's log-mel spectrogram in numpy: 80 Slaney mel bands of a 25 ms periodic Hann STFT every
10 ms at 16 kHz, log10, an 80 dB floor below the loudest value, scaled to about [-1, 1].

It is the computation faster-whisper's `FeatureExtractor` does (the same operations in the same
float32 order, so the same bits: tests/test_whisper_mel.py), without importing faster-whisper,
whose package brings the tokenizer, PyAV and the Hugging Face hub client (37 MB of every scoring
process, measured) for nothing the encoder needs.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

SAMPLE_RATE = 16000
N_FFT = 400  # 25 ms
HOP = 160  # 10 ms
N_MELS = 80
_LINEAR_STEP = 200.0 / 3  # Hz per mel below 1 kHz
_LOG_START_HZ = 1000.0
_LOG_STEP = np.log(6.4) / 27.0


@lru_cache(maxsize=1)
def mel_filters() -> np.ndarray:
    """(80, 201) Slaney mel filters: linear below 1 kHz, logarithmic above, equal area."""
    bins = np.fft.rfftfreq(n=N_FFT, d=1.0 / SAMPLE_RATE)
    mels = np.linspace(0.0, _to_mel(SAMPLE_RATE / 2), N_MELS + 2)
    edges = _to_hz(mels)
    ramps = edges.reshape(-1, 1) - bins.reshape(1, -1)
    widths = np.diff(edges)
    rising = -ramps[:-2] / widths[:-1, None]
    falling = ramps[2:] / widths[1:, None]
    weights = np.maximum(np.zeros_like(rising), np.minimum(rising, falling))
    weights *= (2.0 / (edges[2:] - edges[:-2]))[:, None]
    return weights.astype(np.float32)


def _to_mel(hz: float) -> float:
    start = _LOG_START_HZ / _LINEAR_STEP
    return start + float(np.log(hz / _LOG_START_HZ)) / _LOG_STEP if hz >= _LOG_START_HZ else hz / _LINEAR_STEP


def _to_hz(mels: np.ndarray) -> np.ndarray:
    start = _LOG_START_HZ / _LINEAR_STEP
    hz = _LINEAR_STEP * mels
    logarithmic = mels >= start
    hz[logarithmic] = _LOG_START_HZ * np.exp(_LOG_STEP * (mels[logarithmic] - start))
    return hz


def log_mel(signal: np.ndarray) -> np.ndarray:
    """(80, frames) log-mel spectrogram of a 16 kHz float signal, 160 zeros appended as Whisper does."""
    padded = np.pad(np.pad(np.asarray(signal, dtype=np.float32), (0, HOP)), N_FFT // 2, mode="reflect")
    count = 1 + (len(padded) - N_FFT) // HOP
    frames = np.lib.stride_tricks.as_strided(padded, (count, N_FFT), (HOP * padded.strides[0], padded.strides[0]))
    window = np.hanning(N_FFT + 1)[:-1].astype(np.float32)
    spectrum = np.fft.rfft(frames * window, n=N_FFT, axis=-1).T.astype(np.complex64)
    power = np.abs(spectrum[:, :-1]) ** 2
    logs = np.log10(np.clip(mel_filters() @ power, a_min=1e-10, a_max=None))
    logs = np.maximum(logs, logs.max() - 8.0)
    return (logs + 4.0) / 4.0

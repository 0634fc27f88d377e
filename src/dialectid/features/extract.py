"""Log-mel filterbanks, MFCC, shifted delta cepstra and CMVN, as a chain of small steps.

Filterbanks and MFCC come from kaldi-native-fbank (Kaldi's own algorithms in C++, no torch), on
samples scaled to the 16-bit range as Kaldi expects; they agree with torchaudio's Kaldi-compatible
functions to within the tolerance held by tests/test_features.py. Every step works on one utterance; a padded batch is computed
utterance by utterance on its true length, so padding never changes an utterance's features.

>>> import numpy as np
>>> x = np.random.default_rng(0).normal(0, 0.1, 16000).astype(np.float32)
>>> extract(x, FeatureConfig(kind="mfcc_sdc", n_ceps=7)).shape
(98, 56)
"""

from __future__ import annotations

import numpy as np

from dialectid.features.config import FeatureConfig

_INT16 = 32768.0


def extract(signal: np.ndarray, config: FeatureConfig, seed: int = 0) -> np.ndarray:
    """Features (frames, config.dim) of a mono float signal at `config.sample_rate`."""
    frames = _base_features(_dithered(signal, config.dither, seed), config)
    if config.kind == "mfcc_sdc":
        frames = np.concatenate([frames, shifted_delta_cepstra(frames, config)], axis=1)
    return apply_cmvn(frames, config)


def extract_padded(batch: np.ndarray, lengths: np.ndarray, config: FeatureConfig) -> tuple[np.ndarray, np.ndarray]:
    """Features of a zero-padded batch (B, T) with true `lengths`: (B, F, dim) and frame counts."""
    outputs = [extract(row[:length], config) for row, length in zip(batch, lengths, strict=True)]
    counts = np.array([len(out) for out in outputs], dtype=np.int64)
    padded = np.zeros((len(outputs), int(counts.max(initial=0)), config.dim), dtype=np.float32)
    for i, out in enumerate(outputs):
        padded[i, : len(out)] = out
    return padded, counts


def frame_count(samples: int, config: FeatureConfig) -> int:
    """Frames Kaldi's framing gives for `samples` samples (edges snipped)."""
    window = int(config.sample_rate * config.frame_length_ms / 1000)
    shift = int(config.sample_rate * config.frame_shift_ms / 1000)
    return 0 if samples < window else 1 + (samples - window) // shift


def _dithered(signal: np.ndarray, dither: float, seed: int) -> np.ndarray:
    scaled = np.asarray(signal, dtype=np.float32) * _INT16
    if dither > 0:
        scaled = scaled + dither * np.random.default_rng(seed).standard_normal(len(scaled)).astype(np.float32)
    return scaled


def _base_features(scaled: np.ndarray, config: FeatureConfig) -> np.ndarray:
    width = config.n_mels if config.kind == "fbank" else config.n_ceps
    if frame_count(len(scaled), config) == 0:
        return np.zeros((0, width), dtype=np.float32)
    import kaldi_native_fbank as knf  # imported here: models that read audio need no features

    options = knf.FbankOptions() if config.kind == "fbank" else knf.MfccOptions()
    options.frame_opts.samp_freq = float(config.sample_rate)
    options.frame_opts.frame_length_ms = config.frame_length_ms
    options.frame_opts.frame_shift_ms = config.frame_shift_ms
    options.frame_opts.dither = 0.0  # dither is added, seeded, by _dithered
    options.mel_opts.num_bins = config.n_mels
    options.mel_opts.low_freq = config.low_freq
    options.mel_opts.high_freq = config.high_freq
    options.energy_floor = 1.0  # log floor for silent frames, as Kaldi's recipes use
    if config.kind == "fbank":
        computer = knf.OnlineFbank(options)
    else:
        options.num_ceps = config.n_ceps
        options.use_energy = False  # c0, as torchaudio's Kaldi MFCC gives by default
        computer = knf.OnlineMfcc(options)
    computer.accept_waveform(float(config.sample_rate), np.ascontiguousarray(scaled, dtype=np.float32))
    computer.input_finished()
    return np.stack([computer.get_frame(i) for i in range(computer.num_frames_ready)]).astype(np.float32)


def shifted_delta_cepstra(cepstra: np.ndarray, config: FeatureConfig) -> np.ndarray:
    """SDC N-d-P-k: for each frame, k deltas (c[t+iP+d] - c[t+iP-d]) of the first N cepstra."""
    n, d, p, k = config.sdc.n, config.sdc.d, config.sdc.p, config.sdc.k
    frames = len(cepstra)
    if frames == 0:
        return np.zeros((0, n * k), dtype=np.float32)
    c = cepstra[:, :n]
    index = np.arange(frames)
    deltas = c[np.minimum(index + d, frames - 1)] - c[np.maximum(index - d, 0)]
    blocks = [deltas[np.minimum(index + i * p, frames - 1)] for i in range(k)]
    return np.concatenate(blocks, axis=1).astype(np.float32)


def apply_cmvn(frames: np.ndarray, config: FeatureConfig) -> np.ndarray:
    """Cepstral mean (and optionally variance) normalisation over the utterance or a window."""
    if config.cmvn == "none" or len(frames) == 0:
        return frames
    x = frames.astype(np.float64)
    if config.cmvn == "utterance":
        mean, var = x.mean(axis=0), x.var(axis=0)
    else:
        mean, var = _sliding_moments(x, config.cmvn_window)
    out = x - mean
    if config.cmvn_variance:
        out /= np.sqrt(var + 1e-10)
    return out.astype(np.float32)


def _sliding_moments(x: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean and variance over a centred window of `window` frames (shifted inwards at the edges,
    as Kaldi's apply-cmvn-sliding --center does)."""
    frames = len(x)
    width = min(window, frames)
    start = np.clip(np.arange(frames) - width // 2, 0, frames - width)
    end = start + width
    zeros = np.zeros((1, x.shape[1]))
    sums = np.concatenate([zeros, np.cumsum(x, axis=0)])
    squares = np.concatenate([zeros, np.cumsum(x * x, axis=0)])
    mean = (sums[end] - sums[start]) / width
    var = (squares[end] - squares[start]) / width - mean**2
    return mean, np.maximum(var, 0.0)

"""Streaming measurements of the decoded source signal, taken while it is read once.

Clipping and DC offset are measured on the original channels before any mixing or resampling,
where overload actually happened; the effective bandwidth on the mono mix at the original rate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CLIP_LEVEL = 0.999  # |sample| at or above this fraction of full scale counts as clipped
_FFT_SIZE = 512
_BANDWIDTH_FLOOR_DB = 50.0  # the band ends where the long-term spectrum falls this far below its peak
_SMOOTH_HZ = 150.0


@dataclass(frozen=True)
class SignalStats:
    """Facts about the decoded samples, independent of any later processing."""

    frames: int
    peak: float
    clipping_ratio: float
    dc_offset: float  # the largest absolute channel mean, in full-scale units
    channel_rms: tuple[float, ...]
    bandwidth_hz: float

    @property
    def loudest_channel(self) -> int:
        return int(np.argmax(self.channel_rms))


class StatsAccumulator:
    """Feed it blocks of shape (frames, channels); `result()` gives the `SignalStats`."""

    def __init__(self, sample_rate: int, channels: int) -> None:
        self.sample_rate = sample_rate
        self.frames = 0
        self.peak = 0.0
        self.clipped = 0
        self.sums = np.zeros(channels)
        self.squares = np.zeros(channels)
        self.spectrum = np.zeros(_FFT_SIZE // 2 + 1)
        self.spectrum_frames = 0
        self.remainder = np.zeros(0)

    def update(self, block: np.ndarray) -> None:
        magnitude = np.abs(block)
        self.frames += len(block)
        self.peak = max(self.peak, float(magnitude.max(initial=0.0)))
        self.clipped += int(np.count_nonzero(magnitude >= CLIP_LEVEL))
        self.sums += block.sum(axis=0, dtype=np.float64)
        self.squares += np.einsum("ij,ij->j", block, block, dtype=np.float64)
        self._update_spectrum(block.mean(axis=1, dtype=np.float64))  # float32 sums can overflow

    def _update_spectrum(self, mono: np.ndarray) -> None:
        mono = np.concatenate([self.remainder, mono])
        whole = len(mono) // _FFT_SIZE * _FFT_SIZE
        self.remainder = mono[whole:]
        if whole:
            frames = mono[:whole].reshape(-1, _FFT_SIZE) * np.hanning(_FFT_SIZE)
            self.spectrum += (np.abs(np.fft.rfft(frames, axis=1)) ** 2).sum(axis=0)
            self.spectrum_frames += len(frames)

    def result(self) -> SignalStats:
        n = max(self.frames, 1)
        channels = len(self.sums)
        return SignalStats(
            frames=self.frames,
            peak=self.peak,
            clipping_ratio=self.clipped / (n * channels),
            dc_offset=float(np.abs(self.sums / n).max()),
            channel_rms=tuple(float(v) for v in np.sqrt(self.squares / n)),
            bandwidth_hz=effective_bandwidth(self.spectrum, self.sample_rate),
        )


def effective_bandwidth(power: np.ndarray, sample_rate: int) -> float:
    """Highest frequency whose smoothed long-term power is within 50 dB of the spectral peak.

    Telephone audio (300-3400 Hz, often stored at 8 kHz or upsampled) ends near 3.4-4 kHz;
    wideband speech carries energy up to 7-8 kHz and beyond.
    """
    # Overflowed bins count as the loudest, NaN (and impossible negative) bins as empty; scaling
    # by the peak before smoothing keeps every level finite, so the peak bin is always in band.
    power = np.nan_to_num(np.asarray(power, dtype=np.float64), nan=0.0, posinf=np.finfo(np.float64).max)
    power = np.maximum(power, 0.0)
    peak = power.max(initial=0.0)
    if not peak > 0:
        return 0.0
    bin_hz = sample_rate / _FFT_SIZE
    width = max(1, round(_SMOOTH_HZ / bin_hz))
    smoothed = np.convolve(power / peak, np.ones(width) / width, mode="same")
    level = 10 * np.log10(smoothed + 1e-30)
    above = np.nonzero(level >= level.max() - _BANDWIDTH_FLOOR_DB)[0]
    return float(min(above[-1] * bin_hz, sample_rate / 2))

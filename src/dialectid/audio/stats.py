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
    # the lowest correlation of two channels' loudness over time (None: one channel, or no two that
    # both carry sound): near 1 where they hold the same sound, near 0 or below where they differ
    channel_agreement: float | None = None

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
        self.remainder = np.zeros(0)
        self.envelope = _EnvelopeCorrelation(sample_rate, channels)

    def update(self, block: np.ndarray) -> None:
        magnitude = np.abs(block)
        self.frames += len(block)
        self.peak = max(self.peak, float(magnitude.max(initial=0.0)))
        self.clipped += int(np.count_nonzero(magnitude >= CLIP_LEVEL))
        self.sums += block.sum(axis=0, dtype=np.float64)
        self.squares += np.einsum("ij,ij->j", block, block, dtype=np.float64)
        self._update_spectrum(block.mean(axis=1, dtype=np.float64))  # float32 sums can overflow
        self.envelope.update(block)

    def _update_spectrum(self, mono: np.ndarray) -> None:
        mono = np.concatenate([self.remainder, mono])
        whole = len(mono) // _FFT_SIZE * _FFT_SIZE
        self.remainder = mono[whole:]
        if whole:
            frames = mono[:whole].reshape(-1, _FFT_SIZE) * np.hanning(_FFT_SIZE)
            self.spectrum += (np.abs(np.fft.rfft(frames, axis=1)) ** 2).sum(axis=0)

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
            channel_agreement=self.envelope.lowest(np.sqrt(self.squares / n)),
        )


class _EnvelopeCorrelation:
    """Pearson correlation between channels of their 20 ms RMS envelopes, accumulated block by block.

    Why envelopes, not samples: one voice picked up by two microphones is delayed and filtered
    differently on each, which decorrelates the samples but not the loudness over time; two
    different voices (an interpreter and an applicant, two languages) have unrelated envelopes, or
    opposite ones where they take turns."""

    FRAME_S = 0.02
    MAX_LEVEL_GAP_DB = 30.0  # a channel this much quieter than another is crosstalk, not a second voice
    SILENT_RMS = 10 ** (-70 / 20)

    def __init__(self, sample_rate: int, channels: int) -> None:
        self.frame = max(1, round(self.FRAME_S * sample_rate))
        self.remainder = np.zeros((0, channels))
        self.count = 0
        self.sums = np.zeros(channels)
        self.products = np.zeros((channels, channels))

    def update(self, block: np.ndarray) -> None:
        if block.shape[1] < 2:
            return
        data = np.concatenate([self.remainder, block.astype(np.float64)])
        whole = len(data) // self.frame * self.frame
        self.remainder = data[whole:]
        if whole:
            frames = data[:whole].reshape(-1, self.frame, data.shape[1])
            rms = np.sqrt((frames**2).mean(axis=1))  # (frames, channels)
            self.count += len(rms)
            self.sums += rms.sum(axis=0)
            self.products += rms.T @ rms

    def lowest(self, channel_rms: np.ndarray) -> float | None:
        """The lowest correlation over pairs of channels that both carry sound at comparable levels."""
        if self.count < 2:
            return None
        mean = self.sums / self.count
        covariance = self.products / self.count - np.outer(mean, mean)
        deviation = np.sqrt(np.clip(np.diag(covariance), 0, None))
        loud = channel_rms.max(initial=0.0)
        floor = max(self.SILENT_RMS, loud * 10 ** (-self.MAX_LEVEL_GAP_DB / 20))
        usable = [i for i in range(len(mean)) if channel_rms[i] >= floor and deviation[i] > 0]
        pairs = [covariance[i, j] / (deviation[i] * deviation[j])
                 for k, i in enumerate(usable) for j in usable[k + 1 :]]  # fmt: skip
        return float(np.clip(min(pairs), -1, 1)) if pairs else None


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

"""`load_recording`: any supported file in, a checked mono signal at the model's rate out.

The file is decoded once at load time to validate it and measure it; the samples themselves
are produced on demand by `Recording.blocks()`, block by block, so a two-hour recording never
has to fit in memory.

>>> import numpy as np, soundfile as sf, tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "tone.wav")
>>> sf.write(path, 0.5 * np.sin(np.arange(8000) / 8000 * 2 * np.pi * 440), 8000)
>>> rec = load_recording(path)
>>> rec.facts.container, rec.facts.codec, rec.facts.sample_rate, rec.sample_rate
('wav', 'pcm_s16', 8000, 16000)
>>> len(rec.samples())
16000
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import soxr

from dialectid.audio.config import IngestConfig
from dialectid.audio.decode import Decoder, StreamInfo, open_decoder
from dialectid.audio.errors import (
    ChannelError,
    CorruptAudioError,
    InvalidSamplesError,
    SilentAudioError,
    TooLongError,
    UnknownFormatError,
    UnsupportedCodecError,
)
from dialectid.audio.sniff import sniff
from dialectid.audio.source import Source, open_source, peek_source
from dialectid.audio.stats import SignalStats, StatsAccumulator

# Beyond 120 dB above full scale float samples are not audio (a damaged or mis-scaled file), and
# the float32 stages after loading (resampler, spectra, speech detector) would overflow on them.
MAX_PEAK = 1e6
TRUNCATION_TOLERANCE_S = 0.1  # codec priming and padding, not truncation


@dataclass(frozen=True)
class SourceFacts:
    """What the file is, as a caseworker's report states it."""

    path: str
    sha256: str
    size_bytes: int
    container: str
    codec: str
    sample_rate: int
    channels: int
    duration_s: float


@dataclass(frozen=True)
class Issue:
    """Something wrong with the file that still leaves it usable; quality assessment reports it
    as a `warn` check named `flag`."""

    flag: str  # "truncated" or "decode_errors"
    value: float | None  # seconds missing, where the header says how long the file should be
    unit: str
    message: str


class Recording:
    """A validated recording: its source facts, signal statistics, a block-wise signal and the
    issues found while loading it."""

    def __init__(
        self,
        source: Source,
        decoder: Decoder,
        facts: SourceFacts,
        stats: SignalStats,
        config: IngestConfig,
        issues: tuple[Issue, ...] = (),
    ) -> None:
        self._source = source
        self._decoder = decoder
        self.facts = facts
        self.stats = stats
        self.config = config
        self.issues = issues

    @property
    def sample_rate(self) -> int:
        """The rate of the signal `blocks()` yields (the configured target rate)."""
        return self.config.sample_rate

    @property
    def duration_s(self) -> float:
        return self.facts.duration_s

    @property
    def channel(self) -> int | None:
        """The source channel used, or None where all channels are averaged."""
        policy = self.config.channel_policy
        if policy == "mean":
            return None
        return self.stats.loudest_channel if policy == "loudest" else _channel_number(policy)

    def blocks(self) -> Iterator[np.ndarray]:
        """The mono float32 signal at `sample_rate`, in blocks of about `config.block_s` seconds."""
        rate_in, rate_out = self.facts.sample_rate, self.sample_rate
        block_frames = max(1, round(self.config.block_s * rate_in))
        resampler = None if rate_in == rate_out else soxr.ResampleStream(rate_in, rate_out, 1, "float32", "HQ")
        channel = self.channel
        path = self.facts.path
        for block in self._decoder.blocks(block_frames):
            # the mean in float64: summing channels near float32's limit overflows in float32
            mono = block.mean(axis=1, dtype=np.float64) if channel is None else block[:, channel]
            mono = _finite(path, np.ascontiguousarray(mono, dtype=np.float32), "mixing the channels")
            out = mono if resampler is None else _finite(path, resampler.resample_chunk(mono), "resampling")
            if len(out):
                yield out
        if resampler is not None:
            tail = _finite(path, resampler.resample_chunk(np.zeros(0, dtype=np.float32), last=True), "resampling")
            if len(tail):
                yield tail

    def samples(self) -> np.ndarray:
        """The whole signal as one array. Prefer `blocks()` for long recordings."""
        parts = list(self.blocks())
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)


@dataclass(frozen=True)
class FileInfo:
    """What a file's header says, read without decoding the whole file (`probe_file`)."""

    container: str
    codec: str
    sample_rate: int
    channels: int
    duration_s: float
    whole: bool = True  # False: counting stopped at probe_file's limit; the file lasts at least duration_s

    @property
    def channel(self) -> Literal["telephone", "wideband"]:
        """`telephone` for narrowband audio (8 kHz or a telephone codec), else `wideband`."""
        narrow = self.sample_rate <= 8000 or self.codec in TELEPHONE_CODECS
        return "telephone" if narrow else "wideband"


TELEPHONE_CODECS = {"pcm_mulaw", "pcm_alaw", "gsm", "amr_nb"}


def probe_file(path: str | os.PathLike[str], count_limit_s: float | None = None) -> FileInfo:
    """Format, codec, rate, channels and duration from the header, the one admission check before
    anything loads a file. Where the container does not state its length, the file is decoded to
    count its frames: to its end, or with `count_limit_s` only until more than that many seconds
    are counted (0: not at all, the header alone), and the answer is then not `whole`. Raises an
    `AudioError` for unusable files (`UnknownFormatError` for a file nobody recognises).

    >>> import numpy as np, soundfile as sf, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "tone.flac")
    >>> sf.write(path, np.zeros(16000), 8000)
    >>> probe_file(path)
    FileInfo(container='flac', codec='flac', sample_rate=8000, channels=1, duration_s=2.0, whole=True)
    """
    source = peek_source(path)
    container = sniff(source.head, source.size)
    if container is None:
        raise _unknown_format(path)
    decoder = open_decoder(source, container)
    info = decoder.info
    facts = (container.name, info.codec, info.sample_rate, info.channels)
    if info.frames is not None:
        return FileInfo(*facts, info.frames / info.sample_rate)
    limit = math.inf if count_limit_s is None else count_limit_s * info.sample_rate
    frames = 0
    if limit > 0:
        for block in decoder.blocks(info.sample_rate * 60):
            frames += len(block)
            if frames > limit:
                break
    return FileInfo(*facts, frames / info.sample_rate, whole=limit > 0 and frames <= limit)


def load_recording(path: str | os.PathLike[str], config: IngestConfig | None = None) -> Recording:
    """Open, identify, validate and measure a recording. Raises an `AudioError` subclass."""
    config = config or IngestConfig()
    source = open_source(path, int(config.max_in_memory_mb * 2**20))
    container = sniff(source.head, source.size)
    if container is None:
        raise _unknown_format(path)
    decoder = open_decoder(source, container)
    info = decoder.info
    _check_channel(path, config, info.channels)
    if info.frames is not None and info.frames / info.sample_rate > config.max_duration_s:
        raise _too_long(path, info.frames / info.sample_rate, config)
    decoder, stats, damage = _measure_with_fallback(path, decoder, config)
    issue = _ingest_issue(info, stats.frames, damage)
    facts = SourceFacts(
        path=str(Path(path)),
        sha256=source.sha256,
        size_bytes=source.size,
        container=container.name,
        codec=info.codec,
        sample_rate=info.sample_rate,
        channels=info.channels,
        duration_s=stats.frames / info.sample_rate,
    )
    return Recording(source, decoder, facts, stats, config, () if issue is None else (issue,))


def _unknown_format(path: str | os.PathLike[str]) -> UnknownFormatError:
    return UnknownFormatError(
        path, "not a recognised audio format", "send WAV, FLAC, Ogg, Opus, MP3, M4A, AMR, 3GP or WebM"
    )


def _measure_with_fallback(
    path: str | os.PathLike[str], decoder: Decoder, config: IngestConfig
) -> tuple[Decoder, SignalStats, list[float] | None]:
    """Measure with `decoder`; where it fails on damaged data and has a fallback, measure with
    that instead. Returns the decoder to use, the statistics and, after a fallback, the times
    of the damaged stretches it skipped."""
    try:
        return decoder, _measure(path, decoder, config), None
    except (CorruptAudioError, UnsupportedCodecError) as failure:
        if decoder.fallback is None:
            raise
        try:
            decoder = decoder.fallback()
            damage: list[float] = []
            return decoder, _measure(path, decoder, config, damage), damage
        except (CorruptAudioError, UnsupportedCodecError):
            raise failure from None


def _measure(
    path: str | os.PathLike[str], decoder: Decoder, config: IngestConfig, damage: list[float] | None = None
) -> SignalStats:
    rate = decoder.info.sample_rate
    accumulator = StatsAccumulator(rate, decoder.info.channels)
    max_frames = config.max_duration_s * rate
    for block in decoder.blocks(max(1, round(config.block_s * rate)), damage):
        if not np.isfinite(block).all():
            raise InvalidSamplesError(
                path,
                "the samples contain NaN or infinite values",
                "the file is damaged; export it again",
            )
        accumulator.update(block)
        if accumulator.peak > MAX_PEAK:
            raise InvalidSamplesError(
                path,
                f"the samples reach {accumulator.peak:.3g} times full scale",
                "the file is damaged or its float samples are not scaled to -1..1; export it again",
            )
        if accumulator.frames > max_frames:
            raise _too_long(path, accumulator.frames / rate, config, at_least=True)
    stats = accumulator.result()
    if stats.frames == 0:
        raise CorruptAudioError(path, "the file holds no audio samples", "the file is damaged; copy it again")
    measured = (stats.peak, stats.clipping_ratio, stats.dc_offset, stats.bandwidth_hz, *stats.channel_rms)
    if not np.isfinite(measured).all():
        raise InvalidSamplesError(path, "the signal statistics overflow", "the file is damaged; export it again")
    if stats.peak < 10 ** (config.silence_dbfs / 20):
        raise SilentAudioError(
            path,
            f"the recording is silent (peak below {config.silence_dbfs:g} dBFS)",
            "check the microphone or telephone line and record again",
        )
    return stats


CHANNEL_NAMES = {"left": 0, "right": 1}


def _channel_number(policy: str | int) -> int:
    return CHANNEL_NAMES[policy] if isinstance(policy, str) else policy


def _check_channel(path, config: IngestConfig, channels: int) -> None:
    """A channel chosen by name or number must exist in this recording."""
    if config.channel_policy in ("mean", "loudest"):
        return
    number = _channel_number(config.channel_policy)
    if number >= channels:
        chosen = config.channel_policy if isinstance(config.channel_policy, str) else f"number {number}"
        raise ChannelError(
            path,
            f"the recording has {channels} channel{'s' if channels > 1 else ''}, so no channel {chosen}",
            f"choose --channel mix or a channel from 0 to {channels - 1}",
        )


def _finite(path: str, signal: np.ndarray, stage: str) -> np.ndarray:
    """`signal`, after checking that `stage` left no NaN or infinite value in it."""
    if not np.isfinite(signal).all():
        raise InvalidSamplesError(
            path, f"the signal has NaN or infinite values after {stage}", "the file is damaged; export it again"
        )
    return signal


def _ingest_issue(info: StreamInfo, frames: int, damage: list[float] | None) -> Issue | None:
    """`decode_errors` where a fallback decoder had to take over (`damage` lists the times of
    the stretches it skipped), else `truncated` where the header declares more than was decoded.

    After a fallback a shortfall may be damage or a cut end (libsndfile gives up on both), so it
    is reported as part of the damage rather than guessed to be truncation."""
    rate = info.sample_rate
    missing = None
    if info.declared_frames is not None and info.declared_frames - frames >= TRUNCATION_TOLERANCE_S * rate:
        missing = (info.declared_frames / rate, frames / rate)
    if damage is None:
        if missing is None:
            return None
        message = f"the header declares {missing[0]:.1f} s but the file holds {missing[1]:.1f} s: it is truncated"
        return Issue("truncated", round(missing[0] - missing[1], 3), "s", message)
    message = "the file is damaged"
    if damage:
        message += " at " + ", ".join(f"{t:.1f}" for t in damage[:5]) + (", ..." if len(damage) > 5 else "") + " s"
    if missing is None:
        return Issue("decode_errors", None, "s", message + "; what could not be decoded was skipped")
    message += f": the header declares {missing[0]:.1f} s, only {missing[1]:.1f} s could be decoded"
    return Issue("decode_errors", round(missing[0] - missing[1], 3), "s", message)


def _too_long(path, seconds: float, config: IngestConfig, at_least: bool = False) -> TooLongError:
    more = "more than " if at_least else ""
    return TooLongError(
        path,
        f"the recording lasts {more}{seconds / 60:.1f} min, longer than the maximum of "
        f"{config.max_duration_s / 60:.1f} min",
        "cut it into parts or raise ingest.max_duration_s",
    )

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

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soxr

from dialectid.audio.config import IngestConfig
from dialectid.audio.decode import Decoder, open_decoder
from dialectid.audio.errors import (
    CorruptAudioError,
    InvalidSamplesError,
    SilentAudioError,
    TooLongError,
    UnknownFormatError,
)
from dialectid.audio.sniff import sniff
from dialectid.audio.source import Source, open_source, peek_source
from dialectid.audio.stats import SignalStats, StatsAccumulator


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


class Recording:
    """A validated recording: its source facts, signal statistics and a block-wise signal."""

    def __init__(
        self,
        source: Source,
        decoder: Decoder,
        facts: SourceFacts,
        stats: SignalStats,
        config: IngestConfig,
    ) -> None:
        self._source = source
        self._decoder = decoder
        self.facts = facts
        self.stats = stats
        self.config = config

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
        return self.stats.loudest_channel if self.config.channel_policy == "loudest" else None

    def blocks(self) -> Iterator[np.ndarray]:
        """The mono float32 signal at `sample_rate`, in blocks of about `config.block_s` seconds."""
        rate_in, rate_out = self.facts.sample_rate, self.sample_rate
        block_frames = max(1, round(self.config.block_s * rate_in))
        resampler = None if rate_in == rate_out else soxr.ResampleStream(rate_in, rate_out, 1, "float32", "HQ")
        channel = self.channel
        for block in self._decoder.blocks(block_frames):
            mono = block.mean(axis=1, dtype=np.float32) if channel is None else block[:, channel]
            mono = np.ascontiguousarray(mono, dtype=np.float32)
            out = mono if resampler is None else resampler.resample_chunk(mono)
            if len(out):
                yield out
        if resampler is not None:
            tail = resampler.resample_chunk(np.zeros(0, dtype=np.float32), last=True)
            if len(tail):
                yield tail

    def samples(self) -> np.ndarray:
        """The whole signal as one array. Prefer `blocks()` for long recordings."""
        parts = list(self.blocks())
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)


@dataclass(frozen=True)
class FileInfo:
    """What a file's header says, read without decoding the whole file."""

    container: str
    codec: str
    sample_rate: int
    channels: int
    duration_s: float

    @property
    def channel(self) -> str:
        """`telephone` for narrowband audio (8 kHz or a telephone codec), else `wideband`."""
        narrow = self.sample_rate <= 8000 or self.codec in TELEPHONE_CODECS
        return "telephone" if narrow else "wideband"


TELEPHONE_CODECS = {"pcm_mulaw", "pcm_alaw", "gsm", "amr_nb"}


def probe_file(path: str | os.PathLike[str]) -> FileInfo:
    """Format, codec, rate, channels and duration from the header (decoding only where the
    container does not state its length). Raises an `AudioError` for unusable files."""
    source = peek_source(path)
    container = sniff(source.head, source.size)
    if container is None:
        raise UnknownFormatError(path, "not a recognised audio format", "check that it is a recording")
    decoder = open_decoder(source, container)
    info = decoder.info
    frames = info.frames
    if frames is None:
        frames = sum(len(block) for block in decoder.blocks(info.sample_rate * 60))
    return FileInfo(container.name, info.codec, info.sample_rate, info.channels, frames / info.sample_rate)


def load_recording(path: str | os.PathLike[str], config: IngestConfig | None = None) -> Recording:
    """Open, identify, validate and measure a recording. Raises an `AudioError` subclass."""
    config = config or IngestConfig()
    source = open_source(path, int(config.max_in_memory_mb * 2**20))
    container = sniff(source.head, source.size)
    if container is None:
        raise UnknownFormatError(
            path,
            "not a recognised audio format",
            "send WAV, FLAC, Ogg, Opus, MP3, M4A, AMR, 3GP or WebM",
        )
    decoder = open_decoder(source, container)
    info = decoder.info
    if info.frames is not None and info.frames / info.sample_rate > config.max_duration_s:
        raise _too_long(path, info.frames / info.sample_rate, config)
    stats = _measure(path, decoder, config)
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
    return Recording(source, decoder, facts, stats, config)


def _measure(path: str | os.PathLike[str], decoder: Decoder, config: IngestConfig) -> SignalStats:
    rate = decoder.info.sample_rate
    accumulator = StatsAccumulator(rate, decoder.info.channels)
    max_frames = config.max_duration_s * rate
    for block in decoder.blocks(max(1, round(config.block_s * rate))):
        if not np.isfinite(block).all():
            raise InvalidSamplesError(
                path,
                "the samples contain NaN or infinite values",
                "the file is damaged; export it again",
            )
        accumulator.update(block)
        if accumulator.frames > max_frames:
            raise _too_long(path, accumulator.frames / rate, config, at_least=True)
    stats = accumulator.result()
    if stats.frames == 0:
        raise CorruptAudioError(path, "the file holds no audio samples", "the file is damaged; copy it again")
    if stats.peak < 10 ** (config.silence_dbfs / 20):
        raise SilentAudioError(
            path,
            f"the recording is silent (peak below {config.silence_dbfs:g} dBFS)",
            "check the microphone or telephone line and record again",
        )
    return stats


def _too_long(path, seconds: float, config: IngestConfig, at_least: bool = False) -> TooLongError:
    more = "more than " if at_least else ""
    return TooLongError(
        path,
        f"the recording lasts {more}{seconds / 60:.1f} min, longer than the maximum of "
        f"{config.max_duration_s / 60:.1f} min",
        "cut it into parts or raise ingest.max_duration_s",
    )

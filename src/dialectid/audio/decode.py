"""Decode a recognised container into blocks of float32 samples, shape (frames, channels).

Two backends: libsndfile (through `soundfile`) for WAV, FLAC, Ogg Vorbis/Opus, MP3 and friends;
FFmpeg (through PyAV) for MP4/M4A/AAC, 3GP, AMR, WebM, raw GSM and any WAV codec libsndfile
lacks. Where libsndfile gives up in the middle of a damaged MP3, FLAC or Ogg file, FFmpeg, which
skips damaged packets and resynchronises, is the decoder's `fallback`. Every backend failure
becomes an `AudioError` naming the file.
"""

from __future__ import annotations

import os
import struct
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import soundfile as sf

from dialectid.audio.errors import (
    AudioError,
    CorruptAudioError,
    InvalidHeaderError,
    UnsupportedCodecError,
)
from dialectid.audio.sniff import Container
from dialectid.audio.source import Source

MIN_SAMPLE_RATE = 1_000
MAX_SAMPLE_RATE = 384_000
MAX_CHANNELS = 64

# WAV format tags libsndfile decodes; any other tag goes to FFmpeg.
_SNDFILE_WAV_TAGS = {0x0001, 0x0002, 0x0003, 0x0006, 0x0007, 0x0011, 0x0031, 0x0055}
_SNDFILE_CODECS = {
    "PCM_S8": "pcm_s8", "PCM_U8": "pcm_u8", "PCM_16": "pcm_s16", "PCM_24": "pcm_s24",
    "PCM_32": "pcm_s32", "FLOAT": "pcm_f32", "DOUBLE": "pcm_f64", "ULAW": "pcm_mulaw",
    "ALAW": "pcm_alaw", "VORBIS": "vorbis", "OPUS": "opus", "MPEG_LAYER_I": "mp1",
    "MPEG_LAYER_II": "mp2", "MPEG_LAYER_III": "mp3", "GSM610": "gsm", "IMA_ADPCM": "adpcm_ima",
    "MS_ADPCM": "adpcm_ms",
}  # fmt: skip
_AV_CODECS = {"libopencore_amrnb": "amr_nb", "amrnb": "amr_nb", "libopencore_amrwb": "amr_wb",
              "amrwb": "amr_wb", "libopus": "opus", "mp3float": "mp3"}  # fmt: skip
# libsndfile containers whose damaged files FFmpeg can still decode (its demuxer name for each)
_FALLBACK_DEMUXERS = {"mp3": "mp3", "flac": "flac", "ogg": "ogg"}
# containers whose header states the stream's length exactly (MP3 and raw streams only estimate it)
_EXACT_LENGTH = {"wav", "flac", "mp4", "3gp"}
_MAX_RIFF_CHUNKS = 1024  # a WAV has a handful; the walk seeks over chunk bodies, so their size costs nothing
_DATA_SIZE_PLACEHOLDER = 0x7FFFF000  # streaming writers leave a size at or above this: "unknown"
_MAX_SKIPPED_PACKETS = 1000  # more damage than this and the file is refused as corrupt


@dataclass(frozen=True)
class StreamInfo:
    """What the container declares about its audio stream."""

    codec: str
    sample_rate: int
    channels: int
    frames: int | None  # None where the container does not say
    # The length the header declares where it states one exactly, even beyond the end of a
    # truncated file (`frames` is what libsndfile finds there); None where it only estimates.
    declared_frames: int | None = None


class BlockReader(Protocol):
    """Yields float32 blocks of about `block_frames`; where it skips damaged data it appends the
    time (seconds into the signal) of each skipped stretch to `damage`."""

    def __call__(self, block_frames: int, damage: list[float] | None = None) -> Iterator[np.ndarray]: ...


@dataclass(frozen=True)
class Decoder:
    """A backend bound to one source: `info` from the header, `blocks()` for the samples, and
    `fallback()`, where there is one, for a more tolerant decoder of the same file."""

    info: StreamInfo
    blocks: BlockReader
    fallback: Callable[[], Decoder] | None = None


@dataclass(frozen=True)
class WavLayout:
    """What the RIFF chunks of a WAV file say: its format and where its samples lie."""

    tag: int
    channels: int
    rate: int
    data_start: int | None  # byte offset of the data chunk's samples; None if there is none
    data_bytes: int | None  # the size the data chunk declares; None where it is a placeholder


def open_decoder(source: Source, container: Container) -> Decoder:
    """Read the header of `source` and return a decoder for it (header checked for sanity)."""
    backend = container.backend
    layout = None
    if container.name == "wav":
        layout = _wav_layout(source)
        _check_header(source, layout.rate, layout.channels)
        if layout.tag not in _SNDFILE_WAV_TAGS:
            return _wav_via_ffmpeg(source, layout.tag)
    sndfile = backend == "soundfile"
    decoder = _sndfile_decoder(source, container, layout) if sndfile else _av_decoder(source, container)
    _check_header(source, decoder.info.sample_rate, decoder.info.channels)
    return decoder


def _wav_via_ffmpeg(source: Source, tag: int) -> Decoder:
    """WAV codecs libsndfile lacks (ADPCM variants, G.722, ...) go to FFmpeg, if it has them."""
    try:
        decoder = _av_decoder(source, Container("wav", "pyav", "wav"))
    except AudioError:
        raise UnsupportedCodecError(
            source.path,
            f"the WAV codec (format tag 0x{tag:04X}) is not supported",
            "convert it to PCM WAV or FLAC",
        ) from None
    _check_header(source, decoder.info.sample_rate, decoder.info.channels)
    return decoder


def _check_header(source: Source, rate: int, channels: int) -> None:
    if not MIN_SAMPLE_RATE <= rate <= MAX_SAMPLE_RATE:
        raise InvalidHeaderError(
            source.path,
            f"the header declares an impossible sample rate of {rate} Hz",
            f"the file is damaged or mislabelled (expected {MIN_SAMPLE_RATE}-{MAX_SAMPLE_RATE} Hz)",
        )
    if not 1 <= channels <= MAX_CHANNELS:
        raise InvalidHeaderError(
            source.path,
            f"the header declares {channels} channels",
            f"the file is damaged (expected 1-{MAX_CHANNELS} channels)",
        )


def _wav_layout(source: Source) -> WavLayout:
    """The `fmt ` and `data` chunks of a RIFF/RF64 WAV, wherever they lie: the walk seeks from
    chunk to chunk (a large LIST or JUNK chunk may come first), up to the end of the file or
    `_MAX_RIFF_CHUNKS` chunks."""
    fmt: tuple[int, int, int] | None = None
    data_start = data_bytes = rf64_data = None
    with source.open() as stream:
        rf64 = stream.read(4) == b"RF64"
        pos = 12
        for _ in range(_MAX_RIFF_CHUNKS):
            stream.seek(pos)
            header = stream.read(8)
            if len(header) < 8:
                break
            chunk_id, (size,) = header[:4], struct.unpack("<I", header[4:])
            if chunk_id == b"fmt ":
                fmt = _fmt_chunk(stream.read(min(size, 40))) or fmt
            elif chunk_id == b"ds64" and size >= 16:  # RF64 keeps the 64-bit data size here
                body = stream.read(16)
                rf64_data = struct.unpack("<QQ", body)[1] if len(body) == 16 else None
            elif chunk_id == b"data":
                data_start, data_bytes = pos + 8, rf64_data if rf64 and size == 0xFFFFFFFF else size
                if fmt is not None:  # all that is needed; the size may be a placeholder to skip
                    break
            pos += 8 + size + (size & 1)
    if fmt is None:
        raise CorruptAudioError(
            source.path,
            "the WAV header is truncated (no format chunk)",
            "the file is damaged; copy it again",
        )
    if data_bytes is not None and data_bytes >= _DATA_SIZE_PLACEHOLDER and not rf64:
        data_bytes = None
    return WavLayout(*fmt, data_start, data_bytes)


def _fmt_chunk(body: bytes) -> tuple[int, int, int] | None:
    """(format tag, channels, sample rate) from the body of a `fmt ` chunk, None if it is cut."""
    if len(body) < 16:
        return None
    tag, channels, rate = struct.unpack("<HHI", body[:8])
    if tag == 0xFFFE and len(body) >= 26:  # WAVE_FORMAT_EXTENSIBLE: the real tag is in the GUID
        (tag,) = struct.unpack("<H", body[24:26])
    return tag, channels, rate


def _declared_wav_frames(source: Source, layout: WavLayout | None, frames: int | None) -> int | None:
    """The frames a WAV's data chunk declares. libsndfile counts only the bytes present, so
    beyond them the count is scaled by the bytes declared over the bytes present."""
    if layout is None or layout.data_start is None or layout.data_bytes is None or frames is None:
        return None
    present = source.size - layout.data_start
    if present <= 0 or layout.data_bytes <= present:
        return frames
    return round(frames * layout.data_bytes / present)


def _sndfile_decoder(source: Source, container: Container, layout: WavLayout | None) -> Decoder:
    quiet = _quiet_stderr if container.name == "mp3" else nullcontext
    try:
        with quiet(), sf.SoundFile(source.open()) as f:
            codec = "flac" if f.format == "FLAC" else _SNDFILE_CODECS.get(f.subtype, f.subtype.lower())
            rate, channels, frames = f.samplerate, f.channels, f.frames if f.frames > 0 else None
    except AudioError:
        raise
    except Exception as err:  # libsndfile reports every header problem as a generic error
        raise _failure(source, err) from None
    if container.name == "wav":
        declared = _declared_wav_frames(source, layout, frames)
    else:
        declared = frames if container.name in _EXACT_LENGTH else None
    info = StreamInfo(codec, rate, channels, frames, declared)

    def blocks(block_frames: int, damage: list[float] | None = None) -> Iterator[np.ndarray]:
        try:
            with quiet():
                handle = sf.SoundFile(source.open())
            with handle:
                while True:
                    with quiet():  # never across a yield: the caller's own stderr stays visible
                        block = handle.read(block_frames, dtype="float32", always_2d=True)
                    if not len(block):
                        break
                    yield block
        except AudioError:
            raise
        except Exception as err:
            raise _failure(source, err) from None

    return Decoder(info, blocks, _fallback(source, container, info))


def _fallback(source: Source, container: Container, info: StreamInfo) -> Callable[[], Decoder] | None:
    """FFmpeg for a libsndfile container it also reads, keeping what libsndfile found in the
    header; None where FFmpeg is no better placed."""
    demuxer = _FALLBACK_DEMUXERS.get(container.name)
    if demuxer is None:
        return None

    def fallback() -> Decoder:
        decoder = _av_decoder(source, Container(container.name, "pyav", demuxer), tolerant=True)
        if (decoder.info.sample_rate, decoder.info.channels) != (info.sample_rate, info.channels):
            raise CorruptAudioError(
                source.path,
                "the decoders disagree about the sample rate or channels",
                "the file is damaged; copy it again",
            )
        return Decoder(info, decoder.blocks)

    return fallback


_stderr_lock = threading.Lock()


@contextmanager
def _quiet_stderr() -> Iterator[None]:
    """Point file descriptor 2 at /dev/null for the duration.

    libmpg123 (inside libsndfile) prints every resync and bit-reservoir complaint straight to the
    C stderr, and libsndfile offers no switch to quiet it. The lock keeps two threads from
    saving each other's redirection; what other threads write to stderr meanwhile is lost too.
    """
    with _stderr_lock:
        try:
            saved = os.dup(2)
        except OSError:  # no stderr at all: nothing to quiet
            yield
            return
        try:
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, 2)
            os.close(null)
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def _av_decoder(source: Source, container: Container, tolerant: bool = False) -> Decoder:
    """FFmpeg through PyAV. `tolerant` skips packets the codec cannot decode (recording where, in
    `damage`) instead of refusing the file. PyAV is imported here: WAV, FLAC and the other files
    libsndfile reads never load it (7 MB of every scoring process)."""
    import av

    try:
        with av.open(source.open(), "r", format=container.av_format) as handle:
            stream = _audio_stream(source, handle)
            ctx = stream.codec_context
            frames = None
            if stream.duration is not None and stream.time_base is not None:
                frames = int(stream.duration * stream.time_base * ctx.sample_rate)
            codec = _AV_CODECS.get(ctx.name, ctx.name)
            declared = frames if container.name in _EXACT_LENGTH else None
            info = StreamInfo(codec, ctx.sample_rate or 0, ctx.channels or 0, frames, declared)
    except AudioError:
        raise
    except Exception as err:
        raise _failure(source, err) from None

    def blocks(block_frames: int, damage: list[float] | None = None) -> Iterator[np.ndarray]:
        try:
            with av.open(source.open(), "r", format=container.av_format) as handle:
                stream = _audio_stream(source, handle)
                decoded = _skipping_damage(source, handle, stream, damage) if tolerant else handle.decode(stream)
                frames = (_frame_samples(f, info.channels) for f in decoded)
                yield from _rebuffer(frames, block_frames)
        except AudioError:
            raise
        except Exception as err:
            raise _failure(source, err) from None

    return Decoder(info, blocks)


def _skipping_damage(source: Source, handle: Any, stream: Any, damage: list[float] | None) -> Iterator[Any]:
    """Decoded frames, packet by packet, skipping packets the codec rejects as damaged."""
    import av

    done, skipped = 0, 0
    for packet in handle.demux(stream):
        try:
            frames = packet.decode()
        except av.error.InvalidDataError:
            skipped += 1
            if skipped > _MAX_SKIPPED_PACKETS:
                raise CorruptAudioError(
                    source.path, "the audio is damaged throughout", "the file is damaged; copy it again"
                ) from None
            if damage is not None:
                damage.append(done / (stream.codec_context.sample_rate or 1))
            continue
        for frame in frames:
            done += frame.samples
            yield frame


def _audio_stream(source: Source, handle: Any) -> Any:
    if not handle.streams.audio:
        raise UnsupportedCodecError(source.path, "the file holds no audio stream", "send the audio itself")
    stream = handle.streams.audio[0]
    if stream.codec_context is None or stream.codec_context.codec is None:
        raise UnsupportedCodecError(source.path, "the audio codec is not supported", "convert it to WAV or FLAC")
    return stream


def _frame_samples(frame: Any, channels: int) -> np.ndarray:
    """One PyAV frame as float32 (frames, channels), whatever its sample format."""
    data = frame.to_ndarray()
    data = data.T if frame.format.is_planar else data.reshape(-1, channels)
    kind = data.dtype
    if kind == np.uint8:
        return ((data.astype(np.float32) - 128.0) / 128.0).reshape(-1, channels)
    if np.issubdtype(kind, np.integer):
        return (data.astype(np.float32) / float(2 ** (8 * kind.itemsize - 1))).reshape(-1, channels)
    return np.ascontiguousarray(data, dtype=np.float32).reshape(-1, channels)


def _rebuffer(pieces: Iterator[np.ndarray], block_frames: int) -> Iterator[np.ndarray]:
    """Join small decoder frames into blocks of about `block_frames`."""
    pending: list[np.ndarray] = []
    count = 0
    for piece in pieces:
        pending.append(piece)
        count += len(piece)
        if count >= block_frames:
            yield np.concatenate(pending)
            pending, count = [], 0
    if pending:
        yield np.concatenate(pending)


def _failure(source: Source, err: Exception) -> AudioError:
    message = getattr(err, "error_string", None) or str(err)  # libsndfile's text without the stream repr
    detail = " ".join(message.split()) or type(err).__name__
    lowered = detail.lower()
    unsupported = any(word in lowered for word in ("unsupported", "not supported", "codec not", "decoder"))
    if unsupported and "lost sync" not in lowered:  # libFLAC's "decoder lost sync" is damage
        return UnsupportedCodecError(source.path, f"the codec is not supported ({detail})", "convert it to WAV or FLAC")
    return CorruptAudioError(
        source.path, f"the audio cannot be decoded ({detail})", "the file is damaged; copy it again"
    )

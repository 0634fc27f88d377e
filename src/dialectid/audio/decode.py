"""Decode a recognised container into blocks of float32 samples, shape (frames, channels).

Two backends: libsndfile (through `soundfile`) for WAV, FLAC, Ogg Vorbis/Opus, MP3 and friends;
FFmpeg (through PyAV) for MP4/M4A/AAC, 3GP, AMR, WebM, raw GSM and any WAV codec libsndfile
lacks. Every backend failure becomes an `AudioError` naming the file.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import av
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
              "amrwb": "amr_wb", "libopus": "opus"}  # fmt: skip


@dataclass(frozen=True)
class StreamInfo:
    """What the container declares about its audio stream."""

    codec: str
    sample_rate: int
    channels: int
    frames: int | None  # None where the container does not say


@dataclass(frozen=True)
class Decoder:
    """A backend bound to one source: `info` from the header, `blocks()` for the samples."""

    info: StreamInfo
    blocks: Callable[[int], Iterator[np.ndarray]]


def open_decoder(source: Source, container: Container) -> Decoder:
    """Read the header of `source` and return a decoder for it (header checked for sanity)."""
    backend = container.backend
    if container.name == "wav":
        tag, channels, rate = _wav_format(source)
        _check_header(source, rate, channels)
        if tag not in _SNDFILE_WAV_TAGS:
            return _wav_via_ffmpeg(source, tag)
    decoder = _sndfile_decoder(source) if backend == "soundfile" else _av_decoder(source, container)
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


def _wav_format(source: Source) -> tuple[int, int, int]:
    """(format tag, channels, sample rate) from the RIFF `fmt ` chunk."""
    head, pos = source.head, 12
    while pos + 8 <= len(head):
        chunk_id, size = head[pos : pos + 4], struct.unpack("<I", head[pos + 4 : pos + 8])[0]
        if chunk_id == b"fmt " and pos + 8 + 16 <= len(head):
            tag, channels, rate = struct.unpack("<HHI", head[pos + 8 : pos + 16])
            if tag == 0xFFFE and pos + 8 + 26 <= len(head):  # WAVE_FORMAT_EXTENSIBLE
                (tag,) = struct.unpack("<H", head[pos + 32 : pos + 34])
            return tag, channels, rate
        pos += 8 + size + (size & 1)
    raise CorruptAudioError(
        source.path,
        "the WAV header is truncated (no format chunk)",
        "the file is damaged; copy it again",
    )


def _sndfile_decoder(source: Source) -> Decoder:
    try:
        with sf.SoundFile(source.open()) as f:
            codec = "flac" if f.format == "FLAC" else _SNDFILE_CODECS.get(f.subtype, f.subtype.lower())
            info = StreamInfo(codec, f.samplerate, f.channels, f.frames if f.frames > 0 else None)
    except AudioError:
        raise
    except Exception as err:  # libsndfile reports every header problem as a generic error
        raise _failure(source, err) from None

    def blocks(block_frames: int) -> Iterator[np.ndarray]:
        try:
            with sf.SoundFile(source.open()) as f:
                while len(block := f.read(block_frames, dtype="float32", always_2d=True)):
                    yield block
        except AudioError:
            raise
        except Exception as err:
            raise _failure(source, err) from None

    return Decoder(info, blocks)


def _av_decoder(source: Source, container: Container) -> Decoder:
    try:
        with av.open(source.open(), format=container.av_format) as handle:
            stream = _audio_stream(source, handle)
            ctx = stream.codec_context
            frames = None
            if stream.duration is not None and stream.time_base is not None:
                frames = int(stream.duration * stream.time_base * ctx.sample_rate)
            codec = _AV_CODECS.get(ctx.name, ctx.name)
            info = StreamInfo(codec, ctx.sample_rate or 0, ctx.channels or 0, frames)
    except AudioError:
        raise
    except Exception as err:
        raise _failure(source, err) from None

    def blocks(block_frames: int) -> Iterator[np.ndarray]:
        try:
            with av.open(source.open(), format=container.av_format) as handle:
                stream = _audio_stream(source, handle)
                frames = (_frame_samples(f, info.channels) for f in handle.decode(stream))
                yield from _rebuffer(frames, block_frames)
        except AudioError:
            raise
        except Exception as err:
            raise _failure(source, err) from None

    return Decoder(info, blocks)


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
    if any(word in lowered for word in ("unsupported", "not supported", "codec not", "decoder")):
        return UnsupportedCodecError(source.path, f"the codec is not supported ({detail})", "convert it to WAV or FLAC")
    return CorruptAudioError(
        source.path, f"the audio cannot be decoded ({detail})", "the file is damaged; copy it again"
    )

"""Recognise an audio container from the first bytes of a file, never from its name.

Each known container maps to the backend that decodes it: libsndfile (through `soundfile`) for
the formats it reads natively, FFmpeg (through PyAV) for the rest.

>>> sniff(b"fLaC" + bytes(60), 64).name
'flac'
>>> sniff(b"just some text, not audio" * 3, 75) is None
True
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Literal

HEAD_BYTES = 4096  # enough for every signature and a few MP3 frame headers
GSM_FRAME_BYTES = 33  # one GSM 06.10 frame: 160 samples at 8 kHz, high nibble 0xD
GSM_MIN_FRAMES = 8  # below this a random file could pass the check by chance


@dataclass(frozen=True)
class Container:
    """A recognised container: its name, the backend that decodes it and FFmpeg's demuxer."""

    name: str
    backend: Literal["soundfile", "pyav"]
    av_format: str | None = None


_MAGIC: list[tuple[int, bytes, Container]] = [
    (0, b"fLaC", Container("flac", "soundfile")),
    (0, b"FORM", Container("aiff", "soundfile")),
    (0, b".snd", Container("au", "soundfile")),
    (0, b"caff", Container("caf", "soundfile")),
    (0, b"#!AMR-WB\n", Container("amr-wb", "pyav", "amr")),
    (0, b"#!AMR\n", Container("amr", "pyav", "amr")),
    (0, b"\x1a\x45\xdf\xa3", Container("webm", "pyav", "matroska")),
    (0, b"ID3", Container("mp3", "soundfile")),
    (0, b"NIST_1A\n", Container("sphere", "soundfile")),  # TIMIT, LDC telephone corpora
]
_OGG_CODECS = {b"\x01vorbis": "ogg", b"OpusHead": "ogg", b"\x7fFLAC": "ogg"}
_3GP_BRANDS = (b"3gp", b"3g2")


def sniff(head: bytes, size: int) -> Container | None:
    """Return the container `head` (the file's first bytes) belongs to, or None if unknown."""
    if head[:4] in (b"RIFF", b"RF64") and head[8:12] == b"WAVE":
        return Container("wav", "soundfile")
    if head[:4] == b"riff" and head[8:12] == b"\x2e\x91\xcf\x11":  # Sony Wave64 GUID
        return Container("w64", "soundfile")
    for offset, magic, container in _MAGIC:
        if head[offset : offset + len(magic)] == magic:
            return container
    if head[:4] == b"OggS":
        return _sniff_ogg(head)
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        return Container("3gp" if brand.startswith(_3GP_BRANDS) else "mp4", "pyav", "mp4")
    if _is_adts(head):
        return Container("aac", "pyav", "aac")
    if _is_mpeg_audio(head):
        return Container("mp3", "soundfile")
    if _is_raw_gsm(head, size):
        return Container("gsm", "pyav", "gsm")
    return None


def _sniff_ogg(head: bytes) -> Container:
    payload = head[28 + head[26] : 28 + head[26] + 8] if len(head) > 27 else b""
    for signature in _OGG_CODECS:
        if payload.startswith(signature):
            return Container("ogg", "soundfile")
    return Container("ogg", "pyav", "ogg")  # Speex and other Ogg payloads


def _is_adts(head: bytes) -> bool:
    return len(head) >= 7 and head[0] == 0xFF and head[1] & 0xF6 == 0xF0


# kbit/s by (MPEG-1?, layer bits) where layer bits 3 = Layer I, 2 = Layer II, 1 = Layer III
_MPEG_BITRATES = {
    (True, 3): (32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448),
    (True, 2): (32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384),
    (True, 1): (32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    (False, 3): (32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256),
    (False, 2): (8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
    (False, 1): (8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}
_MPEG_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}


def _mpeg_frame_length(header: bytes) -> int | None:
    """Length in bytes of the MPEG audio frame starting with `header`, or None if invalid."""
    if len(header) < 4:
        return None
    (word,) = struct.unpack(">I", header[:4])
    if word >> 21 != 0x7FF:
        return None
    version, layer = (word >> 19) & 3, (word >> 17) & 3
    bitrate_index, rate_index, padding = (word >> 12) & 15, (word >> 10) & 3, (word >> 9) & 1
    if version == 1 or layer == 0 or bitrate_index in (0, 15) or rate_index == 3:
        return None
    mpeg1 = version == 3
    bitrate = _MPEG_BITRATES[mpeg1, layer][bitrate_index - 1] * 1000
    rate = _MPEG_RATES[version][rate_index]
    if layer == 3:
        return (12 * bitrate // rate + padding) * 4
    factor = 72 if layer == 1 and not mpeg1 else 144
    return factor * bitrate // rate + padding


def _is_mpeg_audio(head: bytes) -> bool:
    """Two consecutive valid frame headers: a random file almost never has them."""
    length = _mpeg_frame_length(head)
    return length is not None and _mpeg_frame_length(head[length : length + 4]) is not None


def _is_raw_gsm(head: bytes, size: int) -> bool:
    """Headerless GSM 06.10: whole 33-byte frames, each starting with the nibble 0xD."""
    if size % GSM_FRAME_BYTES or size < GSM_FRAME_BYTES * GSM_MIN_FRAMES:
        return False
    starts = head[: len(head) - len(head) % GSM_FRAME_BYTES : GSM_FRAME_BYTES]
    return len(starts) >= GSM_MIN_FRAMES and all(b >> 4 == 0xD for b in starts)

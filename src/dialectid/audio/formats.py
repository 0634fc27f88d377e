"""The audio format registry: every container the toolkit reads, in one table.

`dialectid.audio.sniff` recognises a container from the file's first bytes and names it with a
key of `FORMATS`; folders are searched for recordings by the suffixes here; the web view serves
each with its media type. Adding a format is a line here and its signature in `sniff`.

>>> FORMATS["gsm"].suffixes
('.gsm',)
>>> ".opus" in SUFFIXES
True
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AudioFormat:
    suffixes: tuple[str, ...]  # how files of this format are usually named (lower case)
    media_type: str  # what a browser's <audio> needs to hear


FORMATS: dict[str, AudioFormat] = {
    "wav": AudioFormat((".wav",), "audio/wav"),
    "w64": AudioFormat((".w64",), "audio/wav"),
    "flac": AudioFormat((".flac",), "audio/flac"),
    "ogg": AudioFormat((".ogg", ".opus", ".oga", ".spx"), "audio/ogg"),
    "mp3": AudioFormat((".mp3",), "audio/mpeg"),
    "webm": AudioFormat((".webm", ".mka"), "audio/webm"),
    "mp4": AudioFormat((".m4a", ".mp4"), "audio/mp4"),
    "3gp": AudioFormat((".3gp", ".3g2"), "audio/3gpp"),
    "aac": AudioFormat((".aac",), "audio/aac"),
    "amr": AudioFormat((".amr",), "audio/amr"),
    "amr-wb": AudioFormat((".awb",), "audio/amr-wb"),
    "aiff": AudioFormat((".aiff", ".aif"), "audio/aiff"),
    "au": AudioFormat((".au", ".snd"), "audio/basic"),
    "caf": AudioFormat((".caf",), "audio/x-caf"),
    "sphere": AudioFormat((".sph", ".wv1", ".wv2"), "application/octet-stream"),
    "gsm": AudioFormat((".gsm",), "application/octet-stream"),
}
SUFFIXES = frozenset(suffix for fmt in FORMATS.values() for suffix in fmt.suffixes)
MEDIA_TYPES = {name: fmt.media_type for name, fmt in FORMATS.items()}

"""The `AudioError` hierarchy: one class per kind of bad recording.

Every message names the file, says what is wrong with it and what to do about it.

>>> err = EmptyFileError("call.wav", "the file has zero bytes", "record or copy it again")
>>> str(err)
'call.wav: the file has zero bytes; record or copy it again'
"""

from __future__ import annotations

from os import PathLike

from dialectid.errors import DialectidError


class AudioError(DialectidError):
    """A recording could not be used. `path` names it, `problem` says why."""

    def __init__(self, path: str | PathLike[str], problem: str, advice: str) -> None:
        self.path = str(path)
        self.problem = problem
        self.advice = advice
        super().__init__(f"{self.path}: {problem}; {advice}")


class FileAccessError(AudioError):
    """Missing, a directory, not a regular file, or not readable."""


class EmptyFileError(AudioError):
    """The file has zero bytes."""


class UnknownFormatError(AudioError):
    """The content is not any audio format dialectid recognises."""


class CorruptAudioError(AudioError):
    """The format was recognised but the file is truncated or damaged."""


class UnsupportedCodecError(AudioError):
    """The container is known but its codec cannot be decoded."""


class InvalidHeaderError(AudioError):
    """The header declares an impossible sample rate or channel count."""


class InvalidSamplesError(AudioError):
    """The decoded samples contain NaN or infinite values."""


class SilentAudioError(AudioError):
    """The whole recording is digital silence."""


class TooLongError(AudioError):
    """The recording is longer than the configured maximum."""


class ChannelError(AudioError):
    """The channel asked for (`--channel`, `ingest.channel_policy`) is not in the recording."""

"""The audio stage: decode any recording, find its speech, judge its quality."""

from dialectid.audio.config import AudioConfig, IngestConfig, QualityConfig, VadConfig
from dialectid.audio.errors import (
    AudioError,
    CorruptAudioError,
    EmptyFileError,
    FileAccessError,
    InvalidHeaderError,
    InvalidSamplesError,
    SilentAudioError,
    TooLongError,
    UnknownFormatError,
    UnsupportedCodecError,
)
from dialectid.audio.inspection import Inspection, inspect_file
from dialectid.audio.quality import Check, Quality, assess_quality
from dialectid.audio.recording import FileInfo, Issue, Recording, SourceFacts, load_recording, probe_file
from dialectid.audio.vad import Segment, Speech, detect_speech

__all__ = [
    "Check", "Inspection", "Quality", "Segment", "Speech", "assess_quality", "detect_speech",
    "inspect_file", "FileInfo", "probe_file", "AudioConfig", "AudioError", "CorruptAudioError",
    "EmptyFileError", "FileAccessError",
    "IngestConfig", "InvalidHeaderError", "InvalidSamplesError", "Issue", "QualityConfig", "Recording",
    "SilentAudioError", "SourceFacts", "TooLongError", "UnknownFormatError",
    "UnsupportedCodecError", "VadConfig", "load_recording",
]  # fmt: skip

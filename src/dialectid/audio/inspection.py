"""`inspect_file`: load a recording, find its speech and judge its quality in one call.

This is what `dialectid inspect` prints, and the audio half of every analysis.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from dialectid.audio.config import AudioConfig
from dialectid.audio.errors import AudioError
from dialectid.audio.quality import Quality, assess_quality
from dialectid.audio.recording import Recording, load_recording
from dialectid.audio.vad import Speech, detect_speech


@dataclass(frozen=True)
class Inspection:
    recording: Recording
    speech: Speech
    quality: Quality

    def to_dict(self) -> dict[str, Any]:
        """The stable JSON form (one line of `dialectid inspect --json`)."""
        facts, quality = self.recording.facts, self.quality
        return {
            "path": facts.path,
            "sha256": facts.sha256,
            "format": facts.container,
            "codec": facts.codec,
            "sample_rate": facts.sample_rate,
            "channels": facts.channels,
            "duration_s": round(facts.duration_s, 3),
            "speech_s": round(self.speech.speech_s, 3),
            "segments": [[s.start, s.end] for s in self.speech.segments],
            "snr_db": _rounded(quality.value("snr_db"), 1),
            "level_dbfs": round(_measured(quality, "level_dbfs"), 1),
            "clipping_ratio": round(_measured(quality, "clipping_ratio"), 6),
            "dc_offset": round(_measured(quality, "dc_offset"), 4),
            "bandwidth_hz": round(_measured(quality, "bandwidth_hz")),
            "longest_silence_s": round(_measured(quality, "longest_silence_s"), 2),
            "vad": self.speech.method,
            "flags": list(quality.flags),
            "reasons": list(quality.reasons),
            "status": quality.status,
        }


def _rounded(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def _measured(quality: Quality, name: str) -> float:
    """A measure every recording has (only the SNR needs speech, `_rounded`)."""
    value = quality.value(name)
    if value is None:
        raise ValueError(f"{name} was not measured")
    return value


def inspect_file(path: str | os.PathLike[str], config: AudioConfig | None = None) -> Inspection:
    """Ingest, detect speech and assess quality. Raises an `AudioError` for unusable files."""
    config = config or AudioConfig()
    recording = load_recording(path, config.ingest)
    speech = detect_speech(recording, config.vad)
    return Inspection(recording, speech, assess_quality(recording, speech, config.quality))


def error_row(path: str | os.PathLike[str], error: AudioError) -> dict[str, Any]:
    """The JSON form of a file that could not be inspected."""
    return {
        "path": str(path),
        "status": "error",
        "error": error.message,
        "error_type": type(error).__name__,
    }

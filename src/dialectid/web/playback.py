"""A recording the page's player can play. Browsers play WAV (PCM), FLAC, Ogg, MP3, WebM and MP4
audio; GSM, AMR, SPHERE, mu-law WAV and the other telephone formats they cannot demux, so the
player gets a PCM WAV made from the verified original instead. The original is never changed and
stays a download of its own.

The rendition is written to a private temporary file (mode 0600) and deleted once sent: it is the
applicant's voice, so it is not cached in the data home, where erasure and backups would have to
know about it. Every request decodes the original again (a two-minute GSM call: milliseconds).

>>> plays_natively("wav", "pcm_s16"), plays_natively("gsm", "gsm"), plays_natively("wav", "pcm_mulaw")
(True, False, False)
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import soundfile as sf

from dialectid.audio import IngestConfig, load_recording
from dialectid.casefile.summaries import RecordingSummary

NATIVE_CONTAINERS = {"flac", "ogg", "mp3", "webm", "mp4", "aac"}
NATIVE_WAV_CODECS = {"pcm_u8", "pcm_s16", "pcm_s24", "pcm_s32", "pcm_f32"}


def plays_natively(container: str, codec: str) -> bool:
    """Whether browsers' <audio> plays this container and codec as stored."""
    return container in NATIVE_CONTAINERS or (container == "wav" and codec in NATIVE_WAV_CODECS)


def player_path(reference: str, recording: RecordingSummary) -> str:
    """What the case page's player loads: the original where browsers play it, else the rendition."""
    original = f"/cases/{reference}/recordings/{recording.sha256}"
    return original if plays_natively(recording.container, recording.codec) else f"{original}/playable"


def wav_rendition(original: Path, sample_rate: int) -> Path:
    """A temporary 16-bit PCM WAV of `original` (mono: what the analysis heard), at 8 kHz for
    narrowband sources and 16 kHz above; the caller deletes it."""
    rate = 8000 if sample_rate <= 8000 else 16000
    recording = load_recording(original, IngestConfig(sample_rate=rate))
    handle, name = tempfile.mkstemp(prefix="dialectid-play-", suffix=".wav")
    os.close(handle)
    try:
        with sf.SoundFile(name, "w", samplerate=rate, channels=1, subtype="PCM_16", format="WAV") as out:
            for block in recording.blocks():
                out.write(block)
    except BaseException:
        os.unlink(name)
        raise
    return Path(name)

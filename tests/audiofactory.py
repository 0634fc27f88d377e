"""Audio the tests make themselves: speech-like signals encoded into every supported format."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import av
import numpy as np
import soundfile as sf


def speechlike(seconds: float, rate: int, seed: int = 0, level: float = 0.3) -> np.ndarray:
    """A voiced, syllable-modulated harmonic signal with formant-like spectral shape."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    f0 = 120 + 30 * np.sin(2 * np.pi * 0.7 * t + rng.uniform(0, 6))
    phase = 2 * np.pi * np.cumsum(f0) / rate
    voiced = sum(np.sin(k * phase) / k for k in range(1, 30) if k * 200 < rate / 2)
    syllables = 0.5 * (1 + np.sin(2 * np.pi * 4 * t + rng.uniform(0, 6))) ** 2
    hiss = rng.normal(0, 0.05, len(t))  # fricative noise carries energy up to the band edge
    x = (voiced + hiss) * syllables
    return (level * x / np.abs(x).max()).astype(np.float32)


def tone(freq: float, seconds: float, rate: int, level: float = 0.5) -> np.ndarray:
    return (level * np.sin(2 * np.pi * freq * np.arange(int(seconds * rate)) / rate)).astype(np.float32)


def espeak(text: str, path: Path, voice: str = "en") -> Path:
    """Real synthetic speech from espeak-ng (22.05 kHz mono WAV)."""
    if shutil.which("espeak-ng") is None:
        raise RuntimeError("espeak-ng is not installed; run the README's install command")
    subprocess.run(["espeak-ng", "-v", voice, "-w", str(path), text], check=True, capture_output=True)
    return path


# name -> (soundfile format, subtype) for the formats libsndfile writes
SNDFILE_FORMATS = {
    "wav_pcm_u8": ("WAV", "PCM_U8"),
    "wav_pcm16": ("WAV", "PCM_16"),
    "wav_pcm24": ("WAV", "PCM_24"),
    "wav_pcm32": ("WAV", "PCM_32"),
    "wav_float32": ("WAV", "FLOAT"),
    "wav_float64": ("WAV", "DOUBLE"),
    "wav_mulaw": ("WAV", "ULAW"),
    "wav_alaw": ("WAV", "ALAW"),
    "flac": ("FLAC", "PCM_16"),
    "ogg_vorbis": ("OGG", "VORBIS"),
    "opus": ("OGG", "OPUS"),
    "mp3": ("MP3", "MPEG_LAYER_III"),
    "gsm_raw": ("RAW", "GSM610"),
}
# name -> (FFmpeg muxer, encoder, encoder rate) for the formats written through PyAV
AV_FORMATS = {
    "m4a_aac": ("ipod", "aac", 16000),
    "amr": ("amr", "libopencore_amrnb", 8000),
    "3gp_amr": ("3gp", "libopencore_amrnb", 8000),
    "webm_opus": ("webm", "libopus", 48000),
}
ALL_FORMATS = [*SNDFILE_FORMATS, *AV_FORMATS]


def write(path: Path, signal: np.ndarray, rate: int, name: str) -> Path:
    """Encode `signal` (mono or (frames, channels)) at `rate` into format `name`."""
    if name in SNDFILE_FORMATS:
        fmt, subtype = SNDFILE_FORMATS[name]
        if name == "opus" and rate not in (8000, 12000, 16000, 24000, 48000):
            raise ValueError("Opus needs 8/12/16/24/48 kHz")
        sf.write(path, signal, rate, format=fmt, subtype=subtype)
        return path
    muxer, codec, out_rate = AV_FORMATS[name]
    data = signal if signal.ndim == 2 else signal[:, None]
    pcm = np.ascontiguousarray((np.clip(data, -1, 1) * 32767).astype(np.int16).T)
    layout = "mono" if data.shape[1] == 1 else "stereo"
    with av.open(str(path), "w", format=muxer) as container:
        stream = container.add_stream(codec, rate=out_rate, layout=layout)
        frame = av.AudioFrame.from_ndarray(
            pcm.reshape(1, -1) if layout == "mono" else pcm.T.reshape(1, -1),
            format="s16",
            layout=layout,
        )
        frame.sample_rate = rate
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path

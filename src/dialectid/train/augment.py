"""Training-time augmentation: noise, speed, telephone channel, gain. Never used when scoring.

>>> import numpy as np
>>> x = np.sin(np.arange(16000) / 5).astype(np.float32) * 0.3
>>> y = augment(x, 16000, AugmentationConfig(copies=1), np.random.default_rng(0))
>>> y.dtype, abs(len(y) - len(x)) <= 0.12 * len(x)
(dtype('float32'), True)
"""

from __future__ import annotations

import io

import numpy as np
import soundfile as sf
import soxr
from scipy.signal import butter, sosfilt

from dialectid.train.config import AugmentationConfig

TELEPHONE_BAND = (300.0, 3400.0)


def augment(signal: np.ndarray, rate: int, config: AugmentationConfig, rng: np.random.Generator) -> np.ndarray:
    """One random variant of `signal`: speed, then channel, then noise, then gain."""
    x = np.asarray(signal, dtype=np.float32)
    speed = float(rng.choice(config.speeds)) if config.speeds else 1.0
    if speed != 1.0:  # resampling and playing back at the old rate changes tempo and pitch, as Kaldi's sp
        x = soxr.resample(x, rate, rate / speed).astype(np.float32)
    if rng.random() < config.telephone_probability:
        x = telephone(x, rate, str(rng.choice(config.codecs)) if config.codecs else "none")
    if config.noise_snr_db is not None:
        x = add_noise(x, float(rng.uniform(*config.noise_snr_db)), rng)
    if config.gain_db is not None:
        x = x * np.float32(10 ** (rng.uniform(*config.gain_db) / 20))
    return np.clip(x, -1.0, 1.0).astype(np.float32)


def add_noise(x: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    power = float(np.mean(x.astype(np.float64) ** 2)) or 1e-10
    noise = rng.standard_normal(len(x)) * np.sqrt(power / 10 ** (snr_db / 10))
    return (x + noise).astype(np.float32)


def telephone(x: np.ndarray, rate: int, codec: str) -> np.ndarray:
    """Band-limit to 300-3400 Hz, pass through 8 kHz and a telephone codec, return at `rate`."""
    sos = butter(6, TELEPHONE_BAND, btype="bandpass", fs=rate, output="sos")
    narrow = soxr.resample(sosfilt(sos, x).astype(np.float32), rate, 8000).astype(np.float32)
    coded = {"mulaw": mulaw, "alaw": alaw, "gsm": gsm, "amr": amr_nb, "none": lambda s: s}[codec](narrow)
    return soxr.resample(coded, 8000, rate).astype(np.float32) if rate != 8000 else coded


def mulaw(x: np.ndarray, mu: float = 255.0) -> np.ndarray:
    """G.711 mu-law companding with 8-bit quantisation."""
    y = np.sign(x) * np.log1p(mu * np.abs(np.clip(x, -1, 1))) / np.log1p(mu)
    y = np.round(y * 127) / 127
    return (np.sign(y) * np.expm1(np.abs(y) * np.log1p(mu)) / mu).astype(np.float32)


def alaw(x: np.ndarray, a: float = 87.6) -> np.ndarray:
    """G.711 A-law companding with 8-bit quantisation."""
    ax = np.abs(np.clip(x, -1, 1))
    small = ax < 1 / a
    y = np.where(small, a * ax / (1 + np.log(a)), (1 + np.log(np.maximum(a * ax, 1e-12))) / (1 + np.log(a)))
    y = np.round(np.sign(x) * y * 127) / 127
    ay = np.abs(y)
    out = np.where(ay < 1 / (1 + np.log(a)), ay * (1 + np.log(a)) / a, np.exp(ay * (1 + np.log(a)) - 1) / a)
    return (np.sign(y) * out).astype(np.float32)


def gsm(x: np.ndarray) -> np.ndarray:
    """A real GSM 06.10 round trip (8 kHz) through libsndfile's encoder and decoder."""
    buffer = io.BytesIO()
    sf.write(buffer, np.clip(x, -1, 1), 8000, format="RAW", subtype="GSM610")
    buffer.seek(0)
    decoded = sf.read(buffer, dtype="float32", format="RAW", subtype="GSM610", samplerate=8000, channels=1)[0]
    return np.pad(decoded, (0, max(0, len(x) - len(decoded))))[: len(x)]


def amr_nb(x: np.ndarray, bitrate: int = 12200) -> np.ndarray:
    """A real AMR-NB round trip (8 kHz, the mobile-phone codec) through FFmpeg's opencore encoder."""
    import av

    buffer = io.BytesIO()
    with av.open(buffer, "w", format="amr") as container:
        stream = container.add_stream("libopencore_amrnb", rate=8000, layout="mono")
        stream.bit_rate = bitrate
        frame = av.AudioFrame.from_ndarray(
            (np.clip(x, -1, 1) * 32767).astype(np.int16)[None], format="s16", layout="mono"
        )
        frame.sample_rate = 8000
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            container.mux(packet)
    buffer.seek(0)
    with av.open(buffer, "r", format="amr") as container:
        decoded = np.concatenate([f.to_ndarray().reshape(-1) for f in container.decode(audio=0)])
    decoded = decoded.astype(np.float32) / (32768.0 if decoded.dtype == np.int16 else 1.0)
    return np.pad(decoded, (0, max(0, len(x) - len(decoded))))[: len(x)]

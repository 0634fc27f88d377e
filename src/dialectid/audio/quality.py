"""Quality assessment: is this recording fit for dialect identification, and if not, why?

Each measure is compared with its configured thresholds and gives `ok`, `warn` or `reject`
together with a sentence a caseworker understands. The recording's status is the worst of them.

>>> judge("speech_s", 4.2, QualityConfig()).message
'only 4.2 s of speech; at least 10 s is recommended'
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from dialectid.audio.config import QualityConfig
from dialectid.audio.frames import HOP_S, frame_energies_db
from dialectid.audio.recording import Recording
from dialectid.audio.vad import Speech

Status = Literal["ok", "warn", "reject"]
_ORDER: dict[Status, int] = {"ok": 0, "warn": 1, "reject": 2}
_MIN_NOISE_FRAMES = 50  # half a second of non-speech gives a usable noise estimate


@dataclass(frozen=True)
class Measure:
    """How one measure reads: its unit, which direction is bad, what to tell a caseworker, and the
    step its value is shown in (the value is rounded towards the bad side at that step, so that
    9.97 s is "only 9.9 s", never "only 10.0 s" beside "at least 10 s")."""

    unit: str
    low_is_bad: bool
    warn_text: str
    reject_text: str
    step: float = 1.0


MEASURES: dict[str, Measure] = {
    "speech_s": Measure(
        "s", True,
        "only {value:.1f} s of speech; at least {warn:g} s is recommended",
        "only {value:.1f} s of speech; at least {reject:g} s is needed for any result", 0.1,
    ),
    "snr_db": Measure(
        "dB", True,
        "noisy recording (signal-to-noise ratio {value:.0f} dB; {warn:g} dB or more is recommended)",
        "too noisy to analyse (signal-to-noise ratio {value:.0f} dB; at least {reject:g} dB is needed)",
    ),
    "clipping_ratio": Measure(
        "", False,
        "{value:.2%} of the samples are clipped: the recording level was too high",
        "{value:.2%} of the samples are clipped: the speech is badly distorted", 0.0001,
    ),
    "dc_offset": Measure(
        "", False,
        "the signal has a DC offset of {value:.2f}: the recording device may be faulty",
        "the signal has a DC offset of {value:.2f}: the recording device is faulty", 0.01,
    ),
    "bandwidth_hz": Measure(
        "Hz", True,
        "the audio carries frequencies only up to {value:.0f} Hz, less than a telephone line",
        "the audio carries frequencies only up to {value:.0f} Hz: too muffled to analyse",
    ),
    "longest_silence_s": Measure(
        "s", False,
        "a silence of {value:.0f} s: the line may have dropped or the speaker stopped",
        "a silence of {value:.0f} s: the recording is mostly empty",
    ),
    "level_dbfs": Measure(
        "dBFS", True,
        "the speech is very quiet ({value:.0f} dBFS); speak closer to the microphone",
        "the speech is almost inaudible ({value:.0f} dBFS)",
    ),
}  # fmt: skip
# What a flag (a check's name, or `telephone_band`) is called where a caseworker reads it.
FLAG_TEXT = {
    "speech_s": "little speech", "snr_db": "noisy", "clipping_ratio": "clipped", "dc_offset": "DC offset",
    "bandwidth_hz": "muffled (narrow band)", "longest_silence_s": "long silence", "level_dbfs": "very quiet",
    "telephone_band": "telephone line", "truncated": "file cut short", "decode_errors": "damaged data skipped",
    "channels_differ": "channels differ",
}  # fmt: skip


def flag_text(flag: str) -> str:
    """A quality flag in words.

    >>> flag_text("telephone_band"), flag_text("speech_s")
    ('telephone line', 'little speech')
    """
    return FLAG_TEXT.get(flag, flag.replace("_", " "))


@dataclass(frozen=True)
class Check:
    name: str
    value: float | None  # None where the measure cannot be taken (no SNR without speech)
    unit: str
    status: Status
    message: str


@dataclass(frozen=True)
class Quality:
    """Every check, the overall status and the flags (names of checks that are not ok, plus
    `telephone_band` where the audio is band-limited like a telephone line).

    Besides the measures, a file `truncated` (its header declares more than it holds) or with
    `decode_errors` (damaged data skipped while decoding) gives a `warn` check of that name."""

    checks: tuple[Check, ...]
    status: Status
    flags: tuple[str, ...]

    @property
    def reasons(self) -> tuple[str, ...]:
        return tuple(c.message for c in self.checks if c.status != "ok")

    def value(self, name: str) -> float | None:
        return next(c.value for c in self.checks if c.name == name)


def judge(name: str, value: float | None, config: QualityConfig) -> Check:
    """Compare one measure with its thresholds (a measure that could not be taken is ok)."""
    measure, limits = MEASURES[name], getattr(config, name)
    if value is None:
        return Check(name, None, measure.unit, "ok", "")

    def beyond(limit: float | None) -> bool:
        return limit is not None and (value < limit if measure.low_is_bad else value > limit)

    status: Status = "reject" if beyond(limits.reject) else "warn" if beyond(limits.warn) else "ok"
    text = {"ok": "", "warn": measure.warn_text, "reject": measure.reject_text}[status]
    message = text.format(value=_shown(value, measure), warn=limits.warn, reject=limits.reject)
    return Check(name, float(value), measure.unit, status, message)


def _shown(value: float, measure: Measure) -> float:
    """`value` rounded to its display step towards the bad side: a value below a lower limit never
    reads as the limit itself (9.97 s shown with one decimal is 9.9 s, not 10.0 s)."""
    steps = round(value / measure.step, 6)  # 9.9 / 0.1 is 98.99999...: not one step less
    return (math.floor(steps) if measure.low_is_bad else math.ceil(steps)) * measure.step


def assess_quality(recording: Recording, speech: Speech, config: QualityConfig | None = None) -> Quality:
    """Measure `recording` (with its detected `speech`) against `config`."""
    config = config or QualityConfig()
    snr, level = speech_levels(recording, speech)
    values = {
        "speech_s": speech.speech_s,
        "snr_db": snr,
        "clipping_ratio": recording.stats.clipping_ratio,
        "dc_offset": recording.stats.dc_offset,
        "bandwidth_hz": recording.stats.bandwidth_hz,
        "longest_silence_s": speech.longest_silence_s,
        "level_dbfs": level,
    }
    checks = tuple(judge(name, value, config) for name, value in values.items())
    checks += tuple(Check(i.flag, i.value, i.unit, "warn", i.message) for i in recording.issues)
    checks += _channels_differ(recording, config)
    status = max((c.status for c in checks), key=_ORDER.__getitem__)
    flags = [c.name for c in checks if c.status != "ok"]
    if recording.stats.bandwidth_hz <= config.telephone_band_hz:
        flags.append("telephone_band")
    return Quality(checks, status, tuple(flags))


def _channels_differ(recording: Recording, config: QualityConfig) -> tuple[Check, ...]:
    """A `warn` check `channels_differ` where mixed channels carry different sound (two sides of a
    call, an interpreter): their mix would be scored as one voice. The scorer makes such a result
    low_confidence; the operator scores each channel with --channel."""
    agreement = recording.stats.channel_agreement
    if recording.channel is not None or agreement is None or agreement >= config.channel_agreement_min:
        return ()
    channels = recording.facts.channels
    message = (f"the {channels} channels carry different sound (agreement {agreement:.2f}); mixed, two voices or "
               "languages blur into one result: score each channel alone with --channel left, --channel right "
               f"(or 0 to {channels - 1})")  # fmt: skip
    return (Check("channels_differ", round(agreement, 4), "", "warn", message),)


def speech_levels(recording: Recording, speech: Speech) -> tuple[float | None, float]:
    """(SNR in dB, active speech level in dBFS) from 10 ms frame energies; without speech
    there is no SNR and the level is that of the whole recording.

    Speech power is the mean over frames inside speech segments; noise power the median over
    the other frames, or the 5th percentile of all frames where there is too little pause.
    """
    levels = frame_energies_db(recording.blocks(), recording.sample_rate)
    power = 10 ** (levels / 10)
    in_speech = np.zeros(len(levels), dtype=bool)
    for seg in speech.segments:
        in_speech[int(seg.start / HOP_S) : int(np.ceil(seg.end / HOP_S))] = True
    if not in_speech.any():
        return None, float(10 * np.log10(power.mean() + 1e-12))
    speech_power = power[in_speech].mean()
    pauses = power[~in_speech]
    noise = np.median(pauses) if len(pauses) >= _MIN_NOISE_FRAMES else np.percentile(power, 5)
    snr = 10 * np.log10(max(speech_power - noise, 1e-12) / max(noise, 1e-12))
    return float(np.clip(snr, -20.0, 100.0)), float(10 * np.log10(speech_power + 1e-12))

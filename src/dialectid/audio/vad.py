"""Voice activity detection: where in a recording someone speaks.

Two detectors, registered by name, turn the signal into per-frame speech probabilities:
`silero` runs the Silero VAD ONNX model shipped inside this package (silero_vad.onnx, MIT, from
silero-vad 6.2.3: SOURCE.md beside it; verified by its sha256, never downloaded), `energy`
thresholds frame energy above the noise floor. One hysteresis step turns the probabilities into
segments for both.

>>> speech_segments(np.array([0, 0, 1, 1, 1, 1, 0, 0]), 0.1, VadConfig(min_speech_s=0.2))
[Segment(start=0.2, end=0.6000000000000001)]
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from dialectid.audio.config import VadConfig
from dialectid.audio.frames import HOP_S, frame_energies_db
from dialectid.audio.recording import Recording
from dialectid.errors import DialectidError
from dialectid.paths import file_sha256

# Shipped in the package, not read from the silero-vad wheel: that package requires torch (#27).
SILERO_MODEL = Path(__file__).with_name("silero_vad.onnx")
SILERO_SHA256 = "1a153a22f4509e292a94e67d6f9b85e8deb25b4988682b7e174c65279d8788e3"
# samples per model step and samples of left context, per rate
_SILERO_FRAMES = {16000: (512, 64), 8000: (256, 32)}
_SILERO_STATE = 128


@dataclass(frozen=True)
class Segment:
    start: float
    end: float

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class Speech:
    """Speech segments of a recording, in seconds from its start."""

    segments: tuple[Segment, ...]
    duration_s: float
    method: str

    @property
    def speech_s(self) -> float:
        return sum(s.duration for s in self.segments)

    @property
    def longest_silence_s(self) -> float:
        """Longest stretch without speech, counting the start and the end of the recording."""
        edges = [0.0, *(t for s in self.segments for t in (s.start, s.end)), self.duration_s]
        return max(b - a for a, b in zip(edges[::2], edges[1::2], strict=True))


class VadModelError(DialectidError):
    """The VAD model file is missing or does not match its checksum."""


Detector = Callable[[Iterable[np.ndarray], int, VadConfig], tuple[np.ndarray, float]]
DETECTORS: dict[str, Detector] = {}


def register_detector(name: str) -> Callable[[Detector], Detector]:
    def add(detector: Detector) -> Detector:
        DETECTORS[name] = detector
        return detector

    return add


def detect_speech(recording: Recording, config: VadConfig | None = None) -> Speech:
    """Find the speech segments of `recording` with the configured detector.

    With `refine_edges`, segment edges are then tightened to where the frame energy rises
    above the noise floor: the model decides whether someone speaks, the energy where the
    speech starts and ends (a recurrent model lags by a frame or three at each edge).
    """
    config = config or VadConfig()
    if config.method not in DETECTORS:
        known = ", ".join(sorted(DETECTORS))
        raise DialectidError(f"unknown VAD method {config.method!r}; known methods: {known}")
    probabilities, hop_s = DETECTORS[config.method](recording.blocks(), recording.sample_rate, config)
    segments = speech_segments(probabilities, hop_s, config)
    if config.refine_edges and config.method != "energy":
        active, energy_hop = energy_probabilities(recording.blocks(), recording.sample_rate, config)
        segments = refine_edges(segments, active, energy_hop)
    return Speech(
        pad_and_merge(segments, config.pad_s, recording.duration_s),
        recording.duration_s,
        config.method,
    )


def speech_segments(probabilities: np.ndarray, hop_s: float, config: VadConfig) -> list[Segment]:
    """Hysteresis over frame probabilities: start at `threshold`, end below `threshold - 0.15`
    after `min_silence_s`; drop segments under `min_speech_s`."""
    low = max(config.threshold - 0.15, 0.01)
    raw: list[tuple[int, int]] = []
    start: int | None = None
    silent_since: int | None = None
    min_silence = max(1, round(config.min_silence_s / hop_s))
    for i, p in enumerate(probabilities):
        if start is None:
            if p >= config.threshold:
                start, silent_since = i, None
        elif p < low:
            silent_since = i if silent_since is None else silent_since
            if i - silent_since + 1 >= min_silence:
                raw.append((start, silent_since))
                start, silent_since = None, None
        else:
            silent_since = None
    if start is not None:
        raw.append((start, silent_since if silent_since is not None else len(probabilities)))
    return [Segment(a * hop_s, b * hop_s) for a, b in raw if (b - a) * hop_s >= config.min_speech_s]


def refine_edges(segments: list[Segment], active: np.ndarray, hop_s: float) -> list[Segment]:
    """Shrink each segment to its first and last energetically active frame (never grow it)."""
    refined = []
    for seg in segments:
        first = int(seg.start / hop_s)
        inside = np.nonzero(active[first : int(np.ceil(seg.end / hop_s))])[0]
        if not len(inside):
            refined.append(seg)  # speech below the energy floor: trust the model
            continue
        start, end = (first + inside[0]) * hop_s, (first + inside[-1] + 1) * hop_s
        refined.append(Segment(max(seg.start, start), min(seg.end, end)))
    return refined


def pad_and_merge(segments: list[Segment], pad_s: float, duration_s: float) -> tuple[Segment, ...]:
    """Pad each segment on both sides within the recording and merge the ones that overlap."""
    merged: list[Segment] = []
    for seg in segments:
        padded = Segment(max(0.0, seg.start - pad_s), min(duration_s, seg.end + pad_s))
        if merged and padded.start <= merged[-1].end:
            padded = Segment(merged[-1].start, max(padded.end, merged[-1].end))
            merged.pop()
        merged.append(padded)
    return tuple(Segment(round(s.start, 4), round(s.end, 4)) for s in merged)


@register_detector("energy")
def energy_probabilities(blocks: Iterable[np.ndarray], sample_rate: int, config: VadConfig) -> tuple[np.ndarray, float]:
    """Frames more than `energy_margin_db` above the noise floor (10th percentile) are speech."""
    levels = frame_energies_db(blocks, sample_rate)
    if not len(levels):
        return levels, HOP_S
    floor = np.percentile(levels, 10)
    threshold = max(floor + config.energy_margin_db, levels.max() - 50.0, -70.0)
    return (levels > threshold).astype(np.float32), HOP_S


@register_detector("silero")
def silero_probabilities(blocks: Iterable[np.ndarray], sample_rate: int, config: VadConfig) -> tuple[np.ndarray, float]:
    """Silero VAD speech probability per 32 ms step.

    The signal is cut into parts of `config.part_s` seconds on a fixed grid; all parts of a
    block run through the model together as one batch, each with its own recurrent state
    (started from zero, as at the start of a file, with the true preceding samples as
    context). That is many times faster than one step at a time and gives the same result
    however the signal is split into blocks.
    """
    frame, context = _SILERO_FRAMES[sample_rate]
    part = max(1, round(config.part_s * sample_rate / frame)) * frame
    session = _silero_session()
    results: list[np.ndarray] = []
    for previous_tail, group in _parts(blocks, part, context):
        results.append(_silero_run(session, group, previous_tail, part, frame, context, sample_rate))
    return (np.concatenate(results) if results else np.zeros(0, np.float32)), frame / sample_rate


def _parts(
    blocks: Iterable[np.ndarray], part: int, context: int, parts_per_group: int = 8
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Groups of whole parts (the last one zero-padded) with the samples before the group."""
    buffer = np.zeros(0, dtype=np.float32)
    tail = np.zeros(context, dtype=np.float32)
    group = part * parts_per_group
    for block in blocks:
        buffer = np.concatenate([buffer, block])
        while len(buffer) >= group:
            yield tail, buffer[:group]
            tail, buffer = buffer[group - context : group], buffer[group:]
    if len(buffer):
        frames_needed = -(-len(buffer) // part) * part
        yield tail, np.pad(buffer, (0, frames_needed - len(buffer)))


def _silero_run(
    session, signal: np.ndarray, tail: np.ndarray, part: int, frame: int, context: int, rate: int
) -> np.ndarray:
    """Probabilities for consecutive parts of `signal`, run side by side as one batch."""
    parts = signal.reshape(-1, part)
    before = np.concatenate([tail[None, :], parts[:-1, -context:]])  # true samples before each part
    windows = np.lib.stride_tricks.sliding_window_view(
        np.concatenate([before, parts], axis=1), context + frame, axis=1
    )[:, ::frame]
    state = np.zeros((2, len(parts), _SILERO_STATE), dtype=np.float32)
    rate_input = np.array(rate, dtype=np.int64)
    steps = []
    for step in range(windows.shape[1]):
        x = np.ascontiguousarray(windows[:, step])
        out, state = session.run(None, {"input": x, "state": state, "sr": rate_input})
        steps.append(out[:, 0])
    return np.stack(steps, axis=1).reshape(-1)


@lru_cache(maxsize=1)
def _silero_session():
    import onnxruntime

    path = silero_model_path()
    if file_sha256(path) != SILERO_SHA256:
        raise VadModelError(f"{path}: checksum mismatch for the Silero VAD model; reinstall dialectid")
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def silero_model_path() -> Path:
    """The Silero VAD ONNX file shipped inside dialectid (package data, beside this module)."""
    if not SILERO_MODEL.is_file():
        raise VadModelError(f"{SILERO_MODEL}: the Silero VAD model is missing from this install; reinstall dialectid")
    return SILERO_MODEL

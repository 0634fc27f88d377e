"""Sliding windows over the speech of a recording, streamed block by block.

The speech segments are joined into one stream of speech; windows of `window_s` seconds start
every `hop_s` seconds of it, with a last window flush against the end so that all speech is
covered. Each window knows where in the recording it starts and ends.

>>> plan_windows(10.0, 4.0, 2.0)
[(0.0, 4.0), (2.0, 6.0), (4.0, 8.0), (6.0, 10.0)]
>>> plan_windows(9.0, 4.0, 2.0)[-1]
(5.0, 9.0)
>>> plan_windows(2.5, 4.0, 2.0)
[(0.0, 2.5)]
>>> plan_windows(20.0, 4.0, 2.0, max_windows=3)  # a budget: evenly spread over the speech
[(0.0, 4.0), (8.0, 12.0), (16.0, 20.0)]
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from dialectid.audio.vad import Segment


@dataclass(frozen=True)
class SpeechWindow:
    start: float  # in the recording, seconds
    end: float
    speech_s: float
    samples: np.ndarray


def plan_windows(total_s: float, window_s: float, hop_s: float, max_windows: int | None = None
                 ) -> list[tuple[float, float]]:  # fmt: skip
    """(start, end) in seconds of speech; with `max_windows`, at most that many, evenly spread
    from the first window to the last."""
    if total_s <= 0:
        return []
    if total_s <= window_s:
        return [(0.0, round(total_s, 6))]
    plan = [
        (round(float(s), 6), round(float(s) + window_s, 6)) for s in np.arange(0.0, total_s - window_s + 1e-9, hop_s)
    ]
    if plan[-1][1] < total_s - 1e-6:
        plan.append((round(total_s - window_s, 6), round(total_s, 6)))
    if max_windows is not None and len(plan) > max_windows:
        plan = [plan[int(i)] for i in np.linspace(0, len(plan) - 1, max_windows).round()]
    return plan


class _SpeechClock:
    """Maps a position in the joined speech stream back to a time in the recording."""

    def __init__(self, spans: Sequence[tuple[int, int]], rate: int) -> None:
        self.starts = [a for a, _ in spans]
        self.cumulative = np.concatenate([[0], np.cumsum([b - a for a, b in spans])]).astype(np.int64)
        self.rate = rate

    def time(self, position: int, end: bool = False) -> float:
        index = position - 1 if end else position
        k = max(0, min(bisect.bisect_right(self.cumulative, index) - 1, len(self.starts) - 1))
        sample = self.starts[k] + (index - self.cumulative[k]) + (1 if end else 0)
        return round(sample / self.rate, 4)


def speech_windows(
    blocks: Iterable[np.ndarray],
    rate: int,
    segments: Sequence[Segment],
    window_s: float,
    hop_s: float,
    max_windows: int | None = None,
) -> Iterator[SpeechWindow]:
    """Windows over the speech of a block stream; memory stays at about one window."""
    spans = [(round(s.start * rate), round(s.end * rate)) for s in segments]
    spans = [(a, b) for a, b in spans if b > a]
    clock = _SpeechClock(spans, rate)
    total = int(clock.cumulative[-1])
    plan = [
        (round(a * rate), min(total, round(b * rate)))
        for a, b in plan_windows(total / rate, window_s, hop_s, max_windows)
    ]
    # the buffer holds the speech from buffer_start to produced, never more than the next window needs
    buffer, buffer_start, produced, next_window = np.zeros(0, np.float32), 0, 0, 0
    offset = 0

    def trimmed() -> tuple[np.ndarray, int]:
        keep_from = min(plan[next_window][0] if next_window < len(plan) else produced, produced)
        return buffer[keep_from - buffer_start :], keep_from

    for block in blocks:
        pieces = [block[max(a - offset, 0) : min(b - offset, len(block))] for a, b in spans
                  if a < offset + len(block) and b > offset]  # fmt: skip
        offset += len(block)
        if not pieces:
            continue
        buffer = np.concatenate([buffer, *pieces])
        produced += sum(len(p) for p in pieces)
        buffer, buffer_start = trimmed()  # speech between budgeted windows is never kept
        while next_window < len(plan) and plan[next_window][1] <= produced:
            yield _window(plan[next_window], buffer, buffer_start, clock, rate)
            next_window += 1
            buffer, buffer_start = trimmed()
    for planned in plan[next_window:]:  # rounding at the very end: whatever speech there is
        if planned[0] < produced:
            yield _window((planned[0], min(planned[1], produced)), buffer, buffer_start, clock, rate)


def _window(
    planned: tuple[int, int], buffer: np.ndarray, buffer_start: int, clock: _SpeechClock, rate: int
) -> SpeechWindow:
    a, b = planned
    samples = buffer[a - buffer_start : b - buffer_start]
    return SpeechWindow(clock.time(a), clock.time(b, end=True), len(samples) / rate, samples)

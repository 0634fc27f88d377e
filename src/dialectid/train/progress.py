"""Progress of the long stages of training and evaluation, as lines a person can read.

Models report `progress(stage=..., step=..., steps=...)` as they go (classical ones `total=`
instead of `steps=`); `StageProgress` turns those calls into timed lines with a rate and the time
left ("encoding 120/480 (3.1/s, about 1m56s left)") for train.log and for a console that is not a
terminal, and passes every call on (with `line` added when one is due) to a progress bar. A line is
written when a stage starts, at most every `every_s` seconds while it runs, and when it ends, so a
log never stays silent for minutes and never floods.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def duration(seconds: float) -> str:
    """A short human duration.

    >>> duration(7.2), duration(116), duration(3725)
    ('7s', '1m56s', '1h02m')
    """
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def progress_line(stage: str, step: int, steps: int | None, elapsed: float, since: int = 0) -> str:
    """ "stage step/steps (rate/s, about T left)"; at the end, the time the stage took. The rate
    counts the steps after `since` (the step at which the clock started) over `elapsed`.

    >>> progress_line("encoding", 120, 480, 40.0)
    'encoding 120/480 (3.0/s, about 2m00s left)'
    >>> progress_line("evaluating", 12, 12, 6.0)
    'evaluating 12/12 done in 6s (2.0/s)'
    """
    rate = (step - since) / elapsed if elapsed > 0 else 0.0
    count = f"{step}/{steps}" if steps else str(step)
    if steps and step >= steps:
        return f"{stage} {count} done in {duration(elapsed)} ({rate:.1f}/s)"
    left = f", about {duration((steps - step) / rate)} left" if steps and rate > 0 else ""
    return f"{stage} {count} ({rate:.1f}/s{left})"


class StageProgress:
    """Callable as a model's `progress`: writes due lines to `write` and forwards every call to
    `forward` (a progress bar) with `stage`, `step`, `steps` normalised and `line` when one is due."""

    def __init__(self, write: Callable[[str], None], forward: Callable[..., None] = lambda **_: None,
                 every_s: float = 30.0, clock: Callable[[], float] = time.monotonic) -> None:  # fmt: skip
        self.write, self.forward, self.every_s, self.clock = write, forward, every_s, clock
        self.stage: str | None = None
        self.step = self.first = 0
        self.started = self.last = 0.0

    def __call__(self, **fields: Any) -> None:
        if "epoch" in fields:  # neural epochs have their own log rows (metrics.jsonl, train.log)
            self.forward(**fields)
            return
        stage = fields.get("stage") or "fitting"
        step, steps = fields.get("step"), fields.get("steps", fields.get("total"))
        now = self.clock()
        if stage != self.stage or (step is not None and step < self.step):  # a new stage, or the same again
            self.stage, self.started, self.last, self.first = stage, now, now, step or 0
            self.write(f"{stage}: started" + (f", {steps} steps" if steps else ""))
        self.step = step or 0
        line = None
        finished = steps is not None and step is not None and step >= steps
        if step is not None and (finished or now - self.last >= self.every_s):
            line, self.last = progress_line(stage, step, steps, now - self.started, self.first), now
            self.write(line)
        self.forward(**{**fields, "stage": stage, "step": step, "steps": steps, "line": line})

    def counter(self, stage: str, steps: int) -> Callable[[], None]:
        """An `advance()` for loops that count one item at a time."""
        done = 0

        def advance() -> None:
            nonlocal done
            done += 1
            self(stage=stage, step=done, steps=steps)

        return advance

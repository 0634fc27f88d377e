"""Audit rows for events anyone can repeat at will (failed logins, refused requests) without
letting them flood the audit log, and without text of the requester's choosing in them.

`AuditAggregator` writes the first event of a kind at once, then one row at the 10th, 100th,
1000th ... repetition within a window, and one with the final count when the window closes, so
a flood leaves a handful of rows that still say how big it was. The counts live in memory, per
server process; a restart starts them again (the rows already written stay).

`path_shape` and `case_reference` reduce a requested URL to what may go into a row: the route's
fixed words, and a reference only if it has the form the case file gives references.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import UTC, datetime

from dialectid.casefile import CASE_REFERENCE

NOT_A_REFERENCE = "(not a case reference)"
Write = Callable[[int, str | None], None]  # (attempts so far, when the window began; None for the first)


def case_reference(text: str) -> str:
    """`text` if it has the form of a case reference, else a fixed stand-in.

    >>> case_reference("C-2026-0A1B2C"), case_reference("NOTICE from admin")
    ('C-2026-0A1B2C', '(not a case reference)')
    """
    return text if CASE_REFERENCE.fullmatch(text) else NOT_A_REFERENCE


def path_shape(path: str, words: frozenset[str]) -> str:
    """The path with every segment that is not one of the routes' fixed `words` replaced by `*`.

    >>> path_shape("/api/cases/C-2026-0A1B2C/reports/NOTICE from admin", frozenset({"api", "cases", "reports"}))
    '/api/cases/*/reports/*'
    """
    return "/".join(part if not part or part in words else "*" for part in path.split("/"))[:200]


def route_words(paths: list[str]) -> frozenset[str]:
    """The fixed segments of route templates such as `/cases/{reference}/audit`."""
    return frozenset(part for path in paths for part in path.split("/") if part and not part.startswith("{"))


@dataclass
class _Run:
    started: float  # time.monotonic()
    since: str  # the same moment, for the row
    write: Write
    count: int = 1
    written: int = 1  # the count the last row said


class AuditAggregator:
    """Counts events per key within `window_s`; see the module's docstring. Thread-safe.

    >>> rows = []
    >>> aggregator = AuditAggregator(window_s=900)
    >>> for _ in range(25):
    ...     aggregator.note("carla", lambda attempts, since: rows.append(attempts))
    >>> aggregator.flush()
    >>> rows
    [1, 10, 25]
    """

    def __init__(self, window_s: float, max_keys: int = 10_000) -> None:
        self.window_s, self.max_keys = window_s, max_keys
        self._runs: OrderedDict[Hashable, _Run] = OrderedDict()  # oldest first: runs are never moved
        self._lock = threading.Lock()

    def note(self, key: Hashable, write: Write) -> None:
        """Count one event under `key`; `write` writes its row when one is due (the first event's
        `write` also writes the run's later rows)."""
        now = time.monotonic()
        with self._lock:
            due = self._close_runs(lambda run: now - run.started >= self.window_s)
            run = self._runs.get(key)
            if run is None:
                self._runs[key] = _Run(now, datetime.now(UTC).isoformat(timespec="seconds"), write)
                due.append((write, 1, None))
                due += self._close_runs(lambda _run: len(self._runs) > self.max_keys)  # too many: the oldest end
            else:
                run.count += 1
                if _tenfold(run.count):
                    run.written = run.count
                    due.append((run.write, run.count, run.since))
        for writer, attempts, since in due:  # outside the lock: a row is a database transaction
            writer(attempts, since)

    def flush(self) -> None:
        """Write the final count of every open run (at the server's shutdown)."""
        with self._lock:
            due = self._close_runs(lambda _run: True)
        for writer, attempts, since in due:
            writer(attempts, since)

    def _close_runs(self, ended: Callable[[_Run], bool]) -> list[tuple[Write, int, str | None]]:
        """Remove runs from the oldest on while `ended` says so; the rows their final counts need."""
        due: list[tuple[Write, int, str | None]] = []
        while self._runs:
            key, run = next(iter(self._runs.items()))
            if not ended(run):
                break
            del self._runs[key]
            if run.count > run.written:
                due.append((run.write, run.count, run.since))
        return due


def _tenfold(count: int) -> bool:
    """10, 100, 1000, ..."""
    digits = str(count)
    return count >= 10 and digits == "1" + "0" * (len(digits) - 1)

"""Stop what a local Ray instance left running when the process that started it dies, even by SIGKILL.

`ray.init()` without an address starts a small cluster whose processes are children of the
driver; a normal exit shuts it down, but a driver killed outright leaves `ray::DashboardAgent`
and `ray::RuntimeEnvAgent` running. The reaper watches the driver (a pidfd), notes every process
that has been below the driver, and when the driver is gone it kills those still alive (same pid
and start time, so a reused pid is never touched).

`watch()` runs this file as a script (standard library only, so it is watching within
milliseconds) before Ray starts, so every process Ray starts is seen.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
from pathlib import Path

_POLL_S = 0.2
_GRACE_S = 2.0


def watch(driver: int) -> subprocess.Popen:
    """Start a reaper for `driver` in its own session, so a kill of the driver's group spares it."""
    return subprocess.Popen([sys.executable, "-I", __file__, str(driver)], start_new_session=True,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip


def descendants(root: int) -> dict[int, str]:
    """Every process below `root`, as pid -> start time (so a reused pid is never mistaken)."""
    children: dict[int, list[int]] = {}
    started: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        fields = _stat_fields(int(entry.name))
        if fields:
            children.setdefault(int(fields[1]), []).append(int(entry.name))
            started[int(entry.name)] = fields[19]
    found, todo = {}, list(children.get(root, []))
    while todo:
        pid = todo.pop()
        if pid in started and pid != os.getpid():
            found[pid] = started[pid]
            todo.extend(children.get(pid, []))
    return found


def _stat_fields(pid: int) -> list[str] | None:
    """Fields of /proc/PID/stat after the command name: state, ppid, ..., starttime at index 19."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rfind(")") + 2 :].split()


def _kill(processes: dict[int, str], sig: int) -> dict[int, str]:
    alive = {}
    for pid, start in processes.items():
        fields = _stat_fields(pid)
        if fields and fields[19] == start and fields[0] != "Z":
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                continue
            alive[pid] = start
    return alive


def main(driver: int) -> None:
    try:
        handle = os.pidfd_open(driver)
    except ProcessLookupError:
        return
    known = descendants(driver)
    while not select.select([handle], [], [], _POLL_S)[0]:
        known.update(descendants(driver))  # kept: a process orphaned during shutdown is still Ray's
    alive = _kill(known, signal.SIGTERM)
    if alive:
        select.select([], [], [], _GRACE_S)
        _kill(alive, signal.SIGKILL)


if __name__ == "__main__":
    main(int(sys.argv[1]))

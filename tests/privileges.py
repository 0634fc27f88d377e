"""Run a check as an unprivileged user: the tests run as root, who can read anything."""

from __future__ import annotations

import os

NOBODY = 65534


def as_nobody(action) -> str:
    """What `action()` returns when run by uid 65534 (in a forked child; only modules already
    imported can be used there, since the interpreter's own files are root's)."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        os.close(read_end)
        try:
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            verdict = action()
        except BaseException as error:  # report, never let the child run the rest of the suite
            verdict = f"unexpected {type(error).__name__}: {error}"
        os.write(write_end, verdict.encode())
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        verdict = pipe.read().decode()
    os.waitpid(pid, 0)
    return verdict

"""Where dialectid keeps its state: DIALECTID_HOME, default ~/.local/share/dialectid."""

from __future__ import annotations

import os
from pathlib import Path


def home() -> Path:
    configured = os.environ.get("DIALECTID_HOME")
    return Path(configured) if configured else Path.home() / ".local" / "share" / "dialectid"


def atomic_write(target: Path, write, binary: bool = True) -> None:
    """Write through `write(stream)` into a temporary file beside `target`, force it to disk and
    rename it into place: readers see the old file or the new one, never half of one."""
    import tempfile

    target.parent.mkdir(parents=True, exist_ok=True)
    mode, encoding = ("wb", None) if binary else ("w", "utf-8")
    with tempfile.NamedTemporaryFile(mode, encoding=encoding, dir=target.parent, prefix=f".{target.name}.",
                                     delete=False) as stream:  # fmt: skip
        try:
            write(stream)
            stream.flush()
            os.fsync(stream.fileno())
        except BaseException:
            os.unlink(stream.name)
            raise
    os.replace(stream.name, target)

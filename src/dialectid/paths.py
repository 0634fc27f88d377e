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


def file_sha256(path: Path) -> str:
    """The sha256 of a file, read in chunks (a 145 MB encoder hashes in about 0.1 s)."""
    import hashlib

    with path.open("rb") as stream:
        return hashlib.file_digest(stream, "sha256").hexdigest()


def inside(root: Path, relative: str) -> Path:
    """`root / relative`, where `relative` is a relative path that stays inside `root` once symbolic
    links are resolved; otherwise ValueError. For paths named by a file someone else may have written.

    >>> inside(Path("/b"), "encoder/model.bin").as_posix()
    '/b/encoder/model.bin'
    >>> inside(Path("/b"), "../etc")
    Traceback (most recent call last):
    ValueError: '../etc' leads outside b
    """
    if Path(relative).is_absolute():
        raise ValueError(f"{relative!r} is absolute")
    base, target = root.resolve(), (root / relative).resolve()
    if not target.is_relative_to(base):
        raise ValueError(f"{relative!r} leads outside {root.name}")
    if target == base:
        raise ValueError(f"{relative!r} names {root.name} itself, not a path inside it")
    return root / relative

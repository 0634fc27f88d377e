"""Where dialectid keeps its state: DIALECTID_HOME, default ~/.local/share/dialectid."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from dialectid.errors import DialectidError

# What every dialectid command runs with: what it creates is its user's alone. The home holds
# names, dates of birth, recordings of voices and password hashes, so nothing in it is for others.
PRIVATE_UMASK = 0o077


class HomeError(DialectidError):
    """The data home is open to other users and cannot be made private (it is not ours)."""


def home() -> Path:
    configured = os.environ.get("DIALECTID_HOME")
    return Path(configured) if configured else Path.home() / ".local" / "share" / "dialectid"


def checkout_root() -> Path | None:
    """The source checkout this package runs from (its src/dialectid beside a pyproject.toml), where the
    shipped models and the sample recordings lie; None for an installed package, which has neither.

    >>> (checkout_root() / "src" / "dialectid" / "paths.py").samefile(__file__)  # the tests run in a checkout
    True
    """
    root = Path(__file__).resolve().parents[2]
    if not (root / "pyproject.toml").is_file() or not (root / "src" / "dialectid").is_dir():
        return None
    return root


def make_private(root: Path) -> str | None:
    """Take every permission for group and others off `root` and everything below it (folders
    become 0700, files 0600 or stricter; symbolic links are left alone). Returns one line saying
    what was changed, None when everything was private already; a path that cannot be changed
    (another user owns it) is a HomeError. A missing `root` is created private.

    >>> import shutil, tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> (root / "casefile.db").touch()
    >>> for path, mode in ((root, 0o755), (root / "casefile.db", 0o644)):
    ...     path.chmod(mode)
    >>> make_private(root).endswith("made 2 paths private (group and other permissions removed)")
    True
    >>> make_private(root) is None, oct((root / "casefile.db").stat().st_mode & 0o777)
    (True, '0o600')
    >>> shutil.rmtree(root)
    """
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    changed = 0
    for folder, _, files in os.walk(root, onerror=_raise):  # os.walk does not follow links
        for path in (Path(folder), *(Path(folder) / name for name in files)):
            info = path.lstat()
            if stat.S_ISLNK(info.st_mode) or not stat.S_IMODE(info.st_mode) & 0o077:
                continue
            try:
                path.chmod(stat.S_IMODE(info.st_mode) & 0o700)
            except PermissionError:
                raise HomeError(
                    f"{path} is open to other users (mode {stat.S_IMODE(info.st_mode):04o}) and cannot be made "
                    f"private: its owner is uid {info.st_uid}, not you (uid {os.geteuid()}); run dialectid as its "
                    "owner or ask them to `chmod -R go= ` the data home"
                ) from None
            changed += 1
    if not changed:
        return None
    return (f"{root}: other users could read the data home; made {changed} paths private "
            "(group and other permissions removed)")  # fmt: skip


def _raise(error: OSError) -> None:
    if isinstance(error, PermissionError):
        raise HomeError(f"{error.filename} cannot be read to check that it is private ({error.strerror}); "
                        "run dialectid as the owner of the data home") from None  # fmt: skip
    raise error


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
    """The sha256 of a file, read in chunks (a 79 MB encoder hashes in about 0.05 s)."""
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


def not_a_file(mode: int) -> str | None:
    """What a file of this `st_mode` is, if not a regular file: checked before opening something a
    user named, since opening a named pipe blocks and reading a device such as /dev/zero never ends.

    >>> not_a_file(os.stat("/dev/zero").st_mode), not_a_file(os.stat("/").st_mode)
    ('a device', 'a directory')
    """
    kinds = ((stat.S_ISREG, None), (stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a named pipe"),
             (stat.S_ISSOCK, "a socket"))  # fmt: skip
    return next((kind for test, kind in kinds if test(mode)), "a device")

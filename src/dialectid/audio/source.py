"""Open a recording file safely: check it is a readable regular file and hash its bytes.

Small files are read into memory once, so every later pass decodes the very bytes that were
hashed; large files are streamed from disk and checked for changes before each pass.
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from dialectid.audio.errors import EmptyFileError, FileAccessError
from dialectid.audio.sniff import HEAD_BYTES

_HASH_CHUNK = 1 << 20


@dataclass(frozen=True)
class Source:
    """The bytes of one recording file, hashed once."""

    path: Path
    size: int
    sha256: str
    mtime_ns: int
    head: bytes = field(repr=False)
    data: bytes | None = field(default=None, repr=False)

    def open(self) -> BinaryIO:
        """A fresh binary stream over the bytes that were hashed."""
        if self.data is not None:
            return io.BytesIO(self.data)
        current = _stat(self.path)
        if (current.st_size, current.st_mtime_ns) != (self.size, self.mtime_ns):
            raise FileAccessError(self.path, "the file changed after it was loaded", "load it again")
        return self.path.open("rb")


def open_source(path: str | os.PathLike[str], max_in_memory_bytes: int) -> Source:
    """Check and hash `path`; keep its bytes in memory if it has at most `max_in_memory_bytes`."""
    path = Path(path)
    info = regular_file(path)
    try:
        with path.open("rb") as stream:
            if info.st_size <= max_in_memory_bytes:
                data = stream.read()
                digest = hashlib.sha256(data).hexdigest()
                return Source(path, len(data), digest, info.st_mtime_ns, data[:HEAD_BYTES], data)
            head = stream.read(HEAD_BYTES)
            digest = _hash_stream(stream, hashlib.sha256(head))
    except PermissionError:
        raise FileAccessError(path, "no permission to read the file", "check its permissions") from None
    except OSError as err:
        raise FileAccessError(path, f"cannot be read ({err.strerror})", "check the disk") from None
    return Source(path, info.st_size, digest, info.st_mtime_ns, head)


def peek_source(path: str | os.PathLike[str]) -> Source:
    """Like `open_source` but reads only the head and computes no hash: for quick probing."""
    path = Path(path)
    info = regular_file(path)
    try:
        with path.open("rb") as stream:
            head = stream.read(HEAD_BYTES)
    except PermissionError:
        raise FileAccessError(path, "no permission to read the file", "check its permissions") from None
    except OSError as err:
        raise FileAccessError(path, f"cannot be read ({err.strerror})", "check its permissions") from None
    return Source(path, info.st_size, "", info.st_mtime_ns, head)


def sha256_file(path: str | os.PathLike[str]) -> str:
    """The sha256 of a file's bytes, read in chunks."""
    with Path(path).open("rb") as stream:
        return _hash_stream(stream, hashlib.sha256())


def _hash_stream(stream: BinaryIO, digest: hashlib._Hash) -> str:
    while chunk := stream.read(_HASH_CHUNK):
        digest.update(chunk)
    return digest.hexdigest()


def regular_file(path: Path) -> os.stat_result:
    """The file's stat, after refusing directories, devices, pipes and empty files (nothing hangs)."""
    info = _stat(path)
    if stat.S_ISDIR(info.st_mode):
        raise FileAccessError(path, "is a directory, not a recording", "give the path of a file")
    if not stat.S_ISREG(info.st_mode):
        raise FileAccessError(path, "is not a regular file (a device, pipe or socket)", "copy the audio to a file")
    if info.st_size == 0:
        raise EmptyFileError(path, "the file has zero bytes", "record or copy it again")
    return info


def _stat(path: Path) -> os.stat_result:
    try:
        return path.stat()
    except FileNotFoundError:
        raise FileAccessError(path, "no such file", "check the path") from None
    except PermissionError:
        raise FileAccessError(path, "no permission to reach the file", "check its permissions") from None
    except OSError as err:
        raise FileAccessError(path, f"cannot be opened ({err.strerror})", "check the path") from None

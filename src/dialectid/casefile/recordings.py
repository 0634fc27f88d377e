"""The original recordings of the case file: stored unchanged under recordings/ in the data home,
content-addressed by their sha256 (never renamed after their owner: file names often carry the
name of the person recorded), and checked against that sha256 every time they are read.

`CaseStore` keeps the rows that say which case holds which recording, and audits every failed
check; this module keeps the files.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from dialectid.casefile.errors import CaseError, RecordingIntegrityError
from dialectid.paths import file_sha256

if TYPE_CHECKING:
    from dialectid.audio import SourceFacts  # decoding is imported when a recording is stored, not before


class RecordingFiles:
    """The files under `folder` (0700, made if missing), one per distinct recording."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(mode=0o700, exist_ok=True)

    def path(self, sha256: str) -> Path:
        """Where a recording is stored. To read it, check it first (`problem`)."""
        return self.folder / sha256[:2] / sha256

    def put(self, source: Path) -> SourceFacts:
        """Validate `source` as audio and store it, unchanged and read-only, under its sha256 (once:
        a recording stored already stays as it is). Non-audio and damaged files are refused with
        an AudioError; a file that changed while it was copied, with a CaseError."""
        from dialectid.audio import load_recording

        facts = load_recording(source).facts
        stored = self.path(facts.sha256)
        if stored.exists():
            return facts
        stored.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        with (
            tempfile.NamedTemporaryFile(dir=stored.parent, delete=False) as temporary,
            Path(source).open("rb") as original,
        ):
            shutil.copyfileobj(original, temporary)
        if hashlib.sha256(Path(temporary.name).read_bytes()).hexdigest() != facts.sha256:
            os.unlink(temporary.name)
            raise CaseError(f"{source}: the file changed while it was being stored; add it again")
        os.chmod(temporary.name, 0o400)
        os.replace(temporary.name, stored)
        return facts

    def problem(self, sha256: str) -> tuple[str, str] | None:
        """None if the stored file still hashes to `sha256`; else (what was found instead: a sha256,
        "missing" or "unreadable"; what is wrong, in words)."""
        try:
            found = file_sha256(self.path(sha256))
        except FileNotFoundError:
            return "missing", "is missing from the store"
        except OSError as error:
            return "unreadable", f"cannot be read ({error.strerror})"
        if found != sha256:
            return found, "does not match its sha256: it was changed or damaged on disk since it was stored"
        return None


def integrity_error(sha256: str, problem: str) -> RecordingIntegrityError:
    """The error a failed check raises, once the store has audited it."""
    return RecordingIntegrityError(f"recording {sha256[:12]}: the stored file {problem}; it was not used "
                                   "(restore it from a backup; the audit log records the failure)")  # fmt: skip

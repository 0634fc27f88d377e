"""The results file of a batch run (JSONL or CSV): one row per input path, safe to resume.

- Identity is the path as given. A rerun skips a path whose row is a result of the same
  bundle for the same bytes (sha256); a changed file, another bundle or an `error` row is
  scored again and its new row replaces the old one.
- Rows are appended and forced to disk one by one, so a run killed with SIGKILL leaves at most
  one partial last row; reopening cuts it off and keeps only the newest row per path, and a
  finished run does the same. Both rewrites go to a temporary file renamed over the old one.
- A row that replaces an older one is appended, then the older one is overwritten in place by a
  row of the same length whose status is `superseded` (JSONL: `{"path": ..., "status":
  "superseded"}` and spaces; CSV: the path, that status and blank fields): a reader of a killed
  run's file meets one current row per path. Only a kill between those two writes leaves two; the
  later one is current, and the next run marks the older.
- A full disk: a half-written row is taken back and the run stops with one line; a compaction that
  cannot be written is given up (its copy deleted), and the file, whole, is compacted by a later run.
- One run at a time: an exclusive lock on `<results>.lock` beside the file its name leads to, and one
  on the file itself (so on its device and inode: a hard link or symlink to it is the same file),
  makes a second run refuse at once.
- Paths that are not valid UTF-8 round-trip: JSONL writes each undecodable byte 0xNN as the
  JSON escape \\udcNN (Python's surrogateescape; `os.fsencode(json.loads(line)["path"])` gives
  the bytes back); CSV writes the path's raw bytes.
"""

from __future__ import annotations

import contextlib
import csv
import fcntl
import io
import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dialectid.errors import DialectidError
from dialectid.jsonlines import json_line, print_json
from dialectid.paths import not_a_file
from dialectid.scoring.analysis import Analysis

CSV_FIXED = ("path", "registration_number", "status", "top_label", "top_probability", "speech_s", "duration_s",
             "sha256", "bundle_sha256", "flags", "error")  # fmt: skip
CSV_LAST = ("error_type",)  # after the p:<label> columns: columns added later go last, the old keep their places
_ENCODING = {"encoding": "utf-8", "errors": "surrogateescape"}  # bytes of undecodable paths survive
SUPERSEDED = "superseded"  # the status of a row a later row of the same path replaced (until compaction)


@dataclass(frozen=True)
class RowError:
    """Why a path has no analysis: the one-line message, the name of the error's type (an
    `AudioError` subclass, `WorkerDiedError`, ...), and the bundle that was asked."""

    message: str
    error_type: str
    bundle_sha256: str


@dataclass(frozen=True)
class Row:
    """One input path of a batch run and what became of it: its `Analysis`, or the `RowError`
    that stopped it. `to_dict` is its line in a results file.

    >>> row = Row("a.wav", RowError("a.wav: no such file", "FileAccessError", "cd" * 32))
    >>> row.status, row.analysis, row.error.error_type, row.to_dict()["error_type"]
    ('error', None, 'FileAccessError', 'FileAccessError')
    """

    path: str
    result: Analysis | RowError

    @property
    def status(self) -> str:
        """The analysis's status, or `error`."""
        return "error" if isinstance(self.result, RowError) else self.result.status

    @property
    def analysis(self) -> Analysis | None:
        return self.result if isinstance(self.result, Analysis) else None

    @property
    def error(self) -> RowError | None:
        return self.result if isinstance(self.result, RowError) else None

    def to_dict(self) -> dict[str, Any]:
        """The row's JSON form: the path, then the analysis's own JSON, or the error's fields."""
        if isinstance(self.result, Analysis):
            return {"path": self.path, **self.result.to_dict()}
        return {"path": self.path, "status": "error", "error": self.result.message,
                "error_type": self.result.error_type, "model": {"bundle_sha256": self.result.bundle_sha256}}  # fmt: skip

    def _identity(self) -> dict[str, str]:
        """What a resumed run needs to know of the row (`Stored`)."""
        if isinstance(self.result, Analysis):
            sha256, bundle_sha256 = self.result.audio.sha256, self.result.model.bundle_sha256
        else:
            sha256, bundle_sha256 = "", self.result.bundle_sha256
        return {"path": self.path, "status": self.status, "sha256": sha256, "bundle_sha256": bundle_sha256}


class ResultsError(DialectidError):
    """The results file cannot be used (wrong format, written for other labels, or in use)."""


class ReportsError(DialectidError):
    """The --reports folder cannot be made or written."""


def open_reports(folder: Path) -> None:
    """Make the reports folder and try a write in it, so a folder that cannot hold them fails at
    start, before any recording is scored."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        raise ReportsError(f"{folder}: cannot hold the reports ({error.strerror or error}); give a folder you can "
                           "write") from None  # fmt: skip


def write_report(folder: Path, analysis: Analysis) -> None:
    """One analysis as `<registration number>.json`; it never names the recording's file."""
    target = folder / f"{analysis.registration_number}.json"
    try:
        target.write_text(json.dumps(analysis.to_dict(), indent=2) + "\n")
    except OSError as error:
        raise ReportsError(f"{target}: cannot write the report ({error.strerror or error}); the results so far "
                           "are kept: free space or fix the folder, then run again") from None  # fmt: skip


class StdoutResults:
    """`-o -`: each row as one JSON line on standard output as it arrives, for a pipeline; nothing
    is kept, so nothing is skipped."""

    def scored_sha256(self, path: str, bundle_sha256: str) -> str | None:
        return None

    def write(self, row: Row) -> None:
        print_json(row.to_dict())

    def __enter__(self) -> StdoutResults:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


@dataclass(frozen=True)
class Stored:
    """Where the newest row of one path sits in the file, and what it says."""

    start: int
    end: int
    status: str
    sha256: str
    bundle_sha256: str


class ResultsFile:
    def __init__(self, path: Path, labels: list[str]) -> None:
        if path.suffix not in (".jsonl", ".csv"):
            raise ResultsError(f"{path}: results go to a .jsonl or .csv file")
        self.path, self.labels = path, labels
        self.csv = path.suffix == ".csv"
        self.columns = [*CSV_FIXED, *(f"p:{label}" for label in labels), *CSV_LAST]
        self.rows: dict[str, Stored] = {}
        with _writing(path):
            exists = _existing_regular_file(path)
            path.parent.mkdir(parents=True, exist_ok=True)
            self._locks = [_lock(path)]
            try:
                self._locks.append(_lock_identity(path))
            except BaseException:
                os.close(self._locks[0])
                raise
            if exists:
                self._recover()
            else:
                self._append(self._csv_line(dict(zip(self.columns, self.columns, strict=True))) if self.csv else "")

    def scored_sha256(self, path: str, bundle_sha256: str) -> str | None:
        """The sha256 of the bytes `path` had when this bundle scored it, if its row is a result."""
        stored = self.rows.get(path)
        if stored is None or stored.status == "error" or stored.bundle_sha256 != bundle_sha256:
            return None
        return stored.sha256

    def write(self, row: Row) -> None:
        """Append `row`; an older row of its path is then marked superseded where it stands."""
        text = self._csv_line(_flatten(row)) if self.csv else json_line(row.to_dict())
        older = self.rows.get(row.path)
        with _writing(self.path):
            start, end = self._append(text)
            self.rows[row.path] = _stored(row._identity(), start, end)  # in the older row's place
            if older is not None:
                self._supersede(row.path, older)

    def close(self) -> None:
        """Keep the newest row per path (rewriting the file if a path has older rows), then unlock."""
        try:
            with _writing(self.path):
                self._compact()
        finally:
            for descriptor in self._locks:
                os.close(descriptor)

    def __enter__(self) -> ResultsFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _recover(self) -> None:
        """Read every whole row, cut a partial last one, keep the newest row per path."""
        data = self.path.read_bytes()
        complete, older = 0, []
        placed: dict[str, Stored | None] = {}  # None: so far only a superseded row
        for fields, start, end in self._csv_records(data) if self.csv else self._json_records(data):
            if self.csv and start == 0:
                if fields != self.columns:
                    raise ResultsError(f"{self.path}: written for other labels or by another version; use a new file")
            elif fields.get("status") == SUPERSEDED:  # its place is the path's place, as if unmarked
                placed.setdefault(fields.get("path", ""), None)
            else:
                if (known := placed.get(fields.get("path", ""))) is not None:
                    older.append((fields.get("path", ""), known))
                placed[fields.get("path", "")] = _stored(fields, start, end)  # in the older row's place
            complete = end
        self.rows = {path: stored for path, stored in placed.items() if stored is not None}
        if complete < len(data):
            with self.path.open("r+b") as stream:
                stream.truncate(complete)
        for path, stored in older:  # a run killed between writing a row and marking the one it replaced
            self._supersede(path, stored)
        self._compact()

    def _supersede(self, path: str, stored: Stored) -> None:
        """Overwrite the row at `stored` with a row of the same length that says `superseded`, so
        a reader of the file (of a killed run, or one compaction could not shrink) never meets two
        current rows of one path."""
        size = stored.end - stored.start
        if self.csv:
            base = len(self._csv_line({"path": path, "status": SUPERSEDED}).encode(**_ENCODING))
            text = self._csv_line({"path": path, "status": SUPERSEDED, CSV_LAST[-1]: " " * (size - base)})
        else:
            line = json_line({"path": path, "status": SUPERSEDED}).rstrip("\n")
            text = line + " " * (size - 1 - len(line.encode(**_ENCODING))) + "\n"
        data = text.encode(**_ENCODING)
        if len(data) != size:
            return  # cannot happen: a row holds more than its path and status; never overwrite its neighbour
        descriptor = os.open(self.path, os.O_WRONLY)
        try:
            os.pwrite(descriptor, data, stored.start)
            os.fsync(descriptor)
        finally:
            os.close(descriptor)

    def _json_records(self, data: bytes) -> Iterator[tuple[dict[str, Any], int, int]]:
        start = 0
        while (end := data.find(b"\n", start) + 1) > 0:
            try:
                row = json.loads(data[start:end].decode(**_ENCODING))
                yield {"path": row["path"], "status": row.get("status", ""), "sha256": row.get("audio", {}).get("sha256", ""),
                       "bundle_sha256": row.get("model", {}).get("bundle_sha256", "")}, start, end  # fmt: skip
            except (json.JSONDecodeError, KeyError, TypeError, AttributeError):
                raise ResultsError(
                    f"{self.path} at byte {start}: not a row of dialectid results; use a new file"
                ) from None
            start = end

    def _csv_records(self, data: bytes) -> Iterator[tuple[Any, int, int]]:
        """Whole CSV records only: ended by a line end and with every quote closed."""
        consumed = [0]

        def lines() -> Iterator[str]:
            for line in io.StringIO(data.decode(**_ENCODING), newline=""):
                consumed[0] += len(line.encode(**_ENCODING))
                yield line

        start = 0
        try:
            for fields in csv.reader(lines(), strict=True):
                end = consumed[0]
                if not data[:end].endswith(b"\n"):
                    return  # a last row cut off before its line end
                yield (fields if start == 0 else dict(zip(self.columns, fields, strict=False))), start, end
                start = end
        except csv.Error:
            return  # a last row cut off inside a quoted field

    def _compact(self) -> None:
        """Rewrite the file with only the newest row per path, if it holds any other rows. Where that
        cannot be done (a full disk), the copy is removed and the file stays as it is: whole, its
        older rows marked superseded, compacted by a later run."""
        size = self.path.stat().st_size
        header = self._header_size()
        if header + sum(r.end - r.start for r in self.rows.values()) == size:
            return
        temporary = self.path.with_name(f".{self.path.name}.compacting")
        try:
            rows = self._copy_newest(temporary, header)
        except OSError:
            temporary.unlink(missing_ok=True)
            return
        os.replace(temporary, self.path)
        _fsync_folder(self.path.parent)
        self.rows = rows
        old, self._locks[1] = self._locks[1], _lock_identity(self.path)  # the file is a new inode now
        os.close(old)

    def _copy_newest(self, temporary: Path, header: int) -> dict[str, Stored]:
        """The header and the newest row of each path into `temporary`, forced to disk."""
        with self.path.open("rb") as source, temporary.open("wb") as target:
            target.write(source.read(header))
            rows = {}
            for path, stored in self.rows.items():
                source.seek(stored.start)
                start = target.tell()
                target.write(source.read(stored.end - stored.start))
                rows[path] = Stored(start, target.tell(), stored.status, stored.sha256, stored.bundle_sha256)
            target.flush()
            os.fsync(target.fileno())
        return rows

    def _header_size(self) -> int:
        return len(self._csv_line(dict(zip(self.columns, self.columns, strict=True))).encode()) if self.csv else 0

    def _append(self, text: str) -> tuple[int, int]:
        """Append `text` and force it to disk; its start and end offsets. A write that fails (a full
        disk) is taken back, so the file never ends in half a row."""
        data = memoryview(text.encode(**_ENCODING))
        descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
        try:
            start = os.lseek(descriptor, 0, os.SEEK_END)
            try:
                while data:
                    data = data[os.write(descriptor, data) :]
                os.fsync(descriptor)
            except OSError:
                os.ftruncate(descriptor, start)
                raise
            return start, os.lseek(descriptor, 0, os.SEEK_END)
        finally:
            os.close(descriptor)

    def _csv_line(self, values: dict[str, Any]) -> str:
        return _csv_text([values.get(c, "") for c in self.columns])


def _flatten(row: Row) -> dict[str, Any]:
    """The CSV columns of `row` (the `p:<label>` ones only where it has probabilities)."""
    result = row.result
    if isinstance(result, RowError):
        return {"path": row.path, "status": "error", "bundle_sha256": result.bundle_sha256, "error": result.message,
                "error_type": result.error_type}  # fmt: skip
    flat: dict[str, Any] = {
        "path": row.path, "registration_number": result.registration_number, "status": result.status,
        "top_label": result.top_label or "", "top_probability": _blank_if_none(result.top_probability),
        "speech_s": result.speech_s, "duration_s": result.audio.duration_s, "sha256": result.audio.sha256,
        "bundle_sha256": result.model.bundle_sha256, "flags": ";".join(result.quality.flags),
    }  # fmt: skip
    for item in result.probabilities:
        flat[f"p:{item.label}"] = item.probability
    return flat


def _blank_if_none(value: float | None) -> float | str:
    return "" if value is None else value


def _stored(fields: dict[str, Any], start: int, end: int) -> Stored:
    return Stored(start, end, fields.get("status", ""), fields.get("sha256", ""), fields.get("bundle_sha256", ""))


def _csv_text(fields: list[Any]) -> str:
    """One CSV record, RFC 4180 style: CRLF ends it, so a field holding CR or LF is quoted."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow(fields)
    return buffer.getvalue()


def _existing_regular_file(path: Path) -> bool:
    """Whether the results file exists; what it leads to (through links) must be a regular file, since
    a pipe would block the first read for ever and /dev/zero would be read until memory runs out."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return False
    if kind := not_a_file(mode):
        raise ResultsError(f"{path}: is {kind}, not a results file; give the path of a .jsonl or .csv file")
    return True


@contextlib.contextmanager
def _writing(path: Path) -> Iterator[None]:
    """An operating-system error on the results file (no permission, read-only or full disk, a folder
    that is a file) as one line that names it."""
    try:
        yield
    except OSError as error:
        raise ResultsError(f"{path}: cannot write the results file ({error.strerror or error}); choose a file "
                           "in a folder you can write, on a disk with free space") from None  # fmt: skip


def _lock(path: Path) -> int:
    """Hold an exclusive lock on `<path>.lock` for the life of the run; refuse if another run holds it.
    The lock file sits beside the file a symlink leads to, so every name of it shares one."""
    real = path.resolve()
    return _hold(path, os.open(real.with_name(real.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o644))


def _lock_identity(path: Path) -> int:
    """Hold an exclusive lock on the results file itself (created empty if new): flock locks the
    inode, so a second run refuses whichever name it came by (a hard link, a symlink)."""
    return _hold(path, os.open(path, os.O_RDONLY | os.O_CREAT, 0o666))


def _hold(path: Path, descriptor: int) -> int:
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(descriptor)
        raise ResultsError(
            f"{path}: another dialectid run is writing this results file; wait for it to finish or use another file"
        ) from None
    return descriptor


def _fsync_folder(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)

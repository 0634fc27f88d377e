"""The results file of a batch run (JSONL or CSV): appended row by row, safe to resume.

Every row is written whole and forced to disk before the next file starts, so a run killed
with SIGKILL leaves at most one partial last line; reopening the file cuts that line off.
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path
from typing import Any

from dialectid.errors import DialectidError

CSV_FIXED = ("path", "registration_number", "status", "top_label", "top_probability", "speech_s", "duration_s",
             "sha256", "bundle_sha256", "flags", "error")  # fmt: skip


class ResultsError(DialectidError):
    """The results file cannot be used (wrong format, or written for other labels)."""


class ResultsFile:
    def __init__(self, path: Path, labels: list[str]) -> None:
        if path.suffix not in (".jsonl", ".csv"):
            raise ResultsError(f"{path}: results go to a .jsonl or .csv file")
        self.path, self.labels = path, labels
        self.csv = path.suffix == ".csv"
        self.columns = [*CSV_FIXED, *(f"p:{label}" for label in labels)]
        self.done: set[tuple[str, str]] = set()
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            self._recover()
        elif self.csv:
            self._append(self._csv_line(dict(zip(self.columns, self.columns, strict=True))))

    def _recover(self) -> None:
        """Keep the complete rows, cut a partial last line, remember what was scored."""
        data = self.path.read_bytes()
        keep = 0
        lines = data.splitlines(keepends=True)
        for index, line in enumerate(lines):
            if not line.endswith(b"\n"):
                break  # a row cut off by a kill
            row = self._parse(line.decode("utf-8", errors="replace"), index)
            if row is not None and row.get("status") not in (None, "error") and row.get("sha256"):
                self.done.add((row["sha256"], row.get("bundle_sha256", "")))
            keep += len(line)
        if keep < len(data):
            with self.path.open("r+b") as stream:
                stream.truncate(keep)

    def _parse(self, line: str, index: int) -> dict[str, Any] | None:
        if self.csv:
            fields = next(csv.reader([line]))
            if index == 0:
                if fields != self.columns:
                    raise ResultsError(f"{self.path}: written for other labels or by another version; use a new file")
                return None
            return dict(zip(self.columns, fields, strict=False))
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            raise ResultsError(
                f"{self.path} line {index + 1}: not valid JSON; not a results file of dialectid"
            ) from None
        return {"status": row.get("status"), "sha256": row.get("audio", {}).get("sha256"),
                "bundle_sha256": row.get("model", {}).get("bundle_sha256", "")}  # fmt: skip

    def write(self, row: dict[str, Any]) -> None:
        self._append(self._csv_line(self._flatten(row)) if self.csv else json.dumps(row, ensure_ascii=False) + "\n")

    def _append(self, text: str) -> None:
        with self.path.open("a", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())

    def _csv_line(self, values: dict[str, Any]) -> str:
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerow([values.get(c, "") for c in self.columns])
        return buffer.getvalue()

    def _flatten(self, row: dict[str, Any]) -> dict[str, Any]:
        flat = {
            "path": row["path"], "registration_number": row.get("registration_number", ""), "status": row["status"],
            "top_label": row.get("top_label") or "", "top_probability": row.get("top_probability") or "",
            "speech_s": row.get("speech_s", ""), "duration_s": row.get("audio", {}).get("duration_s", ""),
            "sha256": row.get("audio", {}).get("sha256", ""), "bundle_sha256": row.get("model", {}).get("bundle_sha256", ""),
            "flags": ";".join(row.get("quality", {}).get("flags", [])), "error": row.get("error", ""),
        }  # fmt: skip
        for item in row.get("probabilities", []):
            flat[f"p:{item['label']}"] = item["probability"]
        return flat

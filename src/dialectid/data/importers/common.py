"""Helpers the importers share: finding audio files and reading what their headers say."""

from __future__ import annotations

import csv
import os
from collections.abc import Iterator
from pathlib import Path

from dialectid.audio.formats import SUFFIXES
from dialectid.data.manifest import ManifestError


def audio_files(root: Path) -> Iterator[Path]:
    """Absolute paths of the audio files under `root`, sorted, each real file once (a folder
    or file that is a symlink to one already seen is skipped)."""
    root = Path(os.path.abspath(root))
    seen: set[str] = set()
    for folder, dirs, files in os.walk(root, followlinks=True):
        dirs.sort()
        for name in sorted(files):
            path = Path(folder) / name
            if path.suffix.lower() not in SUFFIXES:
                continue
            real = os.path.realpath(path)
            if real not in seen:
                seen.add(real)
                yield path


def read_table(path: Path, delimiter: str = ",", required: tuple[str, ...] = ()) -> list[tuple[int, dict]]:
    """Rows of a CSV/TSV with their line numbers; missing columns are named in the error."""
    try:
        with path.open(newline="", encoding="utf-8") as stream:
            reader = csv.DictReader(stream, delimiter=delimiter)
            columns = reader.fieldnames or []
            missing = [c for c in required if c not in columns]
            if missing:
                raise ManifestError(
                    f"{path} line 1: missing column(s) {', '.join(missing)}; found: {', '.join(columns) or 'none'}"
                )
            return [(reader.line_num, row) for row in reader]
    except FileNotFoundError:
        raise ManifestError(f"{path}: no such file; check the corpus layout") from None
    except (UnicodeDecodeError, csv.Error) as err:
        raise ManifestError(f"{path}: cannot be read as a table ({err})") from None


def gender_code(value: str | None) -> str | None:
    """'f'/'m' from the many spellings corpora use (F, female, female_feminine, ...)."""
    text = (value or "").strip().lower()
    if text.startswith("f") or text == "w":
        return "f"
    if text.startswith("m"):
        return "m"
    return None


def listed_files(listing: Path, required: tuple[str, ...]) -> Iterator[tuple[str, dict, Path, float]]:
    """The rows of a manifest.csv whose `path` column names a file beside it: (where, for messages;
    the row; the file, which must exist; its `duration_s`, which must be a number)."""
    base = listing.parent.absolute()
    for line, row in read_table(listing, required=required):
        where = f"{listing} line {line}"
        path = base / row["path"]
        if not path.is_file():
            raise ManifestError(f"{where}: listed file {row['path']} does not exist")
        try:
            duration = float(row["duration_s"])
        except ValueError:
            raise ManifestError(f"{where}: duration_s {row['duration_s']!r} is not a number") from None
        yield where, row, path, duration

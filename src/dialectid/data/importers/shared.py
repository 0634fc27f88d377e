"""`shared`: the manifest.csv of the staged corpora (path,label,speaker,gender,duration_s)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

from dialectid.data.importers import register_importer
from dialectid.data.importers.common import gender_code, listed_files
from dialectid.data.manifest import Utterance

COLUMNS = ("path", "label", "speaker", "gender", "duration_s")


@register_importer("shared", {"language": ""})
def import_shared(root: Path, options: Mapping[str, str]) -> Iterator[Utterance]:
    """A folder with manifest.csv (path relative to the folder) as in ../shared/corpora."""
    listing = root / "manifest.csv" if root.is_dir() else root
    for _, row, path, duration in listed_files(listing, COLUMNS):
        extra = {k: v for k, v in row.items() if k not in COLUMNS and v}
        yield Utterance(
            id=Path(row["path"]).with_suffix("").as_posix(),
            path=str(path),
            label=row["label"],
            language=options["language"] or None,
            speaker=row["speaker"] or None,
            gender=gender_code(row["gender"]),
            duration_s=duration,
            source=f"shared:{listing.parent.absolute().name}",
            extra=extra,
        )

"""`shared`: the manifest.csv of the staged corpora (path,label,speaker,gender,duration_s)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

from dialectid.data.importers import register_importer
from dialectid.data.importers.common import gender_code, read_table
from dialectid.data.manifest import ManifestError, Utterance

COLUMNS = ("path", "label", "speaker", "gender", "duration_s")


@register_importer("shared", {"language": ""})
def import_shared(root: Path, options: Mapping[str, str]) -> Iterator[Utterance]:
    """A folder with manifest.csv (path relative to the folder) as in ../shared/corpora."""
    listing = root / "manifest.csv" if root.is_dir() else root
    base = listing.parent.absolute()
    for line, row in read_table(listing, required=COLUMNS):
        where = f"{listing} line {line}"
        path = base / row["path"]
        if not path.is_file():
            raise ManifestError(f"{where}: listed file {row['path']} does not exist")
        try:
            duration = float(row["duration_s"])
        except ValueError:
            raise ManifestError(f"{where}: duration_s {row['duration_s']!r} is not a number") from None
        extra = {k: v for k, v in row.items() if k not in COLUMNS and v}
        yield Utterance(
            id=Path(row["path"]).with_suffix("").as_posix(),
            path=str(path),
            label=row["label"],
            language=options["language"] or None,
            speaker=row["speaker"] or None,
            gender=gender_code(row["gender"]),
            duration_s=duration,
            source=f"shared:{base.name}",
            extra=extra,
        )

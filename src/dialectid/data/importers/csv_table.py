"""`csv`: any CSV or TSV listing, its columns mapped by options."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

from dialectid.data.importers import register_importer
from dialectid.data.importers.common import gender_code, read_table
from dialectid.data.manifest import ManifestError, Utterance

_FIELDS = ("path", "label", "id", "speaker", "gender", "language", "dialect", "duration_s", "split")
_DEFAULTS = {field: field for field in _FIELDS}


@register_importer("csv", {**_DEFAULTS, "delimiter": ",", "id": ""})
def import_csv(root: Path, options: Mapping[str, str]) -> Iterator[Utterance]:
    """A CSV file: `--option label=dialect_column` maps a manifest field to a column.

    `path` and `label` columns are required; other mapped columns are used when present.
    Relative audio paths are taken relative to the CSV file. `id` defaults to the path.
    """
    if not root.is_file():
        raise ManifestError(f"{root}: the csv importer needs a CSV file, not a folder")
    delimiter = "\t" if options["delimiter"] in ("tab", "\\t") else options["delimiter"]
    rows = read_table(root, delimiter, required=(options["path"], options["label"]))
    base = root.parent.absolute()
    for line, row in rows:
        where = f"{root} line {line}"

        def column(field: str, row: dict = row) -> str | None:
            name = options[field]
            return (row.get(name) or "").strip() or None if name else None

        relative = column("path")
        label = column("label")
        if not relative or not label:
            raise ManifestError(f"{where}: empty {'path' if not relative else 'label'}")
        path = base / relative
        if not path.is_file():
            raise ManifestError(f"{where}: listed file {relative} does not exist")
        duration = column("duration_s")
        try:
            duration_s = float(duration) if duration else None
        except ValueError:
            raise ManifestError(f"{where}: duration {duration!r} is not a number") from None
        yield Utterance(
            id=column("id") or relative,
            path=str(path),
            label=label,
            language=column("language"),
            dialect=column("dialect"),
            speaker=column("speaker"),
            gender=gender_code(column("gender")),
            duration_s=duration_s,
            split=column("split"),
            source="csv",
        )

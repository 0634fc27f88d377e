"""`commonvoice`: a Common Voice release folder (validated/train/dev/test .tsv and clips/)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

from dialectid.data.importers import register_importer
from dialectid.data.importers.common import gender_code, read_table
from dialectid.data.manifest import ManifestError, Utterance

SPLITS = {"train.tsv": "train", "dev.tsv": "dev", "test.tsv": "test"}
LABELS = ("locale", "accent", "locale+accent")


@register_importer("commonvoice", {"label": "locale", "include": "splits", "locale": ""})
def import_commonvoice(root: Path, options: Mapping[str, str]) -> Iterator[Utterance]:
    """Common Voice: client_id is the speaker; the label is the locale, the accent or both.

    Options: `label` (locale | accent | locale+accent; clips without an accent are left out
    when the accent is part of the label), `include` (splits: the official train/dev/test
    files; validated: every validated clip, with its official split where it has one),
    `locale` (when the tsv has no locale column; default: the folder name).
    """
    if options["label"] not in LABELS:
        raise ManifestError(f"commonvoice: label must be one of {', '.join(LABELS)}, not {options['label']!r}")
    splits = _official_splits(root)
    listing: list[tuple[Path, str | None]]  # each tsv, and the split all its clips are in (None: their own)
    if options["include"] == "validated":
        listing = [(root / "validated.tsv", None)]
    elif options["include"] == "splits":
        listing = [(root / name, split) for name, split in SPLITS.items() if (root / name).is_file()]
        if not listing:
            raise ManifestError(f"{root}: no train.tsv, dev.tsv or test.tsv; use --option include=validated")
    else:
        raise ManifestError(f"commonvoice: include must be 'splits' or 'validated', not {options['include']!r}")
    durations = _clip_durations(root)
    for tsv, split in listing:
        for line, row in read_table(tsv, "\t", required=("client_id", "path")):
            utt = _utterance(root, tsv, line, row, split or splits.get(row["path"]), durations, options)
            if utt is not None:
                yield utt


def _utterance(root: Path, tsv: Path, line: int, row: dict[str, str], split: str | None, durations: dict[str, float],
               options: Mapping[str, str]) -> Utterance | None:  # fmt: skip
    locale = (row.get("locale") or options["locale"] or root.name).strip()
    accent = (row.get("accents") or row.get("accent") or "").strip()
    if options["label"] != "locale" and not accent:
        return None
    label = {"locale": locale, "accent": accent, "locale+accent": f"{locale}:{accent}"}[options["label"]]
    path = root / "clips" / row["path"]
    if not path.is_file():
        raise ManifestError(f"{tsv} line {line}: listed clip clips/{row['path']} does not exist")
    return Utterance(
        id=Path(row["path"]).stem,
        path=str(path.absolute()),
        label=label,
        language=locale.split("-")[0],
        dialect=accent or None,
        speaker=row["client_id"],
        gender=gender_code(row.get("gender")),
        split=split,
        source="commonvoice",
        extra={k: row[k] for k in ("age", "sentence") if row.get(k)},
    )


def _official_splits(root: Path) -> dict[str, str]:
    found = {}
    for name, split in SPLITS.items():
        if (root / name).is_file():
            for _, row in read_table(root / name, "\t", required=("path",)):
                found[row["path"]] = split
    return found


def _clip_durations(root: Path) -> dict[str, float]:
    listing = root / "clip_durations.tsv"
    if not listing.is_file():
        return {}
    durations = {}
    for line, row in read_table(listing, "\t", required=("clip", "duration[ms]")):
        try:
            durations[row["clip"]] = int(row["duration[ms]"]) / 1000
        except ValueError:
            raise ManifestError(f"{listing} line {line}: duration {row['duration[ms]']!r} is not a number") from None
    return durations

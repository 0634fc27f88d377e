"""`adi17`: the ADI-17 Arabic dialect corpus (MGB-5), as released: train_segments/<DIALECT>/*.wav;
dev_segments/ and test_segments/ with adi17_official_{dev,test}_label.txt beside them (a header
`id label`, then `<utt id> <DIALECT>` per line). The shorter train/, dev/, test/ with dev.txt and
test.txt are read too. `--option split=train` (or dev, test) imports one of the corpus's own splits,
so that each gets its manifest (configs/adi17-ecapa.yaml)."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path

from dialectid.data.importers import register_importer
from dialectid.data.importers.common import audio_files
from dialectid.data.manifest import ManifestError, Utterance

SPLITS = ("train", "dev", "test")

# ADI-17 country codes and the dialect region each belongs to
REGIONS = {
    "ALG": "maghrebi", "MOR": "maghrebi", "LIB": "maghrebi", "MAU": "maghrebi",
    "EGY": "egyptian", "SUD": "egyptian",
    "IRA": "iraqi",
    "JOR": "levantine", "LEB": "levantine", "PAL": "levantine", "SYR": "levantine",
    "KSA": "gulf", "KUW": "gulf", "QAT": "gulf", "UAE": "gulf", "OMA": "gulf", "YEM": "gulf",
}  # fmt: skip


@register_importer("adi17", {"split": "all"})
def import_adi17(root: Path, options: Mapping[str, str]) -> Iterator[Utterance]:
    """ADI-17: train_segments/<DIALECT>/*.wav, dev_segments/ and test_segments/ with
    adi17_official_{dev,test}_label.txt (or train/, dev/, test/ with dev.txt, test.txt).
    The YouTube video id (the name before the last `_`) stands for the speaker."""
    wanted = SPLITS if options["split"] == "all" else (options["split"],)
    if wanted[0] not in SPLITS:
        raise ManifestError(f"adi17: unknown split {options['split']!r}; use all, train, dev or test")
    train = _folder(root, "train")
    if train is not None and "train" in wanted:
        for path in audio_files(train):
            parts = path.relative_to(train.absolute()).parts
            if len(parts) >= 2:
                yield _utterance(path, _known(parts[0], f"{train / parts[0]}"), "train")
    for split in (s for s in wanted if s != "train"):
        folder = _folder(root, split)
        if folder is None:
            continue
        labels, listing = _labels(root, folder, split)
        for path in audio_files(folder):
            if path.stem not in labels:
                raise ManifestError(f"{path}: not listed in {listing}; every {split} file needs a label")
            yield _utterance(path, labels.pop(path.stem), split)
        if labels:
            missing = next(iter(labels))
            raise ManifestError(
                f"{listing}: utterance {missing!r} is listed but {folder.name}/{missing}.wav does not exist"
            )


def _folder(root: Path, split: str) -> Path | None:
    """The split's folder as released (`<split>_segments`) or in the short layout (`<split>`)."""
    return next((f for f in (root / f"{split}_segments", root / split) if f.is_dir()), None)


def _utterance(path: Path, dialect: str, split: str) -> Utterance:
    return Utterance(
        id=f"{split}/{path.stem}",
        path=str(path),
        label=dialect,
        language="ar",
        dialect=dialect,
        speaker="yt:" + path.stem.rsplit("_", 1)[0],
        split=split,
        source="adi17",
        extra={"region": REGIONS[dialect]},
    )


def _labels(root: Path, folder: Path, split: str) -> tuple[dict[str, str], Path]:
    candidates = [root / f"adi17_official_{split}_label.txt", folder / f"{split}.txt", root / f"{split}.txt",
                  *sorted(folder.glob("*label*.txt")), *sorted(root.glob(f"*{split}*label*.txt"))]  # fmt: skip
    listing = next((p for p in candidates if p.is_file()), None)
    if listing is None:
        raise ManifestError(f"{folder}: no label file (adi17_official_{split}_label.txt, {split}.txt or *label*.txt) "
                            f"for the {split} set")  # fmt: skip
    labels: dict[str, str] = {}
    for number, line in enumerate(listing.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        fields = re.split(r"[\s,]+", line.strip())
        if len(fields) < 2:
            raise ManifestError(f"{listing} line {number}: expected '<utterance id> <dialect>'")
        if number == 1 and [f.lower() for f in fields[:2]] == ["id", "label"]:
            continue  # the released label files start with a header
        if fields[0] in labels:
            raise ManifestError(f"{listing} line {number}: duplicate utterance id {fields[0]!r}")
        labels[fields[0]] = _known(fields[1], f"{listing} line {number}")
    return labels, listing


def _known(dialect: str, where: str) -> str:
    if dialect.upper() not in REGIONS:
        raise ManifestError(f"{where}: unknown dialect {dialect!r}; ADI-17 dialects: {', '.join(sorted(REGIONS))}")
    return dialect.upper()

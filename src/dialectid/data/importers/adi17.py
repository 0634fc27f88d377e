"""`adi17`: the ADI-17 Arabic dialect corpus (train/<dialect>/*.wav; dev, test with label files)."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path

from dialectid.data.importers import register_importer
from dialectid.data.importers.common import audio_files
from dialectid.data.manifest import ManifestError, Utterance

# ADI-17 country codes and the dialect region each belongs to
REGIONS = {
    "ALG": "maghrebi", "MOR": "maghrebi", "LIB": "maghrebi", "MAU": "maghrebi",
    "EGY": "egyptian", "SUD": "egyptian",
    "IRA": "iraqi",
    "JOR": "levantine", "LEB": "levantine", "PAL": "levantine", "SYR": "levantine",
    "KSA": "gulf", "KUW": "gulf", "QAT": "gulf", "UAE": "gulf", "OMA": "gulf", "YEM": "gulf",
}  # fmt: skip


@register_importer("adi17")
def import_adi17(root: Path, options: Mapping[str, str]) -> Iterator[Utterance]:
    """ADI-17: train/<DIALECT>/**/*.wav; dev/ and test/ hold wav files and a label file
    (dev.txt, test.txt or *_label*.txt in the split folder or the root: `<utt id> <DIALECT>`).
    The YouTube video id (the name before the last `_`) stands for the speaker."""
    train = root / "train"
    if train.is_dir():
        for path in audio_files(train):
            parts = path.relative_to(train.absolute()).parts
            if len(parts) >= 2:
                yield _utterance(path, _known(parts[0], f"{train / parts[0]}"), "train")
    for split in ("dev", "test"):
        folder = root / split
        if not folder.is_dir():
            continue
        labels, listing = _labels(root, split)
        for path in audio_files(folder):
            if path.stem not in labels:
                raise ManifestError(f"{path}: not listed in {listing}; every {split} file needs a label")
            yield _utterance(path, labels.pop(path.stem), split)
        if labels:
            missing = next(iter(labels))
            raise ManifestError(f"{listing}: utterance {missing!r} is listed but {split}/{missing}.wav does not exist")


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


def _labels(root: Path, split: str) -> tuple[dict[str, str], Path]:
    candidates = [root / split / f"{split}.txt", root / f"{split}.txt",
                  *sorted((root / split).glob("*label*.txt")), *sorted(root.glob(f"*{split}*label*.txt"))]  # fmt: skip
    listing = next((p for p in candidates if p.is_file()), None)
    if listing is None:
        raise ManifestError(f"{root / split}: no label file ({split}.txt or *label*.txt) for the {split} set")
    labels: dict[str, str] = {}
    for number, line in enumerate(listing.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        fields = re.split(r"[\s,]+", line.strip())
        if len(fields) < 2:
            raise ManifestError(f"{listing} line {number}: expected '<utterance id> <dialect>'")
        if fields[0] in labels:
            raise ManifestError(f"{listing} line {number}: duplicate utterance id {fields[0]!r}")
        labels[fields[0]] = _known(fields[1], f"{listing} line {number}")
    return labels, listing


def _known(dialect: str, where: str) -> str:
    if dialect.upper() not in REGIONS:
        raise ManifestError(f"{where}: unknown dialect {dialect!r}; ADI-17 dialects: {', '.join(sorted(REGIONS))}")
    return dialect.upper()

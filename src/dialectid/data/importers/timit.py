"""`timit`: the TIMIT layout, dialect region as the label."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path

from dialectid.data.importers import register_importer
from dialectid.data.importers.common import audio_files
from dialectid.data.manifest import Utterance

REGIONS = {
    "DR1": "New England", "DR2": "Northern", "DR3": "North Midland", "DR4": "South Midland",
    "DR5": "Southern", "DR6": "New York City", "DR7": "Western", "DR8": "Army Brat",
}  # fmt: skip
_REGION = re.compile(r"^dr([1-8])$", re.IGNORECASE)
_SPEAKER = re.compile(r"^[fm][a-z]{3}\d$", re.IGNORECASE)
_FLAT = re.compile(r"^dr([1-8])-([fm][a-z]{3}\d)$", re.IGNORECASE)  # NLTK's sample: dr1-fvmh0/sa1.wav


@register_importer("timit")
def import_timit(root: Path, options: Mapping[str, str]) -> Iterator[Utterance]:
    """TIMIT: [TRAIN|TEST/]DRn/<speaker>/<utterance>.WAV (or NLTK's drn-<speaker>/); the
    speaker id's first letter is the gender, TRAIN/TEST the split."""
    for path in audio_files(root):
        parts = path.relative_to(root.absolute()).parts[:-1]
        found = _region_and_speaker(parts)
        if found is None:
            continue
        region, speaker = found
        split = next((p.lower() for p in parts if p.lower() in ("train", "test")), None)
        yield Utterance(
            id=f"{speaker}/{path.stem.lower()}",
            path=str(path),
            label=region,
            language="en",
            dialect=region,
            speaker=speaker,
            gender=speaker[0],
            split=split,
            source="timit",
            extra={"region": REGIONS[region]},
        )


def _region_and_speaker(parts: tuple[str, ...]) -> tuple[str, str] | None:
    for i, part in enumerate(parts):
        if (flat := _FLAT.match(part)) is not None:
            return f"DR{flat.group(1)}", flat.group(2).lower()
        if _REGION.match(part) and i + 1 < len(parts) and _SPEAKER.match(parts[i + 1]):
            return part.upper(), parts[i + 1].lower()
    return None

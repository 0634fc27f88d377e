"""Build the manifests of the shipped language-ID models (datasets/lid/).

From ../shared/corpora/voxlingua107_dev (real YouTube speech, 22 languages, CC BY 4.0) and
Debian's asterisk telephone prompts (datasets/asterisk/, scripts/build_asterisk_data.py):

- Four languages are held out of every split as the unknown set (`unknown.jsonl`): what share of
  them the models flag as out of set is their open-set figure.
- The other 18 are split by video (the speaker unit: a video is never in two splits), per
  language: 60 % of the videos train, 10 % dev, 10 % calibration, 20 % test.
- Training adds the asterisk training voices (8 kHz telephone speech for en, es, fr, it, ru), at
  most 60 clips per voice, longest first, so one voice cannot outweigh dozens of videos.
  `asterisk-test.jsonl` holds the two asterisk test voices (never in training or calibration).

Usage: python scripts/build_lid_data.py [CORPUS] [OUT]
       (defaults: ../shared/corpora/voxlingua107_dev datasets/lid)

In a checkout with ../shared beside it (a folder or a link) the manifests it writes are
byte-identical to the committed ones: corpus paths relative, so following the README leaves the
tree clean (tests/test_lid_data.py checks this on a copy).
"""

from __future__ import annotations

import os
import random
import sys
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

from dialectid.data import Utterance, import_corpus, read_manifest, write_manifest

ROOT = Path(__file__).resolve().parent.parent
UNKNOWN = ("is", "lv", "no", "zh")  # held out of training: the open-set test
SHARES = (("train", 0.6), ("dev", 0.1), ("calibration", 0.1), ("test", 0.2))
ASTERISK_PER_VOICE = 60
SEED = 107


def split_by_video(utterances: list[Utterance], rng: random.Random) -> dict[str, list[Utterance]]:
    """Per language, whole videos to each split in the proportions of SHARES (at least one video
    to every split when the language has four or more)."""
    parts: dict[str, list[Utterance]] = defaultdict(list)
    by_language: dict[str, dict[str, list[Utterance]]] = defaultdict(lambda: defaultdict(list))
    for utt in utterances:
        by_language[utt.label][utt.speaker].append(utt)
    for language in sorted(by_language):
        videos = sorted(by_language[language])
        rng.shuffle(videos)
        counts = [max(1, round(share * len(videos))) for _, share in SHARES[1:]]
        counts.insert(0, len(videos) - sum(counts))
        start = 0
        for (name, _), count in zip(SHARES, counts, strict=True):
            for video in videos[start : start + count]:
                parts[name].extend(by_language[language][video])
            start += count
    return parts


def asterisk_subset(manifest_path: Path) -> list[Utterance]:
    manifest = read_manifest(manifest_path)
    voices: dict[str, list[Utterance]] = defaultdict(list)
    for utt in manifest:
        voices[utt.speaker].append(replace(utt, path=str(manifest.path_of(utt))))
    kept = []
    for speaker in sorted(voices):
        kept += sorted(voices[speaker], key=lambda u: (-(u.duration_s or 0), u.id))[:ASTERISK_PER_VOICE]
    return kept


def main() -> None:
    corpus = Path(sys.argv[1] if len(sys.argv) > 1 else ROOT.parent / "shared" / "corpora" / "voxlingua107_dev")
    out = Path(sys.argv[2] if len(sys.argv) > 2 else ROOT / "datasets" / "lid")
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(SEED)
    videos = [replace(u, language=u.label, channel="wideband") for u in import_corpus("shared", corpus)]
    parts = split_by_video([u for u in videos if u.label not in UNKNOWN], rng)
    parts["unknown"] = [u for u in videos if u.label in UNKNOWN]
    parts["train"] += asterisk_subset(ROOT / "datasets" / "asterisk" / "train.jsonl")
    test_voices = read_manifest(ROOT / "datasets" / "asterisk" / "test.jsonl")
    parts["asterisk-test"] = [replace(u, path=str(test_voices.path_of(u))) for u in test_voices]
    for name, rows in parts.items():
        # the corpus relative to the manifests (shared/ sits beside every checkout), /usr absolute;
        # abspath, not resolve: a ../shared that is a link must not turn every path absolute
        write_manifest(out / f"{name}.jsonl", rows, relative_within=Path(os.path.abspath(corpus)).parent.parent)
        languages = len({u.label for u in rows})
        print(f"{name}: {len(rows)} clips, {languages} languages, {len({u.speaker for u in rows})} speakers/videos")


if __name__ == "__main__":
    main()

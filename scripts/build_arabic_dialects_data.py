"""Build the manifests of the Arabic dialect model (configs/dialect-arabic.yaml) and of its
episode-grouped cross-validation, OUTSIDE the tracked tree (default runs/arabic-dialects/, ignored).

The corpus (../shared/corpora/arabic_dialects_research) is for research use only: these manifests
point at its clips by relative paths and are never committed, nor is anything trained on them.

- `all.jsonl`: every clip of the three subsets (sha256 recorded, so identical audio is one group).
- `train.jsonl`, `calibration.jsonl`, `test.jsonl`: adi5-badrex split by broadcast episode: two of
  the K episode folds below (about 20 % of each label's clips each) are the test and the calibration
  set, the other folds train; an episode, even one carrying two labels, is in one split only. Every
  adi-qcri-maher clip is added to train (its clips have no known grouping, so they are never
  calibrated or tested on). Folds by clip count, not by audio: one Gulf clip holds 128 of the
  Gulf's 175 s, and a split by duration left Gulf one training episode.
- `madis.jsonl`: the 12 MADIS-5 clips, another domain (radio, TEDx, drama), for a cross-domain test.
- `folds/fold-N/{train,test}.jsonl`: K episode-disjoint folds of adi5-badrex, adi-qcri-maher
  added to every training fold (what experiments/arabic_dialects.py measures).
Every pair of splits is checked for a shared episode or identical audio before anything is written.

Usage: python scripts/build_arabic_dialects_data.py [--corpus DIR] [--out DIR] [--folds 5] [--seed 5]
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

from dialectid.audio.source import sha256_file
from dialectid.data import (
    Manifest,
    Utterance,
    check_splits,
    group_folds,
    import_corpus,
    write_manifest,
)
from dialectid.errors import DialectidError

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpora" / "arabic_dialects_research"
EPISODES, TRAIN_ONLY, CROSS_DOMAIN = "adi5-badrex", "adi-qcri-maher", "madis5-ziad"


def subset(utterances: list[Utterance], name: str) -> list[Utterance]:
    return [u for u in utterances if u.extra["subset"] == name]


def bundle_parts(utterances: list[Utterance], k: int, seed: int) -> dict[str, list[Utterance]]:
    """train / calibration / test of the bundle: the first episode fold tests, the second calibrates."""
    folds = list(group_folds(subset(utterances, EPISODES), k, seed).values())
    held = {u.id for fold in folds[:2] for u in fold["test"]}
    train = [u for u in folds[0]["train"] if u.id not in held]
    extra = [replace(u, split="train") for u in subset(utterances, TRAIN_ONLY)]
    return {"train": train + extra, "calibration": [replace(u, split="calibration") for u in folds[1]["test"]],
            "test": folds[0]["test"]}  # fmt: skip


def fold_parts(utterances: list[Utterance], k: int, seed: int) -> dict[str, dict[str, list[Utterance]]]:
    extra = [replace(u, split="train") for u in subset(utterances, TRAIN_ONLY)]
    return {name: {"train": fold["train"] + extra, "test": fold["test"]}
            for name, fold in group_folds(subset(utterances, EPISODES), k, seed).items()}  # fmt: skip


def refuse_leaks(parts: dict[str, list[Utterance]], where: str) -> None:
    findings = check_splits({name: Manifest(tuple(rows), Path("/")) for name, rows in parts.items()})
    if findings.errors:
        raise DialectidError(f"{where}: {findings.errors[0]} ({len(findings.errors)} leak(s)); nothing written")


def write(path: Path, rows: list[Utterance], corpus: Path) -> None:
    # the corpus relative to the manifests: shared/ sits beside every checkout
    write_manifest(path, rows, relative_within=corpus.resolve().parent.parent)
    labels = ", ".join(f"{label} {sum(u.label == label for u in rows)}" for label in sorted({u.label for u in rows}))
    print(f"{path}: {len(rows)} clips ({labels})")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--out", type=Path, default=Path("runs") / "arabic-dialects")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args(argv)
    utterances = [replace(u, sha256=sha256_file(u.path)) for u in import_corpus("arabic_dialects", args.corpus)]
    parts = bundle_parts(utterances, args.folds, args.seed)
    folds = fold_parts(utterances, args.folds, args.seed)
    refuse_leaks(parts, "the bundle's splits")
    for name, fold in folds.items():
        refuse_leaks(fold, name)
    write(args.out / "all.jsonl", utterances, args.corpus)
    for name, rows in parts.items():
        write(args.out / f"{name}.jsonl", rows, args.corpus)
    write(args.out / "madis.jsonl", subset(utterances, CROSS_DOMAIN), args.corpus)
    for name, fold in folds.items():
        for part, rows in fold.items():
            write(args.out / "folds" / name / f"{part}.jsonl", rows, args.corpus)


if __name__ == "__main__":
    try:
        main()
    except DialectidError as error:
        sys.exit(f"error: {error}")

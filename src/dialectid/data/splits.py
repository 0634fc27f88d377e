"""Speaker-disjoint, stratified splits and leave-one-speaker-out folds.

Utterances are grouped so that no speaker and no identical recording (same sha256) ever lands
in two splits: a group is every utterance connected through a shared speaker or a shared audio
hash. Groups, not utterances, are assigned to splits, label by label, by duration.

>>> from dialectid.data.manifest import Utterance
>>> utts = [Utterance(id=f"{s}{i}", path="x", label=s[0], speaker=s, duration_s=1.0)
...         for s in ("a1", "a2", "a3", "b1", "b2", "b3") for i in range(2)]
>>> parts = split_utterances(utts, dev=0.0, test=0.34, seed=0)
>>> sorted({u.label for u in parts["test"]}), len(parts["train"])
(['a', 'b'], 8)
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace

from dialectid.data.manifest import ManifestError, Utterance

SPLITS = ("train", "dev", "test")


def speaker_key(utt: Utterance) -> str:
    """Who is speaking; an utterance without a known speaker stands for itself."""
    return f"speaker:{utt.speaker}" if utt.speaker else f"utterance:{utt.id}"


def groups(utterances: Sequence[Utterance]) -> list[list[Utterance]]:
    """Connected groups: utterances sharing a speaker or an audio sha256 (union-find)."""
    parent: dict[str, str] = {}

    def find(key: str) -> str:
        parent.setdefault(key, key)
        while parent[key] != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    for utt in utterances:
        root = find(speaker_key(utt))
        if utt.sha256:
            parent[find(f"sha:{utt.sha256}")] = root
    members: dict[str, list[Utterance]] = defaultdict(list)
    for utt in utterances:
        members[find(speaker_key(utt))].append(utt)
    return sorted(members.values(), key=lambda group: min(u.id for u in group))


def split_utterances(
    utterances: Sequence[Utterance], dev: float = 0.1, test: float = 0.2, seed: int = 0
) -> dict[str, list[Utterance]]:
    """Assign speaker groups to train/dev/test, per label, aiming at the duration fractions.

    Each label keeps at least one group in train; a label with two groups also gets one into
    test before dev. The result is reproducible from `seed`.
    """
    if not 0 <= dev < 1 or not 0 <= test < 1 or dev + test >= 1:
        raise ManifestError(f"split fractions dev={dev} and test={test} must be in [0, 1) and sum below 1")
    by_label: dict[str, list[list[Utterance]]] = defaultdict(list)
    for group in groups(utterances):
        by_label[_main_label(group)].append(group)
    rng = random.Random(seed)
    placed: list[tuple[list[Utterance], str]] = []
    for label in sorted(by_label):
        label_groups = by_label[label]
        rng.shuffle(label_groups)
        placed.extend(zip(label_groups, _plan(label_groups, dev, test), strict=True))
    placed = _cover_every_label_in_train(placed)
    assigned: dict[str, list[Utterance]] = {name: [] for name in SPLITS}
    for group, split in placed:
        assigned[split].extend(replace(u, split=split) for u in group)
    return {name: sorted(utts, key=lambda u: u.id) for name, utts in assigned.items()}


def _cover_every_label_in_train(placed: list[tuple[list[Utterance], str]]) -> list[tuple[list[Utterance], str]]:
    """A speaker who speaks two labels ties them together; if that left a label without
    training data, move the smallest held-out group carrying it back to train."""
    placed = list(placed)
    while True:
        in_train = {u.label for group, split in placed if split == "train" for u in group}
        missing = sorted({u.label for group, _ in placed for u in group} - in_train)
        if not missing:
            return placed
        candidates = [i for i, (group, split) in enumerate(placed) if split != "train"
                      and any(u.label == missing[0] for u in group)]  # fmt: skip
        best = min(candidates, key=lambda i: sum(u.duration_s or 1.0 for u in placed[i][0]))
        placed[best] = (placed[best][0], "train")


def _main_label(group: list[Utterance]) -> str:
    seconds: dict[str, float] = defaultdict(float)
    for utt in group:
        seconds[utt.label] += utt.duration_s or 1.0
    return max(sorted(seconds), key=seconds.__getitem__)


def _plan(label_groups: list[list[Utterance]], dev: float, test: float) -> list[str]:
    """Fill test, then dev, with the first shuffled groups up to their share of the label's
    duration (at least one group each while any is left); the rest, and always the last, train."""
    sizes = [sum(u.duration_s or 1.0 for u in g) for g in label_groups]
    total, n = sum(sizes), len(sizes)
    plan = ["train"] * n
    i = 0
    for split, share in (("test", test), ("dev", dev)):
        budget, filled = share * total, 0.0
        while budget > 0 and i < n - 1 and (filled == 0 or filled + sizes[i] / 2 <= budget):
            plan[i] = split
            filled += sizes[i]
            i += 1
    return plan


def loso_folds(utterances: Sequence[Utterance]) -> dict[str, dict[str, list[Utterance]]]:
    """Leave-one-speaker-out: one fold per speaker group, tested on it, trained on the rest."""
    folds = {}
    all_groups = groups(utterances)
    for held_out in all_groups:
        name = _fold_name(held_out)
        held_ids = {u.id for u in held_out}
        folds[name] = {
            "train": [replace(u, split="train") for u in utterances if u.id not in held_ids],
            "test": [replace(u, split="test") for u in held_out],
        }
    return folds


def _fold_name(group: list[Utterance]) -> str:
    speakers = sorted({u.speaker or u.id for u in group})
    name = "+".join(speakers)
    return "".join(c if c.isalnum() or c in "-_.+" else "_" for c in name)[:120]


def group_folds(utterances: Sequence[Utterance], k: int = 5, seed: int = 0) -> dict[str, dict[str, list[Utterance]]]:
    """K-fold cross-validation over whole groups (`groups`: a speaker, or an episode, stays in one
    fold even where it carries two labels). Groups are dealt label by label (by their main label),
    largest first after a seeded shuffle, each to the fold holding the fewest clips of that label so
    far: every label with at least `k` groups is tested in every fold.

    >>> from dialectid.data.manifest import Utterance
    >>> speakers = ("a1", "a2", "b1", "b2")
    >>> utts = [Utterance(id=f"{s}{i}", path="x", label=s[0], speaker=s) for s in speakers for i in (0, 1)]
    >>> folds = group_folds(utts, k=2)
    >>> [(sorted({u.label for u in f["test"]}), len(f["train"])) for f in folds.values()]
    [(['a', 'b'], 4), (['a', 'b'], 4)]
    """
    all_groups = groups(utterances)
    if not 2 <= k <= len(all_groups):
        raise ManifestError(f"{k} folds need between 2 and {len(all_groups)} (the number of speaker groups)")
    rng = random.Random(seed)
    rng.shuffle(all_groups)
    all_groups.sort(key=lambda group: (_main_label(group), -len(group)))
    per_label: list[dict[str, int]] = [defaultdict(int) for _ in range(k)]
    sizes = [0] * k
    members: list[list[Utterance]] = [[] for _ in range(k)]
    for group in all_groups:
        label = _main_label(group)
        fold = min(range(k), key=lambda f: (per_label[f][label], sizes[f], f))
        per_label[fold][label] += len(group)
        sizes[fold] += len(group)
        members[fold].extend(group)
    folds = {}
    for fold in range(k):
        held = {u.id for u in members[fold]}
        folds[f"fold-{fold + 1}"] = {
            "train": [replace(u, split="train") for u in utterances if u.id not in held],
            "test": [replace(u, split="test") for u in sorted(members[fold], key=lambda u: u.id)],
        }
    return folds

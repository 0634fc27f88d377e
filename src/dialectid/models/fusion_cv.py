"""Choosing the Whisper fusion's settings by speaker-grouped cross-validation, and the property the
choice must keep: never less accurate than Whisper's own language detection restricted to the same
labels, on every fold and on every source of training speech.

A single dev split of a few dozen videos chose the fusion weight before (issue 28): the fusion then
lost 4 points to the detector it is built on when measured on speech from elsewhere. Here every
setting is measured on every training video once, by a back-end that never heard that video
(`StratifiedGroupKFold` over videos or voices; augmented copies stay with their original), and each
recording is judged as the scorer judges it: the mean of its windows' log-posteriors.

The same out-of-fold windows set the open-set threshold: the recording novelty under which all but
`IN_SET_FLAG_RATE` of the in-set recordings of every source stay (a detector fitted on one split
flagged 8-19 % of in-set speech from elsewhere).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import NotRequired, Protocol, TypedDict

import numpy as np

from dialectid.errors import DialectidError
from dialectid.models.base import log_softmax

C_GRID = (0.01, 0.03, 0.1, 0.3, 1.0)  # the back-end's inverse regularisation
LID_WEIGHT_GRID = (0.5, 1.0, 2.0, 3.0, 4.0, 6.0)  # the weight of Whisper's own detection beside the back-end's
FOLDS = 5
IN_SET_FLAG_RATE = 0.03  # about this share of in-set recordings of any one source flagged out_of_set, at most


class FusionCheckError(DialectidError):
    """No fusion setting keeps the fusion at least as accurate as its encoder's own detection."""


class FoldBackend(Protocol):
    """What `search` needs of a back-end fitted on one fold (an `EmbeddingBackend`)."""

    def scores(self, embeddings: np.ndarray) -> np.ndarray: ...

    def novelty(self, embeddings: np.ndarray) -> np.ndarray: ...


class CurvePoint(TypedDict):
    """One setting tried: its accuracy over all recordings and per fold, and whether it is never
    less accurate than Whisper's own detection on any fold or source."""

    c: float
    lid_weight: float
    accuracy: float
    per_fold: list[float]
    never_worse: bool


class Tally(TypedDict):
    """Recordings of one source or label, and how many the fusion and Whisper restricted got right."""

    clips: int
    model: int
    whisper: int


class SourceFlags(TypedDict):
    """In-set recordings of one source, and the share an open-set threshold flags."""

    clips: int
    flagged: float


class OpenSetChoice(TypedDict):
    """The open-set threshold the fusion keeps: the larger of the learned one and the one that
    holds the in-set flag rate of every source (whisper.WhisperFusion._hold_in_set_rate)."""

    learned_threshold: float
    in_set_threshold: float
    threshold: float
    flagged_per_source: dict[str, SourceFlags]


class CrossValidationSummary(TypedDict):
    """`FusionSearch.summary()`: what metrics.json and the model card record (plain JSON)."""

    folds: int
    c: float
    lid_weight: float
    curve: list[CurvePoint]
    whisper_per_fold: list[float]
    per_source: dict[str, Tally]
    per_label: dict[str, Tally]
    open_set: NotRequired[OpenSetChoice]  # where the fusion then set its open-set threshold


@dataclass
class Fold:
    """One fold's out-of-fold window scores, for every back-end regularisation tried."""

    held_out: np.ndarray  # window mask
    backend: dict[float, np.ndarray]  # c -> back-end log-posteriors of the held-out windows
    distance: dict[float, np.ndarray]  # c -> back-end novelty distances of the held-out windows
    train_mask: np.ndarray


@dataclass
class FusionSearch:
    """The cross-validation curve and the setting chosen from it."""

    c: float
    lid_weight: float
    curve: list[CurvePoint]
    whisper_per_fold: list[float]
    per_source: dict[str, Tally]
    per_label: dict[str, Tally]
    folds: list[Fold] = field(repr=False, default_factory=list)

    def summary(self) -> CrossValidationSummary:
        """What the model card and bundle record (plain JSON)."""
        return {"folds": len(self.whisper_per_fold), "c": self.c, "lid_weight": self.lid_weight, "curve": self.curve,
                "whisper_per_fold": self.whisper_per_fold, "per_source": self.per_source,
                "per_label": self.per_label}  # fmt: skip


def fold_masks(targets: np.ndarray, groups: np.ndarray, origins: np.ndarray, seed: int) -> list[np.ndarray]:
    """Held-out window masks: every group (video, voice) in exactly one fold, labels spread evenly."""
    from sklearn.model_selection import StratifiedGroupKFold  # fitting only

    n_folds = min(FOLDS, *(len(np.unique(groups[targets == t])) for t in np.unique(targets)))
    if n_folds < 2:
        raise FusionCheckError("cross-validation needs at least two speakers (videos, voices) of every label in "
                               "data.train; add speakers or set model.args.cross_validate: false")  # fmt: skip
    splitter = StratifiedGroupKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    return [np.isin(np.arange(len(targets)), held) for _, held in splitter.split(origins, targets, groups)]


def search(embeddings: np.ndarray, lid: np.ndarray, targets: np.ndarray, groups: np.ndarray, origins: np.ndarray,
           sources: np.ndarray, labels: Sequence[str], fit_backend: Callable[[np.ndarray, np.ndarray, float], FoldBackend],
           seed: int = 0, progress: Callable[[int, int], None] = lambda step, steps: None) -> FusionSearch:  # fmt: skip
    """Fit a back-end per fold and `C_GRID` value (`fit_backend(embeddings, targets, c)`), fuse its
    out-of-fold scores with Whisper's restricted log-probabilities `lid` at every `LID_WEIGHT_GRID`
    weight, and keep the most accurate setting that is at least Whisper's accuracy on every fold and
    every source; raise `FusionCheckError` when none is."""
    folds = []
    masks = fold_masks(targets, groups, origins, seed)
    for n, held in enumerate(masks):
        train = ~held
        backend, distance = {}, {}
        for c in C_GRID:
            model = fit_backend(embeddings[train], targets[train], c)
            backend[c], distance[c] = model.scores(embeddings[held]), model.novelty(embeddings[held])
        folds.append(Fold(held, backend, distance, train))
        progress(n + 1, len(masks))
    clip_target = _per_clip(origins, targets[:, None].astype(float))[:, 0].astype(int)
    clip_source = _clip_values(origins, sources)
    whisper_right = _per_clip(origins, lid).argmax(axis=1) == clip_target
    clip_fold = _clip_values(origins, np.argmax(np.stack([f.held_out for f in folds]), axis=0))
    whisper_per_fold = [float(whisper_right[clip_fold == k].mean()) for k in range(len(folds))]
    curve: list[CurvePoint] = []
    best: CurvePoint | None = None
    for c in C_GRID:
        for weight in LID_WEIGHT_GRID:
            right = fused_right(folds, lid, origins, clip_target, c, weight)
            per_fold = [float(right[clip_fold == k].mean()) for k in range(len(folds))]
            worse = _shortfalls(right, whisper_right, clip_fold, clip_source, len(folds))
            row: CurvePoint = {"c": c, "lid_weight": weight, "accuracy": float(right.mean()), "per_fold": per_fold,
                   "never_worse": not worse}  # fmt: skip
            curve.append(row)
            if not worse and (best is None or row["accuracy"] > best["accuracy"] + 1e-12):
                best = row
    if best is None:
        top = max(curve, key=lambda r: r["accuracy"])
        shortfall = _shortfalls(fused_right(folds, lid, origins, clip_target, top["c"], top["lid_weight"]),
                                whisper_right, clip_fold, clip_source, len(folds))[0]  # fmt: skip
        raise FusionCheckError(f"no fusion setting is at least as accurate as Whisper's own detection everywhere in "
                               f"cross-validation ({shortfall}); the back-end needs more or better training speech")  # fmt: skip
    right = fused_right(folds, lid, origins, clip_target, best["c"], best["lid_weight"])
    return FusionSearch(best["c"], best["lid_weight"], curve, whisper_per_fold,
                        _breakdown(right, whisper_right, clip_source), _breakdown(right, whisper_right,
                                                                                   np.array(labels)[clip_target]),
                        folds)  # fmt: skip


def fused_right(folds: list[Fold], lid: np.ndarray, origins: np.ndarray, clip_target: np.ndarray, c: float,
                weight: float) -> np.ndarray:  # fmt: skip
    """Per recording: is the fusion's top label (mean of its windows' log-posteriors) right?"""
    fused = np.zeros_like(lid)
    for fold in folds:
        fused[fold.held_out] = log_softmax(fold.backend[c] + weight * lid[fold.held_out])
    return _per_clip(origins, fused).argmax(axis=1) == clip_target


def in_set_threshold(novelty: np.ndarray, origins: np.ndarray, sources: np.ndarray
                     ) -> tuple[float, dict[str, SourceFlags]]:  # fmt: skip
    """The recording novelty (mean over its windows) that all but `IN_SET_FLAG_RATE` of the in-set
    recordings of every source stay below, and per source the share it would flag."""
    per_clip = _per_clip(origins, novelty[:, None])[:, 0]
    clip_source = _clip_values(origins, sources)
    threshold = max(float(np.quantile(per_clip[clip_source == s], 1 - IN_SET_FLAG_RATE))
                    for s in np.unique(clip_source))  # fmt: skip
    rates: dict[str, SourceFlags] = {str(s): {"clips": int((clip_source == s).sum()),
                      "flagged": float((per_clip[clip_source == s] > threshold).mean())}
             for s in np.unique(clip_source)}  # fmt: skip
    return threshold, rates


def _per_clip(origins: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Mean of `values` (windows, K) over the windows of each clip, clips in `np.unique(origins)` order."""
    ids, index = np.unique(origins, return_inverse=True)
    sums = np.zeros((len(ids), values.shape[1]))
    np.add.at(sums, index, values)
    return sums / np.bincount(index)[:, None]


def _clip_values(origins: np.ndarray, values: np.ndarray) -> np.ndarray:
    """The value of each clip's first window, clips in `np.unique(origins)` order."""
    _, first = np.unique(origins, return_index=True)
    return values[first]


def _shortfalls(right: np.ndarray, whisper: np.ndarray, clip_fold: np.ndarray, clip_source: np.ndarray,
                n_folds: int) -> list[str]:  # fmt: skip
    """Where the fusion is less accurate than Whisper restricted: each fold, each source."""
    found = []
    for k in range(n_folds):
        if right[clip_fold == k].mean() < whisper[clip_fold == k].mean():
            found.append(f"fold {k + 1}: {right[clip_fold == k].mean():.3f} < {whisper[clip_fold == k].mean():.3f}")
    for source in np.unique(clip_source):
        if right[clip_source == source].mean() < whisper[clip_source == source].mean():
            found.append(f"{source}: {right[clip_source == source].mean():.3f} < "
                         f"{whisper[clip_source == source].mean():.3f}")  # fmt: skip
    return found


def _breakdown(right: np.ndarray, whisper: np.ndarray, keys: np.ndarray) -> dict[str, Tally]:
    return {str(key): {"clips": int((keys == key).sum()), "model": int(right[keys == key].sum()),
                       "whisper": int(whisper[keys == key].sum())} for key in np.unique(keys)}  # fmt: skip

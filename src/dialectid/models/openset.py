"""Open-set detection for the Whisper fusion: is a window's language one of the model's labels?

Whisper's share of probability outside the labels is the strongest single cue, but it fails both
ways: on languages Whisper-base knows poorly (Persian, Armenian) it spreads probability over many
others, so in-set speech looks foreign; on a language close to a label (Norwegian beside Danish)
it stays inside. The detector weighs five cues per window (`CUES`) with a logistic regression,
learned without any out-of-set data by leaving one label out at a time: a back-end trained
without label L scores the dev clips, whose L clips then play the unknown language
(`simulate_unknown`). A window's novelty is the detector's probability that its language is
unknown; the recording's is the mean over its windows, as the scorer averages, and the threshold
flags `RECALL` of the simulated clips. Measured in experiments/lid_report.py on four languages
never seen at all and on West Frisian.

Without dev clips of at least three labels, the detector is Whisper's outside share alone with the
threshold 0.5 (more likely none of ours than one of ours).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from dialectid.models.base import Shape

CUES = ("outside", "outside_vs_label", "backend_top", "backend_distance", "fused_top")
RECALL = 0.9  # of the simulated unknown-language dev clips, flagged
_CLIP = 1e-3  # outside shares are clipped to [_CLIP, 1 - _CLIP] before their logit


def outside_logit(outside: np.ndarray) -> np.ndarray:
    share = np.clip(outside, _CLIP, 1 - _CLIP)
    return np.log(share / (1 - share))


def window_cues(backend: np.ndarray, distance: np.ndarray, fused: np.ndarray, outside: np.ndarray,
                outside_means: np.ndarray) -> np.ndarray:  # fmt: skip
    """(windows, len(CUES)): Whisper's outside share (logit); the same less what is usual for the
    labels the fusion believes in (`outside_means`: per label, the mean over its training windows);
    the back-end's top log-posterior and its distance to the nearest class; the fusion's top
    log-posterior."""
    logit = outside_logit(outside)
    usual = np.exp(fused) @ outside_means
    return np.stack([logit, logit - usual, backend.max(axis=1), distance, fused.max(axis=1)], axis=1)


class OpenSetDetector:
    """Probability that a window's language is none of the labels; `threshold` on the recording mean."""

    def __init__(self, weight: np.ndarray, bias: float, mean: np.ndarray, scale: np.ndarray, threshold: float) -> None:
        self.weight, self.bias, self.mean, self.scale, self.threshold = weight, bias, mean, scale, threshold

    @classmethod
    def outside_share_only(cls) -> OpenSetDetector:
        """Novelty = Whisper's outside share (clipped to [0.001, 0.999]); threshold 0.5."""
        weight = np.zeros(len(CUES))
        weight[0] = 1.0
        return cls(weight, 0.0, np.zeros(len(CUES)), np.ones(len(CUES)), 0.5)

    @classmethod
    def fit(cls, cues: np.ndarray, unknown: np.ndarray, clips: np.ndarray, seed: int = 0) -> OpenSetDetector:
        """`cues` (windows, CUES) of simulated clips, `unknown` per window, `clips` a clip id per window."""
        from sklearn.linear_model import LogisticRegression  # fitting only

        mean, scale = cues.mean(axis=0), cues.std(axis=0)
        scale[scale < 1e-9] = 1.0
        model = LogisticRegression(class_weight="balanced", max_iter=1000, random_state=seed)
        model.fit((cues - mean) / scale, unknown)
        detector = cls(model.coef_[0].copy(), float(model.intercept_[0]), mean, scale, 0.0)
        novelty = detector.novelty(cues)
        ids = np.unique(clips[unknown.astype(bool)])
        per_clip = np.array([novelty[clips == i].mean() for i in ids])
        detector.threshold = float(np.quantile(per_clip, 1 - RECALL))
        return detector

    def novelty(self, cues: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-(((cues - self.mean) / self.scale) @ self.weight + self.bias)))

    def state(self, prefix: str = "open_set.") -> dict[str, np.ndarray]:
        return {prefix + "weight": self.weight, prefix + "bias": np.array([self.bias]), prefix + "mean": self.mean,
                prefix + "scale": self.scale, prefix + "threshold": np.array([self.threshold])}  # fmt: skip

    @classmethod
    def from_state(cls, state: dict[str, np.ndarray], prefix: str = "open_set.") -> OpenSetDetector:
        return cls(state[prefix + "weight"], float(state[prefix + "bias"][0]), state[prefix + "mean"],
                   state[prefix + "scale"], float(state[prefix + "threshold"][0]))  # fmt: skip


def detector_shapes(prefix: str = "open_set.") -> dict[str, Shape]:
    n = len(CUES)
    return {prefix + "weight": (n,), prefix + "bias": (1,), prefix + "mean": (n,), prefix + "scale": (n,),
            prefix + "threshold": (1,)}  # fmt: skip


def simulate_unknown(
    train_targets: np.ndarray,
    dev_targets: np.ndarray,
    dev_clips: np.ndarray,
    cues_without: Callable[[int, np.ndarray], np.ndarray],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Leave each label out in turn: `cues_without(L, train_mask)` gives the dev windows' cues for a
    model trained without label L (on the training windows in `train_mask`), and the windows of L's
    dev clips are the unknown ones. Returns cues, unknown flags and clip ids (unique per fold)."""
    cues, unknown, clips = [], [], []
    for fold, held_out in enumerate(np.unique(dev_targets)):
        if not (train_targets != held_out).any():
            continue
        cues.append(cues_without(int(held_out), train_targets != held_out))
        unknown.append(dev_targets == held_out)
        clips.append(dev_clips + fold * (int(dev_clips.max()) + 1))
    return np.concatenate(cues), np.concatenate(unknown).astype(np.int64), np.concatenate(clips)

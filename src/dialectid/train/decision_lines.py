"""The two decision lines a bundle's rules take from held-out speech (issue 28): how much speech the
open-set decision needs, and from which calibrated top probability a label is "ok".

Both are chosen on the held-out in-set recordings the trainer measures for calibration (the
calibration clips, which no model here heard in training, and their short crops), each grouped by
the clip (video, voice) it comes from.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np

from dialectid.models.calibration import Calibrator
from dialectid.scoring.scorer import Measurement

OPEN_SET_SPEECH_GRID = (0.0, 1.5, 2.0, 2.5, 3.0, 4.0)  # seconds of net speech
IN_SET_FLAG_RATE_MAX = 0.05  # held-out in-set recordings called out_of_set, at most
CONFIDENCE_GRID = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8)  # candidate ok/low_confidence lines
CONFIDENCE_FOLDS = 5
CONFIDENCE_MIN_RECORDINGS = 60  # fewer held-out recordings: the bundle keeps its configured line


class Held(NamedTuple):
    """One held-out recording: its label's index, what the scorer measured, and its group."""

    target: int
    measured: Measurement
    group: str


def open_set_speech_line(held: Sequence[Held], threshold: float, log: Callable[[str], None]) -> dict[str, Any]:
    """The least net speech on which a novelty above `threshold` means out_of_set: the shortest
    `OPEN_SET_SPEECH_GRID` value at which the held-out in-set recordings with at least that much
    speech are flagged at most `IN_SET_FLAG_RATE_MAX`. Below it a novel recording is low_confidence:
    a second of speech cannot tell an unknown language from a known one (short telephone prompts
    were flagged 27 % of the time)."""
    speech = np.array([h.measured.speech_s for h in held])
    novel = np.array([(h.measured.mean_novelty() or 0.0) > threshold for h in held])
    curve = [{"at_least_s": s, "recordings": int((speech >= s).sum()),
              "flagged": float(novel[speech >= s].mean()) if (speech >= s).any() else 0.0}
             for s in OPEN_SET_SPEECH_GRID]  # fmt: skip
    chosen = next((row["at_least_s"] for row in curve if row["flagged"] <= IN_SET_FLAG_RATE_MAX),
                  OPEN_SET_SPEECH_GRID[-1])  # fmt: skip
    log(f"out_of_set from {chosen:g} s of speech on (held-out in-set recordings flagged from each line: "
        + ", ".join(f"{r['at_least_s']:g} s {100 * r['flagged']:.1f} % of {r['recordings']}" for r in curve) + ")")  # fmt: skip
    return {"chosen_s": chosen, "max_flag_rate": IN_SET_FLAG_RATE_MAX, "curve": curve}


def confidence_line(held: Sequence[Held], calibrator: Calibrator, seed: int, log: Callable[[str], None]
                    ) -> dict[str, Any] | None:  # fmt: skip
    """The ok/low_confidence line: the lowest `CONFIDENCE_GRID` value from which the held-out
    recordings of every band up to the next value are right at least half the time ("more likely
    right than wrong"), their probabilities given by a calibrator of the bundle's kind fitted in
    group-disjoint folds that never saw their clip. None (keep the configured line) with fewer than
    `CONFIDENCE_MIN_RECORDINGS` recordings or too few groups per label to fold."""
    from sklearn.model_selection import StratifiedGroupKFold  # fitting only

    targets = np.array([h.target for h in held])
    groups = np.array([h.group for h in held])
    n_folds = min([CONFIDENCE_FOLDS] + [len(np.unique(groups[targets == t])) for t in np.unique(targets)])
    if len(held) < CONFIDENCE_MIN_RECORDINGS or n_folds < 2 or calibrator.method == "none":
        log(f"ok/low_confidence line: kept as configured ({len(held)} held-out recordings, {n_folds} folds)")
        return None
    scores = np.stack([h.measured.mean_scores() for h in held])
    speech = np.array([h.measured.speech_s for h in held])
    top, right = np.zeros(len(held)), np.zeros(len(held), dtype=bool)
    for fit, test in StratifiedGroupKFold(n_folds, shuffle=True, random_state=seed).split(scores, targets, groups):
        fold = Calibrator(calibrator.method, calibrator.duration_covariate).fit(scores[fit], targets[fit], speech[fit])
        probabilities = np.exp(fold.transform(scores[test], speech[test]))
        top[test], right[test] = probabilities.max(axis=1), probabilities.argmax(axis=1) == targets[test]
    edges = (*CONFIDENCE_GRID, 1.0 + 1e-9)
    curve = []
    for low, high in zip(edges[:-1], edges[1:], strict=True):
        band = (top >= low) & (top < high)
        curve.append({"from": low, "recordings": int(band.sum()), "right": float(right[band].mean()) if band.any() else None,
                      "ok_share": float((top >= low).mean()), "ok_right": float(right[top >= low].mean()) if (top >= low).any() else None})  # fmt: skip
    chosen = next((row["from"] for i, row in enumerate(curve)
                   if all(r["right"] is None or r["right"] >= 0.5 for r in curve[i:])), CONFIDENCE_GRID[-1])  # fmt: skip
    bands = ", ".join(f"{r['from']:g}+ {_pct(r['right'])} of {r['recordings']}" for r in curve)
    log(f"ok from a top probability of {chosen:g} on (held-out recordings right per band, calibrated out of fold: "
        f"{bands})")  # fmt: skip
    return {"chosen": chosen, "folds": n_folds, "curve": curve}


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.0f} %"

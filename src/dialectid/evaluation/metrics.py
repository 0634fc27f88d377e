"""Metrics on calibrated log-posteriors (N, classes) and true class indices (N,).

Detection metrics follow NIST LRE: each class is a target in turn, its log-likelihood ratio
against the other classes (equal priors) is thresholded, and Cavg averages misses and false
alarms with P_target = 0.5, C_miss = C_fa = 1. The actual Cavg uses the Bayes threshold (0); the
minimum Cavg the best single threshold: their gap is what calibration could still gain.

>>> import numpy as np
>>> logp = np.log(np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]]))
>>> round(accuracy(logp, np.array([0, 1, 1, 1])), 2)
0.75
"""

from __future__ import annotations

import numpy as np

P_TARGET = 0.5
ECE_BINS = 15


def accuracy(logp: np.ndarray, targets: np.ndarray) -> float:
    return float((logp.argmax(axis=1) == targets).mean()) if len(targets) else float("nan")


def confusion(logp: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Counts: rows are true classes, columns predicted ones."""
    classes = logp.shape[1]
    matrix = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(matrix, (targets, logp.argmax(axis=1)), 1)
    return matrix


def per_class(logp: np.ndarray, targets: np.ndarray) -> dict[str, np.ndarray]:
    matrix = confusion(logp, targets)
    hits = np.diag(matrix).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = hits / matrix.sum(axis=0)
        recall = hits / matrix.sum(axis=1)
        f1 = 2 * precision * recall / (precision + recall)
    return {"precision": precision, "recall": recall, "f1": f1, "support": matrix.sum(axis=1)}


def balanced_accuracy(logp: np.ndarray, targets: np.ndarray) -> float:
    recall = per_class(logp, targets)["recall"]
    return float(np.nanmean(recall)) if len(targets) else float("nan")


def detection_llrs(logp: np.ndarray) -> np.ndarray:
    """Per class, log of p(x | class) / p(x | any other class) under equal priors."""
    classes = logp.shape[1]
    log_rest = np.log(-np.expm1(np.minimum(logp, -1e-12))) - np.log(classes - 1)
    return logp - log_rest


def cavg(logp: np.ndarray, targets: np.ndarray, threshold: float = 0.0) -> float:
    """NIST LRE average detection cost over the target classes present in `targets`."""
    return _cavg_at(detection_llrs(logp), targets, threshold)


def _cavg_at(llr: np.ndarray, targets: np.ndarray, threshold: float) -> float:
    present = np.unique(targets)
    if len(present) < 2:
        return float("nan")
    accept = llr > threshold
    costs = []
    for t in present:
        p_miss = 1.0 - accept[targets == t, t].mean()
        p_fa = [accept[targets == n, t].mean() for n in present if n != t]
        costs.append(P_TARGET * p_miss + (1 - P_TARGET) * float(np.mean(p_fa)))
    return float(np.mean(costs))


def min_cavg(logp: np.ndarray, targets: np.ndarray, candidates: int = 400) -> float:
    """Cavg at the best single threshold shared by all classes."""
    llr = detection_llrs(logp)
    present = np.unique(targets)
    if len(present) < 2:
        return float("nan")
    values = np.unique(llr[:, present])
    if len(values) > candidates:
        values = np.quantile(values, np.linspace(0, 1, candidates))
    thresholds = np.concatenate([[values[0] - 1.0], (values[:-1] + values[1:]) / 2, [values[-1] + 1.0]])
    return float(min(_cavg_at(llr, targets, t) for t in thresholds))


def cllr(logp: np.ndarray, targets: np.ndarray) -> float:
    """Multiclass Cllr in bits: mean over classes of the mean -log2 posterior of the true class
    (equal priors). An uninformative system scores log2(classes); 0 is perfect."""
    present = np.unique(targets)
    if not len(present):
        return float("nan")
    true = logp[np.arange(len(targets)), targets] / np.log(2)
    return float(np.mean([-true[targets == c].mean() for c in present]))


def eer(target_scores: np.ndarray, nontarget_scores: np.ndarray) -> float:
    """Equal error rate of a detector, interpolated between operating points."""
    if not len(target_scores) or not len(nontarget_scores):
        return float("nan")
    miss, fa, _ = det_curve(target_scores, nontarget_scores)
    i = int(np.argmin(np.abs(miss - fa)))
    if i + 1 < len(miss) and (miss[i] - fa[i]) * (miss[i + 1] - fa[i + 1]) < 0:
        span = (fa[i + 1] - fa[i]) - (miss[i + 1] - miss[i])
        w = (miss[i] - fa[i]) / span if span else 0.0
        return float(miss[i] + w * (miss[i + 1] - miss[i]))
    return float((miss[i] + fa[i]) / 2)


def det_curve(target_scores: np.ndarray, nontarget_scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(miss rate, false-alarm rate, thresholds) as the threshold rises through every score."""
    scores = np.concatenate([target_scores, nontarget_scores])
    is_target = np.concatenate([np.ones(len(target_scores)), np.zeros(len(nontarget_scores))])
    order = np.argsort(scores, kind="mergesort")
    sorted_target = is_target[order]
    miss = np.concatenate([[0.0], np.cumsum(sorted_target) / len(target_scores)])
    fa = np.concatenate([[1.0], 1.0 - np.cumsum(1 - sorted_target) / len(nontarget_scores)])
    return miss, fa, np.concatenate([[-np.inf], scores[order]])


def eer_per_class(logp: np.ndarray, targets: np.ndarray) -> np.ndarray:
    llr = detection_llrs(logp)
    return np.array([eer(llr[targets == c, c], llr[targets != c, c]) for c in range(logp.shape[1])])


def ece(logp: np.ndarray, targets: np.ndarray, bins: int = ECE_BINS) -> tuple[float, list[dict]]:
    """Expected calibration error of the top label, and the reliability table behind it."""
    confidence = np.exp(logp.max(axis=1))
    correct = logp.argmax(axis=1) == targets
    edges = np.linspace(0, 1, bins + 1)
    table, total = [], 0.0
    for low, high in zip(edges[:-1], edges[1:], strict=True):
        inside = (confidence > low) & (confidence <= high)
        if inside.any():
            acc, conf = float(correct[inside].mean()), float(confidence[inside].mean())
            total += inside.mean() * abs(acc - conf)
            table.append({"low": float(low), "high": float(high), "n": int(inside.sum()), "accuracy": acc,
                          "confidence": conf})  # fmt: skip
    return float(total), table


def summary(logp: np.ndarray, targets: np.ndarray) -> dict[str, float]:
    """The headline figures for one set of trials."""
    return {
        "n": int(len(targets)),
        "accuracy": accuracy(logp, targets),
        "balanced_accuracy": balanced_accuracy(logp, targets),
        "cavg": cavg(logp, targets),
        "min_cavg": min_cavg(logp, targets),
        "cllr": cllr(logp, targets),
        "ece": ece(logp, targets)[0],
    }


def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95 % Wilson score interval of a proportion (sound at 0 or n successes, unlike the normal one).

    >>> [round(x, 3) for x in wilson_interval(9, 10)]
    [0.596, 0.982]
    """
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return float(max(0.0, centre - half)), float(min(1.0, centre + half))

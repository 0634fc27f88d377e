"""Evaluate a bundle on a manifest: metrics.json, report.md and plots.

Every figure is computed on the manifest given; whether its speakers were unseen in training is
checked against the bundle's training fingerprint and stated in the report.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from dialectid.data import Manifest, read_manifest
from dialectid.evaluation import metrics as m
from dialectid.features.cache import FeatureCache
from dialectid.models.bundle import Bundle
from dialectid.paths import home
from dialectid.train.data import load_clips

DURATION_BINS = [(0.0, 3.0, "<=3s"), (3.0, 10.0, "3-10s"), (10.0, 30.0, "10-30s"), (30.0, math.inf, ">30s")]
GROUPS = ("gender", "channel", "source", "speaker")
MAX_GROUPS = 20  # a breakdown by more values than this (e.g. thousands of speakers) is left out


def score_manifest(bundle: Bundle, manifest: Manifest, advance: Callable[[], None] = lambda: None):
    """(calibrated log-posteriors, targets, durations) for every utterance of `manifest`, with the
    numeric libraries on one thread as in `Scorer.analyse` (their results depend on it)."""
    from threadpoolctl import threadpool_limits

    cache = FeatureCache(home() / "features", bundle.features) if bundle.model.input == "features" else None
    with threadpool_limits(limits=1):
        clips = load_clips(manifest, bundle.labels, bundle.features, bundle.model.input, cache, advance)
        return bundle.log_posteriors(clips.inputs, clips.durations), clips.targets, clips.durations


def compute_metrics(logp: np.ndarray, targets: np.ndarray, durations: np.ndarray, labels: list[str],
                    manifest: Manifest) -> dict[str, Any]:  # fmt: skip
    """Headline figures, per-class detail, and breakdowns by duration and subgroup."""
    result: dict[str, Any] = m.summary(logp, targets)
    detail = m.per_class(logp, targets)
    eers = m.eer_per_class(logp, targets)
    result["eer_mean"] = float(np.nanmean(eers)) if not np.isnan(eers).all() else float("nan")
    result["labels"] = labels
    result["per_class"] = {
        label: {
            "precision": detail["precision"][i],
            "recall": detail["recall"][i],
            "f1": detail["f1"][i],
            "support": int(detail["support"][i]),
            "eer": eers[i],
        }  # fmt: skip
        for i, label in enumerate(labels)
    }
    result["confusion"] = m.confusion(logp, targets).tolist()
    result["reliability"] = m.ece(logp, targets)[1]
    result["by_duration"] = {}
    for low, high, name in DURATION_BINS:
        inside = (durations > low) & (durations <= high)
        if inside.any():
            result["by_duration"][name] = m.summary(logp[inside], targets[inside])
    result["by_group"] = {}
    for field in GROUPS:
        values = np.array([getattr(u, field) or "unknown" for u in manifest])
        if 1 < len(set(values)) <= MAX_GROUPS:  # a breakdown needs at least two groups, and few enough to read
            result["by_group"][field] = {v: m.summary(logp[values == v], targets[values == v])
                                         for v in sorted(set(values))}  # fmt: skip
    return clean(result)


def evaluate(bundle: Bundle, manifest_path: Path, outdir: Path | None = None,
             advance: Callable[[], None] = lambda: None) -> dict[str, Any]:  # fmt: skip
    manifest = read_manifest(manifest_path, labels=bundle.labels, check_files=True)
    logp, targets, durations = score_manifest(bundle, manifest, advance)
    result = compute_metrics(logp, targets, durations, bundle.labels, manifest)
    result["manifest"] = str(manifest_path)
    result["speakers_unseen_in_training"] = unseen_speakers(bundle.description.get("training_data", {}), manifest)
    if outdir is not None:
        write_report(outdir, result, logp, targets, bundle.labels, bundle.model_id)
    return result


def speaker_digest(speaker: str) -> str:
    """Bundles record training speakers only as hashes: enough to check overlap, no names."""
    return hashlib.sha256(speaker.encode()).hexdigest()[:16]


def unseen_speakers(fingerprint: dict[str, Any], manifest: Manifest) -> bool | None:
    """True if no speaker of `manifest` was in the training data (None where unknown)."""
    seen = set(fingerprint.get("speakers", []))
    speakers = {u.speaker for u in manifest}
    if None in speakers or not seen:
        return None
    return not ({speaker_digest(s) for s in speakers} & seen)


def clean(value: Any) -> Any:
    """JSON-safe: NaN and infinities become null, numpy types plain Python."""
    if isinstance(value, dict):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    if isinstance(value, np.ndarray):
        return clean(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_report(outdir: Path, result: dict[str, Any], logp: np.ndarray, targets: np.ndarray,
                 labels: list[str], model_id: str) -> None:  # fmt: skip
    from dialectid.evaluation.plots import confusion_plot, det_plot, reliability_plot

    outdir.mkdir(parents=True, exist_ok=True)
    (outdir / "metrics.json").write_text(json.dumps(result, indent=2) + "\n")
    confusion_plot(np.array(result["confusion"]), labels, outdir / "confusion.png")
    reliability_plot(result["reliability"], outdir / "reliability.png")
    det_plot(logp, targets, labels, outdir / "det.png")
    (outdir / "report.md").write_text(render_report(result, model_id))


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f} %"


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def render_report(result: dict[str, Any], model_id: str) -> str:
    unseen = {True: "yes: no test speaker was heard in training",
              False: "NO: some test speakers were heard in training; these figures overstate accuracy",
              None: "unknown (speakers missing in the manifest or the bundle)"}[result["speakers_unseen_in_training"]]  # fmt: skip
    lines = [
        f"# Evaluation of {model_id}",
        "",
        f"Manifest: `{result['manifest']}` ({result['n']} clips). Speakers unseen in training: {unseen}.",
        "",
        "| metric | value |", "|---|---:|",
        f"| accuracy | {_pct(result['accuracy'])} |",
        f"| balanced accuracy | {_pct(result['balanced_accuracy'])} |",
        f"| Cavg (actual) | {_num(result['cavg'])} |",
        f"| Cavg (minimum) | {_num(result['min_cavg'])} |",
        f"| Cllr (bits; uninformative = {math.log2(len(result['labels'])):.2f}) | {_num(result['cllr'])} |",
        f"| ECE | {_num(result['ece'])} |",
        f"| mean EER | {_pct(result['eer_mean'])} |",
        "", "## Per class", "", "| label | precision | recall | F1 | EER | clips |", "|---|---:|---:|---:|---:|---:|",
    ]  # fmt: skip
    for label, row in result["per_class"].items():
        lines.append(f"| {label} | {_pct(row['precision'])} | {_pct(row['recall'])} | {_pct(row['f1'])} | "
                     f"{_pct(row['eer'])} | {row['support']} |")  # fmt: skip
    lines += [
        "",
        "## By clip duration",
        "",
        "| duration | clips | accuracy | Cavg | Cllr |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, row in result["by_duration"].items():
        lines.append(f"| {name} | {row['n']} | {_pct(row['accuracy'])} | {_num(row['cavg'])} | {_num(row['cllr'])} |")
    for field, groups in result["by_group"].items():
        lines += ["", f"## By {field}", "", f"| {field} | clips | accuracy | Cavg |", "|---|---:|---:|---:|"]
        for value, row in groups.items():
            lines.append(f"| {value} | {row['n']} | {_pct(row['accuracy'])} | {_num(row['cavg'])} |")
    lines += ["", "![confusion](confusion.png) ![reliability](reliability.png) ![DET](det.png)", ""]
    return "\n".join(lines)

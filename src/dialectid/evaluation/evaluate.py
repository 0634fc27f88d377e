"""Evaluate a bundle on a manifest: metrics.json, report.md and plots.

Every clip goes through `Scorer`, the path `dialectid score` takes (quality gate, VAD, windows,
calibration, decision), and gets the status a user would get. Refusals are counted, not hidden:
coverage is the share of clips given an answer (`ok` or `low_confidence`); accuracy, Cavg, Cllr
and ECE are on the answered clips; `accuracy_with_refusals` counts every refusal as wrong.
Breakdowns are by net speech (seconds the VAD found), not by clip length. Whether the speakers
were unseen in training is checked against the bundle's fingerprint and stated in the report.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dialectid.audio import AudioError
from dialectid.data import Manifest, read_manifest
from dialectid.evaluation import metrics as m
from dialectid.models.bundle import Bundle
from dialectid.models.contract import TrainingData
from dialectid.scoring.analysis import ANSWERED
from dialectid.scoring.scorer import Scorer

SPEECH_BINS = [(0.0, 1.0, "<1s"), (1.0, 2.0, "1-2s"), (2.0, 3.0, "2-3s"), (3.0, 10.0, "3-10s"),
               (10.0, 30.0, "10-30s"), (30.0, math.inf, ">30s")]  # fmt: skip
GROUPS = ("gender", "channel", "source", "speaker")
MAX_GROUPS = 20  # a breakdown by more values than this (e.g. thousands of speakers) is left out


@dataclass
class Outcomes:
    """Per clip of a manifest: what `dialectid score` would have said."""

    paths: np.ndarray  # str, as the manifest resolves them
    statuses: np.ndarray  # str
    top_labels: np.ndarray  # str, or None where no label was given
    logp: np.ndarray  # (N, labels) calibrated log-posteriors; NaN where nothing was scored
    targets: np.ndarray
    speech_s: np.ndarray

    @property
    def answered(self) -> np.ndarray:
        return np.isin(self.statuses, ANSWERED)

    def subset(self, keep: np.ndarray) -> Outcomes:
        return Outcomes(self.paths[keep], self.statuses[keep], self.top_labels[keep], self.logp[keep],
                        self.targets[keep], self.speech_s[keep])  # fmt: skip

    def rows(self, labels: list[str]) -> list[dict[str, Any]]:
        """One row per clip: what `dialectid score` says of it, and the truth."""
        return [{"path": str(p), "label": labels[t], "status": str(s), "top_label": top, "speech_s": round(float(sp), 3)}
                for p, t, s, top, sp in zip(self.paths, self.targets, self.statuses, self.top_labels, self.speech_s,
                                            strict=True)]  # fmt: skip


def score_manifest(scorer: Scorer, manifest: Manifest, advance: Callable[[], None] = lambda: None) -> Outcomes:
    """Analyse every utterance as `dialectid score` would; a file that cannot be read at all
    counts as `rejected_audio`."""
    labels = scorer.bundle.labels
    index = {label: i for i, label in enumerate(labels)}
    paths: list[str] = []
    statuses: list[str] = []
    tops: list[str | None] = []
    rows: list[np.ndarray] = []
    speech: list[float] = []
    for utt in manifest:
        paths.append(str(manifest.path_of(utt)))
        try:
            measured = scorer.measure(manifest.path_of(utt))
        except AudioError:
            statuses.append("rejected_audio")
            tops.append(None)
            rows.append(np.full(len(labels), np.nan))
            speech.append(0.0)
        else:
            analysis = scorer.decide(measured)
            statuses.append(analysis.status)
            tops.append(analysis.top_label if analysis.status in ANSWERED else None)
            logp = scorer.log_posteriors(measured)
            rows.append(np.full(len(labels), np.nan) if logp is None else logp)
            speech.append(measured.speech_s)
        advance()
    targets = np.array([index[u.label] for u in manifest], dtype=np.int64)
    return Outcomes(np.array(paths, dtype=object), np.array(statuses, dtype=object), np.array(tops, dtype=object),
                    np.array(rows).reshape(-1, len(labels)), targets, np.array(speech))  # fmt: skip


def _headline(outcomes: Outcomes) -> dict[str, Any]:
    answered = outcomes.subset(outcomes.answered)
    result: dict[str, Any] = m.summary(answered.logp, answered.targets) if len(answered.targets) else {}
    n = len(outcomes.targets)
    correct = int((answered.logp.argmax(axis=1) == answered.targets).sum()) if len(answered.targets) else 0
    confidence = float(np.exp(answered.logp).max(axis=1).mean()) if len(answered.targets) else None
    return {**result, "n": n, "n_answered": len(answered.targets),
            "coverage": len(answered.targets) / n if n else None,
            "accuracy_with_refusals": correct / n if n else None,
            "confidence": confidence}  # fmt: skip


def compute_metrics(outcomes: Outcomes, labels: list[str], manifest: Manifest) -> dict[str, Any]:
    """Coverage and headline figures, per-class detail on answered clips, breakdowns by net speech
    and by subgroup."""
    result = _headline(outcomes)
    result["labels"] = labels
    result["statuses"] = {s: int((outcomes.statuses == s).sum()) for s in sorted(set(outcomes.statuses))}
    answered = outcomes.subset(outcomes.answered)
    if len(answered.targets):
        logp, targets = answered.logp, answered.targets
        detail, eers = m.per_class(logp, targets), m.eer_per_class(logp, targets)
        result["eer_mean"] = float(np.nanmean(eers)) if not np.isnan(eers).all() else float("nan")
        result["per_class"] = {label: {"precision": detail["precision"][i], "recall": detail["recall"][i],
                                       "f1": detail["f1"][i], "support": int(detail["support"][i]), "eer": eers[i]}
                               for i, label in enumerate(labels)}  # fmt: skip
        result["confusion"] = m.confusion(logp, targets).tolist()
        result["reliability"] = m.ece(logp, targets)[1]
    result["by_speech"] = {}
    for low, high, name in SPEECH_BINS:
        inside = (outcomes.speech_s >= low) & (outcomes.speech_s < high)
        if inside.any():
            result["by_speech"][name] = _headline(outcomes.subset(inside))
    result["by_group"] = {}
    for field in GROUPS:
        values = np.array([getattr(u, field) or "unknown" for u in manifest])
        if 1 < len(set(values)) <= MAX_GROUPS:  # a breakdown needs at least two groups, and few enough to read
            result["by_group"][field] = {v: _headline(outcomes.subset(values == v)) for v in sorted(set(values))}
    return clean(result)


def evaluate(bundle: Bundle, manifest_path: Path, outdir: Path | None = None,
             advance: Callable[[], None] = lambda: None, scorer: Scorer | None = None) -> dict[str, Any]:  # fmt: skip
    """Figures of `bundle` on the manifest's clips, through the scoring path (`scorer`, or one
    with the default scoring settings)."""
    manifest = read_manifest(manifest_path, labels=bundle.labels, check_files=True)
    outcomes = score_manifest(scorer or Scorer(bundle), manifest, advance)
    return finish(outcomes, bundle, manifest, str(manifest_path), outdir)


def finish(outcomes: Outcomes, bundle: Bundle, manifest: Manifest, name: str, outdir: Path | None) -> dict[str, Any]:
    result = compute_metrics(outcomes, bundle.labels, manifest)
    result["manifest"] = name
    result["decision_rules"] = bundle.rules.model_dump()
    result["speakers_unseen_in_training"] = unseen_speakers(bundle.description.training_data, manifest)
    if outdir is not None:
        write_report(outdir, result, outcomes, bundle.labels, bundle.model_id)
    return result


def speaker_digest(speaker: str) -> str:
    """Bundles record training speakers only as hashes: enough to check overlap, no names."""
    return hashlib.sha256(speaker.encode()).hexdigest()[:16]


def unseen_speakers(fingerprint: TrainingData, manifest: Manifest) -> bool | None:
    """True if no speaker of `manifest` was in the training data (None where unknown)."""
    seen = set(fingerprint.speakers)
    speakers = {u.speaker for u in manifest}
    if None in speakers or not seen:
        return None
    return not ({speaker_digest(s) for s in speakers if s is not None} & seen)


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


def write_report(outdir: Path, result: dict[str, Any], outcomes: Outcomes, labels: list[str], model_id: str) -> None:
    """metrics.json, clips.jsonl (each clip's status and label, as `dialectid score` gives them),
    report.md and the plots."""
    from dialectid.evaluation.plots import confusion_plot, det_plot, reliability_plot

    outdir.mkdir(parents=True, exist_ok=True)
    (outdir / "metrics.json").write_text(json.dumps(result, indent=2) + "\n")
    (outdir / "clips.jsonl").write_text("".join(json.dumps(row) + "\n" for row in outcomes.rows(labels)))
    answered = outcomes.subset(outcomes.answered)
    if len(answered.targets):
        confusion_plot(np.array(result["confusion"]), labels, outdir / "confusion.png")
        reliability_plot(result["reliability"], outdir / "reliability.png")
        det_plot(answered.logp, answered.targets, labels, outdir / "det.png")
    (outdir / "report.md").write_text(render_report(result, model_id))


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f} %"


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def render_report(result: dict[str, Any], model_id: str) -> str:
    unseen = {True: "yes: no test speaker was heard in training",
              False: "NO: some test speakers were heard in training; these figures overstate accuracy",
              None: "unknown (speakers missing in the manifest or the bundle)"}[result["speakers_unseen_in_training"]]  # fmt: skip
    rules = result["decision_rules"]
    statuses = ", ".join(f"{status} {count}" for status, count in result["statuses"].items())
    lines = [
        f"# Evaluation of {model_id}",
        "",
        f"Manifest: `{result['manifest']}` ({result['n']} clips). Speakers unseen in training: {unseen}.",
        "",
        f"Every clip was analysed as `dialectid score` analyses a recording (quality gate, VAD, {rules['window_s']:g} s "
        f"windows every {rules['hop_s']:g} s of speech, calibration, decision; at least {rules['min_speech_s']:g} s of "
        f"speech for a result). Statuses: {statuses}.",
        "",
        "| metric | value |", "|---|---:|",
        f"| coverage (clips given a label) | {_pct(result['coverage'])} |",
        f"| accuracy on answered clips | {_pct(result.get('accuracy'))} |",
        f"| accuracy counting refusals as wrong | {_pct(result['accuracy_with_refusals'])} |",
        f"| balanced accuracy (answered) | {_pct(result.get('balanced_accuracy'))} |",
        f"| Cavg actual (answered) | {_num(result.get('cavg'))} |",
        f"| Cavg minimum (answered) | {_num(result.get('min_cavg'))} |",
        f"| Cllr (bits; uninformative = {math.log2(len(result['labels'])):.2f}) | {_num(result.get('cllr'))} |",
        f"| ECE | {_num(result.get('ece'))} |",
        f"| mean EER | {_pct(result.get('eer_mean'))} |",
    ]  # fmt: skip
    if "per_class" in result:
        lines += ["", "## Per class (answered clips)", "", "| label | precision | recall | F1 | EER | clips |",
                  "|---|---:|---:|---:|---:|---:|"]  # fmt: skip
        for label, row in result["per_class"].items():
            lines.append(f"| {label} | {_pct(row['precision'])} | {_pct(row['recall'])} | {_pct(row['f1'])} | "
                         f"{_pct(row['eer'])} | {row['support']} |")  # fmt: skip
    lines += ["", "## By net speech (seconds the VAD found)", "",
              "| speech | clips | coverage | accuracy (answered) | mean top probability (answered) | with refusals | Cavg |",
              "|---|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for name, row in result["by_speech"].items():
        lines.append(f"| {name} | {row['n']} | {_pct(row['coverage'])} | {_pct(row.get('accuracy'))} | "
                     f"{_pct(row.get('confidence'))} | {_pct(row['accuracy_with_refusals'])} | {_num(row.get('cavg'))} |")  # fmt: skip
    for field, groups in result["by_group"].items():
        lines += ["", f"## By {field}", "", f"| {field} | clips | coverage | accuracy (answered) | Cavg |",
                  "|---|---:|---:|---:|---:|"]  # fmt: skip
        for value, row in groups.items():
            lines.append(f"| {value} | {row['n']} | {_pct(row['coverage'])} | {_pct(row.get('accuracy'))} | "
                         f"{_num(row.get('cavg'))} |")  # fmt: skip
    lines += ["", "![confusion](confusion.png) ![reliability](reliability.png) ![DET](det.png)", ""]
    return "\n".join(lines)

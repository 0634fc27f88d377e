"""Train a model from a config: data -> model -> calibration -> evaluation -> bundle.

Writes runs/<name>/: config.yaml (the merged config), train.log, metrics.jsonl (one line per
epoch), checkpoints/ (neural models), evaluation/ (the test-set report) and the bundle.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from dialectid.data import Manifest, read_manifest
from dialectid.errors import ConfigError
from dialectid.evaluation.evaluate import compute_metrics, speaker_digest, unseen_speakers, write_report
from dialectid.features.cache import FeatureCache
from dialectid.features.extract import extract
from dialectid.models import model_class
from dialectid.models.base import Clips, FitContext, LidModel
from dialectid.models.bundle import save_bundle
from dialectid.paths import home
from dialectid.taxonomy import Taxonomy
from dialectid.train.augment import augment
from dialectid.train.calibration import Calibrator
from dialectid.train.card import render_card, standard_limitations
from dialectid.train.config import TrainConfig
from dialectid.train.data import AUDIO_RATE, load_clips, load_signal


@dataclass
class TrainResult:
    run_dir: Path
    bundle: Path
    metrics: dict[str, Any]


class RunLog:
    def __init__(self, run_dir: Path, resume: bool) -> None:
        self.path = run_dir / "train.log"
        self.epochs = run_dir / "metrics.jsonl"
        if not resume:
            self.path.write_text("")
            self.epochs.write_text("")

    def __call__(self, message: str) -> None:
        stamp = datetime.now(UTC).isoformat(timespec="seconds")
        with self.path.open("a") as out:
            out.write(f"{stamp} {message}\n")

    def epoch(self, row: dict[str, Any]) -> None:
        with self.epochs.open("a") as out:
            out.write(json.dumps(row) + "\n")


def train(config: TrainConfig, resume: bool = False, progress: Callable[..., None] = lambda **_: None) -> TrainResult:
    run_dir = config.output.runs_dir / config.name
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.yaml").write_text(yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False))
    log = RunLog(run_dir, resume)
    taxonomy = Taxonomy.from_tree(config.taxonomy.tree, config.taxonomy.out_of_set)
    labels = list(taxonomy.leaves)
    manifests = {part: read_manifest(path, labels=labels, check_files=True)
                 for part, path in config.data.model_dump().items() if path is not None}  # fmt: skip
    check_calibration_set(manifests, labels, config)
    model = model_class(config.model.name)(labels, config.features, config.model.args)
    log(f"training {model.name} on {len(manifests['train'])} clips, labels {labels}")
    cache = FeatureCache(home() / "features", config.features) if model.input == "features" else None
    clips = {part: load_clips(manifest, labels, config.features, model.input, cache,
                              lambda: progress(stage="loading"))
             for part, manifest in manifests.items()}  # fmt: skip
    train_clips = with_augmentation(clips["train"], manifests["train"], config, model)
    context = FitContext(seed=config.training.seed, threads=config.training.threads, training=config.training,
                         run_dir=run_dir, resume=resume, progress=progress, log=log, epoch=log.epoch)  # fmt: skip
    model.fit(train_clips, clips.get("dev"), context)
    held_out_voices = clips.get("calibration") or clips.get("dev")
    calibrator = fit_calibrator(model, held_out_voices, config, log)
    open_set = open_set_threshold(model, held_out_voices or train_clips, log)
    held_out = "test" if "test" in clips else "dev" if "dev" in clips else None
    metrics: dict[str, Any] = {}
    fingerprint = training_fingerprint(manifests, config)
    if held_out:
        held = clips[held_out]
        logp = calibrator.transform(model.scores(held.inputs), held.durations)
        metrics = compute_metrics(logp, held.targets, held.durations, labels, manifests[held_out])
        metrics["manifest"] = str(getattr(config.data, held_out))
        metrics["speakers_unseen_in_training"] = unseen_speakers(fingerprint, manifests[held_out])
        write_report(run_dir / "evaluation", metrics, logp, held.targets, labels, config.name)
        log(f"{held_out}: accuracy {metrics['accuracy']:.3f}, Cavg {metrics['cavg']}, Cllr {metrics['cllr']}")
    card = render_card(config.name, model.name, labels, fingerprint, metrics,
                       standard_limitations(fingerprint, model.zero_shot), model.zero_shot)  # fmt: skip
    if config.output.card_notes is not None:
        card += "\n" + _read_notes(config.output.card_notes)
    bundle = save_bundle(config.output.bundle or run_dir / "bundle", config.name, model, calibrator, taxonomy,
                         fingerprint, metrics, card, open_set)  # fmt: skip
    log(f"bundle written to {bundle}")
    return TrainResult(run_dir, bundle, metrics)


def _read_notes(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(f"output.card_notes: {path}: cannot be read ({err.strerror})") from None


def with_augmentation(clips: Clips, manifest: Manifest, config: TrainConfig, model: LidModel) -> Clips:
    """The training clips plus `augmentation.copies` random variants of each."""
    copies = config.augmentation.copies
    if not copies:
        return clips
    rng = np.random.default_rng(config.augmentation.seed)
    rate = AUDIO_RATE if model.input == "audio" else config.features.sample_rate
    inputs, targets, durations = list(clips.inputs), list(clips.targets), list(clips.durations)
    for utt, target, duration in zip(manifest, clips.targets, clips.durations, strict=True):
        signal = load_signal(manifest.path_of(utt), config.features, rate)
        for _ in range(copies):
            variant = augment(signal, rate, config.augmentation, rng)
            inputs.append(variant if model.input == "audio" else extract(variant, config.features))
            targets.append(target)
            durations.append(duration)
    return Clips(inputs, np.array(targets), np.array(durations))


def check_calibration_set(manifests: dict[str, Manifest], labels: list[str], config: TrainConfig) -> None:
    """Per-label offsets need every label in the calibration set: say so before training, not after."""
    part = "calibration" if "calibration" in manifests else "dev"
    covered = {utt.label for utt in manifests.get(part, [])}
    if config.calibration.method == "logistic" and part in manifests and len(covered) < len(labels):
        raise ConfigError(
            f"data.{part}: {getattr(config.data, part)} has {len(covered)} of the {len(labels)} labels, "
            "too few for logistic calibration's per-label offsets; use calibration.method: temperature"
        )


def fit_calibrator(model: LidModel, clips: Clips | None, config: TrainConfig, log: Callable[[str], None]) -> Calibrator:
    method = config.calibration.method
    if clips is None and method != "none":
        log("no dev set: calibration left out (scores are used as they are); add data.dev to calibrate")
        method = "none"
    calibrator = Calibrator(method, config.calibration.duration_covariate)
    if clips is not None:
        calibrator.fit(model.scores(clips.inputs), clips.targets, clips.durations)
    return calibrator


OPEN_SET_QUANTILE = 0.99  # of held-out in-set clips, which the open-set decision lets through


def open_set_threshold(model: LidModel, clips: Clips, log: Callable[[str], None]) -> dict[str, float] | None:
    """The model's fixed threshold, or the novelty that 99 % of held-out in-set clips stay below;
    beyond it a recording fits no class."""
    if model.novelty_threshold is not None:
        log(f"open-set threshold {model.novelty_threshold} (fixed by the model {model.name})")
        return {"threshold": model.novelty_threshold}
    novelty = model.novelty(clips.inputs)
    if novelty is None:
        log("this model has no novelty measure: out-of-set only through an out_of_set class")
        return None
    threshold = float(np.quantile(novelty, OPEN_SET_QUANTILE))
    log(f"open-set threshold {threshold:.3f} ({OPEN_SET_QUANTILE:.0%} of in-set clips below it)")
    return {"threshold": threshold, "quantile": OPEN_SET_QUANTILE}


def training_fingerprint(manifests: dict[str, Manifest], config: TrainConfig) -> dict[str, Any]:
    """What the model was trained on: manifest hashes, per-label clips/speakers/hours, speakers."""
    per_label: dict[str, dict[str, Any]] = defaultdict(lambda: {"clips": 0, "speakers": set(), "hours": 0.0})
    for utt in manifests["train"]:
        row = per_label[utt.label]
        row["clips"] += 1
        row["hours"] += (utt.duration_s or 0.0) / 3600
        if utt.speaker:
            row["speakers"].add(utt.speaker)
    digests = {part: hashlib.sha256(Path(getattr(config.data, part)).read_bytes()).hexdigest() for part in manifests}
    return {
        "manifests": digests,
        "per_label": {
            k: {"clips": v["clips"], "speakers": len(v["speakers"]), "hours": round(v["hours"], 4)}
            for k, v in sorted(per_label.items())
        },  # fmt: skip
        "speakers": sorted(
            {
                speaker_digest(u.speaker)
                for part in ("train", "calibration")
                for u in manifests.get(part, [])
                if u.speaker
            }
        ),  # fmt: skip
        "augmentation_copies": config.augmentation.copies,
    }

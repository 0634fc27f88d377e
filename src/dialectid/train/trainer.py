"""Train a model from a config: data -> model -> calibration -> evaluation -> bundle.

Only fitting the model reads whole clips. Calibration, the open-set threshold and the held-out
evaluation analyse their recordings through `Scorer`, the path `dialectid score` takes (VAD,
windows, aggregation, decision rules), so the bundle's calibration is fitted on the very scores it
is applied to, and its metrics describe what a user gets.

Every run gets its own folder, runs/<name>/<UTC time>/, and runs/<name>/latest points at the
newest (what `--resume` continues): config.yaml (the merged config), train.log (each stage with its
rate and time left), metrics.jsonl (one line per epoch), checkpoints/ (neural models), evaluation/
(the test-set report) and bundle/. A bundle folder named by `output.bundle` (the shipped models/...)
is only replaced with `force`: a rerun never silently overwrites a model or an earlier run.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
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
from dialectid.evaluation.evaluate import finish, score_manifest, speaker_digest
from dialectid.features import FeatureConfig
from dialectid.features.cache import FeatureCache
from dialectid.models import model_class
from dialectid.models.base import Clips, FitContext, LidModel
from dialectid.models.bundle import assemble, save_bundle
from dialectid.models.calibration import Calibrator
from dialectid.models.contract import DecisionRules, InputContract
from dialectid.paths import home
from dialectid.scoring.scorer import Scorer
from dialectid.scoring.windows import plan_windows
from dialectid.taxonomy import Taxonomy
from dialectid.train.augment import augment
from dialectid.train.card import render_card, standard_limitations, usefulness_warnings, warning_section
from dialectid.train.config import TrainConfig
from dialectid.train.cv_report import confidence_line_section, cross_validation_section, speech_line_section
from dialectid.train.data import load_clips, load_signal
from dialectid.train.decision_lines import Held, confidence_line, open_set_speech_line
from dialectid.train.progress import StageProgress, duration


@dataclass
class TrainResult:
    run_dir: Path
    bundle: Path
    metrics: dict[str, Any]


class RunLog:
    """train.log (every line time-stamped) and metrics.jsonl; `echo` shows each message on a console."""

    def __init__(self, run_dir: Path, resume: bool, echo: Callable[[str], None] = lambda _: None) -> None:
        self.path = run_dir / "train.log"
        self.epochs = run_dir / "metrics.jsonl"
        self.echo = echo
        if not resume:
            self.path.write_text("")
            self.epochs.write_text("")

    def __call__(self, message: str) -> None:
        self.file_only(message)
        self.echo(message)

    def file_only(self, message: str) -> None:
        stamp = datetime.now(UTC).isoformat(timespec="seconds")
        with self.path.open("a") as out:
            out.write(f"{stamp} {message}\n")

    def epoch(self, row: dict[str, Any]) -> None:
        with self.epochs.open("a") as out:
            out.write(json.dumps(row) + "\n")


def train(config: TrainConfig, resume: bool = False, progress: Callable[..., None] = lambda **_: None,
          force: bool = False, echo: Callable[[str], None] = lambda _: None) -> TrainResult:  # fmt: skip
    """`progress` gets every stage's calls (with a `line` when one is due: for a console that is not
    a terminal); `echo` gets every train.log message; `force` lets `output.bundle` be replaced."""
    check_bundle_target(config, force)
    taxonomy = Taxonomy.from_tree(config.taxonomy.tree, config.taxonomy.out_of_set)
    labels = list(taxonomy.leaves)
    manifests = {part: read_manifest(path, labels=labels, check_files=True)
                 for part, path in config.data.model_dump().items() if path is not None}  # fmt: skip
    check_calibration_set(manifests, labels, config)
    model = build_model(config, labels)
    run_dir = run_folder(config.output.runs_dir, config.name, resume)  # only once the config holds up
    (run_dir / "config.yaml").write_text(yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False))
    log = RunLog(run_dir, resume, echo)
    log(f"run folder {run_dir}")
    progress = StageProgress(log.file_only, progress)
    contract = InputContract.of(model.input, model.features)
    log(f"training {model.name} on {len(manifests['train'])} clips, labels {labels}")
    cache = FeatureCache(home() / "features", model.features) if contract.kind == "features" else None
    clips = {part: load_clips(manifests[part], labels, contract, cache,
                              progress.counter(f"loading {part} clips", len(manifests[part])))
             for part in ("train", "dev") if part in manifests}  # fmt: skip
    train_clips = with_augmentation(clips["train"], manifests["train"], config, contract)
    if contract.kind == "audio":
        train_clips = windowed(train_clips, contract.sample_rate, config.decision)
        if "dev" in clips:
            clips["dev"] = windowed(clips["dev"], contract.sample_rate, config.decision)
    context = FitContext(seed=config.training.seed, threads=config.training.threads, training=config.training,
                         run_dir=run_dir, resume=resume, progress=progress, log=log, epoch=log.epoch)  # fmt: skip
    log(f"fitting {model.name} on {len(train_clips.inputs)} {'windows' if contract.kind == 'audio' else 'clips'}")
    started = time.monotonic()
    model.fit(train_clips, clips.get("dev"), context)
    log(f"fitted {model.name} in {duration(time.monotonic() - started)}")
    fingerprint = training_fingerprint(manifests, config)
    bundle = assemble(config.name, model, Calibrator(config.calibration.method, config.calibration.duration_covariate),
                      taxonomy, config.decision, fingerprint)  # fmt: skip
    held_out_part = "calibration" if "calibration" in manifests else "dev" if "dev" in manifests else "train"
    measured = measure(Scorer(bundle), manifests[held_out_part],
                       progress.counter("calibrating", len(manifests[held_out_part])))  # fmt: skip
    crops = measure_crops(Scorer(bundle), manifests[held_out_part], config.calibration.short_crops_s)
    fit_calibrator(bundle.calibrator, measured + crops, labels, held_out_part != "train", log)
    open_set = open_set_threshold(model, measured, log)
    rules, lines = chosen_lines(config, measured + crops, bundle.calibrator, open_set, log)
    bundle = assemble(config.name, model, bundle.calibrator, taxonomy, rules, fingerprint, open_set)
    held_out = "test" if "test" in manifests else "dev" if "dev" in manifests else None
    metrics: dict[str, Any] = {}
    if held_out:
        outcomes = score_manifest(Scorer(bundle), manifests[held_out],
                                  progress.counter("evaluating", len(manifests[held_out])))  # fmt: skip
        metrics = finish(outcomes, bundle, manifests[held_out], str(getattr(config.data, held_out)),
                         run_dir / "evaluation")  # fmt: skip
        log(f"{held_out}: coverage {metrics['coverage']:.3f}, accuracy on answered {metrics.get('accuracy')}, "
            f"Cavg {metrics.get('cavg')}, Cllr {metrics.get('cllr')}")  # fmt: skip
    if (cross_validation := getattr(model, "cross_validation", None)) is not None:
        metrics["cross_validation"] = cross_validation
    metrics |= lines
    card = render_card(config.name, model.name, labels, fingerprint, metrics,
                       standard_limitations(fingerprint, model.zero_shot), model.zero_shot)  # fmt: skip
    if warnings := usefulness_warnings(metrics, len(labels)):
        metrics["warnings"] = warnings
        card = card.replace("\n", "\n\n" + warning_section(warnings), 1)  # right under the title
        for warning in warnings:
            log.file_only(f"WARNING: {warning}")  # the console gets them after the figures
    if cross_validation is not None:
        card += "\n" + cross_validation_section(cross_validation)
    if "open_set_speech_line" in lines:
        card += "\n" + speech_line_section(lines["open_set_speech_line"])
    if "confidence_line" in lines:
        card += "\n" + confidence_line_section(lines["confidence_line"])
    if config.output.card_notes is not None:
        card += "\n" + _read_notes(config.output.card_notes)
    path = save_bundle(config.output.bundle or run_dir / "bundle", bundle, metrics, card)
    log(f"bundle written to {path}")
    return TrainResult(run_dir, path, metrics)


def check_bundle_target(config: TrainConfig, force: bool) -> None:
    """Before any work: `output.bundle` may only name a folder that holds something with `force`."""
    target = config.output.bundle
    if target is not None and target.exists() and (not target.is_dir() or any(target.iterdir())) and not force:
        raise ConfigError(f"output.bundle: {target} already exists and would be overwritten; add --force to replace "
                          "it, or --set output.bundle=null to write into this run's folder")  # fmt: skip


def run_folder(runs_dir: Path, name: str, resume: bool) -> Path:
    """A new runs/<name>/<UTC time>/ (and runs/<name>/latest pointing at it), or with `resume` the
    folder `latest` points at (or runs/<name>/ itself, for a run from before run folders had times)."""
    base = runs_dir / name
    latest = base / "latest"
    if resume:
        if latest.is_dir():
            return latest.resolve()
        if (base / "config.yaml").is_file():
            return base
        raise ConfigError(f"--resume: {base} holds no earlier run of {name!r} to continue; train once without --resume")
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    try:
        base.mkdir(parents=True, exist_ok=True)
    except OSError as err:  # runs_dir (or a folder on its way) is a file, or may not be written
        raise ConfigError(f"output.runs_dir: cannot make {base} ({err.strerror or err}); "
                          "give a folder you may write to") from None  # fmt: skip
    for n in range(1, 1000):
        run_dir = base / (stamp if n == 1 else f"{stamp}-{n}")
        try:
            run_dir.mkdir()
            break
        except FileExistsError:
            continue
    pointer = base / f".latest-{os.getpid()}"
    pointer.unlink(missing_ok=True)
    pointer.symlink_to(run_dir.name)  # relative: the runs folder can be moved
    os.replace(pointer, latest)
    return run_dir


def build_model(config: TrainConfig, labels: list[str]) -> LidModel:
    """The configured model; a features section for a model that reads audio is an error (it
    would do nothing)."""
    cls = model_class(config.model.name)
    if cls.input == "audio" and config.features is not None:
        raise ConfigError(f"features: the model {cls.name!r} reads audio, not features; remove the features section")
    return cls(labels, config.features or FeatureConfig(), config.model.args)


def _read_notes(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(f"output.card_notes: {path}: cannot be read ({err.strerror})") from None


def with_augmentation(clips: Clips, manifest: Manifest, config: TrainConfig, contract: InputContract) -> Clips:
    """The training clips plus `augmentation.copies` random variants of each."""
    copies = config.augmentation.copies
    if not copies:
        return clips
    rng = np.random.default_rng(config.augmentation.seed)
    inputs, targets, durations = list(clips.inputs), list(clips.targets), list(clips.durations)
    groups, sources = _listed(clips.groups, len(inputs)), _listed(clips.sources, len(inputs))
    for n, (utt, target, speech_s) in enumerate(zip(manifest, clips.targets, clips.durations, strict=True)):
        signal = load_signal(manifest.path_of(utt), contract, (config.features or FeatureConfig()).channel_policy)
        for _ in range(copies):
            variant = augment(signal, contract.sample_rate, config.augmentation, rng)
            inputs.append(contract.model_input(variant))
            targets.append(target)
            durations.append(speech_s)
            groups.append(groups[n])
            sources.append(AUGMENTED)
    return Clips(inputs, np.array(targets), np.array(durations), None, np.array(groups), np.array(sources))


AUGMENTED = "augmented copies (telephone codecs, noise)"


def _listed(values: np.ndarray | None, size: int) -> list:
    return list(values) if values is not None else [None] * size


def windowed(clips: Clips, rate: int, rules: DecisionRules) -> Clips:
    """Audio clips cut into the windows the scorer scores (`window_s` every `hop_s`), so that a
    back-end learns from what it will see (measured: reports/lid-backends.md)."""
    inputs, targets, durations, origins = [], [], [], []
    for clip, (signal, target) in enumerate(zip(clips.inputs, clips.targets, strict=True)):
        for start, end in plan_windows(len(signal) / rate, rules.window_s, rules.hop_s):
            inputs.append(signal[round(start * rate) : round(end * rate)])
            targets.append(target)
            durations.append(end - start)
            origins.append(clip)
    index = np.array(origins, dtype=np.int64)
    per_window = {name: None if values is None else values[index]
                  for name, values in (("groups", clips.groups), ("sources", clips.sources))}  # fmt: skip
    return Clips(inputs, np.array(targets, dtype=np.int64), np.array(durations), index, **per_window)


def measure(scorer: Scorer, manifest: Manifest, advance: Callable[[], None]) -> list[Held]:
    """Every held-out clip that the decision rules let through, grouped by its speaker (video, voice)."""
    index = {label: i for i, label in enumerate(scorer.bundle.labels)}
    kept = []
    for utt in manifest:
        measured = scorer.measure(manifest.path_of(utt))
        if measured.refusal is None:
            kept.append(Held(index[utt.label], measured, utt.speaker or utt.id))
        advance()
    return kept


def measure_crops(scorer: Scorer, manifest: Manifest, seconds: list[float]) -> list[Held]:
    """Crops of `seconds` from the middle of each recording, analysed as
    recordings of their own (those the decision rules let through)."""
    import tempfile

    import soundfile as sf

    from dialectid.audio import load_recording

    index = {label: i for i, label in enumerate(scorer.bundle.labels)}
    kept = []
    with tempfile.TemporaryDirectory(prefix="dialectid-crops-") as folder:
        for utt in manifest if seconds else []:
            recording = load_recording(manifest.path_of(utt), scorer.ingest)
            signal, rate = recording.samples(), recording.sample_rate
            for length in seconds:
                size = int(length * rate)
                if size >= len(signal):
                    continue
                start = (len(signal) - size) // 2
                crop = Path(folder) / "crop.wav"
                sf.write(crop, signal[start : start + size], rate, subtype="FLOAT")
                measured = scorer.measure(crop)
                if measured.refusal is None:
                    kept.append(Held(index[utt.label], measured, utt.speaker or utt.id))
    return kept


def check_calibration_set(manifests: dict[str, Manifest], labels: list[str], config: TrainConfig) -> None:
    """Per-label offsets need every label in the calibration set: say so before training, not after."""
    part = "calibration" if "calibration" in manifests else "dev"
    covered = {utt.label for utt in manifests.get(part, [])}
    if config.calibration.method == "logistic" and part in manifests and len(covered) < len(labels):
        raise ConfigError(
            f"data.{part}: {getattr(config.data, part)} has {len(covered)} of the {len(labels)} labels, "
            "too few for logistic calibration's per-label offsets; use calibration.method: temperature"
        )


def fit_calibrator(calibrator: Calibrator, measured: list[Held], labels: list[str],
                   held_out: bool, log: Callable[[str], None]) -> None:  # fmt: skip
    """Fit on the recordings' aggregated window scores, with net speech as the duration."""
    if calibrator.method != "none" and not held_out:
        log("no dev or calibration set: calibrated on the training clips; add data.calibration for honest confidence")
    if not measured:
        log("no held-out clip has enough speech to calibrate on: calibration left out (scores are used as they are)")
        calibrator.method = "none"
        calibrator.fit(np.zeros((1, len(labels))), np.zeros(1, dtype=np.int64))
        return
    scores = np.stack([h.measured.mean_scores() for h in measured])
    calibrator.fit(scores, np.array([h.target for h in measured]), np.array([h.measured.speech_s for h in measured]))
    log(f"calibration ({calibrator.method}) fitted on {len(measured)} recordings")


OPEN_SET_QUANTILE = 0.99  # of held-out in-set clips, which the open-set decision lets through


def open_set_threshold(model: LidModel, measured: list[Held], log: Callable[[str], None]
                       ) -> dict[str, float] | None:  # fmt: skip
    """The model's fixed threshold, or the recording novelty that 99 % of held-out in-set
    recordings stay below; beyond it a recording fits no class."""
    if model.novelty_threshold is not None:
        log(f"open-set threshold {model.novelty_threshold} (fixed by the model {model.name})")
        return {"threshold": model.novelty_threshold}
    novelty = [n for h in measured if (n := h.measured.mean_novelty()) is not None]  # none from a model without one
    if not novelty:
        log("this model has no novelty measure: out-of-set only through an out_of_set class")
        return None
    threshold = float(np.quantile(novelty, OPEN_SET_QUANTILE))
    log(f"open-set threshold {threshold:.3f} ({OPEN_SET_QUANTILE:.0%} of in-set recordings below it)")
    return {"threshold": threshold, "quantile": OPEN_SET_QUANTILE}


def chosen_lines(config: TrainConfig, held: list[Held], calibrator: Calibrator, open_set: dict[str, Any] | None,
                 log: Callable[[str], None]) -> tuple[DecisionRules, dict[str, Any]]:  # fmt: skip
    """The decision rules with the lines chosen on held-out speech (train/decision_lines.py), except
    where the config sets one; and what each choice was made from, for metrics.json and the card."""
    rules, chosen, lines = config.decision, {}, {}
    given = config.decision.model_fields_set
    novel = held and held[0].measured.mean_novelty() is not None
    if open_set is not None and novel and "open_set_min_speech_s" not in given:
        lines["open_set_speech_line"] = open_set_speech_line(held, open_set["threshold"], log)
        chosen["open_set_min_speech_s"] = lines["open_set_speech_line"]["chosen_s"]
    if "low_confidence" not in given and (line := confidence_line(held, calibrator, config.training.seed, log)):
        lines["confidence_line"] = line
        chosen["low_confidence"] = line["chosen"]
    return rules.model_copy(update=chosen), lines


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
        },
        "speakers": sorted(
            {
                speaker_digest(u.speaker)
                for part in ("train", "calibration")
                for u in manifests.get(part, [])
                if u.speaker
            }
        ),
        "augmentation_copies": config.augmentation.copies,
    }

"""`dialectid train` and `dialectid evaluate`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from dialectid.cli.common import err, out, user_errors
from dialectid.config import load_config
from dialectid.jsonlines import print_json


def _train_progress() -> tuple[Progress, callable]:
    bar = Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[info]}"),
                   TimeElapsedColumn(), console=err, transient=True, disable=not err.is_terminal)  # fmt: skip
    task = bar.add_task("preparing", total=None, info="")

    def update(**fields) -> None:
        if "epoch" in fields:
            info = f"loss {fields['loss']:.3f}" if "loss" in fields else ""
            if fields.get("dev_accuracy") is not None:
                info += f"  dev accuracy {fields['dev_accuracy']:.3f}"
            steps = fields.get("steps")
            bar.update(task, description=f"epoch {fields['epoch']}/{fields['epochs']}", info=info,
                       total=steps, completed=fields.get("step", steps or 0))  # fmt: skip
        elif "stage" in fields:
            bar.update(task, description=fields["stage"], total=fields.get("steps"),
                       completed=fields.get("step", 0), info="")  # fmt: skip

    return bar, update


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


@user_errors
def train(
    config: Annotated[Path, typer.Argument(help="Experiment YAML (see configs/).")],
    overrides: Annotated[
        list[str] | None, typer.Option("--set", help="Override a setting: --set training.epochs=3")
    ] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue from the run's last checkpoint.")] = False,
) -> None:
    """Train a model, calibrate it, evaluate it and export its bundle into runs/<name>/."""
    from dialectid.train.config import TrainConfig
    from dialectid.train.trainer import train as run

    settings = load_config(config, TrainConfig, overrides or [])
    bar, update = _train_progress()
    with bar:
        result = run(settings, resume=resume, progress=update)
    metrics = result.metrics
    if metrics:
        figures = ", ".join(
            f"{key} {_fmt(metrics.get(key))}" for key in ("coverage", "accuracy", "cavg", "min_cavg", "cllr")
        )
        out.print(f"held-out ({metrics['n']} clips): {figures}", markup=False)
    out.print(f"bundle: {result.bundle}\nrun: {result.run_dir}", markup=False)


@user_errors
def evaluate(
    model: Annotated[Path, typer.Argument(help="Model bundle folder.")],
    manifest: Annotated[Path, typer.Argument(help="Manifest of labelled clips.")],
    outdir: Annotated[Path, typer.Option("--output", "-o", help="Folder for metrics.json, report.md, plots.")],
) -> None:
    """Evaluate a bundle: accuracy, Cavg, Cllr, EER, ECE, by duration and subgroup, with plots."""
    from dialectid.cli.common import progress_bar
    from dialectid.data import read_manifest
    from dialectid.evaluation.evaluate import evaluate as run
    from dialectid.models.bundle import load_model

    bundle = load_model(model)
    with progress_bar(len(read_manifest(manifest)), "scoring") as advance:
        result = run(bundle, manifest, outdir, advance)
    keys = ("n", "coverage", "accuracy", "accuracy_with_refusals", "balanced_accuracy", "cavg", "min_cavg", "cllr",
            "ece", "eer_mean", "statuses", "speakers_unseen_in_training")  # fmt: skip
    print_json({k: result.get(k) for k in keys})
    err.print(f"report: {outdir / 'report.md'}", markup=False)

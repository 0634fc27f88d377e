"""`dialectid train` and `dialectid evaluate`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from dialectid.cli.common import EXIT_FAILED_ITEMS, err, out, user_errors
from dialectid.config import load_config
from dialectid.extras import require_extra
from dialectid.jsonlines import print_json


def _train_progress() -> tuple[Progress, Callable[..., None]]:
    """A bar per stage on a terminal; elsewhere (a log file, CI) the stages' plain progress lines."""
    bar = Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[info]}"),
                   TimeElapsedColumn(), TimeRemainingColumn(), console=err, transient=True,
                   disable=not err.is_terminal)  # fmt: skip
    task = bar.add_task("preparing", total=None, info="")

    def update(**fields) -> None:
        if not err.is_terminal:
            if fields.get("line"):
                err.print(fields["line"], markup=False)
            return
        if "epoch" in fields:
            info = f"loss {fields['loss']:.3f}" if "loss" in fields else ""
            if fields.get("dev_accuracy") is not None:
                info += f"  dev accuracy {fields['dev_accuracy']:.3f}"
            steps = fields.get("steps")
            bar.update(task, description=f"epoch {fields['epoch']}/{fields['epochs']}", info=info,
                       total=steps, completed=fields.get("step", steps or 0))  # fmt: skip
        elif "stage" in fields:
            steps, step = fields.get("steps"), fields.get("step") or 0
            bar.update(task, description=fields["stage"], total=steps, completed=step,
                       info=f"{step}/{steps}" if steps else "")  # fmt: skip

    return bar, update


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


@user_errors
def train(
    config: Annotated[Path, typer.Argument(help="Experiment YAML (see configs/).")],
    overrides: Annotated[
        list[str] | None, typer.Option("--set", help="Override a setting: --set training.epochs=3")
    ] = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue the latest run (runs/<name>/latest) from its last checkpoint.")
    ] = False,
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Replace the bundle folder that output.bundle names (e.g. models/lid-fast) if it exists."
        ),
    ] = False,
    strict: Annotated[
        bool,
        typer.Option(
            "--strict",
            help="Exit 1 when the bundle is not fit to use (test coverage below 20 % or accuracy not above chance).",
        ),
    ] = False,
) -> None:
    """Train a model, calibrate it, evaluate it and export its bundle into a new run folder,
    runs/<name>/<time>/ (runs/<name>/latest is the newest)."""
    require_extra("train", "training")
    from dialectid.train.config import TrainConfig
    from dialectid.train.trainer import train as run

    settings = load_config(config, TrainConfig, overrides or [])
    bar, update = _train_progress()
    with bar:
        result = run(settings, resume=resume, progress=update, force=force,
                     echo=lambda message: bar.console.print(message, markup=False))  # fmt: skip
    metrics = result.metrics
    if metrics:
        figures = ", ".join(
            f"{key} {_fmt(metrics.get(key))}" for key in ("coverage", "accuracy", "cavg", "min_cavg", "cllr")
        )
        out.print(f"held-out ({metrics['n']} clips): {figures}", markup=False)
    out.print(f"bundle: {result.bundle}\nrun: {result.run_dir}", markup=False)
    _warn(metrics.get("warnings", []), strict)


def _warn(warnings: list[str], strict: bool) -> None:
    """Say loudly on stderr that a bundle is not fit to use; with `strict`, fail."""
    for warning in warnings:
        err.print(f"WARNING: {warning}", markup=False)
    if warnings:
        err.print("WARNING: this bundle is not fit to use (stamped at the top of its MODEL_CARD.md)", markup=False)
        if strict:
            raise typer.Exit(EXIT_FAILED_ITEMS)


@user_errors
def evaluate(
    model: Annotated[Path, typer.Argument(help="Model bundle folder.")],
    manifest: Annotated[Path, typer.Argument(help="Manifest of labelled clips.")],
    outdir: Annotated[Path, typer.Option("--output", "-o", help="Folder for metrics.json, report.md, plots.")],
) -> None:
    """Evaluate a bundle: accuracy, Cavg, Cllr, EER, ECE, by duration and subgroup, with plots."""
    require_extra("train", "evaluation")
    from dialectid.cli.common import progress_bar
    from dialectid.data import read_manifest
    from dialectid.evaluation.evaluate import evaluate as run
    from dialectid.models.bundle import load_model

    bundle = load_model(model)
    total = len(read_manifest(manifest))
    if err.is_terminal:
        with progress_bar(total, "evaluating") as advance:
            result = run(bundle, manifest, outdir, advance)
    else:  # a log file or CI: plain lines, one at least every 30 s, with the rate and time left
        from dialectid.train.progress import StageProgress

        lines = StageProgress(lambda line: err.print(line, markup=False))
        result = run(bundle, manifest, outdir, lines.counter("evaluating", total))
    keys = ("n", "coverage", "accuracy", "accuracy_with_refusals", "balanced_accuracy", "cavg", "min_cavg", "cllr",
            "ece", "eer_mean", "statuses", "speakers_unseen_in_training")  # fmt: skip
    print_json({k: result.get(k) for k in keys})
    err.print(f"report: {outdir / 'report.md'}", markup=False)

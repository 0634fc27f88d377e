"""`dialectid score`: analyse recordings one by one or in batches, locally or on Ray."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from dialectid.cli.common import EXIT_FAILED_ITEMS, err, out, user_errors
from dialectid.config import load_config

BAR_WIDTH = 30


@user_errors
def score(
    paths: Annotated[list[Path], typer.Argument(help="Recordings, or folders with --recursive.")],
    recursive: Annotated[bool, typer.Option("--recursive", "-r", help="Score the audio files inside folders.")] = False,
    model: Annotated[Path | None, typer.Option(
        "--model", "-m", help="Model bundle (default: $DIALECTID_MODEL, else models/lid-accurate).")] = None,
    dialect_model: Annotated[Path | None, typer.Option(
        "--dialect-model", help="Dialect bundle whose top node is a language of --model (e.g. a dialect-arabic "
        "bundle under lid-accurate): splits that language's probability over its dialects.")] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="results.jsonl or results.csv (resumable).")
    ] = None,
    reports: Annotated[Path | None, typer.Option("--reports", help="Folder for one analysis per recording.")] = None,
    workers: Annotated[int, typer.Option("--workers", "-w", min=1, help="Parallel workers.")] = 1,
    engine: Annotated[str, typer.Option(help="local (processes) or ray.")] = "local",
    address: Annotated[str | None, typer.Option(help="Address of an existing Ray cluster.")] = None,
    config: Annotated[Path | None, typer.Option("--config", "-c", help="YAML with audio/windows/decision.")] = None,
    overrides: Annotated[list[str] | None, typer.Option("--set", help="e.g. --set decision.low_confidence=0.6")] = None,
) -> None:
    """Calibrated language and dialect probabilities for each recording.

    Exit status: 0 when every file was analysed (whatever its result), 1 when some file failed.
    """
    from dialectid.errors import DialectidError
    from dialectid.models.bundle import load_model
    from dialectid.scoring import ScoringConfig, default_model_path
    from dialectid.scoring.batch import expand, run_batch
    from dialectid.scoring.dialects import compose
    from dialectid.scoring.results import ResultsFile

    if engine not in ("local", "ray"):
        raise DialectidError(f"--engine must be local or ray, not {engine!r}")
    settings = load_config(config, ScoringConfig, overrides or [])
    model_path = str(model or default_model_path())
    bundle = load_model(model_path)  # verified once here; workers verify again when they load it
    if dialect_model is not None:
        compose(bundle, load_model(dialect_model))  # a pair that does not fit is refused before any file is read
    items = expand(paths, recursive)
    results = ResultsFile(output, bundle.labels) if output else None
    single = len(items) == 1 and output is None
    rows: list[dict[str, Any]] = []
    started = time.monotonic()
    with results or contextlib.nullcontext(), _progress(len(items)) as (bar, task):

        def on_row(row: dict[str, Any]) -> None:
            rows.append(row)
            elapsed = max(time.monotonic() - started, 1e-6)
            audio = sum(r.get("audio", {}).get("duration_s", 0.0) for r in rows)
            bar.update(task, advance=1, rate=f"{len(rows) / elapsed:.2f} files/s, {audio / elapsed:.0f}x real time")

        summary = run_batch(
            items, model_path, settings, results, bundle.sha256, engine, workers, address, reports, on_row,
            str(dialect_model) if dialect_model else None,
        )
    if single:
        _print_single(rows[0])
    elif output is None:
        _print_rows(rows)
    _print_summary(summary, output)
    for row in rows:
        if row["status"] == "error":
            err.print(f"error: {row['error']}", markup=False)
    if summary.statuses.get("error"):
        raise typer.Exit(EXIT_FAILED_ITEMS)


class _progress:
    def __init__(self, total: int) -> None:
        self.bar = Progress(TextColumn("scoring"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[rate]}"),
                            console=err, transient=True, disable=total < 2 or not err.is_terminal)  # fmt: skip
        self.task = self.bar.add_task("scoring", total=total, rate="")

    def __enter__(self):
        self.bar.__enter__()
        return self.bar, self.task

    def __exit__(self, *exc) -> None:
        self.bar.__exit__(*exc)


def _bar(p: float) -> str:
    filled = round(p * BAR_WIDTH)
    return "█" * filled + "·" * (BAR_WIDTH - filled)


def _print_single(row: dict[str, Any]) -> None:
    from dialectid.scoring.analysis import MEANING

    number = row.get("registration_number", "-")
    out.print(f"[bold]{escape(row['path'])}[/bold]  registration {number}", highlight=False)
    if row["status"] == "error":
        return
    out.print(f"status: [bold]{row['status']}[/bold] ({MEANING[row['status']]})", highlight=False)
    out.print(f"net speech {row['speech_s']:.1f} s of {row['audio']['duration_s']:.1f} s; "
              f"quality {row['quality']['status']}" + (f" ({', '.join(row['quality']['flags'])})" if row['quality']['flags'] else ""),
              markup=False)  # fmt: skip
    for reason in row["quality"]["reasons"]:
        out.print(f"  - {reason}", markup=False)
    if not row["probabilities"]:
        out.print("no probabilities: " + MEANING[row["status"]], markup=False)
        return
    table = Table(box=None, show_header=False, pad_edge=False)
    for item in row["probabilities"][:8]:
        table.add_row(item["label"], _bar(item["probability"]), f"{100 * item['probability']:5.1f} %")
    out.print(table)
    families = ", ".join(f"{f['label']} {100 * f['probability']:.0f} %" for f in row["family_probabilities"])
    low, high = row["uncertainty"]["low"], row["uncertainty"]["high"]
    out.print(f"families: {families}", markup=False)
    out.print(f"top label {row['top_label']}: {100 * row['top_probability']:.1f} % "
              f"(95 % interval {100 * low:.0f}-{100 * high:.0f} %), consistency {100 * row['consistency']:.0f} % "
              f"of {len(row['timeline'])} windows", markup=False)  # fmt: skip
    if row.get("dialects"):
        _print_dialects(row["dialects"])
    out.print("An indication to support a human assessment; not evidence.", markup=False)


def _print_dialects(block: dict[str, Any]) -> None:
    from dialectid.report.dialect import dialect_content
    from dialectid.scoring.analysis import DialectResult

    content = dialect_content(DialectResult.model_validate(block))
    out.print(f"dialect: [bold]{escape(content.headline)}[/bold] ({block['status']})", highlight=False)
    table = Table(box=None, show_header=False, pad_edge=False)
    for name, p in content.rows:
        table.add_row(f"  {name}", _bar(p), f"{100 * p:5.1f} %")
    out.print(table)
    out.print(content.lines[0], markup=False)


def _print_rows(rows: list[dict[str, Any]]) -> None:
    from dialectid.report.dialect import headline_of

    table = Table()
    dialects = any(row.get("dialects") for row in rows)  # the column only where a dialect head split a language
    headings = ("file", "status", "top label", "probability", "speech", "flags") + (("dialect",) if dialects else ())
    for heading in headings:
        table.add_column(heading, overflow="fold")
    for row in rows:
        probability = f"{100 * row['top_probability']:.1f} %" if row.get("top_probability") is not None else "-"
        speech = f"{row['speech_s']:.1f} s" if "speech_s" in row else "-"
        flags = ", ".join(row.get("quality", {}).get("flags", [])) or "-"
        dialect = [headline_of(row["dialects"]) if row.get("dialects") else "-"] if dialects else []
        table.add_row(Text(row["path"]), row["status"], row.get("top_label") or "-", probability, speech, flags,
                      *dialect)  # fmt: skip
    out.print(table)


def _print_summary(summary, output: Path | None) -> None:
    table = Table(title="summary", show_header=False)
    table.add_row("files scored", str(summary.files))
    if summary.skipped:
        table.add_row("already in the results (skipped)", str(summary.skipped))
    table.add_row("hours of audio", f"{summary.seconds / 3600:.2f}")
    table.add_row("statuses", ", ".join(f"{k} {v}" for k, v in sorted(summary.statuses.items())) or "-")
    table.add_row("top labels", ", ".join(f"{k} {v}" for k, v in sorted(summary.top_labels.items())) or "-")
    if output:
        table.add_row("results", Text(str(output)))
    err.print(table)

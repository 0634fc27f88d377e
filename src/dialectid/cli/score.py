"""`dialectid score`: analyse recordings one by one or in batches, locally or on Ray."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table
from rich.text import Text

from dialectid.cli.common import EXIT_FAILED_ITEMS, MODEL_HELP, err, out, user_errors
from dialectid.config import load_config

if TYPE_CHECKING:  # imported where used: `dialectid --help` loads no audio or model code
    from dialectid.scoring.analysis import DialectResult
    from dialectid.scoring.batch import Summary
    from dialectid.scoring.results import Row

BAR_WIDTH = 30


@user_errors
def score(
    paths: Annotated[
        list[Path],
        typer.Argument(
            help="Recordings, or folders with --recursive; - reads paths from standard input, one per line."
        ),
    ],
    recursive: Annotated[bool, typer.Option("--recursive", "-r", help="Score the audio files inside folders.")] = False,
    model: Annotated[
        Path | None,
        typer.Option("--model", "-m", help=MODEL_HELP),
    ] = None,
    dialect_model: Annotated[
        Path | None,
        typer.Option(
            "--dialect-model",
            help="Dialect bundle whose top node is a language of --model (e.g. a dialect-arabic "
            "bundle under lid-accurate): splits that language's probability over its dialects.",
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="results.jsonl or results.csv (resumable), or - for JSON "
            "lines on standard output (then every human line goes to standard error).",
        ),
    ] = None,
    summary_json: Annotated[
        Path | None,
        typer.Option(
            "--summary-json", help="Also write the run's counts and its failures (path, error_type) as JSON here."
        ),
    ] = None,
    reports: Annotated[Path | None, typer.Option("--reports", help="Folder for one analysis per recording.")] = None,
    workers: Annotated[int, typer.Option("--workers", "-w", min=1, help="Parallel workers.")] = 1,
    engine: Annotated[str, typer.Option(help="local (processes) or ray.")] = "local",
    address: Annotated[str | None, typer.Option(help="Address of an existing Ray cluster.")] = None,
    channel: Annotated[
        str | None,
        typer.Option(
            "--channel",
            help="Which channel of a multi-channel recording to score: mix (the default), loudest, left, "
            "right, or a number from 0. Score each side of a two-channel call on its own.",
        ),
    ] = None,
    config: Annotated[Path | None, typer.Option("--config", "-c", help="YAML with audio/windows/decision.")] = None,
    overrides: Annotated[list[str] | None, typer.Option("--set", help="e.g. --set decision.low_confidence=0.6")] = None,
) -> None:
    """Calibrated language and dialect probabilities for each recording.

    Exit status: 0 when every file was analysed (whatever its result), 1 when some file failed.
    """
    from dialectid.errors import DialectidError
    from dialectid.extras import require_extra
    from dialectid.models.bundle import load_model
    from dialectid.scoring import ScoringConfig, default_model_path
    from dialectid.scoring.batch import Summary, expand, run_batch
    from dialectid.scoring.dialects import compose
    from dialectid.scoring.results import ResultsFile, StdoutResults

    if engine not in ("local", "ray"):
        raise DialectidError(f"--engine must be local or ray, not {engine!r}")
    if engine == "ray":
        require_extra("ray", "--engine ray")
    settings = load_config(config, ScoringConfig, [*(overrides or []), *_channel_override(channel)])
    bundle = load_model(model or default_model_path())  # verified once; worker processes verify their own copies
    dialect = None if dialect_model is None else load_model(dialect_model)
    if dialect is not None:
        compose(bundle, dialect)  # a pair that does not fit is refused before any file is read
    items = expand(_from_stdin(paths), recursive)
    to_stdout = output is not None and str(output) == "-"
    results = StdoutResults() if to_stdout else ResultsFile(output, bundle.labels) if output else None
    single = len(items) == 1 and output is None
    rows: list[Row] = []
    summary = Summary()
    started = time.monotonic()
    try:
        with _signals_interrupt(), results or contextlib.nullcontext(), _progress(len(items)) as (bar, task):

            def on_row(row: Row) -> None:
                rows.append(row)
                elapsed = max(time.monotonic() - started, 1e-6)
                bar.update(task, advance=1, rate=f"{len(rows) / elapsed:.2f} files/s, "
                           f"{summary.seconds / elapsed:.0f}x real time")  # fmt: skip

            run_batch(
                items,
                bundle,
                settings,
                results,
                engine,
                workers,
                address,
                reports,
                on_row,
                dialect,
                lambda _: bar.update(task, advance=1),
                summary,
            )
    except _Interrupted as stop:
        _write_summary(summary_json, summary, len(items), interrupted=True)
        saved = sum(item.path in results.rows for item in items) if isinstance(results, ResultsFile) else 0
        _print_interrupted(summary, saved, len(items), None if to_stdout else output)
        raise typer.Exit(128 + stop.signal) from None
    _write_summary(summary_json, summary, len(items))
    if single:
        _print_single(rows[0])
    elif output is None:
        _print_rows(rows)
    _print_summary(summary, output)
    for failure in summary.failures:
        if failure.error is not None:
            err.print(f"error: {failure.error.message}", markup=False)
    if summary.failures:
        raise typer.Exit(EXIT_FAILED_ITEMS)


def _channel_override(channel: str | None) -> list[str]:
    """`--channel` as the `audio.ingest.channel_policy` it sets (`mix` is the policy `mean`)."""
    from dialectid.errors import DialectidError

    if channel is None:
        return []
    if channel not in ("mix", "loudest", "left", "right") and not channel.isdigit():
        raise DialectidError(f"--channel must be mix, loudest, left, right or a channel number from 0, not {channel!r}")
    return [f"audio.ingest.channel_policy={'mean' if channel == 'mix' else channel}"]


def _from_stdin(paths: list[Path]) -> list[Path]:
    """`paths` with `-` replaced by the paths on standard input, one per line (read as bytes, so a
    name that is not UTF-8 survives; empty lines are ignored)."""
    if not any(str(p) == "-" for p in paths):
        return paths
    listed = [Path(os.fsdecode(line.rstrip(b"\r"))) for line in sys.stdin.buffer.read().split(b"\n") if line.strip()]
    expanded: list[Path] = []
    for path in paths:
        expanded.extend(listed if str(path) == "-" else [path])
    return expanded


class _Interrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM during a run; `signal` is its number (the exit status is 128 + it)."""

    def __init__(self, number: int) -> None:
        super().__init__(number)
        self.signal = number


@contextlib.contextmanager
def _signals_interrupt():
    """SIGINT and SIGTERM stop the run the same way: the rows so far stay saved, the workers stop,
    and the operator is told how to go on. (SIGTERM would otherwise end the process at once.)"""

    def stop(number, _frame):
        raise _Interrupted(number)

    if threading.current_thread() is not threading.main_thread():  # signals can only be set there
        yield
        return
    previous = {n: signal.signal(n, stop) for n in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    except _Interrupted:
        raise
    except KeyboardInterrupt:  # raised by a worker process that got the terminal's Ctrl-C too
        raise _Interrupted(signal.SIGINT) from None
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def _print_interrupted(summary: Summary, saved: int, total: int, output: Path | None) -> None:
    """What an interrupted run kept and how to go on. `saved` is counted in the results file itself: a
    signal can arrive after a row is written but before the run's own counts have taken it in."""
    if output is None:
        err.print(f"interrupted: {summary.files} of {total} files scored; nothing was saved to resume from "
                  "(give -o results.jsonl to make a run resumable)", markup=False)  # fmt: skip
        return
    err.print(f"interrupted: {saved} of {total} rows saved in {output}; run the same command to go on",
              markup=False)  # fmt: skip


def _write_summary(path: Path | None, summary: Summary, total: int, interrupted: bool = False) -> None:
    """`--summary-json`: the run's counts and failures for a pipeline, written whole or not at all."""
    from dialectid.errors import DialectidError

    if path is None:
        return
    temporary = path.with_name(f".{path.name}.writing")
    try:
        temporary.write_text(json.dumps(summary.to_dict(total, interrupted), indent=2) + "\n")
        os.replace(temporary, path)
    except OSError as error:
        raise DialectidError(f"{path}: cannot write the summary ({error.strerror or error}); the results are kept: "
                             "give a --summary-json path in a folder you can write") from None  # fmt: skip


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


def _print_single(row: Row) -> None:
    analysis = row.analysis
    if analysis is None:
        out.print(f"[bold]{escape(row.path)}[/bold]  registration -", highlight=False)
        return
    out.print(f"[bold]{escape(row.path)}[/bold]  registration {analysis.registration_number}", highlight=False)
    out.print(f"status: [bold]{analysis.status}[/bold] ({analysis.meaning})", highlight=False)
    quality = analysis.quality
    out.print(f"net speech {analysis.speech_s:.1f} s of {analysis.audio.duration_s:.1f} s; "
              f"quality {quality.status}" + (f" ({', '.join(quality.flags)})" if quality.flags else ""),
              markup=False)  # fmt: skip
    for reason in quality.reasons:
        out.print(f"  - {reason}", markup=False)
    if not analysis.probabilities:
        out.print("no probabilities: " + analysis.meaning, markup=False)
        return
    table = Table(box=None, show_header=False, pad_edge=False)
    for item in analysis.probabilities[:8]:
        table.add_row(item.label, _bar(item.probability), f"{100 * item.probability:5.1f} %")
    out.print(table)
    families = ", ".join(f"{f.label} {100 * f.probability:.0f} %" for f in analysis.family_probabilities)
    out.print(f"families: {families}", markup=False)
    if analysis.uncertainty is not None and analysis.top_probability is not None and analysis.consistency is not None:
        low, high = analysis.uncertainty.low, analysis.uncertainty.high
        out.print(f"top label {analysis.top_label}: {100 * analysis.top_probability:.1f} % "
                  f"(95 % interval {100 * low:.0f}-{100 * high:.0f} %), consistency {100 * analysis.consistency:.0f} % "
                  f"of {len(analysis.timeline)} windows", markup=False)  # fmt: skip
    if analysis.dialects is not None:
        _print_dialects(analysis.dialects)
    out.print("An indication to support a human assessment; not evidence.", markup=False)


def _print_dialects(block: DialectResult) -> None:
    from dialectid.report.dialect import dialect_content

    content = dialect_content(block)
    assert content is not None  # only None for no block
    out.print(f"dialect: [bold]{escape(content.headline)}[/bold] ({block.status})", highlight=False)
    table = Table(box=None, show_header=False, pad_edge=False)
    for name, p in content.rows:
        table.add_row(f"  {name}", _bar(p), f"{100 * p:5.1f} %")
    out.print(table)
    out.print(content.lines[0], markup=False)


def _print_rows(rows: list[Row]) -> None:
    from dialectid.report.dialect import dialect_headline

    table = Table()
    analyses = [row.analysis for row in rows]
    dialects = any(
        a is not None and a.dialects for a in analyses
    )  # the column only where a dialect head split a language
    headings = ("file", "status", "top label", "probability", "speech", "flags") + (("dialect",) if dialects else ())
    for heading in headings:
        table.add_column(heading, overflow="fold")
    for row, a in zip(rows, analyses, strict=True):
        if a is None:
            table.add_row(Text(row.path), row.status, "-", "-", "-", "-", *(["-"] if dialects else []))
            continue
        probability = f"{100 * a.top_probability:.1f} %" if a.top_probability is not None else "-"
        dialect = [dialect_headline(a.dialects) if a.dialects else "-"] if dialects else []
        table.add_row(Text(row.path), a.status, a.top_label or "-", probability, f"{a.speech_s:.1f} s",
                      ", ".join(a.quality.flags) or "-", *dialect)  # fmt: skip
    out.print(table)


def _print_summary(summary: Summary, output: Path | None) -> None:
    table = Table(title="summary", show_header=False)
    table.add_row("files scored", str(summary.scored))
    if summary.skipped:  # a fresh run skips nothing: the line would only be noise there
        table.add_row("already in the results (skipped)", str(summary.skipped))
    table.add_row("failed (error rows)", str(summary.failed))
    table.add_row("hours of audio", f"{summary.seconds / 3600:.2f}")
    table.add_row("statuses", ", ".join(f"{k} {v}" for k, v in sorted(summary.statuses.items())) or "-")
    table.add_row("top labels", ", ".join(f"{k} {v}" for k, v in sorted(summary.top_labels.items())) or "-")
    if output:
        table.add_row("results", Text(str(output)))
    err.print(table)

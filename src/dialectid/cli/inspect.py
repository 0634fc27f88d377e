"""`dialectid inspect`: format, speech and quality of recordings, as a table or JSON lines."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from dialectid.audio import AudioConfig, AudioError, inspect_file
from dialectid.audio.inspection import error_row
from dialectid.cli.common import EXIT_FAILED_ITEMS, err, out, progress_bar, user_errors
from dialectid.config import load_config
from dialectid.jsonlines import print_json

_STATUS_STYLE = {"ok": "green", "warn": "yellow", "reject": "red", "error": "bold red"}


@user_errors
def inspect(
    files: Annotated[list[Path], typer.Argument(help="Recordings to inspect (any supported format).")],
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per file and line.")] = False,
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="YAML with ingest/vad/quality sections.")
    ] = None,
    overrides: Annotated[
        list[str] | None, typer.Option("--set", help="Override a setting: --set vad.method=energy")
    ] = None,
) -> None:
    """Decode each recording, find its speech and judge its quality.

    Exit status: 0 when every file was inspected (whatever its quality), 1 when some file
    could not be read or decoded, 2 for bad options or config.
    """
    settings = load_config(config, AudioConfig, overrides or [])
    rows = []
    with progress_bar(len(files), "inspecting") as advance:
        for path in files:
            row = _inspect_one(path, settings)
            rows.append(row)
            if as_json:
                print_json(row)
            advance()
    if not as_json:
        _print_table(rows)
    if any(row["status"] == "error" for row in rows):
        raise typer.Exit(EXIT_FAILED_ITEMS)


def _inspect_one(path: Path, settings: AudioConfig) -> dict[str, Any]:
    try:
        return inspect_file(path, settings).to_dict()
    except AudioError as error:
        return error_row(path, error)


def _print_table(rows: list[dict[str, Any]]) -> None:
    table = Table(show_lines=False)
    for heading in ("file", "format", "duration", "speech", "SNR", "bandwidth", "flags", "status"):
        table.add_column(heading, overflow="fold")
    for row in rows:
        status = Text(row["status"], style=_STATUS_STYLE[row["status"]])
        if row["status"] == "error":
            table.add_row(Text(row["path"]), "-", "-", "-", "-", "-", "-", status)
            continue
        table.add_row(
            Text(row["path"]),
            f"{row['format']}/{row['codec']} {row['sample_rate'] / 1000:g} kHz {row['channels']}ch",
            f"{row['duration_s']:.1f} s",
            f"{row['speech_s']:.1f} s",
            "-" if row["snr_db"] is None else f"{row['snr_db']:.0f} dB",
            f"{row['bandwidth_hz'] / 1000:.1f} kHz",
            ", ".join(row["flags"]) or "-",
            status,
        )
    out.print(table)
    out.file.flush()
    for row in rows:
        for reason in row.get("reasons", []):
            out.print(f"{row['path']}: {reason}", markup=False)
        if row["status"] == "error":
            err.print(f"error: {row['error']}", markup=False)

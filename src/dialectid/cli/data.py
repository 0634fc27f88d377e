"""`dialectid data`: import corpora into manifests, export them, split them, check splits, show statistics."""

from __future__ import annotations

from dataclasses import asdict, replace
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from dialectid.audio.source import sha256_file
from dialectid.cli.common import EXIT_FAILED_ITEMS, err, out, progress_bar, user_errors
from dialectid.data import (
    ManifestError,
    check_splits,
    import_corpus,
    label_stats,
    loso_folds,
    read_manifest,
    split_utterances,
    write_manifest,
)
from dialectid.data.exporters import FORMATS, export_manifest
from dialectid.data.importers import MODULES, get_importer
from dialectid.data.manifest import Manifest
from dialectid.jsonlines import print_json

MAX_LISTED = 20  # leaks printed one by one; the rest are counted

app = typer.Typer(help="Corpora, manifests and speaker-disjoint splits.", no_args_is_help=True)


def _options(pairs: list[str] | None) -> dict[str, str]:
    options = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ManifestError(f"--option {pair!r} is not of the form key=value")
        options[key.strip()] = value.strip()
    return options


@app.command("import")
@user_errors
def import_(
    kind: Annotated[
        str,
        typer.Argument(help=f"Corpus layout: {', '.join(MODULES)}."),
    ],
    source: Annotated[Path, typer.Argument(help="The corpus folder (or CSV file).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Manifest to write (JSONL).")],
    option: Annotated[list[str] | None, typer.Option("--option", help="Importer option key=value.")] = None,
    hash_audio: Annotated[bool, typer.Option("--hash", help="Record each file's sha256 (slower).")] = False,
    labels: Annotated[str | None, typer.Option(help="Comma-separated labels allowed; others are errors.")] = None,
) -> None:
    """Read a corpus from disk into a manifest; nothing is downloaded."""
    get_importer(kind)
    allowed = [label.strip() for label in labels.split(",") if label.strip()] if labels else None
    skipped: list = []
    utterances = import_corpus(kind, source, _options(option), allowed, skipped)
    for item in skipped[:MAX_LISTED]:
        err.print(f"skipped: {item.path}: {item.reason}", markup=False)
    if len(skipped) > MAX_LISTED:
        err.print(f"... and {len(skipped) - MAX_LISTED} more skipped", markup=False)
    if hash_audio:
        with progress_bar(len(utterances), "hashing") as advance:
            utterances = [_hashed(u, advance) for u in utterances]
    count = write_manifest(output, utterances)
    speakers = len({u.speaker for u in utterances if u.speaker})
    hours = sum(u.duration_s or 0 for u in utterances) / 3600
    label_count = len({u.label for u in utterances})
    left_out = f", {len(skipped)} unusable files left out" if skipped else ""
    out.print(
        f"wrote {output}: {count} utterances, {label_count} labels, {speakers} speakers, {hours:.2f} h{left_out}",
        markup=False,
    )


@app.command("export")
@user_errors
def export(
    manifest: Annotated[Path, typer.Argument(help="Manifest to export.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder to write.")],
    kind: Annotated[str, typer.Option("--format", help=f"Target format: {', '.join(FORMATS)}.")],
) -> None:
    """Write a manifest as a Kaldi data directory or Lhotse manifests; `data import kaldi|lhotse` reads them back."""
    count = export_manifest(read_manifest(manifest, check_files=True), kind, output)
    out.print(f"wrote {output}: {count} utterances as {kind}", markup=False)


def _hashed(utt, advance):
    advance()
    return utt if utt.sha256 else replace(utt, sha256=sha256_file(utt.path))


@app.command("split")
@user_errors
def split(
    manifest: Annotated[Path, typer.Argument(help="Manifest to split.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder for the split manifests.")],
    dev: Annotated[float, typer.Option(help="Share of each label's audio for dev.")] = 0.1,
    test: Annotated[float, typer.Option(help="Share of each label's audio for test.")] = 0.2,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same split.")] = 0,
    loso: Annotated[bool, typer.Option("--loso", help="Write leave-one-speaker-out folds instead.")] = False,
) -> None:
    """Stratified, speaker-disjoint train/dev/test manifests (no speaker, no identical audio in two)."""
    source = read_manifest(manifest)
    with progress_bar(len(source), "hashing") as advance:
        utterances = [_hashed_in(source, u, advance) for u in source]
    if loso:
        folds = loso_folds(utterances)
        for name, parts in folds.items():
            for part, utts in parts.items():
                write_manifest(output / "loso" / name / f"{part}.jsonl", utts, source.base)
        out.print(f"wrote {len(folds)} leave-one-speaker-out folds under {output / 'loso'}", markup=False)
        return
    parts = split_utterances(utterances, dev=dev, test=test, seed=seed)
    for part, utts in parts.items():
        write_manifest(output / f"{part}.jsonl", utts, source.base)
    summary = ", ".join(f"{part} {len(utts)}" for part, utts in parts.items())
    out.print(f"wrote {output}/{{train,dev,test}}.jsonl: {summary} utterances", markup=False)
    for part, utts in parts.items():
        if not utts and (dev if part == "dev" else test if part == "test" else 1) > 0:
            err.print(f"warning: {part} is empty: too few speakers per label to fill it", markup=False)


def _hashed_in(manifest: Manifest, utt, advance):
    advance()
    if utt.sha256:
        return utt
    try:
        return replace(utt, sha256=sha256_file(manifest.path_of(utt)))
    except OSError:
        raise ManifestError(f"{manifest.path_of(utt)}: listed as {utt.id!r} but cannot be read") from None


@app.command("check")
@user_errors
def check(
    manifests: Annotated[list[Path], typer.Argument(help="TRAIN DEV [TEST] manifests, training first.")],
) -> None:
    """Fail (exit 1) if a speaker or an identical recording occurs in two splits."""
    if len(manifests) < 2:
        raise ManifestError("give at least two manifests: TRAIN DEV [TEST]")
    named = {}
    for position, path in enumerate(manifests, start=1):
        name = str(path) if str(path) not in named else f"{path} (argument {position})"
        named[name] = read_manifest(path, allow_empty=True)
    findings = check_splits(named)
    for warning in findings.warnings:
        err.print(f"warning: {warning}", markup=False)
    for error in findings.errors[:MAX_LISTED]:
        err.print(f"leak: {error}", markup=False)
    if len(findings.errors) > MAX_LISTED:
        err.print(f"... and {len(findings.errors) - MAX_LISTED} more", markup=False)
    if findings.errors:
        err.print(f"{len(findings.errors)} leak(s) between the splits", markup=False)
        raise typer.Exit(EXIT_FAILED_ITEMS)
    out.print(f"no speaker or recording is shared between {len(manifests)} splits")


@app.command("stats")
@user_errors
def stats(
    manifest: Annotated[Path, typer.Argument(help="Manifest to describe.")],
    as_json: Annotated[bool, typer.Option("--json", help="JSON instead of a table.")] = False,
) -> None:
    """Clips, speakers and hours per label, with imbalance warnings."""
    rows, warnings = label_stats(read_manifest(manifest))
    if as_json:
        print_json({"labels": [asdict(r) for r in rows], "warnings": warnings})
        return
    table = Table()
    for heading in ("label", "clips", "speakers", "hours"):
        table.add_column(heading, justify="left" if heading == "label" else "right")
    for row in rows:
        table.add_row(Text(row.label), str(row.clips), str(row.speakers), f"{row.hours:.2f}")
    total = sum(r.hours for r in rows)
    table.add_row("total", str(sum(r.clips for r in rows)), "", f"{total:.2f}", style="bold")
    out.print(table)
    for warning in warnings:
        err.print(f"warning: {warning}", markup=False)

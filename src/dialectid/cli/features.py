"""`dialectid features`: compute features for a manifest into the on-disk cache."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Annotated

import typer

from dialectid.cli.common import EXIT_FAILED_ITEMS, err, progress_bar, user_errors
from dialectid.config import load_config
from dialectid.data import read_manifest
from dialectid.jsonlines import print_json
from dialectid.paths import home

app = typer.Typer(help="Feature extraction.", no_args_is_help=True)


@app.command("extract")
@user_errors
def extract(
    manifest: Annotated[Path, typer.Argument(help="Manifest whose recordings to process.")],
    config: Annotated[Path | None, typer.Option("--config", "-c", help="YAML with a features section.")] = None,
    overrides: Annotated[list[str] | None, typer.Option("--set", help="e.g. --set features.kind=mfcc")] = None,
    cache_dir: Annotated[
        Path | None, typer.Option("--cache", help="Cache folder (default: $DIALECTID_HOME/features).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON line per utterance.")] = False,
) -> None:
    """Extract features for every utterance (reusing cached ones); bad files are reported, not fatal."""
    from dialectid.features.cache import FeatureCache
    from dialectid.features.job import FeatureJob, extract_manifest

    settings = load_config(config, FeatureJob, overrides or []).features
    source = read_manifest(manifest)
    cache = FeatureCache(cache_dir or home() / "features", settings)
    counts: Counter[str] = Counter()
    with progress_bar(len(source), "extracting") as advance:
        for outcome in extract_manifest(source, settings, cache, advance):
            counts[outcome.status] += 1
            if as_json:
                row = {"id": outcome.utterance.id, "status": outcome.status, "frames": outcome.frames}
                print_json(row | ({"error": outcome.error} if outcome.error else {}))
            elif outcome.error:
                err.print(f"error: {outcome.error}", markup=False)
    summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    err.print(f"{settings.kind} ({settings.dim} per frame) in {cache.folder}: {summary}", markup=False)
    if counts["error"]:
        raise typer.Exit(EXIT_FAILED_ITEMS)

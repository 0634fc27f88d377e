"""Batch scoring: many recordings, one bundle, local processes or a Ray cluster.

Rows come back in input order whatever the engine; one bad file becomes an `error` row and the
run goes on; files already scored with the same audio (sha256) and bundle are skipped.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dialectid.audio import AudioError
from dialectid.audio.formats import SUFFIXES
from dialectid.audio.source import sha256_file
from dialectid.errors import DialectidError
from dialectid.scoring.analysis import ANSWERED
from dialectid.scoring.config import ScoringConfig
from dialectid.scoring.results import ResultsFile


@dataclass(frozen=True)
class Item:
    path: str
    error: str | None = None  # set when the path cannot even be submitted (a directory, say)


def expand(paths: Iterable[str | os.PathLike[str]], recursive: bool) -> list[Item]:
    """Files as given, folders walked (with `recursive`), in a stable sorted order per argument."""
    items = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            if not recursive:
                items.append(Item(str(path), f"{path}: is a directory; add --recursive to score the files in it"))
                continue
            found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES)
            items.extend(Item(str(p)) for p in found)
        else:
            items.append(Item(str(path)))
    return items


def error_row(path: str, message: str, kind: str, bundle_sha256: str) -> dict[str, Any]:
    return {"path": path, "status": "error", "error": message, "error_type": kind,
            "model": {"bundle_sha256": bundle_sha256}}  # fmt: skip


class Worker:
    """Holds one loaded bundle and scorer; analyses one path at a time, never raises."""

    def __init__(self, model: str, config_json: str) -> None:
        from dialectid.models.bundle import load_model
        from dialectid.scoring.scorer import Scorer

        self.bundle = load_model(model)
        self.scorer = Scorer(self.bundle, ScoringConfig.model_validate_json(config_json))

    def run(self, path: str) -> dict[str, Any]:
        try:
            return {"path": path, **self.scorer.analyse(path).to_dict()}
        except AudioError as error:
            return error_row(path, error.message, type(error).__name__, self.bundle.sha256)
        except DialectidError as error:
            return error_row(path, f"{path}: {error.message}", type(error).__name__, self.bundle.sha256)


_WORKER: Worker | None = None


def _init_process(model: str, config_json: str) -> None:
    global _WORKER  # one scorer per worker process, loaded once
    _WORKER = Worker(model, config_json)


def _run_in_process(path: str) -> dict[str, Any]:
    assert _WORKER is not None
    return _WORKER.run(path)


def local_engine(paths: list[str], model: str, config_json: str, workers: int) -> Iterator[dict[str, Any]]:
    if workers <= 1:
        worker = Worker(model, config_json)
        yield from map(worker.run, paths)
        return
    import multiprocessing

    context = multiprocessing.get_context("spawn")  # no state inherited from the parent
    with context.Pool(workers, initializer=_init_process, initargs=(model, config_json)) as pool:
        yield from pool.imap(_run_in_process, paths, chunksize=1)


def ray_engine(paths: list[str], model: str, config_json: str, workers: int, address: str | None
               ) -> Iterator[dict[str, Any]]:  # fmt: skip
    """The same work on Ray actors (one loaded scorer each); results in input order."""
    import ray

    started_here = not ray.is_initialized()
    if started_here:
        ray.init(address=address, num_cpus=None if address else workers, include_dashboard=False,
                 log_to_driver=False, configure_logging=False)  # fmt: skip
    try:
        actor = ray.remote(num_cpus=1)(Worker)
        actors = [actor.remote(model, config_json) for _ in range(max(1, workers))]
        pending: list = []
        for i, path in enumerate(paths):
            pending.append(actors[i % len(actors)].run.remote(path))
            if len(pending) >= 2 * len(actors):
                yield ray.get(pending.pop(0))
        for ref in pending:
            yield ray.get(ref)
    finally:
        if started_here:
            ray.shutdown()


@dataclass
class Summary:
    files: int = 0
    skipped: int = 0
    seconds: float = 0.0
    statuses: dict[str, int] = field(default_factory=dict)
    top_labels: dict[str, int] = field(default_factory=dict)

    def add(self, row: dict[str, Any]) -> None:
        self.files += 1
        self.seconds += row.get("audio", {}).get("duration_s", 0.0)
        self.statuses[row["status"]] = self.statuses.get(row["status"], 0) + 1
        if row.get("top_label") and row["status"] in ANSWERED:
            self.top_labels[row["top_label"]] = self.top_labels.get(row["top_label"], 0) + 1


def run_batch(
    items: list[Item],
    model: str,
    config: ScoringConfig,
    results: ResultsFile | None,
    bundle_sha256: str,
    engine: str = "local",
    workers: int = 1,
    address: str | None = None,
    reports: Path | None = None,
    on_row: Callable[[dict[str, Any]], None] = lambda _: None,
) -> Summary:
    """Score `items`, writing each row as it arrives, in the order of `items`; returns the counts."""
    summary = Summary()
    plan: list[Item | None] = []  # None: already in the results
    for item in items:
        skip = item.error is None and results is not None and _already_scored(item.path, bundle_sha256, results)
        plan.append(None if skip else item)
        summary.skipped += skip
    todo = [item.path for item in plan if item is not None and item.error is None]
    config_json = config.model_dump_json(exclude_unset=True)  # what was not set stays "the model's"
    scored = (ray_engine(todo, model, config_json, workers, address) if engine == "ray"
              else local_engine(todo, model, config_json, workers))  # fmt: skip
    for item in plan:
        if item is None:
            continue
        row = error_row(item.path, item.error, "FileAccessError", bundle_sha256) if item.error else next(scored)
        _emit(row, results, reports, summary, on_row)
    return summary


def _already_scored(path: str, bundle_sha256: str, results: ResultsFile) -> bool:
    try:
        return (sha256_file(path), bundle_sha256) in results.done
    except OSError:
        return False  # the worker will report the precise error


def _emit(row, results, reports, summary, on_row) -> None:
    if results is not None:
        results.write(row)
    if reports is not None and row["status"] != "error":
        reports.mkdir(parents=True, exist_ok=True)
        analysis = {k: v for k, v in row.items() if k != "path"}  # the report never names the file
        (reports / f"{row['registration_number']}.json").write_text(json.dumps(analysis, indent=2) + "\n")
    summary.add(row)
    on_row(row)

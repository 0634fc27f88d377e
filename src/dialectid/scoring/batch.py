"""Batch scoring: many recordings, one bundle, local processes or a Ray cluster.

Rows (`Row`: a path and its `Analysis`, or the `RowError` that stopped it) come back in input
order whatever the engine, one per path; one bad file becomes an `error` row and the run goes on; a path already scored with the same audio (sha256) and bundle
is skipped. A worker process that dies (killed, or out of memory) is replaced; the files it had
in hand are retried one at a time, and a file whose worker dies again becomes an `error` row.
"""

from __future__ import annotations

import contextlib
import os
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from dialectid.audio import AudioError
from dialectid.audio.formats import SUFFIXES
from dialectid.audio.source import regular_file, sha256_file
from dialectid.errors import DialectidError
from dialectid.models.base import THREADS_ENV
from dialectid.scoring.analysis import ANSWERED, Analysis
from dialectid.scoring.config import ScoringConfig
from dialectid.scoring.results import ResultsFile, Row, RowError, StdoutResults, open_reports, write_report

if TYPE_CHECKING:
    from concurrent.futures import Future, ProcessPoolExecutor

    from dialectid.models.bundle import Bundle

WORKER_DIED = "the worker process died while scoring this file (killed, or out of memory), also when retried alone"


@dataclass(frozen=True)
class Item:
    path: str
    error: str | None = None  # set when the path cannot even be submitted (a directory, a pipe, ...)
    kind: str = "FileAccessError"


@dataclass(frozen=True)
class Job:
    """What every worker needs: the bundle, the settings as JSON, and the bundle's hash for error rows."""

    model: str
    config_json: str
    bundle_sha256: str
    threads: int = 1  # each worker's share of the CPUs, for the model's own thread pool
    dialect_model: str | None = None  # a dialect bundle under the model (scoring/dialects.py)


def expand(paths: Iterable[str | os.PathLike[str]], recursive: bool) -> list[Item]:
    """Files as given, folders walked (with `recursive`), each path once, in a stable order.

    Anything that is not a readable regular file is refused here, before anything opens it,
    so a pipe or a device never blocks the run.
    """
    items: dict[str, Item] = {}
    for raw in paths:
        path = Path(raw)
        if _is_dir(path):
            if not recursive:
                items.setdefault(
                    str(path), Item(str(path), f"{path}: is a directory; add --recursive to score the files in it")
                )
                continue
            found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES)
            items.update((str(p), Item(str(p))) for p in found if str(p) not in items)
        elif str(path) not in items:
            items[str(path)] = _checked(path)
    return list(items.values())


def _is_dir(path: Path) -> bool:
    """`Path.is_dir`, but a folder on the way the user may not enter is "no", not a `PermissionError`:
    the path then becomes an error row that says so."""
    try:
        return path.is_dir()
    except OSError:
        return False


def _checked(path: Path) -> Item:
    try:
        regular_file(path)
    except AudioError as error:
        return Item(str(path), error.message, type(error).__name__)
    return Item(str(path))


def error_row(path: str, message: str, error_type: str, bundle_sha256: str) -> Row:
    return Row(path, RowError(message, error_type, bundle_sha256))


class Worker:
    """Holds one loaded bundle and scorer; analyses one path at a time, never raises.

    Worker processes and Ray actors load the bundles of `job`; the one local worker of a run with
    `--workers 1` is handed the caller's, already loaded and verified (`loaded`)."""

    def __init__(self, job: Job, loaded: tuple[Bundle, Bundle | None] | None = None) -> None:
        from dialectid.models.bundle import load_model
        from dialectid.scoring.scorer import Scorer

        if loaded is None:
            os.environ[THREADS_ENV] = str(job.threads)  # before the model builds its thread pool
            loaded = load_model(job.model), load_model(job.dialect_model) if job.dialect_model else None
        self.bundle, dialect = loaded
        self.scorer = Scorer(self.bundle, ScoringConfig.model_validate_json(job.config_json), dialect)

    def run(self, path: str) -> Row:
        try:
            return Row(path, self.scorer.analyse(path))
        except AudioError as error:
            return error_row(path, error.message, type(error).__name__, self.bundle.sha256)
        except DialectidError as error:
            return error_row(path, f"{path}: {error.message}", type(error).__name__, self.bundle.sha256)


_WORKER: Worker | None = None


def _init_process(job: Job, parent: int) -> None:
    global _WORKER  # one scorer per worker process, loaded once
    _die_with_parent(parent)
    _WORKER = Worker(job)


def _die_with_parent(parent: int) -> None:
    """Have the kernel kill this worker when the run that started it ends, however it ends (Linux's
    PR_SET_PDEATHSIG). Without it, a run killed with SIGKILL left its workers behind for ever, each
    holding a loaded model: they blocked in their own shutdown, on a queue that nobody read."""
    import contextlib
    import ctypes
    import signal

    with contextlib.suppress(OSError, AttributeError):  # not Linux: nothing to ask
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1: PR_SET_PDEATHSIG
    if os.getppid() != parent:  # the run ended before this worker asked
        os._exit(0)


def _run_in_process(path: str) -> Row:
    assert _WORKER is not None
    return _WORKER.run(path)


def local_engine(paths: list[str], job: Job, workers: int,
                 loaded: tuple[Bundle, Bundle | None] | None = None) -> Generator[Row, None, None]:  # fmt: skip
    """Rows of `paths` from this process (one worker, on the bundles `loaded` where given) or
    from `workers` processes, each of which loads them itself."""
    if workers <= 1:
        yield from map(Worker(job, loaded).run, paths)
        return
    yield from _ProcessPool(job, workers).rows(paths)


class _ProcessPool:
    """Worker processes that survive the death of one of them; rows in input order."""

    def __init__(self, job: Job, workers: int) -> None:
        self.job, self.workers = job, workers
        self.pool = self._new_pool()

    def _new_pool(self) -> ProcessPoolExecutor:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        context = multiprocessing.get_context("spawn")  # no state inherited from the parent
        return ProcessPoolExecutor(
            self.workers, mp_context=context, initializer=_init_process, initargs=(self.job, os.getpid())
        )

    def rows(self, paths: list[str]) -> Iterator[Row]:
        todo: deque[str] = deque(paths)
        window: deque[tuple[str, Future[Row]]] = deque()
        try:
            while todo or window:
                if not self._fill(todo, window):  # a worker died after its last row came back
                    yield from self._recover(window)
                    continue
                path, future = window.popleft()
                if _succeeded(future):
                    yield future.result()
                    continue
                window.appendleft((path, future))
                yield from self._recover(window)
        finally:
            self.pool.shutdown(wait=True, cancel_futures=True)

    def _fill(self, todo: deque[str], window: deque[tuple[str, Future[Row]]]) -> bool:
        """Keep two files per worker in flight; False when the pool turned out broken (the file
        stays first in `todo`)."""
        while todo and len(window) < 2 * self.workers:
            future = self._submit(todo[0])
            if future is None:
                return False
            window.append((todo.popleft(), future))
        return True

    def _submit(self, path: str) -> Future[Row] | None:
        """The file's future, or None where the pool is already broken (a worker died between files)."""
        from concurrent.futures.process import BrokenProcessPool

        try:
            return self.pool.submit(_run_in_process, path)
        except BrokenProcessPool:
            return None

    def _recover(self, window: deque[tuple[str, Future[Row]]]) -> Iterator[Row]:
        """The pool broke: start a new one, and retry alone each file that had not finished."""
        held = [(path, future.result() if _succeeded(future) else None) for path, future in window]
        window.clear()
        self._renew()
        for path, row in held:
            yield row if row is not None else self._alone(path)

    def _alone(self, path: str) -> Row:
        future = self._submit(path)
        if future is None:  # broken before the file reached a worker: it has not been tried yet
            self._renew()
            future = self._submit(path)
        if future is not None and _succeeded(future):
            return future.result()
        self._renew()
        return error_row(path, f"{path}: {WORKER_DIED}", "WorkerDiedError", self.job.bundle_sha256)

    def _renew(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)
        self.pool = self._new_pool()


def _succeeded(future: Future[Row]) -> bool:
    """Wait for `future`; False when its worker process died (the pool is then broken)."""
    from concurrent.futures.process import BrokenProcessPool

    try:
        future.result()
    except BrokenProcessPool:
        return False
    return True


def ray_engine(paths: list[str], job: Job, workers: int, address: str | None) -> Generator[Row, None, None]:
    """The same work on Ray actors (one loaded scorer each); results in input order.

    A Ray started here is stopped when the run ends, and by a reaper process if this one is killed.
    """
    import ray

    started_here = not ray.is_initialized()
    reaper = None
    if started_here:
        from dialectid.scoring.reaper import watch

        reaper = None if address else watch(os.getpid())
        _start_ray(address, workers)
    try:
        yield from _RayActors(job, _actors(workers)).rows(paths)
    finally:
        if started_here:
            ray.shutdown()
        if reaper is not None:
            reaper.terminate()
            reaper.wait()


def _start_ray(address: str | None, workers: int) -> None:
    """Connect to the cluster at `address`, or start a fresh local one (never a stale cluster that
    `ray start` left on this machine); a failure is one line, not Ray's traceback."""
    import ray

    if address:
        _check_reachable(address)
    try:
        ray.init(address=address or "local", num_cpus=None if address else workers, include_dashboard=False,
                 log_to_driver=False, configure_logging=False)  # fmt: skip
    except (ConnectionError, ValueError, RuntimeError) as error:
        where = f"the Ray cluster at {address}" if address else "a local Ray"
        raise DialectidError(f"cannot start or reach {where} ({' '.join(str(error).split())[:200]}); "
                             "check --address and that the cluster runs") from None  # fmt: skip


def _check_reachable(address: str) -> None:
    """For a host:port address, a TCP connection within 5 s: Ray itself retries an unreachable
    cluster for minutes before it gives up."""
    import socket

    host, _, port = address.rpartition(":")
    if not host or not port.isdigit() or "://" in address:
        return  # "auto", ray:// and other forms are Ray's to resolve
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError as error:
        raise DialectidError(f"cannot start or reach the Ray cluster at {address} ({error.strerror or error}); "
                             "check --address and that the cluster runs") from None  # fmt: skip


def _actors(workers: int) -> int:
    """As many actors as asked for, but no more than the cluster has CPUs: an actor that can never
    be placed would hold its share of the files for ever."""
    import ray

    return max(1, min(workers, int(ray.cluster_resources().get("CPU", 1))))


class _Submitted(NamedTuple):
    """A file handed to a Ray actor: `ref` is its result to come."""

    path: str
    slot: int
    actor: Any  # a Ray actor handle: a proxy whose methods Ray makes at run time
    ref: Any  # a Ray ObjectRef of the file's Row


class _RayActors:
    """One scorer per actor; an actor that dies is replaced and its file retried once."""

    def __init__(self, job: Job, workers: int) -> None:
        import ray

        self.job, self.remote = job, ray.remote(num_cpus=1)(Worker)
        self.actors: list[Any] = [self.remote.remote(job) for _ in range(workers)]

    def rows(self, paths: list[str]) -> Iterator[Row]:
        window: deque[_Submitted] = deque()
        for i, path in enumerate(paths):
            window.append(self._submit(path, i % len(self.actors)))
            if len(window) >= 2 * len(self.actors):
                yield self._get(window.popleft())
        while window:
            yield self._get(window.popleft())

    def _submit(self, path: str, slot: int) -> _Submitted:
        actor = self.actors[slot]
        return _Submitted(path, slot, actor, actor.run.remote(path))

    def _replace(self, slot: int, dead: Any) -> None:
        """A new actor for a dead one, where the cluster has a CPU for it; otherwise (its node is
        gone) the slot shares a surviving actor instead of waiting for a CPU that may never come."""
        import ray

        if self.actors[slot] is not dead:
            return  # replaced already, for an earlier file
        others = [a for a in self.actors if a is not dead]
        if others and ray.available_resources().get("CPU", 0) < 1:
            self.actors[slot] = others[slot % len(others)]
        else:
            self.actors[slot] = self.remote.remote(self.job)

    def _get(self, submitted: _Submitted, retried: bool = False) -> Row:
        import ray

        try:
            row: Row = ray.get(submitted.ref)
            return row
        except ray.exceptions.RayActorError:
            path, slot = submitted.path, submitted.slot
            self._replace(slot, submitted.actor)
            if retried:
                return error_row(path, f"{path}: {WORKER_DIED}", "WorkerDiedError", self.job.bundle_sha256)
            return self._get(self._submit(path, slot), retried=True)


@dataclass
class Summary:
    """The counts of a run so far: `files` rows written (`scored` + `failed`), `skipped` paths
    already in the results. The caller may hand one in, so it still has the counts when the
    run is interrupted."""

    files: int = 0
    skipped: int = 0
    seconds: float = 0.0
    statuses: dict[str, int] = field(default_factory=dict)
    top_labels: dict[str, int] = field(default_factory=dict)
    failures: list[Row] = field(default_factory=list)  # the error rows

    @property
    def failed(self) -> int:
        return len(self.failures)

    @property
    def scored(self) -> int:
        return self.files - self.failed

    def add(self, row: Row) -> None:
        self.files += 1
        self.statuses[row.status] = self.statuses.get(row.status, 0) + 1
        result = row.result
        if isinstance(result, RowError):
            self.failures.append(row)
            return
        self.seconds += result.audio.duration_s
        if result.top_label and result.status in ANSWERED:
            self.top_labels[result.top_label] = self.top_labels.get(result.top_label, 0) + 1

    def to_dict(self, total: int, interrupted: bool = False) -> dict[str, Any]:
        """The counts as `--summary-json` writes them."""
        return {"total": total, "scored": self.scored, "skipped": self.skipped, "failed": self.failed,
                "not_reached": total - self.files - self.skipped, "interrupted": interrupted,
                "hours_of_audio": round(self.seconds / 3600, 6), "statuses": dict(sorted(self.statuses.items())),
                "top_labels": dict(sorted(self.top_labels.items())),
                "failures": [{"path": row.path, "error_type": error.error_type, "error": error.message}
                             for row in self.failures if isinstance(error := row.result, RowError)]}  # fmt: skip


def run_batch(
    items: list[Item],
    bundle: Bundle,
    config: ScoringConfig,
    results: ResultsFile | StdoutResults | None,
    engine: str = "local",
    workers: int = 1,
    address: str | None = None,
    reports: Path | None = None,
    on_row: Callable[[Row], None] = lambda _: None,
    dialect: Bundle | None = None,
    on_skip: Callable[[str], None] = lambda _: None,
    summary: Summary | None = None,
) -> Summary:
    """Score `items` with `bundle` (loaded from its folder, which every worker process and Ray
    actor loads again; one local worker uses it as it is), writing each row as it arrives, in the
    order of `items`; returns the counts (in `summary`, where given). `on_skip` hears of each path
    already in the results, before any file is scored. With `dialect`, its dialect head splits
    the top language where it is the head's parent."""
    if bundle.path is None or (dialect is not None and dialect.path is None):
        raise ValueError("batch workers load their bundles from disk: save the bundle first")
    if reports is not None:
        config.require_unique_registration()  # before anything is scored
        open_reports(reports)
    summary = Summary() if summary is None else summary
    plan: list[Item | None] = []  # None: already in the results
    for item in items:
        skip = item.error is None and results is not None and _already_scored(item.path, bundle.sha256, results)
        plan.append(None if skip else item)
        summary.skipped += skip
        if skip:
            on_skip(item.path)
    todo = [item.path for item in plan if item is not None and item.error is None]
    threads = 1 if engine == "ray" else max(1, len(os.sched_getaffinity(0)) // max(1, workers))  # a CPU per Ray actor
    job = Job(str(bundle.path), config.model_dump_json(exclude_unset=True), bundle.sha256, threads,  # unset stays "the model's"
              None if dialect is None else str(dialect.path))  # fmt: skip
    scored = (ray_engine(todo, job, workers, address) if engine == "ray"
              else local_engine(todo, job, workers, (bundle, dialect)))  # fmt: skip
    try:
        for planned in plan:
            if planned is None:
                continue
            row = (error_row(planned.path, planned.error, planned.kind, bundle.sha256) if planned.error is not None
                   else next(scored))  # fmt: skip
            _emit(row, results, reports, summary, on_row)
    finally:
        scored.close()  # stops the workers (and a Ray started here) also when interrupted
    return summary


def _already_scored(path: str, bundle_sha256: str, results: ResultsFile | StdoutResults) -> bool:
    """Whether `path` has a result of this bundle for its current bytes (hashed only when it has one)."""
    known = results.scored_sha256(path, bundle_sha256)
    try:
        return known is not None and sha256_file(path) == known
    except OSError:
        return False  # the worker will report the precise error


def _emit(row: Row, results: ResultsFile | StdoutResults | None, reports: Path | None, summary: Summary,
          on_row: Callable[[Row], None]) -> None:  # fmt: skip
    with _signals_held():
        if results is not None:
            results.write(row)
        if reports is not None and isinstance(row.result, Analysis):
            write_report(reports, row.result)
        summary.add(row)
    on_row(row)


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM while one row is written and counted, so that an interrupted run's
    counts (`N of M rows saved`) are those of its results file; they are delivered right after."""
    import signal

    held = {signal.SIGINT, signal.SIGTERM}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)

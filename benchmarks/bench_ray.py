"""Scale-out on a real multi-node Ray cluster on this machine, against the local engine.

Usage: python benchmarks/bench_ray.py [--model models/lid-fast] [--short 200] [--long 20] [--write reports/benchmarks.md]

A head and a second node are started with `ray start --block`, each limited to one CPU, and
`dialectid score --engine ray --address` scores short (8 s) and long (10 min) telephone recordings
(the bundled sample repeated) on 1 and 2 nodes; the local engine does the same with 1 and 2 worker
processes. Then the second node is killed while a run is in progress, and the results are checked:
one row per input path, no duplicates, no file lost.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MARKER = "<!-- bench_ray -->"
PORT = 6391
sys.path.insert(0, str(ROOT / "benchmarks"))
from bench_ingest import cpu_model, update_report  # noqa: E402
from bench_scoring import recording  # noqa: E402

ENV = {**os.environ, "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}


def node(head: bool, folder: Path) -> subprocess.Popen:
    """One Ray node with one CPU, in its own process group (killing the group kills the node)."""
    ray = str(Path(sys.executable).with_name("ray"))
    where = ["--head", "--port", str(PORT), "--include-dashboard=false"] if head else ["--address", f"127.0.0.1:{PORT}"]
    log = (folder / f"{'head' if head else 'worker'}-node.log").open("w")
    process = subprocess.Popen([ray, "start", "--block", "--num-cpus", "1", *where],
                               stdout=log, stderr=subprocess.STDOUT, env=ENV, start_new_session=True)  # fmt: skip
    time.sleep(8 if head else 6)
    return process


def stop(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def score(files: list[Path], out: Path, model: str, extra: list[str]) -> float:
    """Wall seconds of one `dialectid score` run over `files` (results to a fresh file)."""
    out.unlink(missing_ok=True)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "dialectid", "score", *map(str, files), "--model", model, "-o", str(out),
                    *extra], check=False, capture_output=True, env=ENV)  # fmt: skip
    return time.perf_counter() - start


def rows_of(out: Path) -> list[dict]:
    return [json.loads(line) for line in out.read_text().splitlines()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(ROOT / "models" / "lid-fast"))
    parser.add_argument("--short", type=int, default=200)
    parser.add_argument("--long", type=int, default=20)
    parser.add_argument("--write", type=Path)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-ray-"))
    short_source, long_source = recording(folder, 8.0, "short.wav"), recording(folder, 600.0, "long.wav")
    sets = {"short": [], "long": []}
    for name, source, count in (("short", short_source, args.short), ("long", long_source, args.long)):
        for i in range(count):
            os.link(source, folder / f"{name}-{i:03}.wav")
            sets[name].append(folder / f"{name}-{i:03}.wav")
    seconds = {"short": 8.0 * args.short, "long": 600.0 * args.long}
    ray = ["--engine", "ray", "--address", f"127.0.0.1:{PORT}"]
    setups = {"local, 1 worker": ["--workers", "1"], "local, 2 workers": ["--workers", "2"]}
    timings: dict[str, dict[str, float]] = {}
    for setup, extra in setups.items():
        timings[setup] = {name: score(files, folder / "out.jsonl", args.model, extra) for name, files in sets.items()}
        print(setup, timings[setup], flush=True)
    head = node(True, folder)
    try:
        timings["Ray, 1 node"] = {name: score(files, folder / "out.jsonl", args.model, [*ray, "--workers", "1"])
                                  for name, files in sets.items()}  # fmt: skip
        print("ray 1", timings["Ray, 1 node"], flush=True)
        second = node(False, folder)
        timings["Ray, 2 nodes"] = {name: score(files, folder / "out.jsonl", args.model, [*ray, "--workers", "2"])
                                   for name, files in sets.items()}  # fmt: skip
        print("ray 2", timings["Ray, 2 nodes"], flush=True)
        killed = node_killed_mid_run(second, sets["long"] + sets["short"][:40], folder, args.model, ray)
        print("killed", killed, flush=True)
    finally:
        stop(head)
    text = render(timings, seconds, args, killed)
    print(text)
    if args.write:
        update_report(args.write, text, MARKER)


def node_killed_mid_run(second, files, folder, model, ray) -> dict:
    out = folder / "killed.jsonl"
    out.unlink(missing_ok=True)
    command = [sys.executable, "-m", "dialectid", "score", *map(str, files), "--model", model, "-o", str(out), *ray,
               "--workers", "2"]  # fmt: skip
    run = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV)
    while not out.exists() or out.read_text().count("\n") < 5:
        time.sleep(0.1)
    at = out.read_text().count("\n")
    stop(second)
    code = run.wait()
    rows = rows_of(out)
    paths = [r["path"] for r in rows]
    return {"rows_when_killed": at, "exit": code, "rows": len(rows), "files": len(files),
            "duplicates": len(paths) - len(set(paths)), "in_order": paths == list(map(str, files)),
            "errors": sum(r["status"] == "error" for r in rows)}  # fmt: skip


def render(timings, seconds, args, killed) -> str:
    base = timings["local, 1 worker"]
    lines = [
        "### Scale-out on a real Ray cluster (this machine: a head and a second node, one CPU each)",
        "",
        f"`python benchmarks/bench_ray.py` on {date.today()}: {cpu_model()}, {os.cpu_count()} cores; model "
        f"`{Path(args.model).name}`; {args.short} short recordings (8 s) and {args.long} long ones (10 min), "
        "8 kHz mu-law; each run is a whole `dialectid score -o results.jsonl` process (start-up, model loading "
        "in every worker, results written and forced to disk row by row).",
        "",
        "| engine | short: files/s | short: s per file | long: x real time | long: files/min |",
        "|---|---:|---:|---:|---:|",
    ]
    for setup, timing in timings.items():
        lines.append(f"| {setup} | {args.short / timing['short']:.1f} | {timing['short'] / args.short:.3f} | "
                     f"{seconds['long'] / timing['long']:.0f}x | {60 * args.long / timing['long']:.1f} |")  # fmt: skip
    overhead = (timings["Ray, 1 node"]["short"] - base["short"]) / args.short
    lines += [
        "",
        f"Scheduling overhead of Ray per short file, one worker: {1000 * overhead:+.0f} ms "
        "(Ray 1 node minus local 1 worker, start-up of the cluster connection included, divided by the files).",
        "",
        f"Second node killed (SIGKILL to its raylet and workers) after {killed['rows_when_killed']} of "
        f"{killed['files']} rows: the run ended with exit status {killed['exit']}, {killed['rows']} rows, "
        f"{killed['duplicates']} duplicates, {killed['errors']} error rows, rows in input order: "
        f"{'yes' if killed['in_order'] else 'no'}. The actors on the dead node are replaced on the surviving one "
        "and their files retried once.",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()

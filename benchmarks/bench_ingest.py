"""Ingestion + VAD speed on one core, in x real time, for a 10-minute recording.

Usage: python benchmarks/bench_ingest.py [--minutes 10] [--repeats 3] [--write reports/benchmarks.md]

The recording is the bundled telephone sample (real speech) repeated to the wanted length, stored
as it arrives from a telephone system (8 kHz mu-law WAV) and as a wideband file (16 kHz FLAC).
The process is pinned to one core and every library is limited to one thread.
"""

from __future__ import annotations

import argparse
import os

for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(var, "1")

import platform  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from datetime import date  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402
import soxr  # noqa: E402

from dialectid.audio import (
    AudioConfig,
    IngestConfig,
    VadConfig,
    detect_speech,
    inspect_file,
    load_recording,
)  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "datasets" / "samples" / "telephone-en.wav"
MARKER = "<!-- bench_ingest -->"


def make_inputs(folder: Path, minutes: float) -> dict[str, Path]:
    speech, rate = sf.read(SAMPLE, dtype="float32")
    signal = np.tile(speech, int(np.ceil(minutes * 60 * rate / len(speech))))[: int(minutes * 60 * rate)]
    telephone = folder / "telephone-8k-mulaw.wav"
    sf.write(telephone, signal, rate, subtype="ULAW")
    wideband = folder / "wideband-16k.flac"
    sf.write(wideband, soxr.resample(signal, rate, 16000), 16000)
    return {"8 kHz mu-law WAV": telephone, "16 kHz FLAC": wideband}


def timed(step, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure(path: Path, repeats: int) -> dict[str, float]:
    ingest = IngestConfig(sample_rate=16000)
    rec = load_recording(path, ingest)
    detect_speech(rec)  # load the ONNX session once, outside the timings
    steps = {
        "load (decode, hash, validate, measure)": lambda: load_recording(path, ingest),
        "signal (decode, mix, resample to 16 kHz)": lambda: sum(len(b) for b in rec.blocks()),
        "Silero VAD (incl. decode)": lambda: detect_speech(rec, VadConfig(method="silero")),
        "energy VAD (incl. decode)": lambda: detect_speech(rec, VadConfig(method="energy")),
        "inspect: load + Silero VAD + quality": lambda: inspect_file(path, AudioConfig()),
    }
    return {name: rec.duration_s / timed(step, repeats) for name, step in steps.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--write", type=Path, help="update this markdown report")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    with tempfile.TemporaryDirectory() as tmp:
        inputs = make_inputs(Path(tmp), args.minutes)
        results = {name: measure(path, args.repeats) for name, path in inputs.items()}
    table = render(results, args)
    print(table)
    if args.write:
        update_report(args.write, table)


def render(results: dict[str, dict[str, float]], args) -> str:
    names = list(next(iter(results.values())))
    lines = [
        f"### Ingestion and VAD ({args.minutes:g}-minute recording, 1 core)",
        "",
        f"`python benchmarks/bench_ingest.py --minutes {args.minutes:g} --repeats {args.repeats}` "
        f"on {date.today()}: {cpu_model()}, {os.cpu_count()} cores on the "
        f"machine, pinned to 1; median of {args.repeats} runs; figures are x real time (higher is faster).",
        "",
        "| step | " + " | ".join(results) + " |",
        "|---|" + "---:|" * len(results),
    ]
    for name in names:
        lines.append(f"| {name} | " + " | ".join(f"{r[name]:,.0f}x" for r in results.values()) + " |")
    return "\n".join(lines)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.machine()


def update_report(path: Path, table: str, marker: str = MARKER) -> None:
    """Replace this benchmark's section of the report (between its markers), or append it."""
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    block = f"{marker}\n{table}\n{marker}"
    if marker in text:
        before, _, rest = text.partition(marker)
        _, _, after = rest.partition(marker)
        text = before + block + after
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    path.write_text(text)


if __name__ == "__main__":
    main()

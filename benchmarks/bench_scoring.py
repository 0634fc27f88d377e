"""End-to-end scoring speed and memory, per model, on one core; batch throughput; a reference.

Usage: python benchmarks/bench_scoring.py [--model NAME=BUNDLE ...] [--write reports/benchmarks.md]

It trains small toy bundles first (stats-logreg, xvector, whisper-backend on the espeak toy
corpus: speed does not depend on what a model learned), then adds the shipped models in models/
and any --model given. The input is the bundled
telephone sample (real speech, 8 kHz mu-law) repeated to 2 minutes. The reference is a SpeechBrain
ECAPA-TDNN of the published VoxLingua107 size (60 mel bands, channels 1024x4 + 3072, 256-d
embedding, random weights: compute, not accuracy) run on the same windows after the same
decoding and VAD.
"""

from __future__ import annotations

import os

for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from datetime import date  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "datasets" / "samples" / "telephone-en.wav"
MARKER = "<!-- bench_scoring -->"
sys.path.insert(0, str(ROOT / "benchmarks"))
from bench_ingest import cpu_model, update_report  # noqa: E402


def recording(folder: Path, seconds: float, name: str, seed: int = 0) -> Path:
    """The bundled telephone sample repeated to `seconds`, under faint noise (about -54 dBFS) so that no
    two windows hold the same samples: the Whisper encoder remembers the windows it has just encoded
    (models/whisper.py), and a plain repetition would be scored from that memory, not measured."""
    speech, rate = sf.read(SAMPLE, dtype="float32")
    signal = np.tile(speech, int(np.ceil(seconds * rate / len(speech))))[: int(seconds * rate)]
    signal = signal + np.random.default_rng(seed).normal(0, 0.002, len(signal)).astype(np.float32)
    path = folder / name
    sf.write(path, signal, rate, subtype="ULAW")
    return path


def toy_bundles(folder: Path) -> dict[str, Path]:
    sys.path.insert(0, str(ROOT / "tests"))
    from dialectid.config import load_config
    from dialectid.train.config import TrainConfig
    from dialectid.train.trainer import train
    from toy import make_toy_corpus, write_config

    manifests = make_toy_corpus(folder / "toy")
    settings = {
        "stats-logreg": {"features": {"kind": "mfcc_sdc", "sample_rate": 8000, "n_mels": 23, "n_ceps": 7}},
        "xvector": {"features": {"kind": "fbank", "sample_rate": 8000, "n_mels": 24},
                    "model": {"name": "xvector", "args": {"channels": 128, "embedding": 128}}},
        "whisper-backend": {},
    }  # fmt: skip
    bundles = {}
    for model, sections in settings.items():
        path = write_config(folder / f"{model}.yaml", manifests, model, folder / "runs", **sections)
        bundles[model] = train(load_config(path, TrainConfig)).bundle
    return bundles


def real_time_factor(bundle_path: Path, audio: Path, repeats: int) -> float:
    from dialectid.models.bundle import load_model
    from dialectid.scoring import Scorer

    scorer = Scorer(load_model(bundle_path))
    scorer.analyse(audio)  # warm: model and VAD sessions loaded
    duration = sf.info(audio).duration
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        scorer.analyse(audio)
        times.append(time.perf_counter() - start)
    return duration / statistics.median(times)


def reference_ecapa(audio: Path, repeats: int) -> float | None:
    """Decode + VAD + 60 fbank + SpeechBrain's VoxLingua107-size ECAPA-TDNN on 4 s / 2 s windows;
    None where SpeechBrain is not installed (it needs torchaudio, which the locked set leaves out)."""
    import torch

    try:
        from speechbrain.lobes.models.ECAPA_TDNN import ECAPA_TDNN
    except ImportError:
        return None

    from dialectid.audio import IngestConfig, detect_speech, load_recording
    from dialectid.features import FeatureConfig
    from dialectid.features.extract import extract
    from dialectid.scoring.windows import speech_windows

    torch.set_num_threads(1)
    net = ECAPA_TDNN(60, channels=[1024, 1024, 1024, 1024, 3072], lin_neurons=256).eval()
    features = FeatureConfig(kind="fbank", n_mels=60)

    def run() -> None:
        rec = load_recording(audio, IngestConfig(sample_rate=16000))
        speech = detect_speech(rec)
        with torch.inference_mode():
            for window in speech_windows(rec.blocks(), 16000, speech.segments, 4.0, 2.0):
                net(torch.from_numpy(extract(window.samples, features))[None])

    run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return sf.info(audio).duration / statistics.median(times)


SHIPPED = [Path(__file__).resolve().parent.parent / "models" / name for name in ("lid-accurate", "lid-fast")]
PEAK = """
import json, sys
from pathlib import Path
from dialectid.scoring import analyse
analyse(sys.argv[1], model=sys.argv[2])
status = Path("/proc/self/status").read_text()
print(next(int(l.split()[1]) for l in status.splitlines() if l.startswith("VmHWM:")) / 1024)
"""


def peak_memory_mb(bundle: Path, audio: Path) -> float:
    result = subprocess.run([sys.executable, "-c", PEAK, str(audio), str(bundle)], capture_output=True, text=True,
                            check=True, env=os.environ.copy())  # fmt: skip
    return float(result.stdout.strip())


def throughput(bundle: Path, files: list[Path], workers: int) -> tuple[float, float]:
    from dialectid.models.bundle import load_model
    from dialectid.scoring import ScoringConfig
    from dialectid.scoring.batch import Item, run_batch

    start = time.perf_counter()
    summary = run_batch([Item(str(p)) for p in files], load_model(bundle), ScoringConfig(), None, workers=workers)
    elapsed = time.perf_counter() - start
    return len(files) / elapsed, summary.seconds / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", default=[], help="NAME=BUNDLE (repeatable)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--write", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        os.environ.setdefault("DIALECTID_HOME", str(folder / "home"))
        bundles = {**toy_bundles(folder), **{p.name: p for p in SHIPPED if p.is_dir()},
                   **{name: Path(path) for name, path in (item.split("=", 1) for item in args.model)}}  # fmt: skip
        two_minutes = recording(folder, 120, "two-minutes.wav")
        hour = recording(folder, 3600, "one-hour.wav")
        batch = [recording(folder, 600, f"batch-{i}.wav") for i in range(8)]
        if hasattr(os, "sched_setaffinity"):
            os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
        rows = {}
        for name, bundle in bundles.items():
            rows[name] = {"rtf": real_time_factor(bundle, two_minutes, args.repeats),
                          "peak_mb": peak_memory_mb(bundle, hour)}  # fmt: skip
            print(name, json.dumps(rows[name]), flush=True)
        reference = reference_ecapa(two_minutes, args.repeats)
        print("reference ECAPA", reference, flush=True)
        if hasattr(os, "sched_setaffinity"):
            os.sched_setaffinity(0, set(range(os.cpu_count() or 1)))
        scaling = {w: throughput(bundles[next(iter(bundles))], batch, w) for w in (1, 2)}
    table = render(rows, reference, scaling, next(iter(bundles)), args)
    print(table)
    if args.write:
        update_report(args.write, table, MARKER)


def render(rows, reference, scaling, batch_model, args) -> str:
    lines = [
        "### End-to-end scoring (2-minute telephone recording, 1 core)",
        "",
        f"`python benchmarks/bench_scoring.py` on {date.today()}: {cpu_model()}, {os.cpu_count()} cores on the "
        "machine, pinned to 1 for the per-model figures; median of "
        f"{args.repeats} runs. End to end = decode + VAD + quality + windows + features + model + "
        "calibration + decision, with each bundle's own window rules. Bundles: the three toy-trained ones (speed does not depend on what a model "
        "learned) and the shipped ones (lid-accurate, lid-fast).",
        "",
        "| model | x real time, 1 core | peak memory, 1-hour file |",
        "|---|---:|---:|",
    ]
    for name, row in rows.items():
        lines.append(f"| {name} | {row['rtf']:,.0f}x | {row['peak_mb']:,.0f} MB |")
    if reference is not None:
        lines.append(
            f"| reference: SpeechBrain ECAPA-TDNN, VoxLingua107 size (random weights) | {reference:,.1f}x | - |"
        )
    else:
        lines.append("| reference: SpeechBrain ECAPA-TDNN | not measured: SpeechBrain needs torchaudio | - |")
    lines += ["", f"Batch throughput ({batch_model}, eight 10-minute files, local engine, both cores available; "
              "includes starting the worker processes):", "",
              "| workers | files/s | x real time |", "|---:|---:|---:|"]  # fmt: skip
    for workers, (files, rtf) in scaling.items():
        lines.append(f"| {workers} | {files:.2f} | {rtf:,.0f}x |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()

"""Lean scoring, side by side: whole-process time and peak memory of `dialectid score` with every
shipped model, beside faster-whisper's own `detect_language` over all 30-s windows of the same file
and an ECAPA-TDNN of VoxLingua107's size, on one pinned core (start-up included), plus marginal speed.

Usage: python benchmarks/bench_lean.py [--core 0] [--write reports/benchmarks.md]

Inputs: the bundled telephone sample (real speech, 8 kHz mu-law) repeated to 6 s, 10 minutes and
2 hours. Whole process = `taskset -c CORE /usr/bin/time -v <command>`; peak memory is its maximum
resident set size. Marginal = a second 10-minute file (other noise) analysed in a warm process. Every file lies under
faint noise of its own, so no two windows are the same samples (the encoder remembers windows).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MARKER = "<!-- bench_lean -->"
MODELS = ("lid-fast", "lid-accurate")
sys.path.insert(0, str(ROOT / "benchmarks"))
from bench_ingest import cpu_model, update_report  # noqa: E402
from bench_scoring import recording  # noqa: E402

FASTER_WHISPER = """
import sys
import numpy as np
from faster_whisper import WhisperModel, decode_audio
from dialectid.models.whisper import default_encoder_dir
model = WhisperModel(str(default_encoder_dir()), device="cpu", compute_type="int8", cpu_threads=1)
audio = decode_audio(sys.argv[1], sampling_rate=16000)
found = []
for start in range(0, len(audio), 30 * 16000):
    language, probability, _ = model.detect_language(audio[start : start + 30 * 16000])
    found.append(language)
print(max(set(found), key=found.count))
"""

ECAPA = """
import sys
import torch
from dialectid.audio import IngestConfig, detect_speech, load_recording
from dialectid.features import FeatureConfig
from dialectid.features.extract import extract
from dialectid.models.neural.layers import Ecapa
from dialectid.scoring.windows import speech_windows
torch.set_num_threads(1)
net = Ecapa(60, 107, channels=1024, embedding=256).eval()  # VoxLingua107's size, random weights
features = FeatureConfig(kind="fbank", n_mels=60)
recording = load_recording(sys.argv[1], IngestConfig(sample_rate=16000))
with torch.inference_mode():
    for window in speech_windows(recording.blocks(), 16000, detect_speech(recording).segments, 4.0, 2.0):
        net(torch.from_numpy(extract(window.samples, features))[None])
"""

MARGINAL = """
import sys, time
from dialectid.models.bundle import load_model
from dialectid.scoring import Scorer
import soundfile as sf
scorer = Scorer(load_model(sys.argv[2]))
scorer.analyse(sys.argv[1])
start = time.perf_counter()
scorer.analyse(sys.argv[3])  # another file of the same length: nothing of it is in the encoder's memory
print(sf.info(sys.argv[3]).duration / (time.perf_counter() - start))
print("torch" in sys.modules)
"""


def ecapa_bundle(folder: Path) -> Path:
    """An ECAPA-TDNN bundle of VoxLingua107's size (107 labels, 1024 channels; random weights: for
    speed and memory only), saved as the trainer saves one: the network as an ONNX graph, scored
    by `dialectid score` with ONNX Runtime."""
    import numpy as np

    from dialectid.features import FeatureConfig
    from dialectid.models.bundle import assemble, save_bundle
    from dialectid.models.calibration import Calibrator
    from dialectid.models.contract import DecisionRules
    from dialectid.models.neural import EcapaModel
    from dialectid.models.neural.training import TorchNetwork
    from dialectid.taxonomy import Taxonomy

    labels = [f"lang{i:03d}" for i in range(107)]
    model = EcapaModel(labels, FeatureConfig(kind="fbank", n_mels=60), {"channels": 1024, "embedding": 256})
    model.load_graph(TorchNetwork(model.name, labels, model.features, model.args).to_onnx(model.stamp()))
    calibrator = Calibrator("temperature")
    calibrator.scale_, calibrator.offset_, calibrator.duration_weight_ = 1.0, np.zeros(107), np.zeros(107)
    data = {"manifests": {}, "per_label": {label: {"clips": 0, "speakers": 0, "hours": 0.0} for label in labels},
            "speakers": [], "augmentation_copies": 0}  # fmt: skip
    bundle = assemble("ecapa-voxlingua-size", model, calibrator, Taxonomy.from_tree(labels), DecisionRules(), data)
    return save_bundle(folder / "ecapa-bundle", bundle, {}, "Random weights: a benchmark bundle, not a model.\n")


def whole_process(command: list[str], core: int) -> tuple[float, float]:
    """(wall seconds, peak resident MB) of `command` pinned to `core`, start-up included."""
    result = subprocess.run(["taskset", "-c", str(core), "/usr/bin/time", "-v", *command], capture_output=True,
                            text=True, check=True)  # fmt: skip
    wall = re.search(r"Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+):([\d.]+)", result.stderr)
    hours, minutes, seconds = (float(g or 0) for g in wall.groups())
    peak = float(re.search(r"Maximum resident set size \(kbytes\): (\d+)", result.stderr).group(1)) / 1024
    return hours * 3600 + minutes * 60 + seconds, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--core", type=int, default=0)
    parser.add_argument("--write", type=Path)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-lean-"))
    files = {name: recording(folder, seconds, f"{name}.wav") for name, seconds in
             (("6 s", 6.0), ("10 min", 600.0), ("2 h", 7200.0))}  # fmt: skip
    other = recording(folder, 600.0, "10 min, other noise.wav", seed=1)
    python, dialectid = sys.executable, [sys.executable, "-m", "dialectid", "score"]
    rows = []
    for model in MODELS:
        bundle = str(ROOT / "models" / model)
        runs = {
            name: whole_process([*dialectid, str(path), "--model", bundle], args.core) for name, path in files.items()
        }
        marginal = subprocess.run(["taskset", "-c", str(args.core), python, "-c", MARGINAL, str(files["10 min"]), bundle, str(other)],
                                  capture_output=True, text=True, check=True).stdout.split()  # fmt: skip
        rows.append((f"`dialectid score --model models/{model}`", runs, float(marginal[0]), marginal[1] == "True"))
        print(rows[-1], flush=True)
    ecapa = str(ecapa_bundle(folder))
    runs = {name: whole_process([*dialectid, str(path), "--model", ecapa], args.core) for name, path in files.items()
            if name != "2 h"}  # fmt: skip
    marginal = subprocess.run(["taskset", "-c", str(args.core), python, "-c", MARGINAL, str(files["10 min"]), ecapa, str(other)],
                              capture_output=True, text=True, check=True).stdout.split()  # fmt: skip
    rows.append(("`dialectid score` with an ECAPA-TDNN bundle of VoxLingua107 size (ONNX Runtime, random weights)",
                 runs, float(marginal[0]), marginal[1] == "True"))  # fmt: skip
    print(rows[-1], flush=True)
    for name, script in (("faster-whisper `detect_language`, every 30-s window (Whisper base, int8)", FASTER_WHISPER),
                         ("the same ECAPA-TDNN in torch, as SpeechBrain would run it, 4 s windows", ECAPA)):  # fmt: skip
        runs = {label: whole_process([python, "-c", script, str(path)], args.core) for label, path in files.items()
                if label != "2 h"}  # fmt: skip
        rows.append((name, runs, None, script is ECAPA))
        print(rows[-1], flush=True)
    text = render(rows, args.core)
    print(text)
    if args.write:
        update_report(args.write, text, MARKER)


def render(rows, core: int) -> str:
    lines = [
        "### Lean scoring: whole process on one core, start-up included",
        "",
        f"`python benchmarks/bench_lean.py` on {date.today()}: {cpu_model()}, pinned to core {core} "
        f"(the machine has {len(__import__('os').sched_getaffinity(0))} cores); 8 kHz mu-law telephone recordings "
        "(the bundled sample repeated). Wall time and peak resident memory from `/usr/bin/time -v`; "
        "x real time for the 10-minute file end to end; marginal = another 10-minute file in a warm process; every file under faint noise of its own, so no window repeats.",
        "",
        "| command | 6 s file: wall | 10 min: wall | 10 min: x real time | 2 h: wall | 2 h: peak memory | marginal, x real time | imports torch |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for name, runs, marginal, torch in rows:
        short, ten = runs["6 s"], runs["10 min"]
        long_ = runs.get("2 h")
        lines.append(f"| {name} | {short[0]:.2f} s | {ten[0]:.1f} s | {600 / ten[0]:.0f}x | "
                     + (f"{long_[0]:.0f} s | {long_[1]:.0f} MB | " if long_ else f"- | (10 min: {ten[1]:.0f} MB) | ")
                     + (f"{marginal:.0f}x | " if marginal else "- | ") + ("yes" if torch else "no") + " |")  # fmt: skip
    return "\n".join(lines)


if __name__ == "__main__":
    main()

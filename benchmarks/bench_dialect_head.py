"""What a dialect head costs on top of the language model (scoring/dialects.py): wall time of one
analysis and Whisper encoder passes, with and without the head, on the same file.

Usage: python benchmarks/bench_dialect_head.py [--model models/lid-accurate] [--dialect-model BUNDLE]

Without --dialect-model it trains a toy Whisper dialect head under `en` on espeak accents
(tests/dialects.py: speed does not depend on what a head learned), so it runs on a clone. The input
is the bundled telephone sample (real speech, 8 kHz mu-law) repeated to 60 s; each way is timed
three times, the encoder's window cache emptied before each run, and the best time is printed.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "datasets" / "samples" / "telephone-en.wav"


def toy_head(folder: Path) -> Path:
    sys.path.insert(0, str(ROOT / "tests"))
    from dialects import make_accent_corpus, train_dialect_bundle

    manifests = make_accent_corpus(folder / "accents")
    return train_dialect_bundle(manifests, folder / "head", "whisper-backend", decision={"min_speech_s": 1.0})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=ROOT / "models" / "lid-accurate")
    parser.add_argument("--dialect-model", type=Path)
    args = parser.parse_args()

    from dialectid.models.bundle import load_model
    from dialectid.models.whisper import WhisperEncoder
    from dialectid.scoring import Scorer

    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        head = args.dialect_model or toy_head(folder)
        audio, rate = sf.read(SAMPLE, dtype="float32")
        recording = folder / "sixty-seconds.wav"
        sf.write(recording, np.tile(audio, int(np.ceil(60 * rate / len(audio))))[: 60 * rate], rate)
        language, dialect = load_model(args.model), load_model(head)
        passes: list[int] = []
        encode = WhisperEncoder._encoded
        WhisperEncoder._encoded = lambda self, signal: passes.append(1) or encode(self, signal)
        for name, scorer in (("language model alone", Scorer(language)),
                             ("with the dialect head", Scorer(language, dialect=dialect))):  # fmt: skip
            times = []
            for _ in range(3):
                WhisperEncoder._cache.clear()
                passes.clear()
                start = time.perf_counter()
                analysis = scorer.analyse(recording)
                times.append(time.perf_counter() - start)
            block = analysis.dialects
            print(f"{name}: {min(times):.2f} s (best of 3), {len(analysis.timeline)} windows, {len(passes)} encoder "
                  f"passes; {analysis.top_label} {analysis.status}"
                  + (f"; dialect {block.status} {block.top_dialect}" if block else ""))  # fmt: skip


if __name__ == "__main__":
    main()

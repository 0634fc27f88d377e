"""Rebuild datasets/samples/telephone-en.wav from Debian's asterisk-core-sounds-en-wav prompts.

The bundled sample is a concatenation of real recordings (Allison Smith, CC BY-SA 3.0) with
short pauses and a faint line hiss (-60 dBFS, seeded), stored as an 8 kHz G.711 mu-law WAV as a
telephone system would store it.
Run: python scripts/make_sample.py (needs `apt-get install asterisk-core-sounds-en-wav`).
"""

from pathlib import Path

import numpy as np
import soundfile as sf

PROMPTS = [
    "vm-intro", "all-circuits-busy-now", "check-number-dial-again", "conf-waitforleader",
    "cannot-complete-as-dialed", "call-fwd-no-ans", "conf-adminmenu",
]  # fmt: skip
SOUNDS = Path("/usr/share/asterisk/sounds/en")
OUT = Path(__file__).resolve().parent.parent / "datasets" / "samples" / "telephone-en.wav"


def main() -> None:
    pause = np.zeros(int(0.7 * 8000), dtype=np.float32)
    parts = [pause]
    for name in PROMPTS:
        audio, rate = sf.read(SOUNDS / f"{name}.wav", dtype="float32")
        assert rate == 8000, (name, rate)
        parts += [audio, pause]
    signal = np.concatenate(parts)
    signal += np.random.default_rng(7).normal(0, 10 ** (-60 / 20), len(signal)).astype(np.float32)
    sf.write(OUT, signal, 8000, subtype="ULAW")
    print(f"wrote {OUT} ({sum(len(p) for p in parts) / 8000:.1f} s)")


if __name__ == "__main__":
    main()

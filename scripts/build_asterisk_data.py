"""Build the manifests of the shipped models from Debian's asterisk voice prompts.

Language labels (en, es, fr, it, ru). The three speakers whose language has another speaker for
training are held out: the es-CO prompt set calibrates (its clips set the models' confidence and
open-set threshold on a voice never heard in training), Armelle fr-FR and Menardi it-IT test.
The prompts bundled in datasets/samples stay out of calibration. Train: all other speakers;
dev: 15 % of their clips, drawn with a fixed seed (early stopping; it shares their voices).

Usage: python scripts/build_asterisk_data.py [SOUNDS] [OUT]   (defaults: /usr/share/asterisk/sounds datasets/asterisk)
"""

import random
import sys
from pathlib import Path

from dialectid.data import import_corpus, write_manifest

TEST_SPEAKERS = {"armelle", "menardi"}
CALIBRATION_SPEAKERS = {"es-co-prompts"}
SAMPLE_PROMPTS = {"vm-options", "digits/1"}  # datasets/samples/: never in training or calibration
DEV_SHARE = 0.15


def main() -> None:
    sounds = Path(sys.argv[1] if len(sys.argv) > 1 else "/usr/share/asterisk/sounds")
    out = Path(sys.argv[2] if len(sys.argv) > 2 else "datasets/asterisk")
    utterances = import_corpus("asterisk", sounds, {"label": "language"})
    test = [u for u in utterances if u.speaker in TEST_SPEAKERS]
    calibration = [u for u in utterances if u.speaker in CALIBRATION_SPEAKERS
                   and u.id.split("/", 2)[2] not in SAMPLE_PROMPTS]  # fmt: skip
    rest = [u for u in utterances if u.speaker not in TEST_SPEAKERS | CALIBRATION_SPEAKERS]
    rng = random.Random(0)
    dev_ids = {u.id for u in rng.sample(rest, round(DEV_SHARE * len(rest)))}
    parts = {"train": [u for u in rest if u.id not in dev_ids], "dev": [u for u in rest if u.id in dev_ids],
             "calibration": calibration, "test": test}  # fmt: skip
    for name, part in parts.items():
        write_manifest(out / f"{name}.jsonl", part)
        print(f"{name}: {len(part)} clips, speakers {sorted({u.speaker for u in part})}")


if __name__ == "__main__":
    main()

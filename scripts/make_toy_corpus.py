"""Write a toy corpus (espeak-ng speech, 3 languages x 8 voices x 4 sentences) and its manifests.

Usage: python scripts/make_toy_corpus.py data/toy

The tests' corpus (tests/toy.py) has 4 voices, one for testing: 12 test clips cannot show any model
above chance with a 95 % interval. This one uses the same sentences with 8 voices (4 train, 2 dev,
2 test: every dev and test voice unseen in training), so the README's toy route ends with a bundle
whose card shows what it learned. The manifests name the clips relative to themselves.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from toy import make_toy_corpus  # noqa: E402

VOICES = {"v1": "+m1", "v2": "+f2", "v3": "+m3", "v4": "+f4", "v5": "+m5", "v6": "+f1", "v7": "+m2", "v8": "+f3"}
SPLITS = {"v1": "train", "v2": "train", "v5": "train", "v6": "train", "v3": "dev", "v8": "dev",
          "v4": "test", "v7": "test"}  # fmt: skip

if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "data/toy")
    for split, path in make_toy_corpus(target, VOICES, SPLITS).items():
        print(f"{split}: {path}")

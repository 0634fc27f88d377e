"""Write the toy corpus of the tests (espeak-ng speech, 3 languages x 4 voices) and its manifests.

Usage: python scripts/make_toy_corpus.py data/toy
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from toy import make_toy_corpus  # noqa: E402

if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "data/toy")
    for split, path in make_toy_corpus(target).items():
        print(f"{split}: {path}")

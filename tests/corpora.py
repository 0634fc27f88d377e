"""Miniature corpus trees in every supported layout, with generated audio."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np
import soundfile as sf

from audiofactory import speechlike

CLIP_S = 0.4
# The real corpora staged beside every checkout of this project (../shared/corpora), which a clone
# alone does not have: tests that read them are marked `needs_shared("<corpus>")` (conftest.py skips them).
SHARED_CORPORA = Path(__file__).resolve().parents[2] / "shared" / "corpora"


def clip(path: Path, rate: int = 16000, seed: int = 0, fmt: str | None = None, subtype: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, speechlike(CLIP_S, rate, seed=seed), rate, format=fmt, subtype=subtype)
    return path


def folder_tree(root: Path) -> Path:
    for n, (label, speaker) in enumerate([("en", "s1"), ("en", "s2"), ("fr", "s3")]):
        i = n % 2
        clip(root / label / speaker / f"utt{i}.wav", seed=n)
        clip(root / label / speaker / "more" / f"utt{i}.flac", seed=n + 10)
    (root / "en" / "notes.txt").write_text("not audio")
    return root


def write_tsv(path: Path, rows: list[dict], delimiter: str = "\t") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]), delimiter=delimiter)
        writer.writeheader()
        writer.writerows(rows)
    return path


def commonvoice_tree(root: Path) -> Path:
    clips = [("c1.mp3", "spkA", "female_feminine", "England English"), ("c2.mp3", "spkA", "female_feminine", ""),
             ("c3.mp3", "spkB", "male_masculine", "Scottish English"), ("c4.mp3", "spkC", "", "India")]  # fmt: skip
    rows = []
    for i, (name, speaker, gender, accent) in enumerate(clips):
        clip(root / "clips" / name, rate=16000, seed=i, fmt="MP3", subtype="MPEG_LAYER_III")
        rows.append({"client_id": speaker, "path": name, "sentence": f"sentence {i}", "up_votes": "2",
                     "down_votes": "0", "age": "twenties", "gender": gender, "accents": accent,
                     "locale": "en"})  # fmt: skip
    write_tsv(root / "validated.tsv", rows)
    write_tsv(root / "train.tsv", rows[:2])
    write_tsv(root / "dev.tsv", rows[2:3])
    write_tsv(root / "test.tsv", rows[3:])
    write_tsv(root / "clip_durations.tsv", [{"clip": c[0], "duration[ms]": "400"} for c in clips[:3]])
    return root


def voxlingua_tree(root: Path) -> Path:
    clip(root / "ar" / "AbCdEfGhIjK__U__S12---0001.000-0005.000.wav", seed=1)
    clip(root / "ar" / "AbCdEfGhIjK__U__S13---0010.000-0012.500.wav", seed=2)
    clip(root / "de" / "ZyXwVuTsRqP__U__S1---0002.000-0004.000.wav", seed=3)
    return root


def adi17_tree(root: Path) -> Path:
    clip(root / "train" / "EGY" / "vidEGY01_000100-000500.wav", seed=1)
    clip(root / "train" / "LEB" / "vidLEB01_000100-000500.wav", seed=2)
    clip(root / "dev" / "vidSYR09_000000-000400.wav", seed=3)
    clip(root / "test" / "vidKSA07_000000-000400.wav", seed=4)
    (root / "dev" / "dev.txt").write_text("vidSYR09_000000-000400 SYR\n")
    (root / "test_label.txt").write_text("vidKSA07_000000-000400\tKSA\n")
    return root


def timit_tree(root: Path) -> Path:
    clip(root / "TRAIN" / "DR1" / "FCJF0" / "SA1.WAV", fmt="NIST", subtype="PCM_16")
    (root / "TRAIN" / "DR1" / "FCJF0" / "SA1.PHN").write_text("0 3050 h#\n")
    clip(root / "TEST" / "DR7" / "MDAB0" / "SI1039.WAV", seed=2, fmt="NIST", subtype="PCM_16")
    clip(root / "nltk" / "dr3-mxyz0" / "sx11.wav", seed=3)
    return root


def asterisk_tree(root: Path) -> Path:
    """The Debian layout in small: voice folders, symlinked aliases, GSM prompt folders."""
    for n, folder in enumerate(("en_US_f_Allison", "es_MX_f_Allison", "it_IT_m_Carlo", "it_IT_f_Menardi")):
        clip(root / folder / "vm-intro.wav", rate=8000, seed=2 * n)
        clip(root / folder / "digits" / "1.wav", rate=8000, seed=2 * n + 1)
        clip(root / folder / "silence" / "1.wav", rate=8000, seed=99)
    for n, folder in enumerate(("es", "fr")):
        clip(root / folder / "vm-intro.gsm", rate=8000, seed=20 + n, fmt="RAW", subtype="GSM610")
        clip(root / folder / "digits" / "2.gsm", rate=8000, seed=30 + n, fmt="RAW", subtype="GSM610")
    os.symlink("en_US_f_Allison", root / "en")
    os.symlink("it_IT_m_Carlo", root / "it")
    (root / "digits").mkdir()
    os.symlink("../es/digits", root / "digits" / "es")
    return root


def shared_tree(root: Path) -> Path:
    rows = []
    for i, (label, speaker, gender) in enumerate([("DR1", "fvmh0", "F"), ("DR1", "mcpm0", "M"), ("DR2", "faem0", "F")]):
        rel = f"audio/{label.lower()}/{speaker}_sa1.flac"
        clip(root / rel, seed=i)
        rows.append({"path": rel, "label": label, "speaker": speaker, "gender": gender,
                     "duration_s": str(CLIP_S), "source_file": f"orig/{speaker}.wav"})  # fmt: skip
    write_tsv(root / "manifest.csv", rows, delimiter=",")
    return root


def random_bytes(path: Path, n: int = 3000) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(np.random.default_rng(0).bytes(n))
    return path

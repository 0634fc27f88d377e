"""Miniatures of the Arabic dialect corpora, with generated audio: the arabic_dialects_research
layout (three sub-folders with manifest.csv) and ADI-17 as released (train_segments/, dev_segments/,
test_segments/, adi17_official_*_label.txt). No real clip is ever copied here."""

from __future__ import annotations

from pathlib import Path

from audiofactory import espeak
from corpora import CLIP_S, clip, write_tsv

# (subset, corpus label, speaker column, file stem); episode e2 carries two labels (a talk show)
RESEARCH_ROWS = [
    ("adi5-badrex", "EGY", "prog_e1", "e1__0_10"), ("adi5-badrex", "EGY", "prog_e2", "e2__0_10"),
    ("adi5-badrex", "LAV", "prog_e2", "e2__20_30"), ("adi5-badrex", "LAV", "prog_e3", "e3__0_10"),
    ("adi5-badrex", "GLF", "prog_e4", "e4__0_10"), ("adi5-badrex", "GLF", "prog_e5", "e5__0_10"),
    ("adi5-badrex", "MSA", "prog_e6", "e6__0_10"), ("adi5-badrex", "MSA", "prog_e7", "e7__0_10"),
    ("adi5-badrex", "NOR", "prog_e8", "e8__0_10"), ("adi5-badrex", "NOR", "prog_e9", "e9__0_10"),
    ("adi5-badrex", "NOR", "prog_e9", "e9__50_60"), ("adi5-badrex", "EGY", "prog_e10", "e10__0_10"),
    ("adi5-badrex", "LAV", "prog_e11", "e11__0_10"), ("adi5-badrex", "GLF", "prog_e12", "e12__0_10"),
    ("adi5-badrex", "MSA", "prog_e13", "e13__0_10"), ("adi5-badrex", "NOR", "prog_e14", "e14__0_10"),
    *[("adi-qcri-maher", c, f"unknown_{c}000001", f"{c}000001") for c in ("EGY", "GLF", "LAV", "MSA", "NOR")],
    ("madis5-ziad", "EGY", "unknown_aaa", "aaa"), ("madis5-ziad", "GLF", "unknown_bbb", "bbb"),
    ("madis5-ziad", "LEV", "unknown_ccc", "ccc"), ("madis5-ziad", "MAG", "unknown_ddd", "ddd"),
]  # fmt: skip


def arabic_research_tree(root: Path) -> Path:
    """The arabic_dialects_research layout in small: <subset>/manifest.csv and audio/<LABEL>/*.flac."""
    rows: dict[str, list[dict]] = {}
    for seed, (subset, label, speaker, stem) in enumerate(RESEARCH_ROWS):
        rel = f"audio/{label}/{stem}.flac"
        clip(root / subset / rel, seed=seed)
        rows.setdefault(subset, []).append(
            {
                "path": rel,
                "label": label,
                "speaker": speaker,
                "duration_s": str(CLIP_S),
                "source_file": f"orig/{stem}.wav",
            }
        )
    for subset, listing in rows.items():
        write_tsv(root / subset / "manifest.csv", listing, delimiter=",")
        (root / subset / "SOURCE.md").write_text(f"# {subset} (generated miniature)\n")
    return root


ADI17 = ("ALG", "EGY", "IRA", "JOR", "KSA", "KUW", "LEB", "LIB", "MAU", "MOR", "OMA", "PAL", "QAT", "SUD", "SYR",
         "UAE", "YEM")  # fmt: skip
SENTENCES = ("مرحبا كيف حالك اليوم", "ذهبت إلى السوق في الصباح", "الطقس جميل في المدينة")
VOICES = ("+m1", "+f2", "+m3")


def adi17_release_tree(root: Path, speech: bool = False) -> Path:
    """ADI-17 as released: two training videos per dialect, one dev and one test video (other
    videos), YouTube-style ids that hold `_` and `-`. `speech`: espeak-ng Arabic instead of
    generated signals, for a training run."""

    def make(path: Path, n: int) -> None:
        if speech:
            path.parent.mkdir(parents=True, exist_ok=True)
            espeak(SENTENCES[n % len(SENTENCES)], path, voice="ar" + VOICES[n % len(VOICES)])
        else:
            clip(path, seed=n)

    n = 0
    for split in ("dev", "test"):
        (root / f"{split}_segments").mkdir(parents=True, exist_ok=True)
    labels = {"dev": ["id label"], "test": ["id label"]}
    for code in ADI17:
        for video in ("a_1", "b-2"):
            make(root / "train_segments" / code / f"{code}{video}_000100-000500.wav", n)
            n += 1
        for split in ("dev", "test"):
            utt = f"{split}_{code}-x_000000-000400"
            make(root / f"{split}_segments" / f"{utt}.wav", n)
            labels[split].append(f"{utt} {code}")
            n += 1
    for split, lines in labels.items():
        (root / f"adi17_official_{split}_label.txt").write_text("\n".join(lines) + "\n")
    return root

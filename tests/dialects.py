"""A toy dialect corpus spoken by espeak-ng: English in three accents (British, American, Scottish)
x 4 voices x 4 sentences, with the toy corpus's voice splits (voices 1-2 train, 3 dev, 4 test), and
the dialect bundles the hierarchical-analysis tests train on it in seconds. Its taxonomy's top
node, `en`, is a label of the toy language bundles, so a dialect bundle trained here composes with
them (scoring/dialects.py)."""

from __future__ import annotations

from pathlib import Path

from audiofactory import espeak
from dialectid.data import Utterance, write_manifest
from dialectid.scoring import DecisionConfig, ScoringConfig
from toy import SENTENCES, SPLITS, VOICES, concatenate, write_config

# label -> espeak voice ("en" is British English; "en-gb" ignores the +variant that makes the voices)
ACCENTS = {"en-GB": "en", "en-US": "en-us", "en-GB-scotland": "en-gb-scotland"}
TREE = {"en": list(ACCENTS)}
STATS_FEATURES = {"kind": "mfcc_sdc", "n_mels": 24, "n_ceps": 7}  # as the toy stats language bundle's


# The toy language model gives the unseen US voice 48 % English: its own 0.5 line would call that
# low_confidence, and a dialect is then never named. The tests that need an "ok" language lower it.
LENIENT = ScoringConfig(decision=DecisionConfig(low_confidence=0.4))


def make_accent_corpus(root: Path) -> dict[str, Path]:
    """Write the clips and train/dev/test manifests; returns the manifest paths."""
    rows: dict[str, list[Utterance]] = {"train": [], "dev": [], "test": []}
    for label, voice in ACCENTS.items():
        for name, variant in VOICES.items():
            for i, text in enumerate(SENTENCES["en"]):
                path = root / "audio" / label / name / f"s{i}.wav"
                path.parent.mkdir(parents=True, exist_ok=True)
                espeak(text, path, voice=voice + variant)
                rows[SPLITS[name]].append(Utterance(
                    id=f"{label}/{name}/s{i}", path=str(path), label=label, language="en",
                    speaker=f"{label}-{name}", gender="f" if "f" in variant else "m", duration_s=2.0,
                    channel="wideband", source="espeak"))  # fmt: skip
    manifests = {}
    for split, utterances in rows.items():
        manifests[split] = root / f"{split}.jsonl"
        write_manifest(manifests[split], utterances)
    return manifests


def train_dialect_bundle(manifests: dict[str, Path], folder: Path, family: str, **sections) -> Path:
    """A dialect bundle on the accent corpus: `family` 'stats-logreg' (seconds) or 'whisper-backend'."""
    from dialectid.config import load_config
    from dialectid.train.config import TrainConfig
    from dialectid.train.trainer import train

    if family == "stats-logreg":
        sections.setdefault("features", STATS_FEATURES)
    sections = {"taxonomy": {"tree": TREE}, **sections}
    folder.mkdir(parents=True, exist_ok=True)
    config = write_config(folder / "config.yaml", manifests, family, folder / "runs", **sections)
    return train(load_config(config, TrainConfig)).bundle


def accent_recording(manifests: dict[str, Path], label: str, folder: Path, voice: str = "v4") -> Path:
    """The four test sentences of one accent and voice joined into one recording (~10 s of speech)."""
    audio = manifests["train"].parent / "audio" / label / voice
    folder.mkdir(parents=True, exist_ok=True)
    return concatenate(sorted(audio.glob("*.wav")), folder / f"{label}-{voice}.wav")

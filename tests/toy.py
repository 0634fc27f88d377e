"""A toy language-ID corpus spoken by espeak-ng: 3 languages x 4 voices x 4 sentences.

Voices 1-2 train, voice 3 is dev, voice 4 test, so every test speaker is unseen in training.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from audiofactory import espeak
from dialectid.data import Utterance, write_manifest
from dialectid.models import model_class

SENTENCES = {
    "en": ["The weather is fine today.", "Please open the window.", "My brother works in the city.",
           "We bought fresh bread at the market."],
    "de": ["Das Wetter ist heute schön.", "Bitte öffne das Fenster.", "Mein Bruder arbeitet in der Stadt.",
           "Wir kauften frisches Brot auf dem Markt."],
    "es": ["El tiempo está bien hoy.", "Por favor abre la ventana.", "Mi hermano trabaja en la ciudad.",
           "Compramos pan fresco en el mercado."],
}  # fmt: skip
VOICES = {"v1": "+m1", "v2": "+f2", "v3": "+m3", "v4": "+f4"}
SPLITS = {"v1": "train", "v2": "train", "v3": "dev", "v4": "test"}
TREE = {"germanic": {"english": ["en"], "german": ["de"]}, "romance": {"spanish": ["es"]}}


def make_toy_corpus(root: Path, voices: dict[str, str] = VOICES, splits: dict[str, str] = SPLITS) -> dict[str, Path]:
    """Write the clips and train/dev/test manifests; returns the manifest paths."""
    rows: dict[str, list[Utterance]] = {"train": [], "dev": [], "test": []}
    for language, sentences in SENTENCES.items():
        for voice, variant in voices.items():
            for i, text in enumerate(sentences):
                path = root / "audio" / language / voice / f"s{i}.wav"
                path.parent.mkdir(parents=True, exist_ok=True)
                espeak(text, path, voice=language + variant)
                rows[splits[voice]].append(Utterance(
                    id=f"{language}/{voice}/s{i}", path=str(path), label=language, language=language,
                    speaker=f"{language}-{voice}", gender="f" if "f" in variant else "m", duration_s=2.0,
                    channel="wideband", source="espeak"))  # fmt: skip
    return {split: _written(root / f"{split}.jsonl", utts) for split, utts in rows.items()}


def _written(path: Path, utts: list[Utterance], base: Path | None = None) -> Path:
    write_manifest(path, utts, source_base=base)
    return path


def write_config(path: Path, manifests: dict[str, Path], model_name: str, runs: Path, **sections) -> Path:
    config = {
        "name": f"toy-{model_name}",
        "data": {split: str(p) for split, p in manifests.items()},
        "taxonomy": {"tree": TREE},
        "model": {"name": model_name, "args": {}},
        "training": {"epochs": 1, "batch_seconds": 20, "crop_s": [1.0, 1.5], "threads": 1},
        "decision": {"min_speech_s": 1.0},  # the clips hold 1-2.5 s of speech
        "output": {"runs_dir": str(runs)},
    }
    name = sections.get("model", {}).get("name", model_name)
    if model_class(name).input == "features":
        config["features"] = {"kind": "fbank", "n_mels": 24}
    for key, value in sections.items():
        if key == "features" and "features" not in config:
            continue  # a model that reads audio takes no features section
        config[key] = {**config.get(key, {}), **value} if isinstance(value, dict) else value
    path.write_text(yaml.safe_dump(config))
    return path


def without_label(manifests: dict[str, Path], label: str, folder: Path) -> dict[str, Path]:
    """The same splits with one language left out (to test speech from an unknown class)."""
    from dialectid.data import read_manifest

    folder.mkdir(parents=True, exist_ok=True)
    kept = {}
    for split, path in manifests.items():
        source = read_manifest(path)
        kept[split] = _written(folder / f"{split}.jsonl", [u for u in source if u.label != label], source.base)
    return kept


def concatenate(paths: list[Path], out: Path, pause_s: float = 0.4, rate: int = 22050) -> Path:
    """Clips joined with short pauses of faint noise into one recording."""
    import numpy as np
    import soundfile as sf

    rng = np.random.default_rng(len(paths))
    parts = []
    for path in paths:
        audio, _ = sf.read(path, dtype="float32")
        parts += [audio, rng.normal(0, 1e-4, int(pause_s * rate)).astype(np.float32)]
    sf.write(out, np.concatenate(parts), rate)
    return out

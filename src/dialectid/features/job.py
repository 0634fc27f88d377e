"""Extract the features of every utterance in a manifest into the cache."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from dialectid.audio import AudioError, IngestConfig, load_recording
from dialectid.audio.source import sha256_file
from dialectid.config import StrictModel
from dialectid.data.manifest import Manifest, Utterance
from dialectid.features.cache import FeatureCache
from dialectid.features.config import FeatureConfig
from dialectid.features.extract import extract


class FeatureJob(StrictModel):
    """The YAML of `dialectid features extract --config`: a `features` section."""

    features: FeatureConfig = FeatureConfig()


@dataclass(frozen=True)
class Outcome:
    utterance: Utterance
    status: str  # "extracted" | "cached" | "error"
    frames: int = 0
    error: str = ""


def features_for(
    path: str | os.PathLike[str], config: FeatureConfig, cache: FeatureCache | None = None
) -> tuple[np.ndarray, bool]:
    """(features, came from the cache) for one file. Raises `AudioError` for bad files."""
    try:
        digest = sha256_file(path) if cache is not None else None
    except OSError:
        digest = None  # let load_recording give the precise, typed error
    if cache is not None and digest is not None and (hit := cache.get(digest)) is not None:
        return hit, True
    recording = load_recording(path, IngestConfig(sample_rate=config.sample_rate, channel_policy=config.channel_policy))
    features = extract(recording.samples(), config)
    if cache is not None:
        cache.put(recording.facts.sha256, features)
    return features, False


def extract_manifest(
    manifest: Manifest,
    config: FeatureConfig,
    cache: FeatureCache,
    progress: Callable[[], None] = lambda: None,
) -> Iterator[Outcome]:
    """Features for each utterance; a bad file becomes an `error` outcome and the job goes on."""
    for utt in manifest:
        try:
            features, cached = features_for(manifest.path_of(utt), config, cache)
            yield Outcome(utt, "cached" if cached else "extracted", len(features))
        except AudioError as error:
            yield Outcome(utt, "error", error=error.message)
        progress()

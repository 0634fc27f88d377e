"""Turn manifests into whole-clip model inputs for fitting: cached features, or signals at the
rate the model's input contract names."""

from __future__ import annotations

import os
from collections.abc import Callable

import numpy as np

from dialectid.audio import AudioError, IngestConfig, load_recording
from dialectid.data import Manifest, ManifestError
from dialectid.features.cache import FeatureCache
from dialectid.features.job import features_for
from dialectid.models.base import Clips
from dialectid.models.contract import InputContract


def load_signal(path: str | os.PathLike[str], contract: InputContract, channel_policy: str | int = "mean"
                ) -> np.ndarray:  # fmt: skip
    config = IngestConfig(sample_rate=contract.sample_rate, channel_policy=channel_policy)
    return load_recording(path, config).samples()


def load_clips(
    manifest: Manifest,
    labels: list[str],
    contract: InputContract,
    cache: FeatureCache | None,
    advance: Callable[[], None] = lambda: None,
) -> Clips:
    """Inputs, target indices and durations of every utterance; a bad file stops training with
    its message (a training set must be clean: fix or drop the file)."""
    index = {label: i for i, label in enumerate(labels)}
    inputs, targets, durations, groups, sources = [], [], [], [], []
    for utt in manifest:
        path = manifest.path_of(utt)
        try:
            if contract.features is not None:
                data = features_for(path, contract.features, cache)[0]
            else:
                data = load_signal(path, contract)
        except AudioError as error:
            raise ManifestError(f"{error.message} (utterance {utt.id!r})") from None
        inputs.append(data)
        targets.append(index[utt.label])
        durations.append(utt.duration_s or 0.0)
        groups.append(utt.speaker or utt.id)
        sources.append(source_of(utt.source))
        advance()
    return Clips(inputs, np.array(targets, dtype=np.int64), np.array(durations), None, np.array(groups),
                 np.array(sources))  # fmt: skip


def source_of(source: str | None) -> str:
    """The source a clip is checked under: its corpus, with the asterisk voices as one source."""
    if not source:
        return "unknown source"
    return "asterisk voices" if source.startswith("asterisk:") else source.removeprefix("shared:")

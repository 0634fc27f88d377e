"""A feature cache on disk, keyed by (audio sha256, feature-config digest).

Entries are `.npy` files read with `allow_pickle=False`. Each is written to a temporary file in
the same folder and moved into place with an atomic rename, so a reader sees either no entry
or a complete one, even while several processes write the same entry at once.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from dialectid.features.config import FeatureConfig
from dialectid.paths import atomic_write


class FeatureCache:
    def __init__(self, root: str | os.PathLike[str], config: FeatureConfig) -> None:
        self.root = Path(root)
        self.config = config
        self.folder = self.root / config.digest()

    def path(self, sha256: str) -> Path:
        return self.folder / sha256[:2] / f"{sha256}.npy"

    def get(self, sha256: str) -> np.ndarray | None:
        """The cached features, or None if absent or unreadable (then recompute and `put`)."""
        try:
            features = np.load(self.path(sha256), allow_pickle=False)
        except (OSError, ValueError):
            return None
        if features.ndim != 2 or features.shape[1] != self.config.dim:
            return None
        return features

    def put(self, sha256: str, features: np.ndarray) -> Path:
        target = self.path(sha256)
        target.parent.mkdir(parents=True, exist_ok=True)
        self._describe()
        atomic_write(target, lambda stream: np.save(stream, np.ascontiguousarray(features, np.float32)))
        return target

    def _describe(self) -> None:
        """config.json beside the entries says which settings made them."""
        description = self.folder / "config.json"
        if not description.exists():
            text = json.dumps(self.config.model_dump(), indent=2).encode()
            atomic_write(description, lambda stream: stream.write(text))

"""The model registry: each model is one module, registered by name."""

from __future__ import annotations

import importlib

from dialectid.errors import ConfigError
from dialectid.models.base import MODELS, LidModel

# name -> the module that registers it; a module is imported only when one of its models is used,
# so scoring with the Whisper back-end never loads torch.
MODEL_MODULES = {
    "stats-logreg": "classical", "gmm": "classical", "xvector": "neural", "ecapa": "neural",
    "embedding-backend": "embedding", "whisper-backend": "whisper", "whisper-lid": "whisper",
    "whisper-fusion": "whisper",
}  # fmt: skip


def model_class(name: str) -> type[LidModel]:
    """The model registered as `name`; an unknown name lists the known ones."""
    if name not in MODEL_MODULES:
        raise ConfigError(f"unknown model {name!r}; known models: {', '.join(sorted(MODEL_MODULES))}")
    importlib.import_module(f"dialectid.models.{MODEL_MODULES[name]}")
    return MODELS[name]

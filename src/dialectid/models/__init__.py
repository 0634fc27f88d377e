"""The model registry: each model is one module, registered by name."""

from __future__ import annotations

import importlib

from dialectid.errors import ConfigError
from dialectid.models.base import MODELS, LidModel

_MODULES = ("classical", "neural", "embedding", "whisper")


def model_class(name: str) -> type[LidModel]:
    """The model registered as `name`; an unknown name lists the known ones."""
    for module in _MODULES:
        importlib.import_module(f"dialectid.models.{module}")
    if name not in MODELS:
        raise ConfigError(f"unknown model {name!r}; known models: {', '.join(sorted(MODELS))}")
    return MODELS[name]

"""The model registry: every model family under its name, in one table.

Adding a model family is one module and one line here. A module is imported only when one of its
models is used; scoring never loads torch (networks are trained with it, and scored from ONNX).
"""

from __future__ import annotations

import importlib

from dialectid.errors import ConfigError
from dialectid.models.base import LidModel

# name -> "module.Class" under dialectid.models; the class's `name` is the same string
MODELS = {
    "stats-logreg": "classical.StatsLogReg",
    "gmm": "classical.Gmm",
    "xvector": "neural.XVectorModel",
    "ecapa": "neural.EcapaModel",
    "embedding-backend": "embedding.EmbeddingBackendModel",
    "whisper-backend": "whisper.WhisperBackend",
    "whisper-lid": "whisper.WhisperLid",
    "whisper-fusion": "whisper.WhisperFusion",
}


def model_class(name: str) -> type[LidModel]:
    """The model registered as `name`; an unknown name lists the known ones."""
    if name not in MODELS:
        raise ConfigError(f"unknown model {name!r}; known models: {', '.join(sorted(MODELS))}")
    module, _, cls = MODELS[name].rpartition(".")
    return getattr(importlib.import_module(f"dialectid.models.{module}"), cls)

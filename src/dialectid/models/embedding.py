"""`embedding-backend`: embeddings from a trained x-vector/ECAPA bundle + LDA + back-end.

For adapting to new dialects with a few hours of data: the network stays fixed, only the
back-end learns. The network's ONNX graph is copied into this bundle, so it stands alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field

from dialectid.config import StrictModel
from dialectid.errors import ConfigError
from dialectid.models.backend import EmbeddingBackend
from dialectid.models.base import Clips, FitContext, LidModel
from dialectid.models.neural import EcapaModel, NetworkModel, XVectorModel


class EmbeddingBackendArgs(StrictModel):
    network: str = Field(description="path of a trained xvector or ecapa bundle (when training)")
    network_model: Literal["xvector", "ecapa"] | None = None  # filled in from that bundle
    network_args: dict[str, Any] | None = None
    network_labels: list[str] | None = None
    backend: Literal["logreg", "gaussian"] = "logreg"
    lda_dim: int | None = Field(None, ge=1)


class EmbeddingBackendModel(LidModel):
    """Network embeddings -> LDA -> logistic regression or Gaussian back-end."""

    name = "embedding-backend"
    Args = EmbeddingBackendArgs
    args: EmbeddingBackendArgs
    network: NetworkModel
    backend: EmbeddingBackend

    def fit(self, train: Clips, dev: Clips | None, context: FitContext) -> EmbeddingBackendModel:
        from dialectid.models.bundle import load_model

        source = load_model(self.args.network)
        if not isinstance(source.model, NetworkModel):
            raise ConfigError(f"model.args.network: {self.args.network} is a {source.model.name!r} bundle, "
                              "not an xvector or ecapa one")  # fmt: skip
        if source.features != self.features:
            raise ConfigError("features: must equal the network bundle's feature config "
                              f"({source.features.kind}, {source.features.dim} per frame)")  # fmt: skip
        self.network = source.model
        self.args = self.args.model_copy(update={"network_model": source.model.name,
                                                 "network_args": source.model.args.model_dump(mode="json"),
                                                 "network_labels": source.labels})  # fmt: skip
        self.backend = EmbeddingBackend(len(self.labels), self.args.backend, self.args.lda_dim, seed=context.seed)
        self.backend.fit(self.network.embeddings(train.inputs), train.targets)
        return self

    def scores(self, inputs: Sequence[np.ndarray]) -> np.ndarray:
        return self.backend.scores(self.network.embeddings(inputs))

    def novelty(self, inputs: Sequence[np.ndarray]) -> np.ndarray:
        return self.backend.novelty(self.network.embeddings(inputs))

    def state(self) -> dict[str, np.ndarray]:
        return self.backend.state()

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        self.backend = EmbeddingBackend(len(self.labels))
        self.backend.load_state(state)

    def pack(self, folder: Path) -> dict[str, Any]:
        self.network.pack(folder)
        return super().pack(folder)

    def unpack(self, folder: Path) -> None:
        """The network comes from its graph in the bundle, checked against the args that describe it."""
        if not (self.args.network_model and self.args.network_labels and self.args.network_args):
            raise ValueError("model.args must name the network_model, network_labels and network_args")
        cls = {"xvector": XVectorModel, "ecapa": EcapaModel}[self.args.network_model]
        self.network = cls(self.args.network_labels, self.features, self.args.network_args)
        self.network.unpack(folder)

"""The back-end shared by embedding models: standardise -> LDA -> logistic regression or a
Gaussian classifier with a shared covariance. Fitted with scikit-learn, stored as arrays."""

from __future__ import annotations

from typing import Literal

import numpy as np

from dialectid.models.base import log_softmax
from dialectid.models.classical import usable_scale

_STATE = ("mean_", "scale_", "projection_", "center_", "weight_", "bias_", "class_means_", "known_", "spread_")


class EmbeddingBackend:
    def __init__(self, classes: int, kind: Literal["logreg", "gaussian"] = "logreg", lda_dim: int | None = None,
                 c: float = 1.0, seed: int = 0) -> None:  # fmt: skip
        self.classes, self.kind, self.lda_dim, self.c, self.seed = classes, kind, lda_dim, c, seed

    def fit(self, embeddings: np.ndarray, targets: np.ndarray) -> EmbeddingBackend:
        from sklearn.discriminant_analysis import LinearDiscriminantAnalysis  # fitting only, see classical.py
        from sklearn.linear_model import LogisticRegression

        x = embeddings.astype(np.float64)
        self.mean_, self.scale_ = x.mean(axis=0), usable_scale(x.std(axis=0))
        z = (x - self.mean_) / self.scale_
        present = np.unique(targets)
        dim = min(self.lda_dim or len(present) - 1, len(present) - 1, z.shape[1])
        if dim >= 1 and len(present) > 1:
            lda = LinearDiscriminantAnalysis(solver="eigen", shrinkage="auto").fit(z, targets)
            self.projection_ = lda.scalings_[:, :dim]
            self.center_ = np.zeros(z.shape[1])  # z is already centred
        else:
            self.projection_, self.center_ = np.eye(z.shape[1]), np.zeros(z.shape[1])
        y = (z - self.center_) @ self.projection_
        self.class_means_ = np.zeros((self.classes, y.shape[1]))
        self.class_means_[present] = np.stack([y[targets == c].mean(axis=0) for c in present])
        self.known_ = np.isin(np.arange(self.classes), present).astype(np.uint8)
        residual = y - self.class_means_[targets]
        self.spread_ = usable_scale(residual.std(axis=0))
        self.weight_ = np.zeros((self.classes, y.shape[1]))
        self.bias_ = np.full(self.classes, -30.0)  # classes without training data are never likely
        if self.kind == "gaussian":
            means = np.stack([y[targets == c].mean(axis=0) for c in present])
            centred = y - means[np.searchsorted(present, targets)]
            precision = np.linalg.pinv(np.cov(centred.T).reshape(y.shape[1], y.shape[1]) + 1e-6 * np.eye(y.shape[1]))
            self.weight_[present] = means @ precision
            self.bias_[present] = -0.5 * np.einsum("cd,de,ce->c", means, precision, means)
        else:
            classifier = LogisticRegression(C=self.c, max_iter=3000, random_state=self.seed).fit(y, targets)
            coef, intercept = classifier.coef_, classifier.intercept_
            if len(present) == 2:
                coef, intercept = np.vstack([-coef / 2, coef / 2]), np.array([-intercept[0] / 2, intercept[0] / 2])
            self.weight_[present], self.bias_[present] = coef, intercept
        return self

    def _project(self, embeddings: np.ndarray) -> np.ndarray:
        return ((embeddings.astype(np.float64) - self.mean_) / self.scale_ - self.center_) @ self.projection_

    def scores(self, embeddings: np.ndarray) -> np.ndarray:
        return log_softmax(self._project(embeddings) @ self.weight_.T + self.bias_)

    def novelty(self, embeddings: np.ndarray) -> np.ndarray:
        """RMS distance, in within-class standard deviations, to the nearest class mean."""
        y = self._project(embeddings)
        means = self.class_means_[self.known_.astype(bool)]
        distance = (((y[:, None, :] - means[None]) / self.spread_) ** 2).mean(axis=2)
        return np.sqrt(distance.min(axis=1))

    def state(self, prefix: str = "backend.") -> dict[str, np.ndarray]:
        return {prefix + name.rstrip("_"): getattr(self, name) for name in _STATE}

    def load_state(self, state: dict[str, np.ndarray], prefix: str = "backend.") -> None:
        for name in _STATE:
            setattr(self, name, state[prefix + name.rstrip("_")])

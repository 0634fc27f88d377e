"""The back-end shared by embedding models: standardise -> LDA -> logistic regression or a
Gaussian classifier with a shared covariance. Fitted with scikit-learn, stored as arrays."""

from __future__ import annotations

from typing import Literal

import numpy as np
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.linear_model import LogisticRegression

from dialectid.models.base import log_softmax
from dialectid.models.classical import usable_scale


class EmbeddingBackend:
    def __init__(self, classes: int, kind: Literal["logreg", "gaussian"] = "logreg", lda_dim: int | None = None,
                 c: float = 1.0, seed: int = 0) -> None:  # fmt: skip
        self.classes, self.kind, self.lda_dim, self.c, self.seed = classes, kind, lda_dim, c, seed

    def fit(self, embeddings: np.ndarray, targets: np.ndarray) -> EmbeddingBackend:
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

    def scores(self, embeddings: np.ndarray) -> np.ndarray:
        y = ((embeddings.astype(np.float64) - self.mean_) / self.scale_ - self.center_) @ self.projection_
        return log_softmax(y @ self.weight_.T + self.bias_)

    def state(self, prefix: str = "backend.") -> dict[str, np.ndarray]:
        names = ("mean_", "scale_", "projection_", "center_", "weight_", "bias_")
        return {prefix + name.rstrip("_"): getattr(self, name) for name in names}

    def load_state(self, state: dict[str, np.ndarray], prefix: str = "backend.") -> None:
        for name in ("mean_", "scale_", "projection_", "center_", "weight_", "bias_"):
            setattr(self, name, state[prefix + name.rstrip("_")])

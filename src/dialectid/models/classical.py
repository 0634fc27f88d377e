"""Classical back-ends on features: `stats-logreg` and `gmm` (scikit-learn to fit, numpy to score;
scikit-learn is imported only when fitting, which keeps a scoring process about 100 MB smaller).

Their fitted parameters are plain arrays, so a bundle never holds a pickled estimator.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
from pydantic import Field

from dialectid.config import StrictModel
from dialectid.models.base import Clips, FitContext, LidModel, Shape, log_softmax, logsumexp


def usable_scale(std: np.ndarray) -> np.ndarray:
    """Standard deviations to divide by; a dimension constant in training (e.g. feature means after
    utterance CMVN) is left unscaled rather than blown up by a tiny divisor."""
    return np.where(std > 1e-6, std, 1.0)


def utterance_stats(features: np.ndarray) -> np.ndarray:
    """Mean and standard deviation over frames: one vector per clip."""
    if len(features) == 0:
        return np.zeros(2 * features.shape[1], dtype=np.float64)
    return np.concatenate([features.mean(axis=0), features.std(axis=0)]).astype(np.float64)


class StatsLogRegArgs(StrictModel):
    c: float = Field(1.0, gt=0, description="inverse regularisation strength")
    max_iter: int = Field(2000, ge=10)


class StatsLogReg(LidModel):
    """Utterance statistics of the features -> standardisation -> multinomial logistic regression."""

    name = "stats-logreg"
    Args = StatsLogRegArgs
    args: StatsLogRegArgs

    def fit(self, train: Clips, dev: Clips | None, context: FitContext) -> StatsLogReg:
        from sklearn.linear_model import LogisticRegression  # only for fitting: scoring needs numpy alone

        x = np.stack([utterance_stats(f) for f in train.inputs])
        self.mean_ = x.mean(axis=0)
        self.scale_ = usable_scale(x.std(axis=0))
        classifier = LogisticRegression(C=self.args.c, max_iter=self.args.max_iter, random_state=context.seed)
        z = (x - self.mean_) / self.scale_
        classifier.fit(z, train.targets)
        self.class_means_ = np.zeros((len(self.labels), x.shape[1]))
        present = np.unique(train.targets)
        self.class_means_[present] = np.stack([z[train.targets == c].mean(axis=0) for c in present])
        self.known_ = np.isin(np.arange(len(self.labels)), present).astype(np.uint8)
        self.coef_ = np.zeros((len(self.labels), x.shape[1]))
        self.intercept_ = np.full(len(self.labels), -30.0)  # a label absent from training is never likely
        coef, intercept = classifier.coef_, classifier.intercept_
        if len(classifier.classes_) == 2:  # scikit-learn's binary form: one row for class 1
            coef, intercept = np.vstack([-coef / 2, coef / 2]), np.array([-intercept[0] / 2, intercept[0] / 2])
        self.coef_[classifier.classes_] = coef
        self.intercept_[classifier.classes_] = intercept
        return self

    def scores(self, inputs: Sequence[np.ndarray]) -> np.ndarray:
        x = np.stack([utterance_stats(f) for f in inputs])
        return log_softmax(((x - self.mean_) / self.scale_) @ self.coef_.T + self.intercept_)

    def novelty(self, inputs: Sequence[np.ndarray]) -> np.ndarray:
        """RMS distance of the standardised statistics to the nearest class mean."""
        z = (np.stack([utterance_stats(f) for f in inputs]) - self.mean_) / self.scale_
        means = self.class_means_[self.known_.astype(bool)]
        return np.sqrt(((z[:, None, :] - means[None]) ** 2).mean(axis=2).min(axis=1))

    def state(self) -> dict[str, np.ndarray]:
        return {"mean": self.mean_, "scale": self.scale_, "coef": self.coef_, "intercept": self.intercept_,
                "class_means": self.class_means_, "known": self.known_}  # fmt: skip

    def state_shapes(self) -> dict[str, Shape]:
        labels, stats = len(self.labels), 2 * self.features.dim  # mean and std of each feature
        return {"mean": (stats,), "scale": (stats,), "coef": (labels, stats), "intercept": (labels,),
                "class_means": (labels, stats), "known": (labels,)}  # fmt: skip

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        self.mean_, self.scale_ = state["mean"], state["scale"]
        self.coef_, self.intercept_ = state["coef"], state["intercept"]
        self.class_means_, self.known_ = state["class_means"], state["known"]


class GmmArgs(StrictModel):
    components: int = Field(32, ge=1, le=2048)
    max_frames_per_class: int = Field(50_000, ge=100, description="frames sampled per class for fitting")
    covariance: Literal["diag"] = "diag"
    max_iter: int = Field(100, ge=1)


class Gmm(LidModel):
    """One diagonal-covariance GMM per class on frames; a clip's score is its mean frame log-likelihood."""

    name = "gmm"
    Args = GmmArgs
    args: GmmArgs

    def fit(self, train: Clips, dev: Clips | None, context: FitContext) -> Gmm:
        from sklearn.mixture import GaussianMixture

        rng = np.random.default_rng(context.seed)
        dim = train.inputs[0].shape[1]
        k = self.args.components
        self.weights_ = np.full((len(self.labels), k), 1.0 / k)
        self.means_ = np.zeros((len(self.labels), k, dim))
        self.precisions_ = np.ones((len(self.labels), k, dim))
        self.trained_ = np.zeros(len(self.labels), dtype=bool)
        for c in range(len(self.labels)):
            frames = [f for f, t in zip(train.inputs, train.targets, strict=True) if t == c and len(f)]
            if not frames:
                continue
            data = np.concatenate(frames)
            if len(data) > self.args.max_frames_per_class:
                data = data[rng.choice(len(data), self.args.max_frames_per_class, replace=False)]
            gmm = GaussianMixture(min(k, len(data)), covariance_type="diag", max_iter=self.args.max_iter,
                                  random_state=context.seed, reg_covar=1e-3)  # fmt: skip
            gmm.fit(data)
            n = gmm.n_components
            self.weights_[c, :n], self.weights_[c, n:] = gmm.weights_, 0.0
            self.means_[c, :n] = gmm.means_
            self.precisions_[c, :n] = gmm.precisions_
            self.trained_[c] = True
            context.progress(step=c + 1, total=len(self.labels))
        return self

    def scores(self, inputs: Sequence[np.ndarray]) -> np.ndarray:
        return np.stack([self._clip_scores(f) for f in inputs])

    def _clip_scores(self, frames: np.ndarray) -> np.ndarray:
        if len(frames) == 0:
            return np.where(self.trained_, 0.0, -1e4)
        x = frames.astype(np.float64)
        squares = x * x
        log_norm = -0.5 * x.shape[1] * np.log(2 * np.pi)
        out = np.full(len(self.labels), -1e4)
        for c in np.flatnonzero(self.trained_):
            means, precisions = self.means_[c], self.precisions_[c]  # (K, D)
            mahalanobis = squares @ precisions.T - 2 * x @ (means * precisions).T + (means**2 * precisions).sum(axis=1)
            with np.errstate(divide="ignore"):
                log_weights = np.log(self.weights_[c])
            log_det = 0.5 * np.log(precisions).sum(axis=1)
            out[c] = logsumexp(log_weights + log_norm + log_det - 0.5 * mahalanobis, axis=1).mean()
        return out

    def novelty(self, inputs: Sequence[np.ndarray]) -> np.ndarray:
        """Minus the best class's mean frame log-likelihood: low likelihood under every class."""
        return -np.stack([self._clip_scores(f) for f in inputs]).max(axis=1)

    def state(self) -> dict[str, np.ndarray]:
        return {"weights": self.weights_, "means": self.means_, "precisions": self.precisions_,
                "trained": self.trained_.astype(np.uint8)}  # fmt: skip

    def state_shapes(self) -> dict[str, Shape]:
        labels, k, dim = len(self.labels), self.args.components, self.features.dim
        return {"weights": (labels, k), "means": (labels, k, dim), "precisions": (labels, k, dim), "trained": (labels,)}

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        self.weights_, self.means_, self.precisions_ = state["weights"], state["means"], state["precisions"]
        self.trained_ = state["trained"].astype(bool)

"""Calibration: a separate object, fitted on held-out scores after the model.

`logistic` learns one scale shared by all classes and one offset per class (the multiclass
logistic calibration of LRE systems), optionally with a per-class weight on log speech duration;
`temperature` learns the scale alone. The output is log-posteriors over the labels, summing to 1.

>>> import numpy as np
>>> scores = np.array([[4.0, 0.0], [0.0, 4.0], [3.0, 1.0], [1.0, 3.0]])
>>> cal = Calibrator("temperature").fit(scores, np.array([0, 1, 1, 0]))
>>> bool(cal.scale_ < 0.5)  # overconfident scores are flattened
True
"""

from __future__ import annotations

from typing import Any, Literal, get_args

import numpy as np

from dialectid.models.base import log_softmax

CalibrationMethod = Literal["logistic", "temperature", "none"]
METHODS: tuple[str, ...] = get_args(CalibrationMethod)
_L2 = 1e-3  # a little shrinkage keeps offsets finite for classes the dev set hardly has


class Calibrator:
    def __init__(self, method: str = "logistic", duration_covariate: bool = False) -> None:
        if method not in METHODS:
            raise ValueError(f"calibration method must be one of {METHODS}, not {method!r}")
        self.method = method
        self.duration_covariate = duration_covariate

    def fit(self, scores: np.ndarray, targets: np.ndarray, durations: np.ndarray | None = None) -> Calibrator:
        from scipy.optimize import minimize  # fitting only: applying a calibration needs numpy alone

        classes = scores.shape[1]
        self.scale_, self.offset_, self.duration_weight_ = 1.0, np.zeros(classes), np.zeros(classes)
        if self.method == "none":
            return self
        covariate = self._covariate(durations, len(scores))
        use_offsets = self.method == "logistic"
        use_duration = use_offsets and self.duration_covariate

        def unpack(theta: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
            scale = float(np.exp(theta[0]))
            offset = theta[1 : 1 + classes] if use_offsets else np.zeros(classes)
            weight = theta[1 + classes :] if use_duration else np.zeros(classes)
            return scale, offset, weight

        def loss(theta: np.ndarray) -> float:
            scale, offset, weight = unpack(theta)
            logp = log_softmax(scale * scores + offset + covariate[:, None] * weight)
            return -logp[np.arange(len(targets)), targets].mean() + _L2 * (offset @ offset + weight @ weight)

        size = 1 + (classes if use_offsets else 0) + (classes if use_duration else 0)
        result = minimize(loss, np.zeros(size), method="L-BFGS-B")
        self.scale_, self.offset_, self.duration_weight_ = unpack(result.x)
        return self

    def transform(self, scores: np.ndarray, durations: np.ndarray | None = None) -> np.ndarray:
        """Calibrated log-posteriors (N, classes)."""
        covariate = self._covariate(durations, len(scores))
        return log_softmax(self.scale_ * scores + self.offset_ + covariate[:, None] * self.duration_weight_)

    def _covariate(self, durations: np.ndarray | None, n: int) -> np.ndarray:
        if not self.duration_covariate or durations is None:
            return np.zeros(n)
        return np.log(np.maximum(np.asarray(durations, dtype=np.float64), 0.5)) - np.log(10.0)

    def state(self) -> dict[str, np.ndarray]:
        return {"scale": np.array([self.scale_]), "offset": self.offset_, "duration_weight": self.duration_weight_}

    def to_json(self) -> dict[str, Any]:
        return {"method": self.method, "duration_covariate": self.duration_covariate}

    @classmethod
    def from_state(cls, method: str, duration_covariate: bool, state: dict[str, np.ndarray]) -> Calibrator:
        """The calibrator `to_json` and `state` describe."""
        calibrator = cls(method, duration_covariate)
        calibrator.scale_ = float(state["scale"][0])
        calibrator.offset_, calibrator.duration_weight_ = state["offset"], state["duration_weight"]
        return calibrator

"""What every model is: a registered class that turns clips into one score per label.

Models score clips; calibration (a separate object) turns scores into posteriors. Every
model's learned state is a flat dict of numpy arrays, stored in safetensors: nothing is
pickled, and loading runs no code from the bundle.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

import numpy as np
from pydantic import Field, ValidationError

from dialectid.config import StrictModel
from dialectid.errors import ConfigError
from dialectid.features import FeatureConfig

Shape = tuple[int | str, ...]  # an array's sizes; a str names a size several arrays share (an embedding's)
Seconds = Annotated[float, Field(gt=0, le=600)]
THREADS_ENV = "DIALECTID_THREADS"  # batch workers set it to their share of the CPUs


def compute_threads(wanted: int) -> int:
    """Threads for a model's own thread pool: what it asks for, but no more than the CPUs this
    process may run on, nor than $DIALECTID_THREADS. Measured on the Whisper encoder: on one pinned
    core two threads were 7 % slower than one, with the same numbers (reports/benchmarks.md)."""
    usable = len(os.sched_getaffinity(0))
    share = os.environ.get(THREADS_ENV, "")
    if share.isdigit() and int(share) >= 1:
        usable = min(usable, int(share))
    return max(1, min(wanted, usable))


class TrainingConfig(StrictModel):
    """The training config's `training` section: the seed and threads every model fits with, and
    the loop a network trains in (epochs, batches, optimiser, schedule, early stopping)."""

    epochs: int = Field(10, ge=1)
    batch_seconds: float = Field(120.0, gt=0, le=3600, description="a batch holds about this much audio")
    crop_s: tuple[Seconds, Seconds] = Field((2.0, 4.0), description="random training crops, seconds")
    optimizer: Literal["adam", "adamw", "sgd"] = "adam"
    lr: float = Field(1e-3, gt=0, le=10)
    weight_decay: float = Field(1e-4, ge=0, le=1)
    lr_schedule: Literal["constant", "cosine", "step"] = "cosine"
    seed: int = 0
    patience: int = Field(3, ge=1, description="stop after this many epochs without better dev accuracy")
    threads: int = Field(2, ge=1)


@dataclass
class FitContext:
    """What the trainer hands a model besides the data."""

    seed: int = 0
    threads: int = 2
    training: TrainingConfig = field(default_factory=TrainingConfig)  # the loop a network trains in
    run_dir: Path | None = None  # where a network's checkpoints go
    resume: bool = False
    progress: Callable[..., None] = field(default=lambda **_: None)
    log: Callable[[str], None] = field(default=lambda _: None)
    epoch: Callable[[dict[str, Any]], None] = field(default=lambda _: None)  # one metrics row per epoch


@dataclass
class Clips:
    """Training or dev clips: model inputs (feature matrices or 16 kHz signals) and targets."""

    inputs: list[np.ndarray]
    targets: np.ndarray
    durations: np.ndarray
    origins: np.ndarray | None = None  # for windows cut from clips: the index of the clip each came from
    groups: np.ndarray | None = None  # the speaker (or video) of each clip: cross-validation folds keep one whole
    sources: np.ndarray | None = None  # where each clip comes from (corpus, voice, augmented copy): checks per source


class LidModel:
    """Subclasses set `name`, `input` and `Args`, and implement fit / scores / state / load_state."""

    name: ClassVar[str]
    input: ClassVar[Literal["features", "audio"]] = "features"
    Args: ClassVar[type[StrictModel]] = StrictModel
    args: StrictModel  # an instance of `Args`: a subclass states which (`args: ItsArgs`), for the type checker
    zero_shot: ClassVar[bool] = False  # True: nothing is learned from the training clips

    def __init__(self, labels: Sequence[str], features: FeatureConfig, args: dict[str, Any] | None = None) -> None:
        self.labels = list(labels)
        self.features = features
        try:
            self.args = self.Args.model_validate(args or {})
        except ValidationError as err:
            first = err.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise ConfigError(f"model.args.{where}: {first['msg']} (model {self.name!r})") from None

    def fit(self, train: Clips, dev: Clips | None, context: FitContext) -> LidModel:
        raise NotImplementedError

    def scores(self, inputs: Sequence[np.ndarray]) -> np.ndarray:
        """(N, labels) scores; higher means more likely. Each clip is scored on its own, so a
        clip's scores never depend on what else is in the batch."""
        raise NotImplementedError

    def novelty(self, inputs: Sequence[np.ndarray]) -> np.ndarray | None:
        """How unlike every known class each clip is (higher: less like any), or None where the
        model has no such measure. The open-set decision thresholds it."""
        return None

    @property
    def novelty_threshold(self) -> float | None:
        """A threshold the model fixes itself (a class constant, or one learned in `fit` as the
        fusion's detector is), else None: the trainer fits one on held-out clips."""
        return None

    def state(self) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        raise NotImplementedError

    def state_shapes(self) -> dict[str, Shape] | None:
        """The shape of every array `state` returns, from the labels, features and args alone: a
        bundle's arrays are checked against it before `load_state` sees them. None: not declared,
        `load_state` is the only check."""
        return None

    def pack(self, folder: Path) -> dict[str, Any]:
        """Copy into the bundle being written at `folder` what the model needs besides its arrays;
        returns the args as the bundle records them."""
        return self.args.model_dump(mode="json")

    def unpack(self, folder: Path) -> None:
        """The model was read from the bundle `folder`: refuse (ValueError) args no bundle may hold,
        and read paths in them relative to `folder`."""

    def encoder(self) -> dict[str, str] | None:
        """The external encoder the model needs (name, sha256), or None."""
        return None


def log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def logsumexp(values: np.ndarray, axis: int) -> np.ndarray:
    """log(sum(exp(values))) along `axis`, without overflow (numpy only: scipy.special alone costs
    0.15 s of every scoring command's start-up).

    >>> round(float(logsumexp(np.array([[1000.0, 1000.0]]), axis=1)[0]) - 1000.0, 9)  # log 2
    0.693147181
    """
    top = values.max(axis=axis, keepdims=True)
    return (top + np.log(np.exp(values - top).sum(axis=axis, keepdims=True))).squeeze(axis)

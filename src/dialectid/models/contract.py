"""What a bundle reads and how it decides: the one home of both, stored in bundle.json.

`InputContract` says whether the model reads audio or features, at which sample rate, and with
which `FeatureConfig`; training, evaluation and scoring all take the model's input from it.
`DecisionRules` say how windows over the speech become one decision (window length, minimum
speech, the low-confidence and open-set rules); the evaluation written into a bundle used them,
so its figures describe exactly what `dialectid score` does.

>>> InputContract.of("audio", FeatureConfig(sample_rate=8000)).sample_rate
16000
>>> InputContract.of("features", FeatureConfig(sample_rate=8000)).ingest(IngestConfig()).sample_rate
8000
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from dialectid.audio import IngestConfig
from dialectid.config import StrictModel
from dialectid.errors import ConfigError
from dialectid.features import FeatureConfig

AUDIO_RATE = 16000  # models that read audio (Whisper) take 16 kHz


class InputContract(StrictModel):
    kind: Literal["audio", "features"]
    sample_rate: Literal[8000, 16000]
    features: FeatureConfig | None = None

    @model_validator(mode="after")
    def _consistent(self) -> InputContract:
        if (self.kind == "features") != (self.features is not None):
            raise ValueError("a features contract needs a feature config, an audio contract none")
        if self.features is not None and self.features.sample_rate != self.sample_rate:
            raise ValueError("the feature config's sample rate must be the contract's")
        return self

    @classmethod
    def of(cls, kind: str, features: FeatureConfig) -> InputContract:
        """The contract of a model reading `kind` ('audio' or 'features') with `features`."""
        if kind == "audio":
            return cls(kind="audio", sample_rate=AUDIO_RATE)
        return cls(kind="features", sample_rate=features.sample_rate, features=features)

    def ingest(self, base: IngestConfig) -> IngestConfig:
        """`base` (limits, channel policy) at this contract's rate. A rate set explicitly in `base`
        that is not the model's is refused: the model can read nothing else."""
        if "sample_rate" in base.model_fields_set and base.sample_rate != self.sample_rate:
            raise ConfigError(f"ingest.sample_rate {base.sample_rate} conflicts with the model, which reads "
                              f"{self.sample_rate} Hz; leave ingest.sample_rate out of the scoring config")  # fmt: skip
        return base.model_copy(update={"sample_rate": self.sample_rate})

    def model_input(self, samples: np.ndarray, seed: int = 0) -> np.ndarray:
        """What the model scores for a mono signal at `sample_rate`: the signal, or its features."""
        if self.features is None:
            return samples
        from dialectid.features.extract import extract

        return extract(samples, self.features, seed)


class DecisionRules(StrictModel):
    """How one recording's speech becomes one decision; part of the bundle, evaluated with it."""

    window_s: float = Field(4.0, gt=0.5, le=60, description="seconds of speech per window")
    hop_s: float = Field(2.0, gt=0.1, le=60, description="seconds of speech between window starts")
    max_windows: int | None = Field(None, ge=1, le=10_000, description="at most this many windows, evenly spread "
                                    "over the speech (a time budget for long recordings); None: every window")  # fmt: skip
    min_speech_s: float = Field(3.0, ge=0, le=600, description="less net speech: insufficient_speech, no result")
    low_confidence: float = Field(0.5, gt=0, lt=1, description="top probability below this: low_confidence")
    open_set_margin: float = Field(1.0, gt=0, le=100, description="out_of_set when novelty > margin x threshold")

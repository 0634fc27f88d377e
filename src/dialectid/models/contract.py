"""What a bundle reads and how it decides: the one home of both, stored in bundle.json.

`InputContract` says whether the model reads audio or features, at which sample rate, and with
which `FeatureConfig`; training, evaluation and scoring all take the model's input from it.
`DecisionRules` say how windows over the speech become one decision (window length, minimum
speech, the low-confidence and open-set rules); the evaluation written into a bundle used them,
so its figures describe exactly what `dialectid score` does. `BundleDescription` is the typed
schema of a whole bundle.json, `BundleMetrics` of the figures in metrics.json the toolkit reads.

>>> InputContract.of("audio", FeatureConfig(sample_rate=8000)).sample_rate
16000
>>> InputContract.of("features", FeatureConfig(sample_rate=8000)).ingest(IngestConfig()).sample_rate
8000
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import numpy as np
from pydantic import ConfigDict, Field, model_validator

from dialectid.audio import IngestConfig
from dialectid.config import StrictModel
from dialectid.errors import ConfigError
from dialectid.features import FeatureConfig
from dialectid.models.calibration import CalibrationMethod
from dialectid.taxonomy import Taxonomy

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
        if self.kind == "audio" and self.sample_rate != AUDIO_RATE:  # Whisper hears 8 kHz as twice too fast
            raise ValueError(f"a model that reads audio takes {AUDIO_RATE} Hz, not {self.sample_rate}")
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
    open_set_min_speech_s: float = Field(0.0, ge=0, le=600, description="less net speech: a novelty above the "
                                         "threshold gives low_confidence, not out_of_set (too little speech to tell "
                                         "an unknown language from a known one)")  # fmt: skip


class ModelSection(StrictModel):
    name: str  # a registered model; its class checks `args`
    args: dict[str, Any]
    input: Literal["audio", "features"]


class TaxonomySection(StrictModel):
    parents: dict[str, str | None]
    leaves: list[str]

    @model_validator(mode="after")
    def _tree(self) -> TaxonomySection:
        try:
            Taxonomy(self.parents, tuple(self.leaves))
        except ConfigError as err:
            raise ValueError(err.message.removeprefix("taxonomy: ")) from None  # the error names the section
        return self


class CalibrationSection(StrictModel):
    method: CalibrationMethod
    duration_covariate: bool


class EncoderSection(StrictModel):
    name: str
    sha256: str = Field(pattern="^[0-9a-f]{64}$")


class OpenSetSection(StrictModel):
    threshold: float = Field(allow_inf_nan=False)
    quantile: float | None = Field(None, gt=0, lt=1)


class LabelData(StrictModel):
    clips: int = Field(ge=0)
    speakers: int = Field(ge=0)
    hours: float = Field(ge=0, allow_inf_nan=False)


class TrainingData(StrictModel):
    manifests: dict[str, str]
    per_label: dict[str, LabelData]
    speakers: list[str]
    augmentation_copies: int = Field(ge=0)


class BehaviourSection(StrictModel):
    """The posteriors the bundle gave on the probe signals at export (models/behaviour.py)."""

    probes_version: int
    posteriors: dict[str, dict[str, float]]


class BundleDescription(StrictModel):
    """bundle.json: every section typed, unknown keys refused, labels the taxonomy's leaves."""

    format_version: Literal[2]
    toolkit_version: str
    name: str = Field(min_length=1)
    created_at: datetime
    model: ModelSection
    input: InputContract
    decision: DecisionRules
    labels: list[str] = Field(min_length=2)
    taxonomy: TaxonomySection
    features: FeatureConfig | None
    calibration: CalibrationSection
    encoder: EncoderSection | None
    open_set: OpenSetSection | None
    training_data: TrainingData
    behaviour: BehaviourSection | None = None  # None: exported before fingerprints, its behaviour unchecked

    @model_validator(mode="after")
    def _consistent(self) -> BundleDescription:
        leaves, seen = set(self.taxonomy.leaves), set()
        for label in self.labels:
            if label in seen:
                raise ValueError(f"labels: {label!r} appears twice")
            if label not in leaves:
                raise ValueError(f"label {label!r} is not a leaf of the taxonomy")
            seen.add(label)
        if odd := [leaf for leaf in self.taxonomy.leaves if leaf not in seen]:
            raise ValueError(f"taxonomy leaf {odd[0]!r} is not a label")
        if self.model.input != self.input.kind:
            raise ValueError(f"model.input {self.model.input!r} is not the input kind {self.input.kind!r}")
        if self.features != self.input.features:
            raise ValueError("features is not the input contract's feature config")
        return self


class BundleMetrics(StrictModel):
    """The figures of metrics.json that reports and `dialectid model info` show; the rest is free."""

    model_config = ConfigDict(extra="allow")
    n: int | None = None
    coverage: float | None = None
    accuracy: float | None = None
    cavg: float | None = None
    cllr: float | None = None
    speakers_unseen_in_training: bool | None = None

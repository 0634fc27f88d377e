"""The training config: one data-only YAML per experiment, validated into these objects.

Unknown keys are errors; `--set training.epochs=3` overrides; nothing in a config runs code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field

from dialectid.config import StrictModel
from dialectid.features import FeatureConfig
from dialectid.models.base import Seconds, TrainingConfig
from dialectid.models.contract import DecisionRules

Decibels = Annotated[float, Field(ge=-100, le=100)]


class DataConfig(StrictModel):
    train: Path = Field(description="training manifest (JSONL)")
    dev: Path | None = Field(None, description="dev manifest: early stopping and calibration")
    test: Path | None = Field(None, description="test manifest: the evaluation written into the bundle")
    calibration: Path | None = Field(None, description="calibration and open-set threshold manifest, best of voices "
                                     "unseen in training, so confidence is set on new speakers [dev]")  # fmt: skip


class TaxonomyConfig(StrictModel):
    tree: dict[str, Any] | list[str] = Field(description="family -> language -> [dialects]; leaves are the labels")
    out_of_set: bool = Field(False, description="add an 'out_of_set' class, trained on manifest rows with that label")


class ModelConfig(StrictModel):
    name: str = Field(description="registered model name, e.g. stats-logreg, gmm, xvector, ecapa")
    args: dict[str, Any] = Field(default_factory=dict, description="model-specific arguments")


class AugmentationConfig(StrictModel):
    """Training-time only. Each augmented copy draws every enabled effect at random."""

    copies: int = Field(0, ge=0, le=10, description="augmented copies per training clip (0: off)")
    noise_snr_db: tuple[Decibels, Decibels] | None = (5.0, 30.0)
    speeds: list[Annotated[float, Field(ge=0.5, le=2)]] = [0.9, 1.0, 1.1]
    telephone_probability: float = Field(0.5, ge=0, le=1)
    codecs: list[Literal["mulaw", "alaw", "gsm", "amr"]] = ["mulaw", "alaw", "gsm", "amr"]
    gain_db: tuple[Decibels, Decibels] | None = (-6.0, 6.0)
    seed: int = 0


class CalibrationConfig(StrictModel):
    method: Literal["logistic", "temperature", "none"] = "logistic"
    duration_covariate: bool = Field(False, description="let the calibration depend on log speech duration")
    short_crops_s: list[Seconds] = Field(default_factory=list, description="also calibrate on crops of this many "
                                       "seconds from the middle of each calibration recording, so that the duration "
                                       "term learns how much less short speech says")  # fmt: skip


class OutputConfig(StrictModel):
    runs_dir: Path = Path("runs")
    bundle: Path | None = Field(None, description="where to export the bundle [runs/<name>/<time>/bundle]; an "
                                 "existing folder is replaced only with --force")  # fmt: skip
    card_notes: Path | None = Field(None, description="markdown appended to MODEL_CARD.md (data licences, scope)")


class TrainConfig(StrictModel):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    data: DataConfig
    taxonomy: TaxonomyConfig
    features: FeatureConfig | None = Field(None, description="feature models only [fbank defaults]; models that "
                                           "read audio take none")  # fmt: skip
    model: ModelConfig
    augmentation: AugmentationConfig = AugmentationConfig()
    training: TrainingConfig = TrainingConfig()
    calibration: CalibrationConfig = CalibrationConfig()
    decision: DecisionRules = Field(DecisionRules(), description="windows and decision rules, stored in the bundle")
    output: OutputConfig = OutputConfig()

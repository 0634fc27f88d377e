"""Scoring: analyse a recording into an `Analysis`; batch runs on local processes or Ray."""

from dialectid.scoring.analysis import SCHEMA_VERSION, Analysis, LabelProbability, Window
from dialectid.scoring.config import DecisionConfig, ScoringConfig, WindowConfig
from dialectid.scoring.scorer import Scorer

DEFAULT_MODEL = "lid-accurate"


def default_model_path():
    """DIALECTID_MODEL, or the models/lid-accurate bundle shipped with the toolkit."""
    import os
    from pathlib import Path

    from dialectid.errors import DialectidError

    configured = os.environ.get("DIALECTID_MODEL")
    path = Path(configured) if configured else Path(__file__).resolve().parents[3] / "models" / DEFAULT_MODEL
    if not path.is_dir():
        raise DialectidError(f"no default model at {path}; pass a model bundle (--model) or set DIALECTID_MODEL")
    return path


def analyse(path, model=None, config: ScoringConfig | None = None) -> Analysis:
    """Analyse one recording with a bundle (a path or a loaded `Bundle`; default: the shipped model)."""
    from dialectid.models.bundle import Bundle, load_model

    bundle = model if isinstance(model, Bundle) else load_model(model or default_model_path())
    return Scorer(bundle, config).analyse(path)


__all__ = ["SCHEMA_VERSION", "Analysis", "analyse", "default_model_path", "DecisionConfig", "LabelProbability", "Scorer", "ScoringConfig", "Window",
           "WindowConfig"]  # fmt: skip

"""Scoring: analyse a recording into an `Analysis`; batch runs on local processes or Ray."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from dialectid.errors import DialectidError
from dialectid.scoring.analysis import SCHEMA_VERSION, Analysis, LabelProbability, Window
from dialectid.scoring.config import DecisionConfig, ScoringConfig, WindowConfig
from dialectid.scoring.scorer import Scorer

if TYPE_CHECKING:
    from dialectid.models.bundle import Bundle

DEFAULT_MODEL = "lid-accurate"
MODEL_ENV = "DIALECTID_MODEL"  # the bundle to score with when none is given


class NoModelError(DialectidError):
    """No model bundle was given, and none is where the default one is looked for."""


def default_model_path() -> Path:
    """The bundle to score with when none is given: $DIALECTID_MODEL where it is set; else
    `lid-accurate` in $DIALECTID_HOME/models (where an installed toolkit's bundles go), else in the
    models/ folder of the source checkout this package runs from. A `NoModelError` names the
    places it looked."""
    from dialectid.paths import home

    configured = os.environ.get(MODEL_ENV)
    if configured:
        if not Path(configured).is_dir():
            raise NoModelError(f"no default model at {configured} ({MODEL_ENV}); pass a model bundle (--model) "
                               f"or set {MODEL_ENV} to a bundle folder")  # fmt: skip
        return Path(configured)
    places = [home() / "models" / DEFAULT_MODEL, *_checkout_models()]
    found = next((place for place in places if _reachable_folder(place)), None)
    if found is None:
        raise NoModelError(f"no default model: no {DEFAULT_MODEL} bundle in {' or '.join(map(str, places))}; pass "
                           f"a model bundle (--model), set {MODEL_ENV}, or copy one to {places[0]}")  # fmt: skip
    return found


def _reachable_folder(place: Path) -> bool:
    """A folder this user may look into (a data home only root may enter is not one: score goes on)."""
    try:
        return place.is_dir()
    except OSError:
        return False


def _checkout_models() -> list[Path]:
    """models/lid-accurate of the source checkout this package runs from; none for an installed package."""
    from dialectid.paths import checkout_root

    root = checkout_root()
    return [root / "models" / DEFAULT_MODEL] if root else []


def analyse(path: str | os.PathLike[str], model: Bundle | str | os.PathLike[str] | None = None,
            config: ScoringConfig | None = None) -> Analysis:  # fmt: skip
    """Analyse one recording with a bundle (a path or a loaded `Bundle`; default: `default_model_path`)."""
    from dialectid.models.bundle import Bundle, load_model

    bundle = model if isinstance(model, Bundle) else load_model(model or default_model_path())
    return Scorer(bundle, config).analyse(path)


__all__ = ["SCHEMA_VERSION", "Analysis", "analyse", "default_model_path", "DecisionConfig", "LabelProbability",
           "NoModelError", "Scorer", "ScoringConfig", "Window", "WindowConfig"]  # fmt: skip

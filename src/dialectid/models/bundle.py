"""The model bundle: a directory whose fixed set of files is a contract checked in code.

    model.safetensors   every learned array (model and calibration), no pickle
    bundle.json         format version, toolkit version, input contract, decision rules, features,
                        model name and args, labels, taxonomy, calibration, open-set threshold,
                        encoder, training-data fingerprint
    metrics.json        the evaluation on the test set
    MODEL_CARD.md       intended use, data, results, limitations
    checksums.sha256    sha256 of each file above; verified before anything is read

Loading never unpickles and never runs code from the bundle.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.numpy import load_file, save_file

from dialectid.errors import DialectidError
from dialectid.features import FeatureConfig
from dialectid.models import model_class
from dialectid.models.base import LidModel
from dialectid.models.calibration import Calibrator
from dialectid.models.contract import DecisionRules, InputContract
from dialectid.taxonomy import Taxonomy

FORMAT_VERSION = 2  # 2: the input contract and decision rules are the bundle's
WEIGHTS, DESCRIPTION, METRICS, CARD, CHECKSUMS = (
    "model.safetensors", "bundle.json", "metrics.json", "MODEL_CARD.md", "checksums.sha256")  # fmt: skip
CONTENT = (WEIGHTS, DESCRIPTION, METRICS, CARD)


class BundleError(DialectidError):
    """A bundle is missing, incomplete, tampered with, or of an unknown format."""


@dataclass
class Bundle:
    """A verified model (or one just trained, with no path yet): what it reads, how it scores,
    calibrates and decides."""

    path: Path | None
    model: LidModel
    calibrator: Calibrator
    taxonomy: Taxonomy
    description: dict[str, Any]
    metrics: dict[str, Any]
    sha256: str  # of checksums.sha256, so of the whole bundle

    @property
    def labels(self) -> list[str]:
        return self.model.labels

    @property
    def features(self) -> FeatureConfig:
        return self.model.features

    @property
    def model_id(self) -> str:
        return self.description["name"]

    @property
    def contract(self) -> InputContract:
        return InputContract.model_validate(self.description["input"])

    @property
    def rules(self) -> DecisionRules:
        return DecisionRules.model_validate(self.description["decision"])

    @property
    def open_set_threshold(self) -> float | None:
        return (self.description.get("open_set") or {}).get("threshold")

    def scores_and_novelty(self, inputs: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray | None]:
        """Uncalibrated scores and novelty, computing shared work (the encoder) once."""
        if hasattr(self.model, "scores_and_novelty"):
            return self.model.scores_and_novelty(inputs)
        return self.model.scores(inputs), self.model.novelty(inputs)

    def log_posteriors(self, inputs: Sequence[np.ndarray], durations: np.ndarray | None = None) -> np.ndarray:
        """Calibrated log-posteriors (N, labels) for model inputs (features or audio)."""
        return self.calibrator.transform(self.model.scores(inputs), durations)


def assemble(name: str, model: LidModel, calibrator: Calibrator, taxonomy: Taxonomy, rules: DecisionRules,
             fingerprint: dict[str, Any], open_set: dict[str, float] | None = None) -> Bundle:  # fmt: skip
    """A bundle in memory, as it will be saved: the trainer evaluates it before writing it."""
    from dialectid.version import __version__

    description = {
        "format_version": FORMAT_VERSION,
        "toolkit_version": __version__,
        "name": name,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "model": {"name": model.name, "args": model.args.model_dump(mode="json"), "input": model.input},
        "input": InputContract.of(model.input, model.features).model_dump(mode="json"),
        "decision": rules.model_dump(mode="json"),
        "labels": model.labels,
        "taxonomy": taxonomy.to_json(),
        "features": model.features.model_dump(mode="json") if model.input == "features" else None,
        "calibration": calibrator.to_json(),
        "encoder": model.encoder(),
        "open_set": open_set,
        "training_data": fingerprint,
    }
    return Bundle(None, model, calibrator, taxonomy, description, {}, "")


def save_bundle(path: str | os.PathLike[str], bundle: Bundle, metrics: dict[str, Any], card: str) -> Path:
    """Write the bundle into a fresh folder and move it into place (replacing any old one)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}."))
    model, calibrator = bundle.model, bundle.calibrator
    arrays = {f"model.{k}": np.ascontiguousarray(v) for k, v in model.state().items()}
    arrays |= {f"calibration.{k}": np.ascontiguousarray(v) for k, v in calibrator.state().items()}
    save_file(arrays, staging / WEIGHTS)
    description = {**bundle.description, "encoder": model.encoder(), "calibration": calibrator.to_json(),
                   "model": {"name": model.name, "args": model.args.model_dump(mode="json"), "input": model.input}}  # fmt: skip
    (staging / DESCRIPTION).write_text(json.dumps(description, indent=2) + "\n")
    (staging / METRICS).write_text(json.dumps(metrics, indent=2, default=_json_default) + "\n")
    (staging / CARD).write_text(card)
    (staging / CHECKSUMS).write_text("".join(f"{_sha256(staging / f)}  {f}\n" for f in CONTENT))
    staging.chmod(0o755)  # mkdtemp made it private; a bundle is meant to be read by others
    for item in staging.iterdir():
        item.chmod(0o644)
    if path.exists():
        shutil.rmtree(path)
    os.replace(staging, path)
    return path


def load_model(path: str | os.PathLike[str]) -> Bundle:
    """Verify and load a bundle; a missing, incomplete or altered bundle is a `BundleError`."""
    path = Path(path)
    if not path.is_dir():
        raise BundleError(f"{path}: no such model bundle (a folder with {CHECKSUMS}); check the path")
    expected = _read_checksums(path)
    for name in CONTENT:
        if name not in expected:
            raise BundleError(f"{path}: {CHECKSUMS} does not list {name}; the bundle is incomplete")
        if not (path / name).is_file():
            raise BundleError(f"{path}: {name} is missing; the bundle is incomplete, copy it again")
        if _sha256(path / name) != expected[name]:
            raise BundleError(f"{path}: {name} does not match its checksum; the bundle was altered, do not use it")
    try:
        description = json.loads((path / DESCRIPTION).read_text())
        metrics = json.loads((path / METRICS).read_text())
        arrays = load_file(str(path / WEIGHTS))
    except (ValueError, OSError) as err:
        raise BundleError(f"{path}: cannot be read ({err})") from None
    if description.get("format_version") != FORMAT_VERSION:
        raise BundleError(f"{path}: bundle format {description.get('format_version')!r} is not {FORMAT_VERSION}; "
                          "retrain it with this toolkit (dialectid train CONFIG)")  # fmt: skip
    try:
        InputContract.model_validate(description["input"])
        DecisionRules.model_validate(description["decision"])
    except (KeyError, ValueError) as err:
        raise BundleError(f"{path}: bundle.json has no valid input contract or decision rules ({err})") from None
    features = FeatureConfig.model_validate(description["features"]) if description["features"] else FeatureConfig()
    model = model_class(description["model"]["name"])(description["labels"], features, description["model"]["args"])
    model.load_state({k.removeprefix("model."): v for k, v in arrays.items() if k.startswith("model.")})
    calibration = {k.removeprefix("calibration."): v for k, v in arrays.items() if k.startswith("calibration.")}
    calibrator = Calibrator.from_state(description["calibration"], calibration)
    taxonomy = Taxonomy.from_json(description["taxonomy"])
    return Bundle(path, model, calibrator, taxonomy, description, metrics, _sha256(path / CHECKSUMS))


def _read_checksums(path: Path) -> dict[str, str]:
    try:
        lines = (path / CHECKSUMS).read_text().splitlines()
    except OSError:
        raise BundleError(f"{path}: {CHECKSUMS} is missing; not a model bundle, or an incomplete one") from None
    listed = {}
    for line in lines:
        digest, _, name = line.partition("  ")
        if len(digest) != 64 or not name:
            raise BundleError(f"{path}: {CHECKSUMS} is malformed; the bundle was altered")
        listed[name] = digest
    return listed


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _json_default(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")

"""The model bundle: a directory whose fixed set of files is a contract checked in code.

    model.safetensors   every learned array (model and calibration), no pickle
    bundle.json         format version, toolkit version, input contract, decision rules, features,
                        model name and args, labels, taxonomy, calibration, open-set threshold,
                        encoder, training-data fingerprint (schema: contract.BundleDescription)
    metrics.json        the evaluation on the test set
    MODEL_CARD.md       intended use, data, results, limitations
    encoder/            only a Whisper model on an encoder other than Whisper base: that encoder
    network/model.onnx  only an x-vector or ECAPA model: the network, scored with ONNX Runtime
    checksums.sha256    sha256 of each file above; verified before anything is read
    checksums.sha256.sig  optional: a detached Ed25519 signature over checksums.sha256

Loading never unpickles and never runs code from the bundle. Checksums give integrity, not
authenticity: whoever can change a file can recompute its checksum. So everything read after them
is checked again (the schema, the taxonomy, every array's shape against the labels and args), and
only a signature (`sign_bundle`, `verify_signature`) says who made a bundle.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
from pydantic import BaseModel, ValidationError
from safetensors import SafetensorError
from safetensors.numpy import load, save_file

from dialectid.errors import DialectidError
from dialectid.features import FeatureConfig
from dialectid.models import behaviour, model_class
from dialectid.models.base import LidModel, Shape
from dialectid.models.calibration import Calibrator
from dialectid.models.contract import (
    BehaviourSection,
    BundleDescription,
    BundleMetrics,
    DecisionRules,
    InputContract,
)
from dialectid.paths import atomic_write, file_sha256, inside
from dialectid.taxonomy import Taxonomy

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

FORMAT_VERSION = 2  # 2: the input contract and decision rules are the bundle's
WEIGHTS, DESCRIPTION, METRICS, CARD, CHECKSUMS = (
    "model.safetensors", "bundle.json", "metrics.json", "MODEL_CARD.md", "checksums.sha256")  # fmt: skip
CONTENT = (WEIGHTS, DESCRIPTION, METRICS, CARD)
SIGNATURE = CHECKSUMS + ".sig"
MAX_JSON_BYTES = 16 << 20  # bundle.json, metrics.json: the shipped ones hold 21 kB and 10 kB
REQUIRE_SIGNED = "DIALECTID_REQUIRE_SIGNED_MODELS"  # 1, or a PEM public key file: see `require_signed_for_cases`
M = TypeVar("M", bound=BaseModel)


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
    description: BundleDescription  # bundle.json, validated once when the bundle is loaded or assembled
    metrics: dict[str, Any]
    sha256: str  # of checksums.sha256, so of the whole bundle
    behaves: bool = field(default=False, repr=False)  # its behaviour matched its fingerprint (or it has none)

    @property
    def labels(self) -> list[str]:
        return self.model.labels

    @property
    def features(self) -> FeatureConfig:
        return self.model.features

    @property
    def model_id(self) -> str:
        return self.description.name

    @property
    def contract(self) -> InputContract:
        return self.description.input

    @property
    def rules(self) -> DecisionRules:
        return self.description.decision

    @property
    def open_set_threshold(self) -> float | None:
        return self.description.open_set.threshold if self.description.open_set is not None else None

    def scores_and_novelty(self, inputs: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray | None]:
        """Uncalibrated scores and novelty, computing shared work (the encoder) once."""
        self.check_behaviour()
        if hasattr(self.model, "scores_and_novelty"):
            return self.model.scores_and_novelty(inputs)
        return self.model.scores(inputs), self.model.novelty(inputs)

    def log_posteriors(self, inputs: Sequence[np.ndarray], durations: np.ndarray | None = None) -> np.ndarray:
        """Calibrated log-posteriors (N, labels) for model inputs (features or audio)."""
        self.check_behaviour()
        return self.calibrator.transform(self.model.scores(inputs), durations)

    def check_behaviour(self) -> None:
        """Refuse (`BundleError`) a bundle that no longer answers its probe signals as it did at
        export (models/behaviour.py); once per bundle, before its first scoring. A bundle exported
        before fingerprints, or not yet saved, has none to check."""
        stored = self.description.behaviour
        if self.behaves or stored is None:
            return
        if problem := behaviour.mismatch(self, stored):
            raise BundleError(f"{self.path}: {problem}; bundle.json was changed after export (labels, input or "
                              "calibration), do not use it (get an intact copy, or retrain it)")  # fmt: skip
        self.behaves = True


def assemble(name: str, model: LidModel, calibrator: Calibrator, taxonomy: Taxonomy, rules: DecisionRules,
             fingerprint: dict[str, Any], open_set: dict[str, float] | None = None) -> Bundle:  # fmt: skip
    """A bundle in memory, as it will be saved: the trainer evaluates it before writing it. A model
    that fixes its own open-set threshold states it, whatever `open_set` says."""
    from dialectid.version import __version__

    if model.novelty_threshold is not None:
        open_set = {"threshold": model.novelty_threshold}
    description = _described(
        name,
        {
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
        },
    )
    return Bundle(None, model, calibrator, taxonomy, description, {}, "")


def _described(name: str, data: dict[str, Any]) -> BundleDescription:
    """`data` as the bundle.json of the bundle `name` being made: refused (`BundleError`) where it
    would not load, say a NaN open-set threshold, rather than written."""
    try:
        return BundleDescription.model_validate(data)
    except ValidationError as err:
        raise BundleError(f"bundle {name!r} cannot be made: {DESCRIPTION}: {_first_problem(err)}") from None


def save_bundle(path: str | os.PathLike[str], bundle: Bundle, metrics: dict[str, Any], card: str) -> Path:
    """Write the bundle into a fresh folder and move it into place (replacing any old one)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}."))
    model, calibrator = bundle.model, bundle.calibrator
    arrays = {f"model.{k}": np.ascontiguousarray(v) for k, v in model.state().items()}
    arrays |= {f"calibration.{k}": np.ascontiguousarray(v) for k, v in calibrator.state().items()}
    save_file(arrays, staging / WEIGHTS)
    description = _described(
        bundle.model_id,
        {
            **bundle.description.model_dump(mode="json"),
            "encoder": model.encoder(),
            "calibration": calibrator.to_json(),
            "model": {"name": model.name, "args": model.pack(staging), "input": model.input},
            "behaviour": behaviour.fingerprint(bundle).model_dump(mode="json"),
        },
    )
    (staging / DESCRIPTION).write_text(description.model_dump_json(indent=2) + "\n")
    (staging / METRICS).write_text(json.dumps(metrics, indent=2, default=_json_default) + "\n")
    (staging / CARD).write_text(card)
    carried = sorted(
        f.relative_to(staging).as_posix() for f in staging.rglob("*") if f.is_file() and f.parent != staging
    )
    (staging / CHECKSUMS).write_text("".join(f"{file_sha256(staging / f)}  {f}\n" for f in [*CONTENT, *carried]))
    for item in [staging, *staging.rglob("*")]:  # mkdtemp made it private; a bundle is meant to be read by others
        item.chmod(0o755 if item.is_dir() else 0o644)
    if path.exists():
        shutil.rmtree(path)
    os.replace(staging, path)
    return path


def load_model(path: str | os.PathLike[str]) -> Bundle:
    """Verify and load a bundle; a missing, incomplete, altered or malformed one is a `BundleError`
    that names the bundle, what is wrong and what to do."""
    return _load(Path(path))[0]


def _load(path: Path) -> tuple[Bundle, dict[str, Any]]:
    """The verified bundle, and its bundle.json as parsed (before validation filled in defaults)."""
    if not path.is_dir():
        raise BundleError(f"{path}: no such model bundle (a folder with {CHECKSUMS}); check the path")
    content, sha256 = _verified_content(path)
    data = _parse_json(path, DESCRIPTION, content[DESCRIPTION])
    if isinstance(data, dict) and data.get("format_version") != FORMAT_VERSION:
        raise BundleError(f"{path}: bundle format {data.get('format_version')!r} is not {FORMAT_VERSION}; "
                          "retrain it with this toolkit (dialectid train CONFIG)")  # fmt: skip
    description = _validate(path, DESCRIPTION, BundleDescription, data)
    metrics = _parse_json(path, METRICS, content[METRICS])
    _validate(path, METRICS, BundleMetrics, metrics)
    model, calibrator = _restore(path, description, _parse_arrays(path, content[WEIGHTS]))
    _check_open_set(path, description, model)
    taxonomy = Taxonomy(dict(description.taxonomy.parents), tuple(description.taxonomy.leaves))
    return Bundle(path, model, calibrator, taxonomy, description, metrics, sha256), data


def _verified_content(path: Path) -> tuple[dict[str, bytes], str]:
    """The content files' bytes, and the sha256 of checksums.sha256 (the bundle's hash), after
    checking every file it lists (inside the bundle, matching), the content files among them, and
    every file in a subfolder (an encoder, which CTranslate2 reads whole). What is parsed is then
    what was hashed, even if a file changes meanwhile."""
    listing = _read_listing(path)
    expected = _parse_listing(path, listing)
    for name in CONTENT:
        if name not in expected:
            raise BundleError(f"{path}: {CHECKSUMS} does not list {name}; the bundle is incomplete")
    content = {}
    for name, digest in expected.items():
        try:
            file = inside(path, name)
        except ValueError:
            raise _damaged(path, f"{CHECKSUMS} names {name!r}, which is outside the bundle") from None
        if not file.is_file():
            raise BundleError(f"{path}: {name} is missing; the bundle is incomplete, copy it again")
        try:
            if name in CONTENT:
                content[name] = _read_content(path, name)
            actual = hashlib.sha256(content[name]).hexdigest() if name in CONTENT else file_sha256(file)
        except OSError as err:
            raise _unreadable(path, name, err) from None
        if actual != digest:
            raise BundleError(f"{path}: {name} does not match its checksum; the bundle was altered, do not use it")
    for file in path.rglob("*"):
        if file.is_file() and file.parent != path and file.relative_to(path).as_posix() not in expected:
            raise _damaged(path, f"{file.relative_to(path).as_posix()} is not listed in {CHECKSUMS}")
    return content, hashlib.sha256(listing).hexdigest()


def _read_listing(path: Path) -> bytes:
    try:
        return (path / CHECKSUMS).read_bytes()
    except FileNotFoundError:
        raise BundleError(f"{path}: {CHECKSUMS} is missing; not a model bundle, or an incomplete one") from None
    except OSError as err:
        raise _unreadable(path, CHECKSUMS, err) from None


def _unreadable(path: Path, name: str, err: OSError) -> BundleError:
    """A bundle file that is there but cannot be read (permissions, a folder in its place)."""
    return BundleError(f"{path}: {name} cannot be read ({err.strerror or err}); check the bundle's permissions")


def _parse_listing(path: Path, listing: bytes) -> dict[str, str]:
    listed = {}
    for line in listing.decode("utf-8", errors="replace").splitlines():
        digest, _, name = line.partition("  ")
        if len(digest) != 64 or not name or "\ufffd" in line:  # U+FFFD: bytes that are not UTF-8
            raise BundleError(f"{path}: {CHECKSUMS} is malformed; the bundle was altered")
        listed[name] = digest
    return listed


def _read_content(path: Path, name: str) -> bytes:
    size = (path / name).stat().st_size
    if name in (DESCRIPTION, METRICS) and size > MAX_JSON_BYTES:
        raise _damaged(path, f"{name} has {size} bytes, more than the {MAX_JSON_BYTES} a bundle may hold")
    return (path / name).read_bytes()


def _parse_json(path: Path, name: str, data: bytes) -> Any:
    try:
        return json.loads(data.decode("utf-8"))
    except (ValueError, RecursionError) as err:  # RecursionError: nesting deeper than Python's stack
        raise _damaged(path, f"{name} is not UTF-8 JSON ({err})") from None


def _validate(path: Path, name: str, schema: type[M], data: Any) -> M:
    try:
        return schema.model_validate(data)
    except ValidationError as err:
        raise _damaged(path, f"{name}: {_first_problem(err)}") from None


def _first_problem(err: ValidationError) -> str:
    """Where the first problem is, and what it is, in one line."""
    first = err.errors()[0]
    where = ".".join(map(str, first["loc"]))
    problem = first["msg"].removeprefix("Value error, ")  # a validator's own message, as it wrote it
    more = f" (and {err.error_count() - 1} more problems)" if err.error_count() > 1 else ""
    return f"{where + ': ' if where else ''}{problem}{more}"


def _parse_arrays(path: Path, data: bytes) -> dict[str, np.ndarray]:
    try:
        return load(data)
    except (SafetensorError, ValueError, TypeError) as err:
        raise _damaged(path, f"{WEIGHTS} cannot be read ({err})") from None


def _restore(path: Path, description: BundleDescription, arrays: dict[str, np.ndarray]
             ) -> tuple[LidModel, Calibrator]:  # fmt: skip
    """The model and calibrator from a schema-valid description and the arrays that fit it."""
    try:
        model = _model(path, description)
    except (DialectidError, ValueError) as err:
        raise _damaged(path, f"{DESCRIPTION}: {_message(err)}") from None
    labels = len(description.labels)
    declared: Mapping[str, Shape | None] | None = model.state_shapes()
    if declared is None:  # the model checks its arrays in load_state
        declared = {k.removeprefix("model."): None for k in arrays if k.startswith("model.")}
    calibration: dict[str, Shape] = {"scale": (1,), "offset": (labels,), "duration_weight": (labels,)}
    expected = {f"model.{k}": v for k, v in declared.items()} | {f"calibration.{k}": v for k, v in calibration.items()}
    try:
        _check_arrays(arrays, expected)
        model.load_state(_section(arrays, "model."))
    except (DialectidError, ValueError, KeyError, RuntimeError) as err:  # RuntimeError: torch's, where undeclared
        raise _damaged(path, f"{WEIGHTS}: {_message(err)}") from None
    section = description.calibration
    return model, Calibrator.from_state(section.method, section.duration_covariate, _section(arrays, "calibration."))


def _model(path: Path, description: BundleDescription) -> LidModel:
    """The model bundle.json names, its args checked by its class and against the bundle."""
    section = description.model
    model = model_class(section.name)(description.labels, description.features or FeatureConfig(), section.args)
    if model.input != section.input:
        raise ValueError(f"model {model.name!r} reads {model.input}, not {section.input}")
    model.unpack(path)
    stated = description.encoder.sha256 if description.encoder is not None else None
    if stated != (model.encoder() or {}).get("sha256"):
        raise ValueError("encoder.sha256 is not model.args.encoder_sha256")
    return model


def _check_open_set(path: Path, description: BundleDescription, model: LidModel) -> None:
    """Where the model fixes its own open-set threshold (the fusion's learned detector, Whisper's
    outside share), bundle.json must state that very threshold: a removed or changed one would
    quietly change which recordings are flagged out_of_set."""
    fixed = model.novelty_threshold
    stated = description.open_set.threshold if description.open_set is not None else None
    if fixed is not None and stated != fixed:
        raise _damaged(path, f"{DESCRIPTION}: open_set.threshold is {stated}, but the model's own threshold is {fixed}")


def _check_arrays(arrays: dict[str, np.ndarray], expected: Mapping[str, Shape | None]) -> None:
    """Exactly the `expected` arrays (None: of any shape), each of its shape and finite numbers."""
    if missing := [name for name in expected if name not in arrays]:
        raise ValueError(f"{missing[0]} is missing")
    if extra := sorted(set(arrays) - set(expected)):
        raise ValueError(f"{extra[0]} is not part of the bundle's model or calibration")
    sizes: dict[str, int] = {}
    for name, shape in expected.items():
        array = arrays[name]
        if shape is not None and not _fits(array.shape, shape, sizes):
            shown = ", ".join(f"{s}={sizes[s]}" if s in sizes else str(s) for s in shape)
            raise ValueError(f"{name} has shape {array.shape}, not ({shown}{',' * (len(shape) == 1)})")
        if array.dtype.kind not in "biuf":
            raise ValueError(f"{name} holds {array.dtype}, not real numbers")
        if not np.isfinite(array).all():
            raise ValueError(f"{name} holds NaN or infinity")


def _fits(actual: tuple[int, ...], shape: Shape, sizes: dict[str, int]) -> bool:
    """Whether `actual` is `shape`; a named size takes the value it first meets."""
    return len(actual) == len(shape) and all(
        (sizes.setdefault(size, n) if isinstance(size, str) else size) == n
        for size, n in zip(shape, actual, strict=True)
    )


def _section(arrays: dict[str, np.ndarray], prefix: str) -> dict[str, np.ndarray]:
    return {k.removeprefix(prefix): v for k, v in arrays.items() if k.startswith(prefix)}


def _message(err: Exception) -> str:
    return err.message if isinstance(err, DialectidError) else str(err)


def _damaged(path: Path, problem: str) -> BundleError:
    return BundleError(f"{path}: {problem}; the bundle is malformed or was altered, do not use it "
                       "(get an intact copy, or retrain it)")  # fmt: skip


def add_fingerprint(path: str | os.PathLike[str]) -> BehaviourSection:
    """Give a bundle exported before fingerprints its behavioural fingerprint: bundle.json gains a
    `behaviour` section and checksums.sha256 its new hash; nothing else changes, to the byte of
    every other section (so a signature, which covers the checksums, must be made again). A bundle
    that has one is refused: recomputing it would hide the very change it is there to show."""
    path = Path(path)
    bundle, data = _load(path)
    if bundle.description.behaviour is not None:
        raise BundleError(f"{path}: already has a behavioural fingerprint; dialectid model verify checks it")
    stored = behaviour.fingerprint(bundle)
    text = json.dumps({**data, "behaviour": stored.model_dump(mode="json")}, indent=2) + "\n"
    listing = _parse_listing(path, _read_listing(path))
    listing[DESCRIPTION] = hashlib.sha256(text.encode()).hexdigest()
    atomic_write(path / DESCRIPTION, lambda stream: stream.write(text), binary=False)
    atomic_write(path / CHECKSUMS, lambda stream: stream.write("".join(f"{d}  {n}\n" for n, d in listing.items())),
                 binary=False)  # fmt: skip
    for name in (DESCRIPTION, CHECKSUMS):
        (path / name).chmod(0o644)
    (path / SIGNATURE).unlink(missing_ok=True)  # it was over the old checksums
    return stored


# ---- signatures: who made a bundle -------------------------------------------------------------------
def sign_bundle(path: str | os.PathLike[str], key: Ed25519PrivateKey) -> dict[str, Any]:
    """Sign a bundle that verifies: a detached Ed25519 signature over checksums.sha256, so over every
    file, written beside it. Returns what the signature states (bundle, checksums, time, key id)."""
    from dialectid.keys import sign_statement

    path = Path(path)
    bundle = load_model(path)
    facts = {"bundle": bundle.model_id, "checksums_sha256": bundle.sha256,
             "signed_at": datetime.now(UTC).isoformat(timespec="seconds")}  # fmt: skip
    block = sign_statement(facts, key)
    atomic_write(path / SIGNATURE, lambda stream: stream.write(json.dumps(block, sort_keys=True) + "\n"),
                 binary=False)  # fmt: skip
    (path / SIGNATURE).chmod(0o644)
    return block["meta"]


def verify_signature(bundle: Bundle, public: Ed25519PublicKey) -> dict[str, Any]:
    """What the signature beside a loaded bundle states, if `public` signed the very checksums the
    bundle was verified against; a `VerificationError` otherwise, also when there is no signature."""
    from dialectid.keys import VerificationError, verify_statement

    if bundle.path is None:
        raise VerificationError(f"bundle {bundle.model_id!r} is not saved, so not signed; save and sign it")
    file = bundle.path / SIGNATURE
    if not file.is_file():
        raise VerificationError(f"{bundle.path} is not signed; sign it with dialectid model sign {bundle.path}")
    try:
        with file.open("rb") as stream:
            block = json.loads(stream.read(MAX_JSON_BYTES))  # a longer file is cut short, so damaged
    except (OSError, ValueError, RecursionError):
        raise VerificationError(f"{bundle.path}: the signature is damaged; sign it again") from None
    facts = verify_statement(block, public, str(bundle.path))
    if facts.get("checksums_sha256") != bundle.sha256:
        raise VerificationError(f"{bundle.path}: the bundle was changed after it was signed (its checksums are "
                                "not the signed ones); do not use it")  # fmt: skip
    return facts


def require_signed_for_cases(bundle: Bundle, keys_dir: Path) -> None:
    """Refuse a bundle for case analyses unless signed, where DIALECTID_REQUIRE_SIGNED_MODELS says so:
    `1` for a signature by the case file's own key (in `keys_dir`, created on first use as for
    reports), else the path of the PEM public key that must have signed it. Unset, empty or `0`:
    every bundle that verifies is taken."""
    from dialectid.keys import VerificationError, signing_key, trusted_key

    setting = os.environ.get(REQUIRE_SIGNED, "").strip()
    if setting in ("", "0"):
        return
    if bundle.path is None:
        raise BundleError(f"an unsaved bundle has no signature, and {REQUIRE_SIGNED} is set; save and sign it")
    try:
        public = signing_key(keys_dir).public_key() if setting == "1" else trusted_key(public_key_file=Path(setting))
        verify_signature(bundle, public)
    except VerificationError as err:
        raise BundleError(f"{err.message} ({REQUIRE_SIGNED} is set: case analyses take only signed bundles)") from None


def _json_default(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")

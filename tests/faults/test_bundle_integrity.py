"""Bundles that pass their checksums yet are malformed, the pinned Whisper encoder, signed bundles
(issue #15, items 9, 11 and 12).

A checksum only says that a file is the one checksums.sha256 names: whoever edits a bundle can
recompute it (`reseal` below does), so everything read after the checksums must check itself, and
only a signature says who made a bundle.
"""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from functools import reduce
from pathlib import Path

import numpy as np
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from safetensors.numpy import load_file, save_file
from typer.testing import CliRunner

from dialectid.cli import app
from dialectid.config import load_config
from dialectid.errors import ConfigError, DialectidError
from dialectid.features import FeatureConfig
from dialectid.models.bundle import BundleError, load_model
from dialectid.taxonomy import Taxonomy
from dialectid.train.config import TrainConfig
from dialectid.train.trainer import train
from toy import write_config

ROOT = Path(__file__).resolve().parents[2]
FAST, ACCURATE = ROOT / "models" / "lid-fast", ROOT / "models" / "lid-accurate"
runner = CliRunner()


# ---- making altered bundles -----------------------------------------------------------------------
def reseal(bundle: Path) -> Path:
    """Recompute checksums.sha256 for the files it lists, in the format save_bundle writes."""
    listing = bundle / "checksums.sha256"
    names = [line.split("  ", 1)[1] for line in listing.read_text().splitlines()]
    listing.write_text("".join(f"{hashlib.sha256((bundle / n).read_bytes()).hexdigest()}  {n}\n" for n in names))
    return bundle


def edited(source: Path, folder: Path, edit: Callable[[dict], None] | bytes, name: str = "bundle.json") -> Path:
    """A resealed copy of `source` whose JSON file `name` `edit` changed in place (or raw bytes replace)."""
    bundle = folder / "bundle"
    shutil.copytree(source, bundle)
    if isinstance(edit, bytes):
        (bundle / name).write_bytes(edit)
    else:
        data = json.loads((bundle / name).read_text())
        edit(data)
        (bundle / name).write_text(json.dumps(data))
    return reseal(bundle)


def reweighted(source: Path, folder: Path, change: Callable[[dict[str, np.ndarray]], None]) -> Path:
    """A resealed copy of `source` whose arrays `change` altered."""
    bundle = folder / "bundle"
    shutil.copytree(source, bundle)
    arrays = load_file(bundle / "model.safetensors")
    change(arrays)
    save_file(arrays, bundle / "model.safetensors")
    return reseal(bundle)


def _step(node, key: str):
    return node[int(key)] if isinstance(node, list) else node[key]


def put(where: str, value) -> Callable[[dict], None]:
    """Set the value at a dotted path (list items by index)."""

    def edit(data: dict) -> None:
        *parents, last = where.split(".")
        node = reduce(_step, parents, data)
        node[int(last) if isinstance(node, list) else last] = value

    return edit


def drop(where: str) -> Callable[[dict], None]:
    def edit(data: dict) -> None:
        *parents, last = where.split(".")
        del reduce(_step, parents, data)[last]

    return edit


def append(where: str, value) -> Callable[[dict], None]:
    return lambda data: reduce(_step, where.split("."), data).append(value)


def each(*edits: Callable[[dict], None]) -> Callable[[dict], None]:
    def edit(data: dict) -> None:
        for one in edits:
            one(data)

    return edit


def without_label(label: str, *ancestors: str) -> Callable[[dict], None]:
    """Drop a label (and its now empty ancestors) from labels and taxonomy; the arrays keep its row."""

    def edit(data: dict) -> None:
        data["labels"].remove(label)
        data["taxonomy"]["leaves"].remove(label)
        for node in (label, *ancestors):
            del data["taxonomy"]["parents"][node]

    return edit


def assert_refused(bundle: Path, fragment: str) -> None:
    """load_model and `dialectid model info` refuse `bundle` within seconds, in one line that names
    the bundle, what is wrong and what to do; the command exits 2 without a traceback."""
    start = time.monotonic()
    with pytest.raises(BundleError) as caught:
        load_model(bundle)
    assert time.monotonic() - start < 5
    message = caught.value.message
    assert message.startswith(f"{bundle}: ") and fragment in message and "; " in message, message  # ; what to do
    result = runner.invoke(app, ["model", "info", str(bundle)])
    assert result.exit_code == 2 and result.stderr == f"error: {message}\n", result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


# ---- item 9: bundle.json is checked against a typed schema ----------------------------------------
DESCRIPTION_DEFECTS = {
    "taxonomy cycle": (put("taxonomy.parents.semitic", "ar"), "semitic -> ar -> arabic -> semitic is a cycle"),
    "own parent": (put("taxonomy.parents.semitic", "semitic"), "semitic -> semitic is a cycle"),
    "parent not a node": (put("taxonomy.parents.ar", "klingon"), "'klingon', the parent of 'ar', is not a node"),
    "label not a leaf": (put("labels.0", "xx"), "label 'xx' is not a leaf of the taxonomy"),
    "leaf not a label": (each(put("taxonomy.parents.zz", None), append("taxonomy.leaves", "zz")),
                         "taxonomy leaf 'zz' is not a label"),
    "inner node as leaf": (each(put("taxonomy.leaves.0", "arabic"), put("labels.0", "arabic")),
                           "leaf 'arabic' has children"),
    "leaf not a node": (each(put("taxonomy.leaves.0", "xx"), put("labels.0", "xx")), "leaf 'xx' is not a node"),
    "duplicate label": (put("labels.1", "ar"), "'ar' appears twice"),
    "one label": (each(put("labels", ["ar"]), put("taxonomy.leaves", ["ar"])), "labels: List should have at least 2"),
    "no decision rules": (drop("decision"), "decision: Field required"),
    "no taxonomy": (drop("taxonomy"), "taxonomy: Field required"),
    "no model args": (drop("model.args"), "model.args: Field required"),
    "no training data per label": (drop("training_data.per_label"), "training_data.per_label: Field required"),
    "labels a string": (put("labels", "ar fa"), "labels: Input should be a valid list"),
    "parents a list": (put("taxonomy.parents", ["ar"]), "taxonomy.parents: Input should be a valid dictionary"),
    "threads a word": (put("model.args.threads", "many"), "model.args.threads: Input should be a valid integer"),
    "unknown calibration": (put("calibration.method", "magic"), "calibration.method: Input should be"),
    "threshold a word": (put("open_set.threshold", "high"), "open_set.threshold: Input should be a valid number"),
    "threshold NaN": (put("open_set.threshold", float("nan")), "open_set.threshold: Input should be a finite number"),
    "threshold not the detector's": (put("open_set.threshold", 0.99), "open_set.threshold is 0.99, but the model's own"),
    "no open-set section": (put("open_set", None), "open_set.threshold is None, but the model's own threshold is"),
    "decision a list": (put("decision", []), "decision: Input should be a valid dictionary"),
    "bad decision value": (put("decision.window_s", -1), "decision.window_s: Input should be greater than 0.5"),
    "date not a date": (put("created_at", "yesterday"), "created_at: Input should be a valid datetime"),
    "unknown key": (put("backdoor", True), "backdoor: Extra inputs are not permitted"),
    "unknown model": (put("model.name", "transformer-xl"), "unknown model 'transformer-xl'; known models:"),
    "another family's model": (put("model.name", "gmm"), "(model 'gmm')"),
    "model input differs": (put("model.input", "features"), "model.input 'features' is not the input kind 'audio'"),
    "audio model on features": (
        each(put("input", {"kind": "features", "sample_rate": 16000, "features": {}}), put("features", {}),
             put("model.input", "features")), "model 'whisper-fusion' reads audio, not features"),
    "future format": (put("format_version", 3), "bundle format 3 is not 2"),
    "encoder section differs": (put("encoder.sha256", "0" * 64), "encoder.sha256 is not model.args.encoder_sha256"),
    "encoder not pinned": (put("model.args.encoder_sha256", None), "model.args.encoder_sha256 is missing"),
    "encoder path absolute": (put("model.args.encoder_path", "/usr"), "model.args.encoder_path: '/usr' is absolute"),
    "encoder path leaves": (put("model.args.encoder_path", "../lid-accurate"),
                            "model.args.encoder_path: '../lid-accurate' leads outside bundle"),
    "not UTF-8": (b'\xff\xfe{"format_version": 2}', "bundle.json is not UTF-8 JSON"),
    "not JSON": (b"{this is not json", "bundle.json is not UTF-8 JSON"),
    "a list": (b"[]", "bundle.json: Input should be a valid dictionary"),
    "null": (b"null", "bundle.json: Input should be a valid dictionary"),
    "deep nesting": (b'{"x": ' + b"[" * 200_000 + b"]" * 200_000 + b"}", "bundle.json is not UTF-8 JSON"),
    "huge": (b" " * (17 << 20) + b"{}", "bundle.json has 17825794 bytes"),
}  # fmt: skip


@pytest.mark.timeout(60)
@pytest.mark.parametrize("defect", DESCRIPTION_DEFECTS)
@pytest.mark.parametrize("shipped", [FAST, ACCURATE], ids=["fast", "accurate"])
def test_malformed_descriptions_are_refused_in_one_line(tmp_path, shipped, defect):
    edit, fragment = DESCRIPTION_DEFECTS[defect]
    assert_refused(edited(shipped, tmp_path, edit), fragment)


METRICS_DEFECTS = {
    "a list": (b"[]", "metrics.json: Input should be a valid dictionary"),
    "accuracy a word": (put("accuracy", "high"), "metrics.json: accuracy: Input should be a valid number"),
    "not JSON": (b"\x00\x01", "metrics.json is not UTF-8 JSON"),
}


@pytest.mark.timeout(60)
@pytest.mark.parametrize("defect", METRICS_DEFECTS)
def test_malformed_metrics_are_refused(tmp_path, defect):
    edit, fragment = METRICS_DEFECTS[defect]
    assert_refused(edited(FAST, tmp_path, edit, "metrics.json"), fragment)


def _truncate(bundle: Path) -> None:
    path = bundle / "model.safetensors"
    path.write_bytes(path.read_bytes()[:-100])


WEIGHT_DEFECTS = {
    "missing array": (lambda a: a.pop("model.backend.bias"), "model.backend.bias is missing"),
    "extra array": (lambda a: a.update({"model.backdoor": np.zeros(1)}), "model.backdoor is not part of"),
    "stray prefix": (lambda a: a.update({"payload": np.zeros(1)}), "payload is not part of"),
    "wrong shape": (lambda a: a.update({"model.backend.weight": a["model.backend.weight"][:-1]}),
                    "model.backend.weight has shape (17, 17), not (18, P=17)"),
    "sizes disagree": (lambda a: a.update({"model.backend.projection": a["model.backend.projection"][:, :-1]}),
                       "has shape (18, 17), not (18, P=16)"),
    "calibration shape": (lambda a: a.update({"calibration.offset": np.zeros(3)}),
                          "calibration.offset has shape (3,), not (18,)"),
    "not finite": (lambda a: a["model.backend.mean"].__setitem__(0, np.nan), "model.backend.mean holds NaN or infinity"),
}  # fmt: skip


@pytest.mark.timeout(60)
@pytest.mark.parametrize("defect", WEIGHT_DEFECTS)
def test_arrays_that_do_not_fit_the_description_are_refused(tmp_path, defect):
    change, fragment = WEIGHT_DEFECTS[defect]
    assert_refused(reweighted(FAST, tmp_path, change), fragment)


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("damage", "fragment"),
    [(_truncate, "model.safetensors cannot be read"),
     (lambda b: b.joinpath("model.safetensors").write_bytes(os.urandom(5000)), "model.safetensors cannot be read"),
     (lambda b: b.joinpath("model.safetensors").write_bytes(b""), "model.safetensors cannot be read")],
)  # fmt: skip
def test_unreadable_weights_are_refused(tmp_path, damage, fragment):
    bundle = tmp_path / "bundle"
    shutil.copytree(FAST, bundle)
    damage(bundle)
    assert_refused(reseal(bundle), fragment)


@pytest.mark.timeout(60)
def test_labels_must_match_the_arrays(tmp_path):
    assert_refused(edited(FAST, tmp_path, without_label("ja", "japanese", "japonic")), "not (17, P=17)")


@pytest.mark.timeout(60)
def test_checksums_may_not_name_files_outside_the_bundle(tmp_path):
    bundle = tmp_path / "bundle"
    shutil.copytree(FAST, bundle)
    (tmp_path / "outside").write_text("x")
    with (bundle / "checksums.sha256").open("a") as listing:
        listing.write(f"{hashlib.sha256(b'x').hexdigest()}  ../outside\n")
    assert_refused(bundle, "checksums.sha256 names '../outside', which is outside the bundle")


def test_a_taxonomy_with_a_cycle_cannot_exist():
    """The loop that `ancestors` would run forever on such a tree is never reached."""
    start = time.monotonic()
    chain = {f"n{i}": f"n{i + 1}" for i in range(100_000)} | {"n100000": "n0", "a": None, "b": None}
    with pytest.raises(ConfigError, match="is a cycle"):
        Taxonomy(chain, ("a", "b"))
    with pytest.raises(ConfigError, match="taxonomy: a -> b -> a is a cycle"):
        Taxonomy.from_json({"parents": {"a": "b", "b": "a", "x": None, "y": None}, "leaves": ["x", "y"]})
    assert time.monotonic() - start < 5
    tree = Taxonomy.from_tree({"arabic": {"levantine": [], "gulf": []}, "english": ["en-US"]})
    assert tree.ancestors("gulf") == ["arabic"] and Taxonomy.from_json(tree.to_json()) == tree


@pytest.fixture(scope="module")
def families(toy_corpus, stats_bundle, tmp_path_factory) -> dict[str, Path]:
    """A tiny bundle of each model family the trainer makes quickly, and the shipped Whisper fusion."""
    folder = tmp_path_factory.mktemp("families")
    small = {"gmm": {"components": 2, "max_iter": 50}, "ecapa": {"channels": 8, "embedding": 8},
             "xvector": {"channels": 8, "embedding": 8}}  # fmt: skip
    bundles = {"stats-logreg": stats_bundle, "whisper-fusion": FAST}
    for name, args in small.items():
        config = write_config(folder / f"{name}.yaml", toy_corpus, name, folder / "runs",
                              model={"name": name, "args": args})  # fmt: skip
        bundles[name] = train(load_config(config, TrainConfig)).bundle
    return bundles


FAMILIES = ["stats-logreg", "gmm", "ecapa", "xvector", "whisper-fusion"]
NETWORKS = ["ecapa", "xvector"]  # every weight is in the ONNX graph, checked against the description
# args that no longer fit the arrays the bundle holds
INCONSISTENT = {
    "stats-logreg": each(put("features.sdc.k", 6), put("input.features.sdc.k", 6)),
    "gmm": put("model.args.components", 3),
    "whisper-fusion": without_label("ja", "japanese", "japonic"),
}


@pytest.mark.parametrize("family", FAMILIES)
def test_every_family_declares_the_arrays_it_writes(families, family):
    bundle = load_model(families[family])
    assert bundle.model.name == family
    assert set(bundle.model.state_shapes()) == set(bundle.model.state())
    assert (bundle.model.state() == {}) == (family in NETWORKS)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("family", sorted(INCONSISTENT))
def test_every_family_refuses_an_array_of_the_wrong_shape(families, family, tmp_path):
    def shrink(arrays: dict[str, np.ndarray]) -> None:
        name = next(k for k, v in sorted(arrays.items()) if k.startswith("model.") and v.ndim and len(v) > 1)
        arrays[name] = arrays[name][:-1]

    assert_refused(reweighted(families[family], tmp_path / "shape", shrink), "has shape")
    assert_refused(edited(families[family], tmp_path / "args", INCONSISTENT[family]), "has shape")


def _graph_with_external_weights(bundle: Path) -> None:
    """An ONNX graph that asks for its first weight from a file outside the bundle."""
    import onnx
    from onnx.external_data_helper import set_external_data

    model = onnx.load_from_string((bundle / "network/model.onnx").read_bytes())
    weight = model.graph.initializer[0]
    set_external_data(weight, location="../../../../etc/hostname")
    weight.ClearField("raw_data")
    weight.data_location = onnx.TensorProto.EXTERNAL
    (bundle / "network/model.onnx").write_bytes(model.SerializeToString())


def _graph_without_metadata(bundle: Path) -> None:
    import onnx

    model = onnx.load_from_string((bundle / "network/model.onnx").read_bytes())
    del model.metadata_props[:]
    (bundle / "network/model.onnx").write_bytes(model.SerializeToString())


def _graph_missing(bundle: Path) -> None:
    (bundle / "network/model.onnx").unlink()
    listing = bundle / "checksums.sha256"
    listing.write_text("".join(line + "\n" for line in listing.read_text().splitlines() if "network/" not in line))


NETWORK_DESCRIPTION_DEFECTS = {
    "args differ": (
        put("model.args.channels", 16),
        "network/model.onnx was made for args.channels 8, but bundle.json says 16",
    ),
    "embedding differs": (put("model.args.embedding", 16), "was made for args.embedding 8, but bundle.json says 16"),
    "label dropped": (
        without_label("es", "spanish", "romance"),
        'was made for labels ["en", "de", "es"], but bundle.json says',
    ),
    "features differ": (
        each(put("features.n_mels", 32), put("input.features.n_mels", 32)),
        "was made for features.n_mels 24, but bundle.json says 32",
    ),
    "other family": (put("model.name", "ecapa"), "was made for model xvector, but bundle.json says ecapa"),
}
GRAPH_DEFECTS = {
    "not a graph": (lambda b: (b / "network/model.onnx").write_bytes(os.urandom(4000)),
                    "network/model.onnx is not a graph ONNX Runtime can run"),
    "empty graph": (lambda b: (b / "network/model.onnx").write_bytes(b""), "is not a graph ONNX Runtime can run"),
    "weights outside": (_graph_with_external_weights, "network/model.onnx is not a graph ONNX Runtime can run"),
    "no metadata": (_graph_without_metadata, "was made for model nothing, but bundle.json says xvector"),
    "graph missing": (_graph_missing, "network/model.onnx is missing"),
    "stray array": (lambda b: save_file({"model.net.weight": np.zeros(3, dtype=np.float32)}
                                        | load_file(b / "model.safetensors"), b / "model.safetensors"),
                    "model.net.weight is not part of the bundle's model or calibration"),
}  # fmt: skip


@pytest.mark.timeout(60)
@pytest.mark.parametrize("defect", NETWORK_DESCRIPTION_DEFECTS)
def test_a_network_graph_that_does_not_fit_its_description_is_refused(families, defect, tmp_path):
    edit, fragment = NETWORK_DESCRIPTION_DEFECTS[defect]
    assert_refused(edited(families["xvector"], tmp_path, edit), fragment)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("defect", GRAPH_DEFECTS)
def test_a_damaged_or_foreign_network_graph_is_refused(families, defect, tmp_path):
    change, fragment = GRAPH_DEFECTS[defect]
    bundle = tmp_path / "bundle"
    shutil.copytree(families["xvector"], bundle)
    change(bundle)
    assert_refused(reseal(bundle), fragment)


def test_a_model_that_declares_no_shapes_still_fails_in_one_line(families, toy_corpus, tmp_path):
    """embedding-backend declares no shapes: the network graph it carries is still checked against
    the args that describe it, in one BundleError line."""
    config = write_config(tmp_path / "e.yaml", toy_corpus, "embedding-backend", tmp_path / "runs",
                          model={"name": "embedding-backend", "args": {"network": str(families["xvector"])}})  # fmt: skip
    bundle = train(load_config(config, TrainConfig)).bundle
    assert load_model(bundle).model.state_shapes() is None
    assert_refused(edited(bundle, tmp_path / "edit", put("model.args.network_args.channels", 16)),
                   "network/model.onnx was made for args.channels 8, but bundle.json says 16")  # fmt: skip
    assert_refused(edited(bundle, tmp_path / "unnamed", put("model.args.network_labels", None)),
                   "model.args must name the network_model, network_labels and network_args")  # fmt: skip


def test_a_real_process_prints_one_line_and_no_traceback(tmp_path):
    bundle = edited(FAST, tmp_path, put("taxonomy.parents.semitic", "ar"))
    result = subprocess.run([sys.executable, "-m", "dialectid", "model", "info", str(bundle)],
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and "is a cycle" in result.stderr and "Traceback" not in result.stderr


# ---- item 11: the encoder is hashed, not trusted from a note; encoder paths stay in the bundle ----
@pytest.fixture
def own_home(tmp_path, monkeypatch):
    """A DIALECTID_HOME of this test's own, and no encoder loaded before it."""
    from dialectid.models.whisper import load_encoder

    monkeypatch.setenv("DIALECTID_HOME", str(tmp_path / "home"))
    load_encoder.cache_clear()
    yield tmp_path / "home"
    load_encoder.cache_clear()


def _flip_a_byte_keeping_size_and_time(path: Path) -> None:
    facts = path.stat()
    with path.open("r+b") as stream:
        stream.seek(facts.st_size // 2)
        byte = stream.read(1)
        stream.seek(facts.st_size // 2)
        stream.write(bytes([byte[0] ^ 0xFF]))
    os.utime(path, ns=(facts.st_atime_ns, facts.st_mtime_ns))


def _forge_note(model: Path, digest: str) -> None:
    """The cache note older versions trusted: anyone who can change model.bin can write it too."""
    facts = model.stat()
    note = {"sha256": digest, "size": facts.st_size, "mtime_ns": facts.st_mtime_ns}
    model.with_name("model.bin.sha256.json").write_text(json.dumps(note))


def test_a_changed_encoder_is_found_whatever_a_note_says(own_home, tmp_path):
    from dialectid.models.whisper import WHISPER_BASE_SHA256, EncoderError, WhisperLid, default_encoder_dir
    from dialectid.paths import file_sha256

    copy = tmp_path / "whisper-copy"
    shutil.copytree(default_encoder_dir(), copy)
    _flip_a_byte_keeping_size_and_time(copy / "model.bin")
    _forge_note(copy / "model.bin", WHISPER_BASE_SHA256)
    model = WhisperLid(
        ["en", "de"], FeatureConfig(), {"encoder_path": str(copy), "encoder_sha256": WHISPER_BASE_SHA256}
    )
    with pytest.raises(EncoderError, match=f"trained on encoder sha256 {WHISPER_BASE_SHA256[:12]}, but"):
        model.scores([np.zeros(16000, np.float32)])

    default = default_encoder_dir()
    _flip_a_byte_keeping_size_and_time(default / "model.bin")
    _forge_note(default / "model.bin", WHISPER_BASE_SHA256)
    assert default_encoder_dir() == default  # rebuilt from the packages, not taken on the note's word
    assert file_sha256(default / "model.bin") == WHISPER_BASE_SHA256
    assert not (default / "model.bin.sha256.json").exists()


def test_every_file_of_whisper_base_is_pinned(own_home):
    from dialectid.models.whisper import default_encoder_dir

    folder = default_encoder_dir()
    pristine = (folder / "vocabulary.json").read_bytes()
    tokens = json.loads(pristine)
    english, german = tokens.index("<|en|>"), tokens.index("<|de|>")
    tokens[english], tokens[german] = tokens[german], tokens[english]  # English heard as German
    (folder / "vocabulary.json").write_text(json.dumps(tokens))
    (folder / "preprocessor_config.json").write_text("{}")
    default_encoder_dir()
    assert (folder / "vocabulary.json").read_bytes() == pristine
    assert not (folder / "preprocessor_config.json").exists()


def test_nothing_is_written_beside_an_encoder(own_home, tmp_path):
    from dialectid.models.whisper import WhisperLid, default_encoder_dir

    copy = tmp_path / "whisper-copy"
    shutil.copytree(default_encoder_dir(), copy)
    before = sorted(p.name for p in copy.iterdir())
    model = WhisperLid(["en", "de"], FeatureConfig(), {"encoder_path": str(copy)})
    model.fit(None, None, None)
    assert sorted(p.name for p in copy.iterdir()) == before and len(model.args.encoder_sha256) == 64
    assert not list(own_home.rglob("*.sha256.json"))


def _whisper_lid_bundle(path: Path, encoder: Path) -> Path:
    from dialectid.models.bundle import assemble, save_bundle
    from dialectid.models.calibration import Calibrator
    from dialectid.models.contract import DecisionRules
    from dialectid.models.whisper import WhisperLid

    model = WhisperLid(["en", "de"], FeatureConfig(), {"encoder_path": str(encoder)}).fit(None, None, None)
    calibrator = Calibrator("none").fit(np.zeros((2, 2)), np.array([0, 1]))
    fingerprint = {"manifests": {}, "per_label": {}, "speakers": [], "augmentation_copies": 0}
    bundle = assemble("custom-encoder", model, calibrator, Taxonomy.from_tree(["en", "de"]), DecisionRules(),
                      fingerprint)  # fmt: skip
    return save_bundle(path, bundle, {}, "# custom encoder\n")


@pytest.mark.timeout(120)
def test_an_encoder_other_than_whisper_base_travels_inside_the_bundle(own_home, tmp_path, monkeypatch):
    from dialectid.models.whisper import default_encoder_dir

    custom = tmp_path / "whisper-custom"
    shutil.copytree(default_encoder_dir(), custom)
    path = _whisper_lid_bundle(tmp_path / "bundle", custom)
    shutil.rmtree(custom)  # the bundle stands alone
    listed = (path / "checksums.sha256").read_text()
    assert "  encoder/model.bin\n" in listed and "  encoder/vocabulary.json\n" in listed
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # the encoder is found from the bundle, not from the current folder
    bundle = load_model(path)
    assert bundle.description.model.args["encoder_path"] == "encoder"
    assert bundle.description.encoder is not None and bundle.description.encoder.name == "whisper-custom"
    scores, _ = bundle.scores_and_novelty([np.zeros(16000, np.float32)])
    assert scores.shape == (1, 2) and bundle.model._encoder().folder == path / "encoder"

    (path / "encoder" / "preprocessor_config.json").write_text("{}")
    assert_refused(path, "encoder/preprocessor_config.json is not listed in checksums.sha256")
    (path / "encoder" / "preprocessor_config.json").unlink()
    with (path / "encoder" / "vocabulary.json").open("a") as stream:
        stream.write(" ")
    with pytest.raises(BundleError, match="encoder/vocabulary.json does not match its checksum"):
        load_model(path)


def test_an_encoder_folder_may_not_lead_out_of_the_bundle(tmp_path):
    bundle = edited(FAST, tmp_path, put("model.args.encoder_path", "encoder"))
    (bundle / "encoder").symlink_to(tmp_path)
    assert_refused(bundle, "model.args.encoder_path: 'encoder' leads outside bundle")


# ---- item 12: checksums are integrity; signatures are authenticity --------------------------------
def _copy(source: Path, tmp_path: Path) -> Path:
    target = tmp_path / "bundle"
    shutil.copytree(source, target)
    return target


def _public_key_file(path: Path) -> Path:
    public = Ed25519PrivateKey.generate().public_key()
    path.write_bytes(public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    return path


def test_sign_and_verify_a_bundle(own_home, tmp_path):
    bundle = _copy(FAST, tmp_path)
    unsigned = runner.invoke(app, ["model", "verify", str(bundle)])
    assert unsigned.exit_code == 0 and "intact, not signed" in unsigned.stdout, unsigned.output
    signed = runner.invoke(app, ["model", "sign", str(bundle)])
    assert signed.exit_code == 0 and (bundle / "checksums.sha256.sig").is_file(), signed.output
    verified = runner.invoke(app, ["model", "verify", str(bundle)])
    assert verified.exit_code == 0 and "valid: bundle lid-fast" in verified.stdout, verified.output
    key = own_home / "keys" / "report-signing.pub"
    assert runner.invoke(app, ["model", "verify", str(bundle), "--public-key", str(key)]).exit_code == 0
    assert load_model(bundle).sha256 == load_model(FAST).sha256  # the signature is beside the checksums


def test_a_resealed_bundle_keeps_its_checksums_but_loses_its_signature(own_home, tmp_path):
    bundle = _copy(FAST, tmp_path)
    assert runner.invoke(app, ["model", "sign", str(bundle)]).exit_code == 0
    (bundle / "MODEL_CARD.md").write_text("# a better model, trust me\n")
    load_model(reseal(bundle))  # integrity alone cannot tell
    result = runner.invoke(app, ["model", "verify", str(bundle)])
    assert result.exit_code == 1 and result.stderr.count("\n") == 1, result.output
    assert result.stderr.startswith("NOT VALID: ") and "changed after it was signed" in result.stderr


def _another_key(bundle: Path, tmp_path: Path) -> list[str]:
    return ["--public-key", str(_public_key_file(tmp_path / "other.pub"))]


def _signature(text: str) -> Callable[[Path, Path], list[str]]:
    def prepare(bundle: Path, _: Path) -> list[str]:
        (bundle / "checksums.sha256.sig").write_text(text)
        return []

    return prepare


def _signed_facts_changed(bundle: Path, _: Path) -> list[str]:
    block = json.loads((bundle / "checksums.sha256.sig").read_text())
    block["meta"]["bundle"] = "lid-best"
    (bundle / "checksums.sha256.sig").write_text(json.dumps(block))
    return []


def _card_changed(bundle: Path, _: Path) -> list[str]:
    (bundle / "MODEL_CARD.md").write_text("x")
    return []


@pytest.mark.parametrize(
    ("prepare", "fragment"),
    [(_another_key, "not the trusted key"), (_signature("garbage"), "the signature is damaged"),
     (_signature('{"meta": {}, "sig": "AAAA"}'), "not the trusted key"),
     (_signature('{"meta": [], "sig": "AAAA"}'), "the signature is damaged"),
     (_signed_facts_changed, "the signature is invalid"), (_card_changed, "MODEL_CARD.md does not match its checksum")],
)  # fmt: skip
def test_verify_names_what_is_wrong(own_home, tmp_path, prepare, fragment):
    bundle = _copy(FAST, tmp_path)
    assert runner.invoke(app, ["model", "sign", str(bundle)]).exit_code == 0
    result = runner.invoke(app, ["model", "verify", str(bundle), *prepare(bundle, tmp_path)])
    assert result.exit_code == 1 and fragment in result.stderr and result.stderr.count("\n") == 1, result.output


def test_a_public_key_given_means_a_signature_is_required(own_home, tmp_path):
    key = _public_key_file(tmp_path / "key.pub")
    result = runner.invoke(app, ["model", "verify", str(_copy(FAST, tmp_path)), "--public-key", str(key)])
    assert result.exit_code == 1 and "is not signed" in result.stderr, result.output


def test_only_a_verified_bundle_is_signed(own_home, tmp_path):
    bundle = edited(FAST, tmp_path, put("taxonomy.parents.semitic", "ar"))
    result = runner.invoke(app, ["model", "sign", str(bundle)])
    assert result.exit_code == 2 and "is a cycle" in result.stderr and not (bundle / "checksums.sha256.sig").exists()


@pytest.fixture
def case_with_recording(own_home, toy_corpus):
    from dialectid.casefile import CaseStore

    store = CaseStore(root=own_home)
    case = store.new_case("A B", "1990-01-01", None, "clerk")
    store.add_recording(
        case.reference, toy_corpus["test"].parent / "audio" / "en" / "v4" / "s0.wav", "officer", "clerk"
    )
    return store, case.reference


def test_case_analyses_can_require_signed_bundles(case_with_recording, stats_bundle, tmp_path, monkeypatch):
    from dialectid.casefile.workflow import analyse_case
    from dialectid.models.bundle import sign_bundle
    from dialectid.report import signing_key

    store, reference = case_with_recording
    bundle = _copy(stats_bundle, tmp_path)
    monkeypatch.setenv("DIALECTID_REQUIRE_SIGNED_MODELS", "1")
    with pytest.raises(DialectidError, match="is not signed"):
        analyse_case(store, reference, load_model(bundle), "analyst")
    assert len(store.pending(reference, load_model(bundle).sha256)) == 1  # nothing was analysed
    monkeypatch.setenv("DIALECTID_REQUIRE_SIGNED_MODELS", str(_public_key_file(tmp_path / "other.pub")))
    sign_bundle(bundle, signing_key(store.keys_dir))
    with pytest.raises(DialectidError, match="not the trusted key"):
        analyse_case(store, reference, load_model(bundle), "analyst")
    monkeypatch.setenv("DIALECTID_REQUIRE_SIGNED_MODELS", "1")
    assert len(analyse_case(store, reference, load_model(bundle), "analyst").analysed) == 1
    monkeypatch.delenv("DIALECTID_REQUIRE_SIGNED_MODELS")
    analyse_case(store, reference, load_model(_copy(stats_bundle, tmp_path / "unsigned")), "analyst")  # taken


def test_a_bundle_never_saved_has_no_signature(stats_bundle, tmp_path, monkeypatch):
    from dataclasses import replace

    from dialectid.models.bundle import require_signed_for_cases

    unsaved = replace(load_model(stats_bundle), path=None)
    require_signed_for_cases(unsaved, tmp_path / "keys")  # not required: taken
    monkeypatch.setenv("DIALECTID_REQUIRE_SIGNED_MODELS", "1")
    with pytest.raises(BundleError, match="an unsaved bundle has no signature"):
        require_signed_for_cases(unsaved, tmp_path / "keys")


def test_case_analyse_command_refuses_an_unsigned_bundle(case_with_recording, stats_bundle, monkeypatch):
    _, reference = case_with_recording
    monkeypatch.setenv("DIALECTID_REQUIRE_SIGNED_MODELS", "1")
    result = runner.invoke(app, ["case", "analyse", reference, "--model", str(stats_bundle)])
    assert result.exit_code == 2 and result.stderr.count("\n") == 1 and "is not signed" in result.stderr, result.output
    assert "dialectid model sign" in result.stderr


# ---- issue 26 item 9: a bundle file that is there but cannot be read is said so, not "missing" ----
@pytest.mark.parametrize("name", ["checksums.sha256", "model.safetensors", "bundle.json"])
def test_an_unreadable_bundle_file_is_one_line_that_says_unreadable(name):
    import tempfile

    from privileges import as_nobody

    folder = Path(tempfile.mkdtemp(prefix="dialectid-unreadable-"))  # pytest's own tmp is root's alone
    bundle = folder / "bundle"
    shutil.copytree(FAST, bundle)
    os.chmod(folder, 0o755)
    os.chmod(bundle, 0o755)
    for file in bundle.iterdir():
        os.chmod(file, 0o644)
    os.chmod(bundle / name, 0o600)  # root's alone: uid 65534 cannot read it

    def load() -> str:
        try:
            load_model(bundle)
        except BundleError as error:
            return str(error)
        return "loaded"

    try:
        message = as_nobody(load)
    finally:
        shutil.rmtree(folder)
    assert message.startswith(f"{bundle}: {name} cannot be read (Permission denied)"), message
    assert "missing" not in message and "\n" not in message

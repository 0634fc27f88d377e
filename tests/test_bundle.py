import json
import shutil

import numpy as np
import onnxruntime
import pytest
from typer.testing import CliRunner

from dialectid.cli import app
from dialectid.config import load_config
from dialectid.models.bundle import BundleError, load_model
from dialectid.train.config import TrainConfig
from dialectid.train.trainer import train
from toy import write_config

runner = CliRunner()


def copy(bundle, tmp_path):
    target = tmp_path / "copy"
    shutil.copytree(bundle, target)
    return target


@pytest.mark.parametrize(
    ("damage", "match"),
    [
        (lambda b: b.joinpath("model.safetensors").write_bytes(b.joinpath("model.safetensors").read_bytes()[:-1] + b"\0"),
         "model.safetensors does not match its checksum"),
        (lambda b: b.joinpath("bundle.json").write_text(b.joinpath("bundle.json").read_text().replace("ecapa", "gmm")),
         "bundle.json does not match its checksum"),
        (lambda b: b.joinpath("MODEL_CARD.md").unlink(), "MODEL_CARD.md is missing"),
        (lambda b: b.joinpath("checksums.sha256").unlink(), "checksums.sha256 is missing"),
        (lambda b: b.joinpath("checksums.sha256").write_text("junk\n"), "checksums.sha256 is malformed"),
    ],
)  # fmt: skip
def test_tampered_or_incomplete_bundles_are_refused(network_bundle, tmp_path, damage, match):
    bundle = copy(network_bundle, tmp_path)
    damage(bundle)
    with pytest.raises(BundleError, match=match) as caught:
        load_model(bundle)
    assert "\n" not in caught.value.message
    result = runner.invoke(app, ["model", "info", str(bundle)])
    assert result.exit_code == 2 and match.split()[0] in result.stderr


def test_missing_bundle(tmp_path):
    with pytest.raises(BundleError, match="no such model bundle"):
        load_model(tmp_path / "nothing")


def test_bundle_holds_no_pickle(network_bundle):
    for path in (p for p in network_bundle.rglob("*") if p.is_file()):
        assert b"\x80\x04\x95" not in path.read_bytes()[:64], path  # pickle protocol 4 header
    json.loads((network_bundle / "bundle.json").read_text())


def test_model_info(network_bundle):
    result = runner.invoke(app, ["model", "info", str(network_bundle), "--json"])
    assert result.exit_code == 0, result.output
    facts = json.loads(result.stdout)
    assert facts["model"] == "ecapa" and facts["labels"] == ["en", "de", "es"] and len(facts["bundle_sha256"]) == 64
    assert facts["training_data"]["de"]["clips"] == 8


def test_onnx_export_gives_the_bundles_posteriors(network_bundle, tmp_path):
    out = tmp_path / "model.onnx"
    result = runner.invoke(app, ["model", "export", str(network_bundle), "--onnx", str(out)])
    assert result.exit_code == 0, result.output
    bundle = load_model(network_bundle)
    session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    for frames in (50, 300, 777):
        x = rng.normal(size=(1, frames, bundle.features.dim)).astype(np.float32)
        exported = session.run(None, {"features": x})[0]
        np.testing.assert_allclose(exported, bundle.log_posteriors([x[0]]), atol=1e-5)


def test_export_refuses_classical_models(tmp_path, toy_corpus):
    path = write_config(tmp_path / "s.yaml", toy_corpus, "stats-logreg", tmp_path / "runs",
                        features={"kind": "mfcc", "n_mels": 24, "n_ceps": 13})  # fmt: skip
    bundle = train(load_config(path, TrainConfig)).bundle
    result = runner.invoke(app, ["model", "export", str(bundle), "--onnx", str(tmp_path / "x.onnx")])
    assert result.exit_code == 2 and "only xvector and ecapa bundles export to ONNX" in result.stderr


def test_evaluate_cli(network_bundle, toy_corpus, tmp_path):
    result = runner.invoke(app, ["evaluate", str(network_bundle), str(toy_corpus["test"]), "-o", str(tmp_path / "ev")])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["n"] == 12 and summary["speakers_unseen_in_training"] is True
    metrics = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    assert {"accuracy", "balanced_accuracy", "cavg", "min_cavg", "cllr", "ece", "eer_mean", "confusion", "by_speech",
            "by_group", "coverage", "accuracy_with_refusals", "statuses"} <= set(metrics)  # fmt: skip
    assert set(metrics["by_group"]) == {"speaker"}  # one gender, channel and source: nothing else to break down
    assert {k: v["n"] for k, v in metrics["by_group"]["speaker"].items()} == {"de-v4": 4, "en-v4": 4, "es-v4": 4}
    for name in ("report.md", "confusion.png", "reliability.png", "det.png"):
        assert (tmp_path / "ev" / name).stat().st_size > 100
    assert "Speakers unseen in training: yes" in (tmp_path / "ev" / "report.md").read_text()
    training = runner.invoke(
        app, ["evaluate", str(network_bundle), str(toy_corpus["train"]), "-o", str(tmp_path / "t")]
    )
    assert json.loads(training.stdout)["speakers_unseen_in_training"] is False
    by_gender = json.loads((tmp_path / "t" / "metrics.json").read_text())["by_group"]["gender"]
    assert {k: v["n"] for k, v in by_gender.items()} == {"f": 12, "m": 12}

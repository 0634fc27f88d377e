"""Every model trains on the toy corpus, exports a verified bundle and scores consistently."""

import json

import numpy as np
import pytest
from safetensors.numpy import load_file
from typer.testing import CliRunner

from dialectid.cli import app
from dialectid.config import load_config
from dialectid.models.bundle import CONTENT, load_model
from dialectid.models.whisper import WHISPER_BASE_SHA256
from dialectid.train.config import TrainConfig
from dialectid.train.trainer import train
from toy import write_config

runner = CliRunner()
BUNDLE_FILES = {*CONTENT, "checksums.sha256"}
METRIC_KEYS = {"accuracy", "balanced_accuracy", "cavg", "min_cavg", "cllr", "ece", "eer_mean", "confusion",
               "by_speech", "by_group", "coverage", "statuses"}  # fmt: skip
FEATURES = {
    "stats-logreg": {"kind": "mfcc_sdc", "n_mels": 24, "n_ceps": 7},
    "gmm": {"kind": "mfcc_sdc", "n_mels": 24, "n_ceps": 7},
}
ARGS = {"gmm": {"components": 4}, "xvector": {"channels": 32, "embedding": 32},
        "ecapa": {"channels": 32, "embedding": 32, "loss": "aam"}}  # fmt: skip


def run(tmp_path, manifests, model_name, **sections):
    sections.setdefault("features", FEATURES.get(model_name, {}))
    sections.setdefault("model", {"name": model_name, "args": ARGS.get(model_name, {})})
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = write_config(tmp_path / f"{model_name}.yaml", manifests, model_name, tmp_path / "runs", **sections)
    return train(load_config(path, TrainConfig))


@pytest.fixture(scope="module")
def xvector_run(toy_corpus, tmp_path_factory):
    return run(tmp_path_factory.mktemp("xvector"), toy_corpus, "xvector", training={"epochs": 2})


@pytest.mark.parametrize("model", ["stats-logreg", "gmm", "ecapa", "whisper-backend", "whisper-lid", "whisper-fusion"])
def test_one_epoch_smoke(tmp_path, toy_corpus, model):
    result = run(tmp_path, toy_corpus, model)
    assert {p.name for p in result.bundle.iterdir()} == BUNDLE_FILES | ({"network"} if model == "ecapa" else set())
    assert set(result.metrics) >= METRIC_KEYS
    assert result.metrics["speakers_unseen_in_training"] is True
    for name in ("config.yaml", "train.log", "metrics.jsonl", "evaluation/metrics.json", "evaluation/report.md",
                 "evaluation/confusion.png", "evaluation/reliability.png", "evaluation/det.png"):  # fmt: skip
        assert (result.run_dir / name).is_file(), name
    bundle = load_model(result.bundle)
    assert bundle.labels == ["en", "de", "es"]
    description = json.loads((result.bundle / "bundle.json").read_text())
    assert description["model"]["name"] == model and description["taxonomy"]["parents"]["es"] == "spanish"
    assert description["training_data"]["per_label"]["en"]["speakers"] == 2
    card = (result.bundle / "MODEL_CARD.md").read_text()
    assert "not evidence" in card
    assert ("Zero-shot: nothing in the model was trained" in card) == (model == "whisper-lid")
    assert ("may have learned voices" in card) == (model != "whisper-lid")
    if model == "whisper-fusion":  # dev clips of three languages: the open-set detector is learned, not the default
        assert "open-set detector learned on" in (result.run_dir / "train.log").read_text()
        assert bundle.open_set_threshold == pytest.approx(bundle.model.detector.threshold) != 0.0


def test_xvector_smoke(xvector_run):
    assert {p.name for p in xvector_run.bundle.iterdir()} == BUNDLE_FILES | {"network"}
    epochs = [json.loads(line) for line in (xvector_run.run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [row["epoch"] for row in epochs] == [1, 2] and all("dev_accuracy" in row for row in epochs)
    assert (xvector_run.run_dir / "checkpoints" / "epoch-002.safetensors").is_file()


def test_embedding_backend_on_a_trained_network(tmp_path, toy_corpus, xvector_run):
    result = run(tmp_path, toy_corpus, "embedding-backend",
                 model={"name": "embedding-backend", "args": {"network": str(xvector_run.bundle), "backend": "gaussian"}})  # fmt: skip
    bundle = load_model(result.bundle)
    assert bundle.model.args.network_model == "xvector"
    graph = "network/model.onnx"  # the network's graph travels with the back-end: the bundle stands alone
    assert (result.bundle / graph).read_bytes() == (xvector_run.bundle / graph).read_bytes()
    assert graph in (result.bundle / "checksums.sha256").read_text()
    clips = [np.random.default_rng(3).normal(size=(200, bundle.features.dim)).astype(np.float32)]
    source = load_model(xvector_run.bundle)
    np.testing.assert_allclose(bundle.model.network.embeddings(clips), source.model.embeddings(clips))


def test_classical_model_fits_its_training_voices(tmp_path, toy_corpus):
    """MFCC statistics learn the training voices; on the unseen voice they do no better than chance
    here (the reason the toolkit ships a pretrained-encoder model): only fitting is asserted, on
    the model's own scores. Calibration, fitted on the dev voice, may move a training clip's
    decision, and how far depends on espeak-ng's rendering of that voice: not asserted."""
    from dialectid.data import read_manifest
    from dialectid.train.data import load_clips

    bundle = load_model(run(tmp_path, toy_corpus, "stats-logreg").bundle)
    clips = load_clips(read_manifest(toy_corpus["train"]), bundle.labels, bundle.contract, None)
    assert (bundle.model.scores(clips.inputs).argmax(axis=1) == clips.targets).mean() == 1.0


def test_whisper_backend_knows_languages_from_unseen_voices(tmp_path, toy_corpus):
    result = run(tmp_path, toy_corpus, "whisper-backend")
    assert result.metrics["accuracy"] >= 0.9
    encoder = load_model(result.bundle).description.encoder
    assert encoder is not None and encoder.sha256 == WHISPER_BASE_SHA256


@pytest.mark.parametrize("model", ["stats-logreg", "gmm"])
def test_same_posteriors_alone_and_in_a_batch(tmp_path, toy_corpus, model):
    bundle = load_model(run(tmp_path, toy_corpus, model).bundle)
    rng = np.random.default_rng(0)
    clips = [rng.normal(size=(n, bundle.features.dim)).astype(np.float32) for n in (120, 37, 300)]
    together = bundle.log_posteriors(clips)
    for i, clip in enumerate(clips):
        np.testing.assert_allclose(bundle.log_posteriors([clip])[0], together[i], rtol=1e-9, atol=1e-9)


def test_network_posteriors_alone_and_in_a_batch(xvector_run):
    bundle = load_model(xvector_run.bundle)
    rng = np.random.default_rng(1)
    clips = [rng.normal(size=(n, bundle.features.dim)).astype(np.float32) for n in (200, 9, 450)]
    together = bundle.log_posteriors(clips)
    for i, clip in enumerate(clips):
        np.testing.assert_allclose(bundle.log_posteriors([clip])[0], together[i], atol=1e-6)
    np.testing.assert_allclose(np.exp(together).sum(axis=1), 1.0, atol=1e-6)


@pytest.mark.parametrize("name", ["xvector", "ecapa"])
def test_the_onnx_graph_scores_as_torch_does(tmp_path, toy_corpus, name):
    """The bundle scores from its ONNX graph; the trained torch network (its best checkpoint) gives
    the same posteriors on clips of every length, short ones (tiled) included."""
    from safetensors.torch import load_file as load_tensors

    from dialectid.models.neural import ONNX_TOLERANCE
    from dialectid.models.neural.training import TorchNetwork

    result = run(
        tmp_path, toy_corpus, name, model={"name": name, "args": {"channels": 16, "embedding": 16, "loss": "aam"}}
    )
    bundle = load_model(result.bundle)
    network = TorchNetwork(name, bundle.labels, bundle.features, bundle.model.args)
    network.modules.load_state_dict(load_tensors(result.run_dir / "checkpoints" / "best.safetensors"))
    rng = np.random.default_rng(2)
    clips = [rng.normal(size=(n, bundle.features.dim)).astype(np.float32) for n in (3, 15, 160, 1234)]
    gap = np.abs(np.exp(bundle.model.scores(clips)) - np.exp(network.scores(clips))).max()
    assert gap <= ONNX_TOLERANCE
    assert bundle.model.embeddings(clips).shape == (4, 16)


def test_a_graph_that_strays_from_torch_is_never_shipped(monkeypatch):
    """The agreement check runs on every export: with no tolerance left, the export refuses."""
    from dialectid.errors import DialectidError
    from dialectid.features import FeatureConfig
    from dialectid.models.neural import NetworkArgs, training

    network = training.TorchNetwork(
        "xvector", ["a", "b"], FeatureConfig(n_mels=24), NetworkArgs(channels=8, embedding=8)
    )
    assert network.to_onnx({})  # agrees within ONNX_TOLERANCE
    monkeypatch.setattr(training, "ONNX_TOLERANCE", -1.0)
    with pytest.raises(DialectidError, match="the ONNX graph of the xvector network differs from torch"):
        network.to_onnx({})


def test_resume_gives_the_same_weights(tmp_path, toy_corpus):
    sections = {"model": {"name": "xvector", "args": ARGS["xvector"]}, "training": {"epochs": 3, "patience": 5}}
    straight = run(tmp_path / "a", toy_corpus, "xvector", **sections)

    path = write_config(tmp_path / "b.yaml", toy_corpus, "xvector", tmp_path / "b" / "runs", **sections)
    config = load_config(path, TrainConfig)

    def interrupt(**fields):
        if fields.get("epoch") == 2 and fields.get("step") == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(config, progress=interrupt)
    resumed = train(config, resume=True)
    a = load_file(straight.run_dir / "checkpoints" / "best.safetensors")
    b = load_file(resumed.run_dir / "checkpoints" / "best.safetensors")
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    log = (resumed.run_dir / "train.log").read_text()
    assert "resumed after epoch 1" in log


def test_train_cli(tmp_path, toy_corpus):
    path = write_config(tmp_path / "c.yaml", toy_corpus, "stats-logreg", tmp_path / "runs",
                        features=FEATURES["stats-logreg"], model={"name": "stats-logreg", "args": {}})  # fmt: skip
    result = runner.invoke(app, ["train", str(path), "--set", "name=cli-run", "--set", "model.args.c=0.5"])
    assert result.exit_code == 0, result.output
    assert "held-out (12 clips): coverage" in result.stdout
    merged = (tmp_path / "runs" / "cli-run" / "latest" / "config.yaml").read_text()
    assert "c: 0.5" in merged and "name: cli-run" in merged


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (["--set", "training.epoch=3"], r"training\.epoch: Extra inputs are not permitted"),
        (["--set", "training.epochs=many"], r"training\.epochs: Input should be a valid integer"),
        (["--set", "data.train=/nonexistent/train.jsonl"], r"/nonexistent/train.jsonl: no such manifest"),
        (["--set", "taxonomy.tree=[en, de]"], r"line 17: unknown label 'es'; known labels: en, de"),
        (["--set", "model.name=transformer"], r"unknown model 'transformer'; known models: ecapa, embedding-backend"),
        (["--set", "model.args.depth=3"], r"model.args.depth: Extra inputs are not permitted"),
    ],
)
def test_bad_configs_are_one_line_errors(tmp_path, toy_corpus, change, match):
    path = write_config(tmp_path / "bad.yaml", toy_corpus, "stats-logreg", tmp_path / "runs",
                        features=FEATURES["stats-logreg"], model={"name": "stats-logreg", "args": {}})  # fmt: skip
    result = runner.invoke(app, ["train", str(path), *change])
    assert result.exit_code == 2, result.output
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.output
    assert __import__("re").search(match, result.stderr), result.stderr


def test_calibration_voices_count_as_heard(tmp_path, toy_corpus):
    manifests = {**toy_corpus, "calibration": toy_corpus["test"]}
    result = run(tmp_path, manifests, "stats-logreg", calibration={"method": "temperature"})
    assert result.metrics["speakers_unseen_in_training"] is False  # the test voices calibrated it
    bundle = load_model(result.bundle)
    assert bundle.calibrator.method == "temperature" and bundle.calibrator.scale_ != 1.0


def test_logistic_calibration_needs_every_label(tmp_path, toy_corpus):
    from dialectid.data import read_manifest, write_manifest

    test_voices = read_manifest(toy_corpus["test"])
    one_label = tmp_path / "calibration.jsonl"
    write_manifest(one_label, [u for u in test_voices if u.label == "en"], source_base=test_voices.base)
    path = write_config(tmp_path / "c.yaml", {**toy_corpus, "calibration": one_label}, "stats-logreg",
                        tmp_path / "runs", features=FEATURES["stats-logreg"], calibration={"method": "logistic"})  # fmt: skip
    result = runner.invoke(app, ["train", str(path)])
    assert result.exit_code == 2, result.output
    assert "has 1 of the 3 labels" in result.stderr and "use calibration.method: temperature" in result.stderr


def test_whisper_models_refuse_another_encoder(toy_corpus):
    from dialectid.features import FeatureConfig
    from dialectid.models.whisper import EncoderError, WhisperBackend

    model = WhisperBackend(["en", "de"], FeatureConfig(), {"encoder_sha256": "0" * 64})
    with pytest.raises(
        EncoderError, match=f"trained on encoder sha256 000000000000, but .* has {WHISPER_BASE_SHA256[:12]}"
    ):
        model.scores([np.zeros(16000, dtype=np.float32)])


def test_load_model_is_public(xvector_run):
    import dialectid

    assert dialectid.load_model(xvector_run.bundle).model_id == "toy-xvector"


def test_a_single_leftover_clip_never_forms_a_batch():
    from dialectid.models.base import Clips
    from dialectid.models.neural.training import _batches

    clips = Clips([np.zeros((300, 8), np.float32)] * 5, np.zeros(5, dtype=np.int64), np.zeros(5))
    sizes = [len(y) for _, y in _batches(clips, batch_seconds=4.0, crop_s=(2.0, 2.0), rng=np.random.default_rng(0))]
    assert sizes == [2, 2]  # the fifth clip would have made a batch of one


def test_a_features_section_for_a_model_that_reads_audio_is_an_error(tmp_path, toy_corpus):
    path = write_config(tmp_path / "w.yaml", toy_corpus, "whisper-lid", tmp_path / "runs")
    result = runner.invoke(app, ["train", str(path), "--set", "features.kind=fbank"])
    assert result.exit_code == 2, result.output
    assert "features: the model 'whisper-lid' reads audio, not features; remove the features section" in result.stderr


def test_short_crops_of_the_calibration_recordings_join_the_calibration(tmp_path, toy_corpus):
    """With calibration.short_crops_s, crops from the middle of each calibration recording are
    analysed as recordings of their own and calibrated on too (the duration term needs short speech)."""

    def fitted_on(result) -> int:
        log = (result.run_dir / "train.log").read_text().splitlines()
        line = next(row for row in log if "calibration (" in row)
        return int(line.split("fitted on ")[1].split()[0])

    plain = run(tmp_path / "a", toy_corpus, "stats-logreg", calibration={"duration_covariate": True})
    cropped = run(tmp_path / "b", toy_corpus, "stats-logreg",
                  calibration={"duration_covariate": True, "short_crops_s": [1.6]})  # fmt: skip
    assert fitted_on(cropped) > fitted_on(plain) == 12

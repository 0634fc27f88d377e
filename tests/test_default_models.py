"""The shipped models: they load, verify, get the bundled samples right and match their metrics."""

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from dialectid.cli import app
from dialectid.config import load_config
from dialectid.evaluation.evaluate import evaluate
from dialectid.models.bundle import load_model
from dialectid.scoring import Scorer
from dialectid.train.config import TrainConfig
from dialectid.train.trainer import train

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "datasets" / "samples"
EXPECTED = {"es-CO-vm-options.gsm": "es", "fr-FR-vm-options.gsm": "fr", "it-IT-vm-options.wav": "it",
            "telephone-en.wav": "en", "ar-voxlingua.wav": "ar", "ur-voxlingua.wav": "ur", "tr-voxlingua.wav": "tr",
            "fa-voxlingua.wav": "fa"}  # fmt: skip
runner = CliRunner()
needs_corpora = pytest.mark.needs_shared("voxlingua107_dev")  # the manifests in datasets/lid/ point there


@pytest.fixture(scope="module")
def accurate():
    return load_model(ROOT / "models" / "lid-accurate")


def test_default_model_names_every_bundled_sample(accurate):
    scorer = Scorer(accurate)
    for name, language in EXPECTED.items():
        analysis = scorer.analyse(SAMPLES / name)
        assert (analysis.status, analysis.top_label) == ("ok", language), name
    assert scorer.analyse(SAMPLES / "fr-FR-too-short.gsm").status == "insufficient_speech"


def test_persian_is_no_longer_flagged_for_what_whisper_base_hears_in_it(accurate):
    """Whisper-base puts 65 % of its probability for the Persian sample on other languages (Yoruba,
    Swahili, Bengali ...). With Whisper's outside share as the only open-set cue, this sample, like
    40 % of the Persian test clips, came out out_of_set; the learned detector weighs that share
    against what is usual for Persian and against what the back-end hears."""
    from dialectid.audio import IngestConfig, detect_speech, load_recording
    from dialectid.models.whisper import load_encoder
    from dialectid.scoring.windows import speech_windows

    recording = load_recording(SAMPLES / "fa-voxlingua.wav", IngestConfig(sample_rate=16000))
    windows = speech_windows(recording.blocks(), 16000, detect_speech(recording).segments, 4.0, 2.0)
    probabilities = [load_encoder(None).language_probabilities(w.samples) for w in windows]
    outside = np.mean([1 - sum(p.get(code, 0.0) for code in [*accurate.labels, "hi"]) for p in probabilities])
    assert outside > 0.5  # the old rule's out_of_set
    analysis = Scorer(accurate).analyse(SAMPLES / "fa-voxlingua.wav")
    assert (analysis.status, analysis.top_label) == ("ok", "fa")


@needs_corpora
@pytest.mark.slow
def test_default_model_flags_most_speech_in_languages_it_does_not_know(accurate):
    """Six real clips in each of the four held-out languages (Icelandic, Latvian, Norwegian,
    Chinese; in no split): at least two in three are flagged out_of_set (17 of 24 measured). The
    threshold keeps in-set speech of every source at about 3 % flagged (issue 28), which costs some
    of the held-out languages: the figure over all 128 is in reports/lid.md."""
    from dialectid.data import read_manifest

    unknown = read_manifest(ROOT / "datasets" / "lid" / "unknown.jsonl")
    picked = [u for language in ("is", "lv", "no", "zh") for u in [v for v in unknown if v.label == language][:6]]
    scorer = Scorer(accurate)
    statuses = [scorer.analyse(unknown.path_of(u)).status for u in picked]
    assert statuses.count("out_of_set") >= 2 / 3 * len(picked), statuses


def test_score_uses_the_default_model(monkeypatch):
    monkeypatch.delenv("DIALECTID_MODEL", raising=False)
    result = runner.invoke(app, ["score", str(SAMPLES / "it-IT-vm-options.wav")])
    assert result.exit_code == 0, result.output
    assert "status: ok" in result.stdout and "it " in result.stdout


def test_fast_model_loads_and_scores(accurate):
    fast = load_model(ROOT / "models" / "lid-fast")
    assert fast.labels == accurate.labels
    analysis = Scorer(fast).analyse(SAMPLES / "telephone-en.wav")
    assert analysis.status in ("ok", "low_confidence", "out_of_set") and analysis.probabilities


def test_bundles_hold_no_encoder_weights():
    for name in ("lid-accurate", "lid-fast"):
        assert sum(p.stat().st_size for p in (ROOT / "models" / name).iterdir()) < 5_000_000


# How far each figure moves on the 213 test clips when only the CPU kernels change (CTranslate2's
# int8 GENERIC/AVX/AVX2/AVX512 kernels, same locked packages, one numeric thread; measured by
# benchmarks/kernel_spread.py, table in reports/benchmarks.md): coverage 0.014, accuracy 0.010,
# balanced accuracy 0.009, Cavg 0.002, minimum Cavg 0.004, Cllr 0.026, ECE 0.011. The committed
# figures may come from another CPU; each may differ from a fresh run by twice its measured spread
# (and at least 0.005).
KERNEL_TOLERANCE = {"coverage": 0.028, "accuracy": 0.021, "balanced_accuracy": 0.018, "cavg": 0.005,
                    "min_cavg": 0.007, "cllr": 0.052, "ece": 0.022}  # fmt: skip


@needs_corpora
@pytest.mark.slow
def test_committed_metrics_match_a_fresh_evaluation(accurate):
    fresh = evaluate(accurate, ROOT / "datasets" / "lid" / "test.jsonl")
    assert fresh["n"] == accurate.metrics["n"] == 213
    for key, tolerance in KERNEL_TOLERANCE.items():
        assert fresh[key] == pytest.approx(accurate.metrics[key], abs=tolerance), key
    assert fresh["speakers_unseen_in_training"] is True


@pytest.mark.parametrize("name", ["lid-accurate", "lid-fast"])
def test_evaluate_and_score_agree_on_the_shipped_models(name, tmp_path):
    """Every fifteenth test clip (58, short and long): the status and label `evaluate` counts are
    the ones `dialectid score` prints."""
    lines = (ROOT / "datasets" / "asterisk" / "test.jsonl").read_text().splitlines()[::15]
    (tmp_path / "subset.jsonl").write_text("".join(line + "\n" for line in lines))
    bundle = ROOT / "models" / name
    result = runner.invoke(app, ["evaluate", str(bundle), str(tmp_path / "subset.jsonl"), "-o", str(tmp_path / "ev")])
    assert result.exit_code == 0, result.output
    evaluated = [json.loads(row) for row in (tmp_path / "ev" / "clips.jsonl").read_text().splitlines()]
    paths = [row["path"] for row in evaluated]
    runner.invoke(app, ["score", *paths, "--model", str(bundle), "-o", str(tmp_path / "rows.jsonl")])
    scored = [json.loads(row) for row in (tmp_path / "rows.jsonl").read_text().splitlines()]
    assert [row["path"] for row in scored] == paths
    for clip, row in zip(evaluated, scored, strict=True):
        label = row["top_label"] if row["status"] in ("ok", "low_confidence") else None
        assert (clip["status"], clip["top_label"]) == (row["status"], label), clip["path"]


@needs_corpora
@pytest.mark.slow
def test_default_config_trains_end_to_end_on_a_subset(tmp_path):
    """configs/lid-accurate.yaml as it is, on two training clips, and one of every other split,
    per language (the manifests' relative corpus paths are rewritten for the new folder)."""
    from dataclasses import replace

    from dialectid.data import read_manifest, write_manifest

    subsets = {}
    for split, per_language in (("train", 2), ("dev", 1), ("calibration", 1), ("test", 1)):
        manifest = read_manifest(ROOT / "datasets" / "lid" / f"{split}.jsonl")
        kept, seen = [], {}
        for utt in manifest:
            if seen.get(utt.label, 0) < per_language:
                seen[utt.label] = seen.get(utt.label, 0) + 1
                kept.append(replace(utt, path=str(manifest.path_of(utt))))
        subsets[split] = tmp_path / f"{split}.jsonl"
        write_manifest(subsets[split], kept)
    overrides = [f"data.{split}={path}" for split, path in subsets.items()]
    overrides += [
        f"output.runs_dir={tmp_path / 'runs'}",
        f"output.bundle={tmp_path / 'bundle'}",
        "model.args.cross_validate=false",
    ]  # two clips a language: too few videos for five folds
    config = load_config(ROOT / "configs" / "lid-accurate.yaml", TrainConfig, overrides)
    result = train(config)
    bundle = load_model(result.bundle)
    assert len(bundle.labels) == 18 and {"ar", "fa", "ur", "tr", "az", "hy"} <= set(bundle.labels)
    assert bundle.rules.min_speech_s == 1.0 and bundle.model.args.languages == {"ur": ["ur", "hi"]}
    card = (result.bundle / "MODEL_CARD.md").read_text()
    assert "What this model cannot do" in card and "coverage" in card


def test_short_in_set_telephone_prompts_are_never_called_out_of_set(accurate):
    """Issue 28: 27 % of the asterisk test prompts with 1-2 s of speech were called out_of_set (in-set
    speech, a language the model knows). Below the bundle's speech line a novel prompt is
    low_confidence instead: 24 prompts of the test voices with little speech, none out_of_set."""
    from dialectid.data import read_manifest

    prompts = read_manifest(ROOT / "datasets" / "lid" / "asterisk-test.jsonl")
    scorer, short = Scorer(accurate), []
    for utt in prompts:
        if 1.5 <= (utt.duration_s or 0) <= 3.0 and len(short) < 24:
            short.append(scorer.analyse(prompts.path_of(utt)))
    assert len(short) == 24
    assert not [a.status for a in short if a.status == "out_of_set"]
    novel_and_short = [a for a in short if a.open_set and a.open_set.novelty > a.open_set.threshold]
    line = accurate.rules.open_set_min_speech_s
    assert all(a.status == "low_confidence" for a in novel_and_short if a.speech_s < line)
    assert novel_and_short, "no short prompt was novel: the test shows nothing"

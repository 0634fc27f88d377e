"""What an ML engineer meets around a training run (#25): each run in its own folder, a bundle
folder replaced only with --force, progress lines with rates and time left, and a loud warning
(console and model card) when the bundle answers nothing or no better than chance."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dialectid.cli import app
from dialectid.config import load_config
from dialectid.errors import ConfigError
from dialectid.train.card import usefulness_warnings
from dialectid.train.config import TrainConfig
from dialectid.train.progress import StageProgress
from dialectid.train.trainer import train
from toy import write_config

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()
STATS = {"features": {"kind": "mfcc_sdc", "n_mels": 24, "n_ceps": 7}, "model": {"name": "stats-logreg", "args": {}}}


def _config(tmp_path: Path, manifests, **output) -> Path:
    sections = {**STATS, "output": {"runs_dir": str(tmp_path / "runs"), **output}}
    return write_config(tmp_path / "stats.yaml", manifests, "stats-logreg", tmp_path / "runs", **sections)


def test_each_run_gets_its_own_folder_and_latest_points_at_the_newest(tmp_path, toy_corpus):
    config = load_config(_config(tmp_path, toy_corpus), TrainConfig)
    first = train(config)
    first_card = (first.bundle / "MODEL_CARD.md").read_bytes()
    second = train(config)
    assert first.run_dir != second.run_dir and first.run_dir.parent == second.run_dir.parent
    assert (first.bundle / "MODEL_CARD.md").read_bytes() == first_card  # the earlier run is untouched
    assert (second.run_dir.parent / "latest").resolve() == second.run_dir.resolve()
    assert second.bundle == second.run_dir / "bundle"


def test_resume_without_an_earlier_run_says_so(tmp_path, toy_corpus):
    config = load_config(_config(tmp_path, toy_corpus), TrainConfig)
    with pytest.raises(ConfigError, match="holds no earlier run of 'toy-stats-logreg'.*without --resume"):
        train(config, resume=True)


def test_an_existing_bundle_folder_is_replaced_only_with_force(tmp_path, toy_corpus):
    shipped = tmp_path / "models" / "lid-fast"
    shipped.mkdir(parents=True)
    (shipped / "bundle.json").write_text("{}")
    path = _config(tmp_path, toy_corpus, bundle=str(shipped))
    result = runner.invoke(app, ["train", str(path)])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        f"error: output.bundle: {shipped} already exists and would be overwritten; add --force to replace it, "
        "or --set output.bundle=null to write into this run's folder"]  # fmt: skip
    assert (shipped / "bundle.json").read_text() == "{}"
    assert not (tmp_path / "runs").exists()  # refused before any work
    result = runner.invoke(app, ["train", str(path), "--force"])
    assert result.exit_code == 0, result.output
    assert (shipped / "MODEL_CARD.md").is_file()


def test_stage_progress_writes_rates_and_time_left_at_most_every_interval():
    now = [0.0]
    lines, forwarded = [], []
    progress = StageProgress(lines.append, lambda **fields: forwarded.append(fields), every_s=30, clock=lambda: now[0])
    for step in range(1, 101):
        now[0] = step * 1.0  # one item a second
        progress(stage="encoding", step=step, steps=100)
    now[0] += 1
    progress(step=1, total=3)  # a classical model's call: no stage, `total`
    assert lines == ["encoding: started, 100 steps", "encoding 31/100 (1.0/s, about 1m09s left)",
                     "encoding 61/100 (1.0/s, about 39s left)", "encoding 91/100 (1.0/s, about 9s left)",
                     "encoding 100/100 done in 1m39s (1.0/s)", "fitting: started, 3 steps"]  # fmt: skip
    assert forwarded[-1] == {"stage": "fitting", "step": 1, "steps": 3, "total": 3, "line": None}


def test_training_logs_every_stage_to_train_log_and_a_console_that_is_not_a_terminal(tmp_path, toy_corpus):
    result = runner.invoke(app, ["train", str(_config(tmp_path, toy_corpus)), "--set", "decision.min_speech_s=1.0"])
    assert result.exit_code == 0, result.output
    log = (tmp_path / "runs" / "toy-stats-logreg" / "latest" / "train.log").read_text()
    for line in ("loading train clips 24/24 done in", "loading dev clips 12/12 done in", "calibrating 12/12 done in",
                 "evaluating 12/12 done in", "fitting stats-logreg on 24 clips", "fitted stats-logreg in "):  # fmt: skip
        assert line in log, log
        assert line in result.stderr, result.stderr
    assert "/s)" in result.stderr


def test_evaluate_prints_progress_lines_when_not_on_a_terminal(tmp_path, stats_bundle, toy_corpus):
    result = runner.invoke(app, ["evaluate", str(stats_bundle), str(toy_corpus["test"]), "-o", str(tmp_path / "e")])
    assert result.exit_code == 0, result.output
    assert "evaluating: started, 12 steps" in result.stderr and "evaluating 12/12 done in" in result.stderr


def test_a_bundle_that_answers_nothing_is_flagged_on_the_console_and_its_card(tmp_path, toy_corpus):
    path = _config(tmp_path, toy_corpus)  # the default 3 s of speech refuses every 1-2.5 s toy clip
    result = runner.invoke(app, ["train", str(path), "--set", "decision.min_speech_s=3.0"])
    assert result.exit_code == 0, result.output
    assert "WARNING: coverage 0.000: 12 of the 12 held-out clips got no label" in result.stderr
    card = (tmp_path / "runs" / "toy-stats-logreg" / "latest" / "bundle" / "MODEL_CARD.md").read_text()
    assert card.splitlines()[2] == "## WARNING: not fit to use"
    strict = runner.invoke(app, ["train", str(path), "--set", "decision.min_speech_s=3.0", "--strict"])
    assert strict.exit_code == 1


def test_accuracy_within_chance_of_its_interval_is_flagged():
    at_chance = {"n": 12, "n_answered": 12, "coverage": 1.0, "accuracy": 7 / 12}  # interval 32 % to 81 %
    assert usefulness_warnings(at_chance, 3) == [
        "accuracy on the 12 answered clips 58.3 % (95 % interval 32.0 % to 80.7 %) is not above chance "
        "(33.3 % for 3 labels)"]  # fmt: skip
    assert usefulness_warnings({**at_chance, "accuracy": 11 / 12}, 3) == []
    assert usefulness_warnings({**at_chance, "n": 60, "n_answered": 60, "accuracy": 0.5}, 3) == []


@pytest.mark.slow
def test_the_readme_toy_route_gives_a_bundle_above_chance(tmp_path):
    """scripts/make_toy_corpus.py + configs/toy-stats-logreg.yaml, as the README runs them."""
    made = subprocess.run([sys.executable, str(ROOT / "scripts" / "make_toy_corpus.py"), "data/toy"], cwd=tmp_path,
                          capture_output=True, text=True)  # fmt: skip
    assert made.returncode == 0, made.stderr[-400:]
    config = load_config(ROOT / "configs" / "toy-stats-logreg.yaml", TrainConfig,
                         [f"output.runs_dir={tmp_path / 'runs'}"] +
                         [f"data.{part}={tmp_path / 'data' / 'toy' / f'{part}.jsonl'}" for part in ("train", "dev", "test")])  # fmt: skip
    metrics = train(config).metrics
    assert metrics["coverage"] >= 0.9 and "warnings" not in metrics, metrics.get("warnings")

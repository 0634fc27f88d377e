"""The ok/low_confidence line chosen on held-out speech (issue 28): the lowest line from which
recordings in every band are right at least half the time, with probabilities calibrated out of fold."""

from types import SimpleNamespace

import numpy as np

from dialectid.models.calibration import Calibrator
from dialectid.train.decision_lines import CONFIDENCE_GRID, CONFIDENCE_MIN_RECORDINGS, Held, confidence_line


def held_out(n: int, seed: int = 0, labels: int = 3, speakers: int = 30) -> list[Held]:
    """Recordings whose scores favour the right label by a varying margin: some easy, some coin flips."""
    rng = np.random.default_rng(seed)
    held = []
    for i in range(n):
        target = i % labels
        scores = rng.normal(0, 1, labels)
        scores[target] += rng.uniform(0, 4)
        speech = float(rng.uniform(1, 10))
        measured = SimpleNamespace(mean_scores=lambda s=scores: s, speech_s=speech, mean_novelty=lambda: None)
        held.append(Held(target, measured, f"speaker {i % speakers}"))
    return held


def test_the_line_is_where_every_band_above_is_right_more_often_than_not():
    line = confidence_line(held_out(400), Calibrator("logistic", duration_covariate=True), 0, lambda _: None)
    assert line is not None and line["chosen"] in CONFIDENCE_GRID and line["folds"] == 5
    bands = {row["from"]: row for row in line["curve"]}
    above = [row for start, row in bands.items() if start >= line["chosen"] and row["right"] is not None]
    assert above and all(row["right"] >= 0.5 for row in above)
    if line["chosen"] > CONFIDENCE_GRID[0]:
        below = bands[CONFIDENCE_GRID[CONFIDENCE_GRID.index(line["chosen"]) - 1]]
        assert below["right"] is not None and below["right"] < 0.5
    assert sum(row["recordings"] for row in line["curve"]) <= 400


def test_too_few_recordings_keep_the_configured_line():
    few = held_out(CONFIDENCE_MIN_RECORDINGS - 1)
    assert confidence_line(few, Calibrator("logistic"), 0, lambda _: None) is None


def test_no_calibration_keeps_the_configured_line():
    assert confidence_line(held_out(200), Calibrator("none"), 0, lambda _: None) is None


def test_one_speaker_per_label_cannot_be_folded():
    held = held_out(120, speakers=3)  # speaker i % 3 speaks label i % 3: one speaker per label
    assert confidence_line(held, Calibrator("logistic"), 0, lambda _: None) is None


def test_a_line_the_config_sets_is_kept_and_one_it_leaves_out_is_chosen():
    """dialect-arabic sets low_confidence 0.7 as a policy: training must not replace it."""
    from types import SimpleNamespace as Namespace

    from dialectid.models.contract import DecisionRules
    from dialectid.train.trainer import chosen_lines

    held, calibrator = held_out(400), Calibrator("logistic", duration_covariate=True)
    config = Namespace(decision=DecisionRules(low_confidence=0.7), training=Namespace(seed=0))
    rules, lines = chosen_lines(config, held, calibrator, None, lambda _: None)
    assert rules.low_confidence == 0.7 and lines == {}
    config = Namespace(decision=DecisionRules(), training=Namespace(seed=0))
    rules, lines = chosen_lines(config, held, calibrator, None, lambda _: None)
    assert rules.low_confidence == lines["confidence_line"]["chosen"] and "open_set_speech_line" not in lines

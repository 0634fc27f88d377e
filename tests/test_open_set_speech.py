"""How much speech the open-set decision needs (issue 28): below the bundle's
`open_set_min_speech_s`, a novelty above the threshold gives low_confidence, not out_of_set; the
trainer chooses the line on held-out in-set recordings."""

from types import SimpleNamespace

import pytest

from dialectid.models.bundle import load_model
from dialectid.scoring import Scorer, ScoringConfig
from dialectid.train.decision_lines import IN_SET_FLAG_RATE_MAX, OPEN_SET_SPEECH_GRID, Held, open_set_speech_line
from toy import concatenate


def measured(speech_s: float, novelty: float) -> Held:
    return Held(0, SimpleNamespace(speech_s=speech_s, mean_novelty=lambda: novelty), "a speaker")


def test_the_line_is_the_shortest_at_which_in_set_speech_is_rarely_flagged():
    one_s = [measured(1.0, 0.9)] * 3 + [measured(1.0, 0.1)] * 7  # 30 % flagged
    under_two_s = [measured(1.7, 0.9)] * 3 + [measured(1.7, 0.1)] * 7  # 30 % flagged
    two_s = [measured(2.2, 0.9)] + [measured(2.2, 0.1)] * 9  # with the longer ones: 1 in 40
    long = [measured(8.0, 0.1)] * 30
    line = open_set_speech_line(one_s + under_two_s + two_s + long, 0.5, lambda _: None)
    assert line["chosen_s"] == 2.0
    assert [r["recordings"] for r in line["curve"]] == [60, 50, 40, 30, 30, 30]
    assert [r["flagged"] for r in line["curve"][:3]] == pytest.approx([7 / 60, 4 / 50, 1 / 40])


def test_the_longest_line_when_no_line_keeps_in_set_speech_unflagged():
    line = open_set_speech_line([measured(8.0, 0.9), measured(8.0, 0.1)], 0.5, lambda _: None)
    assert line["chosen_s"] == OPEN_SET_SPEECH_GRID[-1] and line["curve"][-1]["flagged"] > IN_SET_FLAG_RATE_MAX


def test_every_line_when_nothing_is_flagged():
    line = open_set_speech_line([measured(1.0, 0.1), measured(8.0, 0.2)], 0.5, lambda _: None)
    assert line["chosen_s"] == 0.0


def test_novel_speech_shorter_than_the_line_is_low_confidence_not_out_of_set(english_german_fusion, toy_corpus,
                                                                           tmp_path):  # fmt: skip
    bundle = load_model(english_german_fusion)
    spanish = concatenate(sorted((toy_corpus["train"].parent / "audio" / "es" / "v4").glob("s*.wav")),
                          tmp_path / "spanish.wav")  # fmt: skip
    as_trained = Scorer(bundle, ScoringConfig.model_validate({"decision": {"open_set_min_speech_s": 0}}))
    flagged = as_trained.analyse(spanish)
    assert flagged.status == "out_of_set" and flagged.open_set.novelty > flagged.open_set.threshold
    longer_line = flagged.speech_s + 1
    cautious = Scorer(bundle, ScoringConfig.model_validate({"decision": {"open_set_min_speech_s": longer_line}}))
    short = cautious.analyse(spanish)
    assert short.status == "low_confidence"
    assert short.open_set.novelty == flagged.open_set.novelty  # the same measurement, the other side of the line
    assert any("open_set_min_speech_s" in note for note in short.notes)
    from dialectid.report.context import ModelFacts
    from dialectid.report.explain import status_lines

    said = " ".join(status_lines(short, ModelFacts.from_bundle(bundle)))
    assert "too little to tell a language the model does not know" in said and "has only" not in said

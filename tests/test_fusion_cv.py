"""Choosing the Whisper fusion by speaker-grouped cross-validation (models/fusion_cv.py), and the
property it keeps: never less accurate than Whisper's own detection, on every fold and source."""

import json
from pathlib import Path

import numpy as np
import pytest

from dialectid.models import fusion_cv
from dialectid.models.base import log_softmax
from dialectid.models.bundle import load_model

ROOT = Path(__file__).resolve().parent.parent
LABELS = ["a", "b", "c"]


class Stub:
    """A 'back-end' whose log-posteriors are the embedding itself, scaled: the test decides what it knows."""

    def __init__(self, scale: float) -> None:
        self.scale = scale

    def scores(self, embeddings):
        return log_softmax(self.scale * embeddings)

    def novelty(self, embeddings):
        return np.zeros(len(embeddings))


def corpus(backend_right: float, whisper_right: float, seed: int = 0):
    """Three labels x 8 speakers x 2 clips x 2 windows; the back-end's and Whisper's evidence point to
    the right label with the given probabilities, independently."""
    rng = np.random.default_rng(seed)
    rows = []
    for target in range(3):
        for speaker in range(8):
            for _clip in range(2):
                for _ in range(2):
                    rows.append((target, f"{target}-{speaker}", len(rows) // 2, "studio" if speaker % 2 else "phone"))
    targets = np.array([r[0] for r in rows])
    groups, origins, sources = (np.array([r[k] for r in rows]) for k in (1, 2, 3))

    def evidence(right: float) -> np.ndarray:
        clip_label = np.where(rng.random(origins.max() + 1) < right, targets[np.unique(origins, return_index=True)[1]],
                              (targets[np.unique(origins, return_index=True)[1]] + 1) % 3)  # fmt: skip
        return np.eye(3)[clip_label[origins]]

    return evidence(backend_right), log_softmax(3.0 * evidence(whisper_right)), targets, groups, origins, sources


def test_folds_keep_every_speaker_whole_and_cover_every_window():
    _, _, targets, groups, origins, _ = corpus(1.0, 1.0)
    masks = fusion_cv.fold_masks(targets, groups, origins, seed=0)
    assert len(masks) == fusion_cv.FOLDS
    assert (np.sum(masks, axis=0) == 1).all()
    for mask in masks:
        assert not set(groups[mask]) & set(groups[~mask])


def test_a_better_back_end_is_chosen_and_never_worse_than_whisper_anywhere():
    embeddings, lid, targets, groups, origins, sources = corpus(backend_right=0.95, whisper_right=0.7)
    found = fusion_cv.search(embeddings, lid, targets, groups, origins, sources, LABELS, lambda x, y, c: Stub(10 * c))
    chosen = next(r for r in found.curve if (r["c"], r["lid_weight"]) == (found.c, found.lid_weight))
    assert chosen["never_worse"] and chosen["accuracy"] == max(r["accuracy"] for r in found.curve if r["never_worse"])
    for right, whisper in zip(chosen["per_fold"], found.whisper_per_fold, strict=True):
        assert right >= whisper
    for row in found.per_source.values():
        assert row["model"] >= row["whisper"]
    assert sum(row["clips"] for row in found.per_label.values()) == origins.max() + 1


def test_training_stops_when_no_setting_keeps_up_with_whisper():
    """A back-end confidently wrong on a third of the clips drags every fusion below Whisper, which is right on all."""
    embeddings, lid, targets, groups, origins, sources = corpus(backend_right=0.6, whisper_right=1.0)
    with pytest.raises(fusion_cv.FusionCheckError, match="no fusion setting is at least as accurate as Whisper"):
        fusion_cv.search(embeddings, lid, targets, groups, origins, sources, LABELS, lambda x, y, c: Stub(50.0))


def test_too_few_speakers_for_cross_validation_is_one_line():
    embeddings, lid, targets, _, origins, sources = corpus(1.0, 1.0)
    with pytest.raises(fusion_cv.FusionCheckError, match="at least two speakers"):
        fusion_cv.search(
            embeddings, lid, targets, targets.astype(str), origins, sources, LABELS, lambda x, y, c: Stub(1)
        )


def test_the_in_set_threshold_holds_the_flag_rate_on_every_source():
    rng = np.random.default_rng(1)
    origins = np.repeat(np.arange(200), 2)
    sources = np.where(origins < 100, "quiet", "noisy")
    novelty = np.where(sources == "quiet", rng.uniform(0, 0.3, 400), rng.uniform(0.2, 0.9, 400))
    threshold, rates = fusion_cv.in_set_threshold(novelty, origins, sources)
    assert rates["quiet"]["flagged"] == 0.0
    assert 0 < rates["noisy"]["flagged"] <= fusion_cv.IN_SET_FLAG_RATE
    assert threshold > 0.3  # the noisy source sets it


@pytest.mark.parametrize("name", ["lid-accurate", "lid-fast"])
def test_the_shipped_models_are_never_worse_than_whisper_in_cross_validation(name):
    """What the training measured and recorded in the bundle: the chosen setting kept up with
    Whisper restricted on every fold and source, and flags at most 5 % of any source's in-set speech
    (issue 28's bound; the threshold aims at 3 %, a quantile, so ties may put a source a little over it)."""
    cv = json.loads((ROOT / "models" / name / "metrics.json").read_text())["cross_validation"]
    chosen = next(r for r in cv["curve"] if (r["c"], r["lid_weight"]) == (cv["c"], cv["lid_weight"]))
    assert chosen["never_worse"] and cv["folds"] == fusion_cv.FOLDS
    assert all(r >= w for r, w in zip(chosen["per_fold"], cv["whisper_per_fold"], strict=True))
    assert {"asterisk voices", "voxlingua107_dev"} <= set(cv["per_source"])
    assert all(row["model"] >= row["whisper"] for row in cv["per_source"].values())
    assert all(row["flagged"] <= 0.05 for row in cv["open_set"]["flagged_per_source"].values())


@pytest.mark.parametrize("name", ["lid-accurate", "lid-fast"])
def test_the_shipped_models_call_out_of_set_only_where_held_out_speech_allows(name):
    """The speech line recorded in training: from it on, at most 5 % of the held-out in-set
    recordings were flagged, and no shorter line of the grid held that."""
    bundle = load_model(ROOT / "models" / name)
    line = json.loads((ROOT / "models" / name / "metrics.json").read_text())["open_set_speech_line"]
    assert bundle.rules.open_set_min_speech_s == line["chosen_s"] > 0
    rates = {row["at_least_s"]: row["flagged"] for row in line["curve"]}
    assert rates[line["chosen_s"]] <= 0.05 < min(r for s, r in rates.items() if s < line["chosen_s"])


@pytest.mark.parametrize("name", ["lid-accurate", "lid-fast"])
def test_the_shipped_models_answer_ok_where_held_out_speech_is_more_likely_right_than_wrong(name):
    """The ok/low_confidence line recorded in training: every band from it on was right at least
    half the time out of fold, and the band just below it was not."""
    bundle = load_model(ROOT / "models" / name)
    line = json.loads((ROOT / "models" / name / "metrics.json").read_text())["confidence_line"]
    assert bundle.rules.low_confidence == line["chosen"] and line["folds"] >= 2
    bands = [row for row in line["curve"] if row["right"] is not None]
    assert all(row["right"] >= 0.5 for row in bands if row["from"] >= line["chosen"])
    below = [row["right"] for row in bands if row["from"] < line["chosen"]]
    assert not below or below[-1] < 0.5

"""The open-set detector of the Whisper fusion (models/openset.py)."""

from __future__ import annotations

import numpy as np
import pytest

from dialectid.models.openset import CUES, RECALL, OpenSetDetector, simulate_unknown, window_cues


def cues_for(outside: list[float]) -> np.ndarray:
    n, labels = len(outside), 3
    backend = np.log(np.full((n, labels), 1 / labels))
    return window_cues(backend, np.zeros(n), backend, np.array(outside), np.zeros(labels))


def test_without_dev_clips_the_detector_is_whispers_outside_share_at_one_half():
    detector = OpenSetDetector.outside_share_only()
    novelty = detector.novelty(cues_for([0.1, 0.49, 0.51, 0.9]))
    assert (novelty > detector.threshold).tolist() == [False, False, True, True]


def test_outside_share_is_weighed_against_what_is_usual_for_the_label_the_fusion_believes():
    """Whisper-base spreads Persian over many languages: a high outside share on speech the model
    calls Persian is less telling than the same share on speech it calls German."""
    outside = np.array([0.6, 0.6])
    fused = np.log(np.array([[0.98, 0.01, 0.01], [0.01, 0.98, 0.01]]))
    usual = np.array([1.5, -4.0, -4.0])  # label 0's training windows draw a lot outside
    cues = window_cues(fused, np.zeros(2), fused, outside, usual)
    relative = cues[:, CUES.index("outside_vs_label")]
    assert relative[0] < 0 < relative[1]
    assert cues[0, CUES.index("outside")] == pytest.approx(cues[1, CUES.index("outside")])


def test_the_threshold_flags_the_recall_share_of_the_simulated_unknown_clips():
    rng = np.random.default_rng(0)
    clips = np.repeat(np.arange(200), 3)  # 3 windows a clip
    unknown = (clips >= 150).astype(np.int64)  # 50 unknown clips
    cues = rng.normal(size=(len(clips), len(CUES))) + 2.5 * unknown[:, None] * np.eye(len(CUES))[0]
    detector = OpenSetDetector.fit(cues, unknown, clips)
    per_clip = np.array([detector.novelty(cues[clips == c]).mean() for c in range(200)])
    assert (per_clip[150:] >= detector.threshold).mean() == pytest.approx(RECALL, abs=0.02)
    assert (per_clip[:150] >= detector.threshold).mean() < 0.1  # the known clips mostly pass
    assert detector.weight[0] > np.abs(detector.weight[1:]).max()  # it found the cue that carries it


def test_each_label_is_left_out_once_and_its_dev_clips_play_the_unknown_language():
    train = np.array([0, 0, 1, 1, 2, 2])
    dev, clips = np.array([0, 0, 1, 2]), np.array([0, 0, 1, 2])  # clip 0 has two windows
    seen = []

    def cues_without(held_out, kept):
        seen.append((held_out, train[kept].tolist()))
        return np.full((len(dev), len(CUES)), float(held_out))

    cues, unknown, ids = simulate_unknown(train, dev, clips, cues_without)
    assert seen == [(0, [1, 1, 2, 2]), (1, [0, 0, 2, 2]), (2, [0, 0, 1, 1])]
    assert unknown.tolist() == [1, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]
    assert len(set(ids.tolist())) == 3 * 3  # a clip id per clip and fold
    assert cues[:, 0].tolist() == [0] * 4 + [1] * 4 + [2] * 4


def test_state_round_trips():
    detector = OpenSetDetector(np.arange(5.0), 0.5, np.ones(5), np.full(5, 2.0), 1.25)
    again = OpenSetDetector.from_state(detector.state())
    cues = cues_for([0.2, 0.7])
    assert np.array_equal(again.novelty(cues), detector.novelty(cues)) and again.threshold == 1.25

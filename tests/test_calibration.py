import numpy as np
import pytest

from dialectid.evaluation.metrics import cllr, min_cavg
from dialectid.models.base import log_softmax
from dialectid.models.calibration import Calibrator


def miscalibrated(n: int, seed: int):
    """Logits of unit-variance Gaussian classes 1.5 apart (true posterior: softmax(1.5 logits)), scored
    4x too sharply and biased towards class 0."""
    rng = np.random.default_rng(seed)
    targets = rng.integers(0, 4, n)
    logits = rng.normal(0, 1, (n, 4)) + 1.5 * np.eye(4)[targets]
    scores = log_softmax(4.0 * logits + np.array([2.0, 0, 0, 0]))
    return scores, targets


@pytest.mark.parametrize("method", ["logistic", "temperature"])
def test_calibration_lowers_cllr_on_held_out_data(method):
    dev_scores, dev_targets = miscalibrated(2000, 0)
    test_scores, test_targets = miscalibrated(2000, 1)
    calibrator = Calibrator(method).fit(dev_scores, dev_targets)
    before = cllr(test_scores, test_targets)
    after = cllr(calibrator.transform(test_scores), test_targets)
    assert after < 0.8 * before
    assert calibrator.scale_ == pytest.approx(1.5 / 4, abs=0.05)  # the Bayes posterior is softmax(1.5 * logits)
    # an affine map with a shared scale keeps the ranking of each class: min Cavg hardly moves
    assert min_cavg(calibrator.transform(test_scores), test_targets) == pytest.approx(
        min_cavg(test_scores, test_targets), abs=0.03)  # fmt: skip


def test_logistic_removes_the_class_bias():
    dev_scores, dev_targets = miscalibrated(3000, 2)
    calibrator = Calibrator("logistic").fit(dev_scores, dev_targets)
    assert calibrator.offset_[0] < calibrator.offset_[1:].min() - 0.2


def test_posteriors_sum_to_one_and_none_is_identity():
    scores, targets = miscalibrated(50, 3)
    out = Calibrator("logistic").fit(scores, targets).transform(scores)
    np.testing.assert_allclose(np.exp(out).sum(axis=1), 1.0, atol=1e-9)
    np.testing.assert_allclose(Calibrator("none").fit(scores, targets).transform(scores), log_softmax(scores))


def test_duration_covariate():
    rng = np.random.default_rng(4)
    targets = rng.integers(0, 3, 3000)
    durations = rng.uniform(1, 60, 3000)
    # short clips are as overconfident as long ones, but much less reliable
    reliability = np.clip(np.log(durations) / 4, 0.05, 1)
    logits = rng.normal(0, 1, (3000, 3)) + 2.0 * reliability[:, None] * np.eye(3)[targets]
    scores = log_softmax(3 * logits)
    plain = Calibrator("logistic").fit(scores[:1500], targets[:1500])
    aware = Calibrator("logistic", duration_covariate=True).fit(scores[:1500], targets[:1500], durations[:1500])
    test = slice(1500, None)
    assert cllr(aware.transform(scores[test], durations[test]), targets[test]) <= cllr(
        plain.transform(scores[test]), targets[test]) + 1e-3  # fmt: skip


def test_unknown_method():
    with pytest.raises(ValueError, match="calibration method"):
        Calibrator("isotonic")

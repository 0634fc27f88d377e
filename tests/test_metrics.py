"""Metrics against cases worked out by hand."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dialectid.evaluation import metrics as m


def logp(rows):
    return np.log(np.array(rows, dtype=float))


def test_accuracy_confusion_balanced():
    p = logp([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.6, 0.4]])
    t = np.array([0, 0, 1, 1])
    assert m.accuracy(p, t) == 0.75
    assert m.confusion(p, t).tolist() == [[2, 0], [1, 1]]
    assert m.balanced_accuracy(p, t) == pytest.approx((1.0 + 0.5) / 2)
    detail = m.per_class(p, t)
    assert detail["precision"].tolist() == pytest.approx([2 / 3, 1.0])
    assert detail["f1"][1] == pytest.approx(2 * 1.0 * 0.5 / 1.5)


def test_cavg_by_hand():
    # 3 classes; Bayes decision accepts class t when p_t > 1/3
    p = logp(
        [
            [0.6, 0.3, 0.1],  # true 0: accept 0; no false alarm
            [0.5, 0.4, 0.1],  # true 1: miss 1; false alarm for 0 and for 1? p1=0.4>1/3 -> accepted, no miss
            [0.2, 0.2, 0.6],
        ]
    )  # true 2: accept 2
    t = np.array([0, 1, 2])
    # target 0: miss 0; false alarms: from class 1 (0.5 > 1/3) = 1, from class 2 = 0 -> 0.5*0 + 0.5*mean(1,0) = 0.25
    # target 1: miss 0 (0.4 > 1/3); false alarms: class 0 (0.3) no, class 2 (0.2) no -> 0
    # target 2: miss 0; false alarms none -> 0
    assert m.cavg(p, t) == pytest.approx(0.25 / 3)
    assert m.min_cavg(p, t) <= m.cavg(p, t)


def test_perfect_and_useless_systems():
    t = np.array([0, 1, 2, 0, 1, 2])
    perfect = np.log(np.eye(3)[t] * 0.98 + 0.01)
    assert m.cavg(perfect, t) == 0 and m.min_cavg(perfect, t) == 0
    flat = np.log(np.full((6, 3), 1 / 3))
    assert m.cllr(flat, t) == pytest.approx(np.log2(3))
    assert m.cllr(perfect, t) == pytest.approx(-np.log2(0.99))


def test_cllr_by_hand():
    p = logp([[0.5, 0.5], [0.25, 0.75], [0.8, 0.2]])
    t = np.array([0, 1, 1])
    # class 0: -log2 0.5 = 1; class 1: mean(-log2 0.75, -log2 0.2)
    expected = (1.0 + (-np.log2(0.75) - np.log2(0.2)) / 2) / 2
    assert m.cllr(p, t) == pytest.approx(expected)


def test_eer_by_hand():
    assert m.eer(np.array([3.0, 4.0, 5.0]), np.array([0.0, 1.0, 2.0])) == 0.0
    # one target below one non-target out of 4 each: EER 25 %
    assert m.eer(np.array([1.5, 5, 6, 7]), np.array([0, 1, 2, 3])) == pytest.approx(0.25)


def test_ece_by_hand():
    p = logp([[0.9, 0.1], [0.9, 0.1], [0.6, 0.4], [0.6, 0.4]])
    t = np.array([0, 1, 0, 0])
    # bin (0.8667, 0.9333]: conf 0.9, acc 0.5 -> 0.4 * 0.5; bin (0.5333, 0.6]: conf 0.6, acc 1 -> 0.4 * 0.5
    value, table = m.ece(p, t)
    assert value == pytest.approx(0.4)
    assert [row["n"] for row in table] == [2, 2]


@settings(max_examples=50, deadline=None)
@given(st.integers(2, 5), st.integers(4, 40), st.integers(0, 1000))
def test_metric_ranges(classes, n, seed):
    rng = np.random.default_rng(seed)
    scores = rng.normal(size=(n, classes))
    p = scores - np.log(np.exp(scores).sum(axis=1, keepdims=True))
    t = rng.integers(0, classes, n)
    assert 0 <= m.accuracy(p, t) <= 1
    c, mc = m.cavg(p, t), m.min_cavg(p, t)
    if not np.isnan(c):
        assert 0 <= mc <= c + 1e-12 <= 1 + 1e-12
    assert m.cllr(p, t) >= 0
    assert 0 <= m.ece(p, t)[0] <= 1


def test_det_lines_are_told_apart_for_every_label_of_a_large_model():
    """18 labels (the shipped models) once drew colours that repeated after ten (issue 25)."""
    from dialectid.evaluation.plots import det_styles

    styles = det_styles(80)
    assert len(set(styles)) == 80
    assert len({colour for colour, _ in det_styles(18)}) == 18


def test_the_plots_are_written_with_their_titles(tmp_path):
    from dialectid.evaluation import plots

    rng = np.random.default_rng(0)
    logp = np.log(rng.dirichlet(np.ones(3), size=60))
    targets = rng.integers(0, 3, 60)
    from dialectid.evaluation.metrics import confusion, ece

    plots.confusion_plot(confusion(logp, targets), ["a", "b", "c"], tmp_path / "c.png")
    plots.reliability_plot(ece(logp, targets)[1], tmp_path / "r.png")
    plots.det_plot(logp, targets, ["a", "b", "c"], tmp_path / "d.png")
    assert all((tmp_path / f"{n}.png").stat().st_size > 5000 for n in "crd")

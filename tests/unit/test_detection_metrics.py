"""Detection metrics against hand computations and scikit-learn; ROC/DET plot files."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from speechdl.metrics import detection as D
from speechdl.metrics.plots import operating_points, plot_roc_det, plot_roc_det_grid

S = np.array([0.9, 0.8, 0.3, 0.6, 0.1, 0.7])
Y = np.array([1, 1, 1, 0, 0, 0])


def test_frame_metrics_by_hand():
    m = D.frame_metrics(S, Y, threshold=0.5)
    # decided positive: 0.9, 0.8, 0.6, 0.7 -> tp 2, fp 2; negatives: 0.3 (fn), 0.1 (tn)
    assert (m["tp"], m["fp"], m["tn"], m["fn"]) == (2, 2, 1, 1)
    assert m["accuracy"] == pytest.approx(3 / 6)
    assert m["precision"] == pytest.approx(2 / 4)
    assert m["recall"] == pytest.approx(2 / 3)
    assert m["f1"] == pytest.approx(2 * 0.5 * (2 / 3) / (0.5 + 2 / 3))
    assert m["fpr"] == pytest.approx(2 / 3) and m["miss"] == pytest.approx(1 / 3)
    # threshold is inclusive: score == threshold is positive
    assert D.frame_metrics(S, Y, threshold=0.8)["tp"] == 2


def test_degenerate_conventions():
    m = D.frame_metrics([0.1, 0.2], [1, 0], threshold=0.9)  # nothing decided positive
    assert m["precision"] == 0 and m["recall"] == 0 and m["f1"] == 0 and m["accuracy"] == 0.5
    assert np.isnan(D.roc_auc([0.1, 0.2], [1, 1]))
    assert np.isnan(D.eer([0.1, 0.2], [0, 0])[0])
    with pytest.raises(ValueError, match="differ in size"):
        D.frame_metrics([0.1, 0.2], [1], 0.5)


def test_matches_sklearn_with_weights_and_random_data():
    rng = np.random.default_rng(0)
    y = rng.random(2000) < 0.3
    s = y * 0.8 + rng.normal(0, 0.6, y.size)
    w = rng.uniform(0.5, 2.0, y.size)
    m = D.frame_metrics(s, y, 0.4, weights=w)
    pred = s >= 0.4
    assert m["precision"] == pytest.approx(skm.precision_score(y, pred, sample_weight=w))
    assert m["recall"] == pytest.approx(skm.recall_score(y, pred, sample_weight=w))
    assert m["f1"] == pytest.approx(skm.f1_score(y, pred, sample_weight=w))
    assert m["accuracy"] == pytest.approx(skm.accuracy_score(y, pred, sample_weight=w))
    assert D.roc_auc(s, y, weights=w) == pytest.approx(skm.roc_auc_score(y, s, sample_weight=w))
    assert 0.7 < D.roc_auc(s, y) < 0.95


def test_auc_by_hand_with_ties():
    # positives {0.9, 0.5}, negatives {0.5, 0.1}: pairs (0.9>0.5, 0.9>0.1, 0.5=0.5 -> 1/2, 0.5>0.1)
    assert D.roc_auc([0.9, 0.5, 0.5, 0.1], [1, 1, 0, 0]) == pytest.approx(3.5 / 4)


def test_mask_drops_padded_frames_and_ragged_lists_work():
    scores = np.array([[0.9, 0.2, 0.99, 0.99], [0.1, 0.8, 0.7, 0.0]])
    labels = np.array([[1, 0, 0, 0], [0, 1, 1, 0]])
    mask = np.array([[1, 1, 0, 0], [1, 1, 1, 0]])  # the 0.99 false alarms are padding
    m = D.frame_metrics(scores, labels, 0.5, mask=mask)
    assert (m["tp"], m["fp"], m["tn"], m["fn"], m["frames"]) == (3, 0, 2, 0, 5)
    assert D.roc_auc(scores, labels, mask=mask) == 1.0
    ragged = D.frame_metrics([scores[0, :2], scores[1, :3]], [labels[0, :2], labels[1, :3]], 0.5)
    assert ragged == m
    assert D.roc_auc(scores, labels) < 1.0  # without the mask the padding counts


def test_roc_and_det_curves():
    fpr, tpr, thr = D.roc_curve(S, Y)
    ref_fpr, ref_tpr, _ = skm.roc_curve(Y, S)
    np.testing.assert_allclose(fpr, ref_fpr)
    np.testing.assert_allclose(tpr, ref_tpr)
    fa, miss, thr2 = D.det_curve(S, Y)
    np.testing.assert_allclose(fa, fpr)
    np.testing.assert_allclose(miss, 1 - tpr)
    assert np.all(np.diff(thr2[1:]) < 0)
    assert D.normal_deviate(0.5) == pytest.approx(0.0)
    assert D.normal_deviate(0.8413447) == pytest.approx(1.0, abs=1e-6)
    assert np.isfinite(D.normal_deviate([0.0, 1.0])).all()


def test_eer_by_hand_and_symmetric_case():
    # perfectly separable: EER 0 with a threshold between the classes
    rate, thr = D.eer([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1])
    assert rate == 0 and 0.2 < thr <= 0.8
    # 4 positives, 4 negatives, one of each on the wrong side: miss = FA = 1/4 at t in (0.4, 0.6]
    s = [0.9, 0.8, 0.7, 0.3, 0.6, 0.2, 0.1, 0.05]
    y = [1, 1, 1, 1, 0, 0, 0, 0]
    rate, thr = D.eer(s, y)
    assert rate == pytest.approx(0.25)
    m = D.frame_metrics(s, y, thr)
    assert m["fpr"] == pytest.approx(0.25) and m["miss"] == pytest.approx(0.25)


def test_eer_matches_curve_crossing_on_random_data():
    rng = np.random.default_rng(1)
    y = rng.random(5000) < 0.5
    s = y + rng.normal(0, 1.0, y.size)  # d' = 1: EER = Φ(-0.5) ≈ 0.3085
    rate, thr = D.eer(s, y)
    assert rate == pytest.approx(0.3085, abs=0.02)
    assert thr == pytest.approx(0.5, abs=0.1)
    m = D.frame_metrics(s, y, thr)
    assert abs(m["fpr"] - m["miss"]) < 0.01


def test_tune_threshold_f1_is_the_brute_force_optimum():
    rng = np.random.default_rng(2)
    y = rng.random(400) < 0.4
    s = np.round(y * 0.5 + rng.normal(0, 0.4, y.size), 2)  # rounded: many ties
    best = max(D.frame_metrics(s, y, t)["f1"] for t in np.unique(s))
    thr, value = D.tune_threshold(s, y, "f1")
    assert value == pytest.approx(best)
    assert D.frame_metrics(s, y, thr)["f1"] == pytest.approx(value)
    assert thr not in set(s.tolist())  # halfway between two scores
    acc_thr, acc = D.tune_threshold(s, y, "accuracy")
    assert acc == pytest.approx(max(D.frame_metrics(s, y, t)["accuracy"] for t in np.r_[np.unique(s), 9]))
    assert D.frame_metrics(s, y, acc_thr)["accuracy"] == pytest.approx(acc)
    eer_thr, rate = D.tune_threshold(s, y, "eer")
    assert (eer_thr, rate) == D.eer(s, y)[::-1]
    with pytest.raises(ValueError, match="criterion"):
        D.tune_threshold(s, y, "auc")


def test_tune_threshold_hand_case_and_mask():
    # best F1 takes the top two: threshold halfway between 0.8 and 0.6
    thr, f1 = D.tune_threshold([0.9, 0.8, 0.6, 0.1], [1, 1, 0, 0])
    assert thr == pytest.approx(0.7) and f1 == 1.0
    # masked frame (0.95, negative) would otherwise change the optimum
    thr, f1 = D.tune_threshold([0.95, 0.9, 0.8, 0.6], [0, 1, 1, 0], mask=[0, 1, 1, 1])
    assert f1 == 1.0 and 0.6 < thr <= 0.8
    # everything positive is best when all frames are speech
    thr, f1 = D.tune_threshold([0.3, 0.2], [1, 1])
    assert f1 == 1.0 and thr == 0.2


def test_summary_and_is_binary():
    out = D.summary(S, Y, 0.5)
    assert out["speech_fraction"] == 0.5 and out["roc_auc"] == pytest.approx(skm.roc_auc_score(Y, S))
    assert D.is_binary([np.array([0.0, 1.0]), np.array([1.0])]) and not D.is_binary(S)


@pytest.mark.slow
def test_plots_write_png(tmp_path):
    rng = np.random.default_rng(3)
    y = rng.random(3000) < 0.4
    systems = {"soft": (y + rng.normal(0, 0.7, y.size), y),
               "hard": ((y ^ (rng.random(y.size) < 0.1)).astype(float), y, np.ones(y.size))}
    path = plot_roc_det(systems, tmp_path / "sub" / "roc.png", title="toy")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    grid = plot_roc_det_grid({"a": systems, "b": {"soft": systems["soft"]}}, tmp_path / "grid.png")
    from matplotlib.image import imread

    h1, h2 = imread(path).shape[0], imread(grid).shape[0]
    assert h2 > 1.8 * h1  # two rows
    fa, miss = operating_points(systems)["hard"]
    assert fa == pytest.approx(0.1, abs=0.03) and miss == pytest.approx(0.1, abs=0.03)
    assert not list(tmp_path.glob(".*"))  # no temporary files left behind

"""Speaker-verification metrics (speechdl.metrics.verification) against hand computations and brute force."""

from __future__ import annotations

import doctest

import numpy as np
import pytest

from speechdl.metrics import verification as V
from speechdl.metrics.detection import eer

# targets 0.9, 0.5, 0.4; non-targets 0.8, 0.2, 0.1. Accepting score >= t:
#   t:       inf   0.9   0.8   0.5   0.4   0.2   0.1
#   P_miss:  1     2/3   2/3   1/3   0     0     0
#   P_fa:    0     0     1/3   1/3   1/3   2/3   1
S = np.array([0.9, 0.5, 0.4, 0.8, 0.2, 0.1])
Y = np.array([1, 1, 1, 0, 0, 0])


def test_min_dcf_by_hand():
    # p = 0.5: normalised DCF = P_miss + P_fa -> 1, 2/3, 1, 2/3, 1/3, 2/3, 1: minimum 1/3 at t = 0.4
    value, thr = V.min_dcf(S, Y, p_target=0.5)
    assert value == pytest.approx(1 / 3) and thr == pytest.approx(0.3)     # halfway to the next score
    # p = 0.05: P_miss + 19 P_fa -> the minimum 2/3 is at t = 0.9 (no false alarm)
    value, thr = V.min_dcf(S, Y, p_target=0.05)
    assert value == pytest.approx(2 / 3) and thr == pytest.approx(0.85)
    assert V.min_dcf(S, Y, p_target=0.01)[0] == pytest.approx(2 / 3)
    # unequal costs: C_miss = 10, p = 0.5 -> (10 P_miss + P_fa) / 1: minimum 1/3 (t = 0.4)
    assert V.min_dcf(S, Y, p_target=0.5, c_miss=10)[0] == pytest.approx(1 / 3)
    # a perfect system costs 0; a useless one (all scores equal) costs 1
    assert V.min_dcf([0.9, 0.8, 0.1], [1, 1, 0])[0] == 0.0
    assert V.min_dcf([0.5, 0.5, 0.5, 0.5], [1, 0, 1, 0], p_target=0.05)[0] == pytest.approx(1.0)


def test_dcf_curve_matches_a_brute_force_sweep():
    rng = np.random.default_rng(0)
    y = rng.random(400) < 0.2
    s = np.round(y * 1.5 + rng.normal(0, 1, y.size), 1)                   # ties on purpose
    thr, dcf, miss, fa = V.dcf_curve(s, y, p_target=0.05)
    for t, d in zip(thr[1:], dcf[1:]):
        acc = s >= t
        p_miss, p_fa = (~acc & y).sum() / y.sum(), (acc & ~y).sum() / (~y).sum()
        assert d == pytest.approx((0.05 * p_miss + 0.95 * p_fa) / 0.05)
    value, t = V.min_dcf(s, y, 0.05)
    acc = s >= t
    assert value == pytest.approx((~acc & y).sum() / y.sum() + 19 * (acc & ~y).sum() / (~y).sum())
    assert value == pytest.approx(dcf.min()) and miss[0] == 1 and fa[-1] == 1


def test_verification_metrics_and_det_points():
    m = V.verification_metrics(S, Y)
    assert m["eer"] == pytest.approx(1 / 3) and m["eer_threshold"] == pytest.approx(0.5)
    assert m["min_dcf_0.01"] == pytest.approx(2 / 3) and m["min_dcf_0.05"] == pytest.approx(2 / 3)
    assert (m["targets"], m["nontargets"]) == (3, 3)
    assert m["eer"] == eer(S, Y)[0]                                         # the detection module's EER
    det = V.det_points(S, Y)
    assert det["false_alarm"][0] == 0 and det["miss"][0] == 1 and det["false_alarm"][-1] == 1
    assert all(np.isfinite(det["threshold"])) and det["threshold"][0] == 0.9
    with pytest.raises(ValueError, match="target and non-target"):
        V.verification_metrics([0.1, 0.2], [1, 1])
    with pytest.raises(ValueError, match="p_target"):
        V.min_dcf(S, Y, p_target=0.0)


def test_doctests():
    assert doctest.testmod(V).failed == 0

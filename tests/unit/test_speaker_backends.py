"""Speaker back-ends: PLDA against brute-force Gaussian likelihoods and on synthetic speakers, LDA,
s-norm / AS-norm by hand, calibration thresholds on held-out scores."""

from __future__ import annotations

import doctest
import json
import math

import numpy as np
import pytest
from scipy.stats import multivariate_normal

from speechdl.errors import ConfigError, DataError
from speechdl.metrics.detection import eer
from speechdl.tasks.speaker import backends as B


def speakers(n_spk: int, per: int, dim: int = 6, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian speakers whose within-speaker noise is large along two nuisance directions."""
    rng = np.random.default_rng(seed)
    between = np.diag([3.0, 2.5, 2.0, 0.3, 0.3, 0.3][:dim]) ** 2
    within = np.diag([0.5, 0.5, 0.5, 3.0, 3.0, 0.5][:dim]) ** 2      # nuisance in dims 3-4
    means = rng.multivariate_normal(np.ones(dim), between, n_spk)
    labels = np.repeat(np.arange(n_spk), per)
    return means[labels] + rng.multivariate_normal(np.zeros(dim), within, len(labels)), labels


def trials(x: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    i, j = np.triu_indices(len(x), 1)
    return i, j, labels[i] == labels[j]


def test_plda_llr_equals_brute_force_gaussian_ratio():
    x, y = speakers(6, 4, dim=3)
    plda = B.PLDA(iters=3).fit(x, y)
    st = plda.Sb + plda.Sw
    same = np.block([[st, plda.Sb], [plda.Sb, st]])
    diff = np.block([[st, np.zeros_like(st)], [np.zeros_like(st), st]])
    mu = np.r_[plda.mu, plda.mu]
    pairs = [(0, 1), (0, 5), (3, 17), (10, 11)]
    want = [multivariate_normal(mu, same).logpdf(np.r_[x[a], x[b]]) - multivariate_normal(mu, diff).logpdf(
        np.r_[x[a], x[b]]) for a, b in pairs]
    got = plda.llr(x[[a for a, _ in pairs]], x[[b for _, b in pairs]])
    np.testing.assert_allclose(got, want, rtol=1e-8, atol=1e-8)
    m = plda.llr_matrix(x[:5], x[5:9])
    assert m.shape == (5, 4) and m[2, 1] == pytest.approx(plda.llr(x[2:3], x[6:7])[0])
    assert plda.llr(x[:1], x[1:2])[0] == pytest.approx(plda.llr(x[1:2], x[:1])[0])    # symmetric


def test_plda_em_recovers_covariances_and_beats_cosine_on_held_out_speakers():
    x, y = speakers(300, 8, seed=1)
    plda = B.PLDA(iters=10).fit(x, y)
    np.testing.assert_allclose(np.diag(plda.Sw), [0.25, 0.25, 0.25, 9.0, 9.0, 0.25], rtol=0.1)
    np.testing.assert_allclose(np.diag(plda.Sb)[:3], [9.0, 6.25, 4.0], rtol=0.25)
    tx, ty = speakers(40, 5, seed=2)                                    # other speakers
    i, j, same = trials(tx, ty)
    eer_plda = eer(plda.llr(tx[i], tx[j]), same)[0]
    eer_cos = eer(B.cosine_scores(tx[i], tx[j]), same)[0]
    assert eer_plda < 0.1 < 0.5                                         # far better than chance
    assert eer_plda < eer_cos                                           # it learned to ignore the nuisance
    lda = B.LDA(3).fit(x, y)                                            # LDA keeps the speaker dims
    eer_lda = eer(B.cosine_scores(lda.transform(tx[i]), lda.transform(tx[j])), same)[0]
    assert eer_lda < eer_cos
    z = lda.transform(x)
    within = np.cov((z - np.stack([z[y == k].mean(0) for k in range(300)])[y]).T)
    np.testing.assert_allclose(within, np.eye(3), atol=0.05)            # whitened within-speaker scatter


def test_backends_round_trip_through_json():
    x, y = speakers(20, 4, seed=3)
    plda, lda = B.PLDA(iters=2).fit(x, y), B.LDA(2).fit(x, y)
    plda2 = B.PLDA.from_dict(json.loads(json.dumps(plda.to_dict())))
    lda2 = B.LDA.from_dict(json.loads(json.dumps(lda.to_dict())))
    np.testing.assert_allclose(plda2.llr(x[:3], x[3:6]), plda.llr(x[:3], x[3:6]))
    np.testing.assert_allclose(lda2.transform(x), lda.transform(x))
    with pytest.raises(DataError, match="fewer than 2 speakers"):
        B.PLDA().fit(x[:4], np.zeros(4))


def test_cosine_and_length_norm():
    a, b = np.array([[3.0, 4.0], [1.0, 0.0]]), np.array([[6.0, 8.0], [0.0, 2.0]])
    np.testing.assert_allclose(B.cosine_scores(a, b), [1.0, 0.0])
    np.testing.assert_allclose(B.cosine_matrix(a, b), [[1.0, 0.8], [0.6, 0.0]])
    np.testing.assert_allclose(np.linalg.norm(B.length_norm(a), axis=1), 1.0)


def test_s_norm_and_as_norm_by_hand():
    # enrollment side's cohort scores 0, 1, 2 (mean 1, std sqrt(2/3)); test side's 1, 1, 4 (mean 2, std sqrt(2))
    enroll, test = np.array([[0.0, 1.0, 2.0]]), np.array([[1.0, 1.0, 4.0]])
    want = 0.5 * ((1.0 - 1.0) / math.sqrt(2 / 3) + (1.0 - 2.0) / math.sqrt(2))
    assert B.s_norm([1.0], enroll, test)[0] == pytest.approx(want)
    # top 2: enrollment {1, 2} (mean 1.5, std 0.5), test {1, 4} (mean 2.5, std 1.5) -> ½ (-1 + -1)
    assert B.as_norm([1.0], enroll, test, top_n=2)[0] == pytest.approx(-1.0)
    assert B.as_norm([1.0], enroll, test, top_n=10)[0] == pytest.approx(want)      # N >= cohort: plain s-norm
    with pytest.raises(ValueError, match="scores but cohort"):
        B.s_norm([1.0, 2.0], enroll, test)


def test_calibration_threshold_reaches_the_wanted_false_accept_rate_on_held_data():
    rng = np.random.default_rng(0)

    def draw(n):   # target scores N(2, 1), non-target N(0, 1): the true LLR is 2 s - 2
        return np.r_[rng.normal(2, 1, n), rng.normal(0, 1, 4 * n)], np.r_[np.ones(n), np.zeros(4 * n)]

    s, y = draw(2000)
    held_s, held_y = draw(2000)
    cal = B.calibrate(s, y, "far=0.05")
    held_far = float((held_s[held_y == 0] >= cal["threshold"]).mean())
    assert held_far == pytest.approx(0.05, abs=0.01) and cal["far"] == pytest.approx(0.05, abs=0.002)
    assert cal["scale"] == pytest.approx(2.0, rel=0.1) and cal["offset"] == pytest.approx(-2.0, abs=0.2)
    np.testing.assert_allclose(B.calibrated_llr(cal, [1.0]), [cal["scale"] + cal["offset"]])
    bayes = B.calibrate(s, y, "p_target=0.01")             # llr >= ln 99  <=>  s >= (ln 99 + 2) / 2
    assert bayes["threshold"] == pytest.approx((math.log(99) + 2) / 2, abs=0.15)
    at_eer = B.calibrate(s, y, "eer")
    assert at_eer["threshold"] == pytest.approx(1.0, abs=0.1)             # equal-variance Gaussians meet at 1
    assert at_eer["far"] == pytest.approx(at_eer["frr"], abs=0.01) and json.dumps(at_eer)
    assert B.calibrate(s, y, "min_dcf=0.01")["threshold"] > at_eer["threshold"]


def test_calibration_is_the_prior_balanced_logistic_regression_with_a_free_offset():
    """Reference: the documented objective minimised by scipy (class-balanced weights 0.5/count, ridge 1e-3 on the
    standardised slope only). The hand-written Newton fit put the ridge on the offset too (offset off by ~1e-2)."""
    from scipy.optimize import minimize

    rng = np.random.default_rng(3)
    s = np.r_[rng.normal(1.5, 0.8, 150), rng.normal(-0.2, 1.1, 900)]
    y = np.r_[np.ones(150, bool), np.zeros(900, bool)]
    w = np.where(y, 0.5 / y.sum(), 0.5 / (~y).sum())
    mu, sd = s.mean(), s.std()
    z = (s - mu) / sd

    def objective(t):
        f = t[0] * z + t[1]
        return np.sum(w * np.logaddexp(0, np.where(y, -f, f))) + 0.5 * B.CALIBRATION_RIDGE * t[0] ** 2

    a, b = minimize(objective, [0.0, 0.0], method="BFGS", options={"gtol": 1e-12}).x
    cal = B.calibrate(s, y)
    assert cal["scale"] == pytest.approx(a / sd, abs=1e-6) and cal["offset"] == pytest.approx(b - a / sd * mu, abs=1e-6)
    assert type(cal["scale"]) is float and type(cal["offset"]) is float                 # JSON-able as they are
    sep = B.calibrate([3.0, 2.0, -2.0, -3.0], [1, 1, 0, 0])                           # separable: finite
    assert 0 < sep["scale"] < 1e4 and sep["offset"] == pytest.approx(0.0, abs=1e-6)


def test_lda_is_sklearns_eigen_lda_centred_and_whitens_within_speaker_scatter():
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

    x, y = speakers(30, 6, dim=6, seed=4)
    lda = B.LDA(4).fit(x, y)
    sk = LinearDiscriminantAnalysis(solver="eigen", shrinkage=lda.eps, n_components=4).fit(x, y)
    np.testing.assert_allclose(lda.transform(x), sk.transform(x) - sk.transform(x.mean(0, keepdims=True)), atol=1e-9)
    z = lda.transform(x)
    means = np.stack([z[y == k].mean(0) for k in range(30)])
    within = (z - means[y]).T @ (z - means[y]) / len(z)
    between = (means[y]).T @ means[y] / len(z)                                         # z is centred
    np.testing.assert_allclose(within, np.eye(4), atol=1e-4)                # W' Sw W = I (up to the 1e-6 shrinkage)
    ratios = np.diag(between)
    assert np.all(np.diff(ratios) < 0) and np.abs(between - np.diag(ratios)).max() < 1e-4 * ratios.max()
    with pytest.raises(DataError, match="fewer than 2 speakers"):
        B.LDA(2).fit(x[:6], y[:6])


@pytest.mark.parametrize("spec", ["far", "far=2", "eer=0.1", "nope=0.1", "p_target=x"])
def test_bad_operating_points_are_config_errors(spec):
    with pytest.raises(ConfigError, match="operating point"):
        B.parse_operating_point(spec)


def test_doctests():
    assert doctest.testmod(B).failed == 0

"""Scorer (the bundle's back-end): fit on synthetic speakers, bundle-file round trip, AS-norm by hand, PLDA and
AS-norm separating unseen speakers, cosine-only scorers of old bundles, identification with a back-end."""

from __future__ import annotations

import doctest
import json

import numpy as np
import pytest

from speechdl.errors import ConfigError
from speechdl.metrics.detection import eer
from speechdl.tasks.speaker import scoring
from speechdl.tasks.speaker.backends import as_norm, calibrate, cosine_matrix
from speechdl.tasks.speaker.scoring import Scorer
from speechdl.tasks.speaker.store import SpeakerStore


def speakers(n_spk: int, per: int, dim: int = 16, seed: int = 0, first: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Embeddings of synthetic speakers (a common offset, speaker directions and a channel nuisance)."""
    rng = np.random.default_rng([seed, first])
    nuisance = np.random.default_rng(99).normal(0, 1, (3, dim))          # the same channel subspace for all
    means = rng.normal(0, 1, (n_spk, dim)) + 2.0
    labels = np.repeat(np.arange(first, first + n_spk), per)
    x = means[labels - first] + rng.normal(0, 1.2, (len(labels), 3)) @ nuisance + rng.normal(0, 0.4, (len(labels), dim))
    return x, labels


def pairs(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    i, j = np.triu_indices(len(labels), 1)
    return i, j, labels[i] == labels[j]


@pytest.fixture(scope="module")
def fitted():
    x, y = speakers(40, 8)
    return Scorer.fit(x, y, cohort_size=30)


def test_doctest():
    assert doctest.testmod(scoring).failed == 0


def test_fit_shapes_and_defaults(fitted):
    assert fitted.backends == ("cosine", "plda") and fitted.default == "cosine" and fitted.norm == "asnorm"
    assert fitted.lda.W.shape == (16, 16) and fitted.cohort.shape == (30, 16) and fitted.cohort.dtype == np.float32
    assert fitted.top_n == 30                                         # min(100, cohort)
    np.testing.assert_allclose(np.linalg.norm(fitted.cohort, axis=1), 1.0, rtol=1e-6)
    x, _ = speakers(40, 8)
    assert Scorer.fit(x[:80], np.repeat(np.arange(10), 8)).lda.W.shape == (16, 9)   # speakers - 1
    assert Scorer.fit(x, speakers(40, 8)[1], lda_dim=5).lda.W.shape == (16, 5)


def test_files_round_trip_gives_the_same_scores(fitted, tmp_path):
    a, _ = speakers(5, 4, seed=3, first=100)
    files, desc = fitted.to_files(tmp_path)
    assert sorted(files) == ["cohort.npy", "plda.npz"] and desc["plda"]["lda_dim"] == 16
    again = Scorer.from_bundle(tmp_path, {"backend": json.loads(json.dumps(desc))})
    for backend in ("cosine", "plda"):
        for norm in ("none", "asnorm"):
            np.testing.assert_array_equal(again.score(a[:10], a[10:], backend, norm),
                                          fitted.score(a[:10], a[10:], backend, norm))
            np.testing.assert_array_equal(again.score_matrix(a[:3], a, backend, norm),
                                          fitted.score_matrix(a[:3], a, backend, norm))


def test_score_matrix_agrees_with_pairs_and_asnorm_by_hand(fitted):
    a, _ = speakers(4, 3, seed=5, first=200)
    for backend in ("cosine", "plda"):
        m = fitted.score_matrix(a[:4], a, backend, "asnorm")
        i, j = np.meshgrid(np.arange(4), np.arange(len(a)), indexing="ij")
        np.testing.assert_allclose(m, fitted.score(a[i.ravel()], a[j.ravel()], backend, "asnorm").reshape(m.shape))
    raw = cosine_matrix(a[:4], a[4:8]).diagonal()
    want = as_norm(raw, cosine_matrix(a[:4], fitted.cohort), cosine_matrix(a[4:8], fitted.cohort), top_n=30)
    np.testing.assert_allclose(fitted.score(a[:4], a[4:8], "cosine", "asnorm"), want)
    np.testing.assert_allclose(fitted.score(a[:4], a[4:8], "cosine", "none"), raw)


def test_plda_and_asnorm_separate_unseen_speakers(fitted):
    x, y = speakers(15, 6, seed=7, first=500)            # speakers the back-end never saw
    i, j, target = pairs(y)
    rates = {(b, n): eer(fitted.score(x[i], x[j], b, n), target)[0]
             for b in ("cosine", "plda") for n in ("none", "asnorm")}
    assert rates["plda", "none"] < 0.1 and rates["plda", "asnorm"] < 0.1, rates       # chance is 0.5
    assert rates["plda", "none"] < rates["cosine", "none"] - 0.2, rates       # PLDA removes the channel subspace
    shuffled = np.random.default_rng(0).permutation(target)                   # the same scores, labels broken
    assert eer(fitted.score(x[i], x[j], "plda", "asnorm"), shuffled)[0] > 0.35


def test_old_bundles_score_with_cosine_only(tmp_path):
    cal = calibrate([0.9, 0.8, 0.2, 0.1], [1, 1, 0, 0])
    old = Scorer.from_bundle(tmp_path, {"calibration": cal})
    assert old.backends == ("cosine",) and old.default == "cosine" and old.norm == "none"
    assert old.calibration() == cal and old.cohort is None
    np.testing.assert_allclose(old.score([[1.0, 0.0]], [[1.0, 1.0]]), [2 ** -0.5])
    with pytest.raises(ConfigError, match=r"has no plda back-end .*use --backend cosine, or re-export") as err:
        old.score([[1.0, 0.0]], [[1.0, 1.0]], backend="plda")
    assert str(tmp_path) in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(ConfigError, match="no score-normalisation cohort"):
        old.check(None, "asnorm")
    with pytest.raises(ConfigError, match="unknown"):
        old.check("lda", None)


def test_no_cohort_means_no_normalisation():
    x, y = speakers(6, 4)
    sc = Scorer.fit(x, y, cohort_size=0, default="plda")
    assert sc.cohort is None and sc.norm == "none" and sc.default == "plda"
    with pytest.raises(ConfigError, match="cohort"):
        sc.score(x[:1], x[1:2], norm="asnorm")


def test_store_identifies_with_a_backend(fitted, tmp_path):
    x, y = speakers(6, 5, seed=11, first=300)
    with SpeakerStore(tmp_path / "s.db", model="m") as db:
        for s in range(300, 306):
            db.enroll(f"spk{s}", x[y == s][:3])
        tests = x[np.isin(np.arange(len(x)) % 5, [3, 4])]
        truth = [f"spk{s}" for s in y[np.isin(np.arange(len(x)) % 5, [3, 4])]]
        hits = {}
        for backend in ("cosine", "plda"):
            ranked = db.identify_many(tests, 2, lambda e, t, b=backend: fitted.score_matrix(e, t, b))
            assert [len(r) for r in ranked] == [2] * len(tests)
            hits[backend] = sum(r[0]["name"] == t for r, t in zip(ranked, truth))
        assert hits["plda"] >= 11 and hits["plda"] > hits["cosine"], hits                   # of 12
        assert db.identify(tests[0]) == db.identify_many(tests[:1])[0]                      # default: cosine

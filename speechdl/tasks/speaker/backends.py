"""Scoring back-ends for speaker embeddings: cosine, LDA + two-covariance PLDA, s-norm / AS-norm, calibration.

Embeddings are numpy float arrays ``(N, D)``, one row per utterance; pairs are scored row by row
(``(N, D), (N, D) -> (N,)``) or all against all (``(N, D), (M, D) -> (N, M)``).

* Cosine: :func:`cosine_scores`, :func:`cosine_matrix` (and :func:`length_norm`).
* :class:`LDA`: the projection that maximises between-speaker over within-speaker scatter (fitted by
  scikit-learn's ``LinearDiscriminantAnalysis``).
* :class:`PLDA`: the two-covariance model (speaker mean ``y ~ N(μ, Σb)``, utterance ``x | y ~ N(y, Σw)``)
  fitted by EM; :meth:`PLDA.llr` is the exact log-likelihood ratio of "same speaker" vs "different".
* Score normalisation: :func:`s_norm` (symmetric, whole cohort) and :func:`as_norm` (adaptive: each
  side's top-N closest cohort scores), given the trial sides' scores against a cohort.
* Calibration: :func:`calibrate` fits ``llr = scale · score + offset`` by (scikit-learn) logistic regression on target /
  non-target scores and picks a decision threshold for an operating point (``eer``, ``far=0.01``,
  ``p_target=0.05``, ``min_dcf=0.01``); the result is a plain JSON-able dict a bundle stores.

Example:
    >>> rng = np.random.default_rng(0)
    >>> spk = rng.normal(0, 3, (20, 8)); labels = np.repeat(np.arange(20), 5)
    >>> x = spk[labels] + rng.normal(0, 1, (100, 8))
    >>> plda = PLDA().fit(x, labels)
    >>> bool(plda.llr(x[:1], x[1:2])[0] > plda.llr(x[:1], x[5:6])[0])   # same speaker > other speaker
    True
    >>> cal = calibrate([2.0, 1.5, 1.8, 0.2, -0.3, 0.5], [1, 1, 1, 0, 0, 0], "eer")
    >>> cal["operating_point"], 0.5 < cal["threshold"] <= 1.5, cal["far"], cal["frr"]
    ('eer', True, 0.0, 0.0)
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from speechdl.errors import ConfigError, DataError

OPERATING_POINTS = ("eer", "far", "p_target", "min_dcf")
CALIBRATION_RIDGE = 1e-3      # L2 penalty on the standardised calibration slope


def _rows(x: Any, where: str = "embeddings") -> np.ndarray:
    a = np.asarray(x.detach().cpu().numpy() if hasattr(x, "detach") else x, dtype=np.float64)
    if a.ndim == 1:
        a = a[None]
    if a.ndim != 2:
        raise ValueError(f"{where}: expected (N, D) rows, got shape {a.shape}")
    return a


def length_norm(x: Any) -> np.ndarray:
    """Rows scaled to unit length: ``(N, D) -> (N, D)`` (a zero row stays zero)."""
    a = _rows(x)
    return a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)


def cosine_scores(a: Any, b: Any) -> np.ndarray:
    """Cosine similarity of row ``i`` of ``a`` with row ``i`` of ``b``: ``(N, D), (N, D) -> (N,)`` in [-1, 1]."""
    return np.sum(length_norm(a) * length_norm(b), axis=1)


def cosine_matrix(a: Any, b: Any) -> np.ndarray:
    """Cosine similarity of every row of ``a`` with every row of ``b``: ``(N, D), (M, D) -> (N, M)``."""
    return length_norm(a) @ length_norm(b).T


def _class_stats(x: np.ndarray, labels: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(classes (S,), index (N,) into them, counts (S,), sums (S, D))``."""
    y = np.asarray(labels)
    if len(y) != len(x):
        raise DataError("back-end training", f"{len(x)} embeddings but {len(y)} labels", "give one label per row")
    classes, index, counts = np.unique(y, return_inverse=True, return_counts=True)
    if len(classes) < 2:
        raise DataError("back-end training", "embeddings of fewer than 2 speakers", "train on several speakers")
    sums = np.zeros((len(classes), x.shape[1]))
    np.add.at(sums, index, x)
    return classes, index, counts, sums


def _within_between(x: np.ndarray, labels: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Global mean ``(D,)``, within-class ``(D, D)`` and between-class ``(D, D)`` covariances (per row)."""
    _, index, counts, sums = _class_stats(x, labels)
    mu = x.mean(0)
    means = sums / counts[:, None]
    dev = x - means[index]
    sw = dev.T @ dev / len(x)
    dm = means - mu
    sb = (dm * counts[:, None]).T @ dm / len(x)
    return mu, sw, sb


class LDA:
    """Linear discriminant analysis: ``transform(x) = (x - mean) @ W``, ``(N, D) -> (N, dim)``.

    The columns of ``W`` solve ``Sb w = λ Sw w`` (largest λ first) and are scaled so the projected
    within-speaker covariance is the identity: scikit-learn's eigen solver, with the covariances shrunk by
    ``eps`` towards a multiple of the identity (``(1 - eps) S + eps tr(S) / D I``). ``dim`` is at most
    ``min(D, speakers - 1)``. Fitted parameters are plain arrays (``mean``, ``W``), so a bundle's stored
    LDA loads and transforms without scikit-learn.

    Example:
        >>> rng = np.random.default_rng(0); y = np.repeat(np.arange(5), 10)
        >>> x = rng.normal(0, 2, (5, 6))[y] + rng.normal(0, 1, (50, 6))
        >>> LDA(3).fit(x, y).transform(x).shape
        (50, 3)
    """

    def __init__(self, dim: int | None = None, eps: float = 1e-6) -> None:
        self.dim, self.eps = dim, eps
        self.mean: np.ndarray | None = None
        self.W: np.ndarray | None = None

    def fit(self, x: Any, labels: Any) -> LDA:
        """Fit on embeddings ``(N, D)`` and speaker labels ``(N,)`` with scikit-learn's
        ``LinearDiscriminantAnalysis(solver="eigen", shrinkage=eps)``; returns self."""
        from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

        a = _rows(x)
        classes, index, _, _ = _class_stats(a, labels)          # checks: one label per row, >= 2 speakers
        dim = min(self.dim or a.shape[1], a.shape[1], len(classes) - 1)
        with warnings.catch_warnings():     # a speaker with one utterance adds no within-class scatter: fine
            warnings.filterwarnings("ignore", message="Only one sample available")
            lda = LinearDiscriminantAnalysis(solver="eigen", shrinkage=self.eps, n_components=dim).fit(a, index)
        self.mean, self.W = a.mean(0), lda.scalings_[:, :dim]   # sklearn's eigen transform does not centre
        return self

    def transform(self, x: Any) -> np.ndarray:
        """``(N, D) -> (N, dim)``."""
        if self.W is None:
            raise ValueError("LDA is not fitted")
        return (_rows(x) - self.mean) @ self.W

    def to_dict(self) -> dict[str, Any]:
        """JSON-able parameters (round-trips through :meth:`from_dict`)."""
        return {"kind": "lda", "mean": self.mean.tolist(), "W": self.W.tolist()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LDA:
        lda = cls(len(d["W"][0]))
        lda.mean, lda.W = np.asarray(d["mean"]), np.asarray(d["W"])
        return lda


class PLDA:
    """Two-covariance PLDA: ``x = y + e``, speaker ``y ~ N(μ, Σb)``, residual ``e ~ N(0, Σw)``.

    :meth:`fit` starts from the moment estimates (mean, between-speaker and pooled within-speaker
    covariance) and runs ``iters`` EM steps (Brümmer & de Villiers 2010; Sizov et al. 2014).
    :meth:`llr` scores pairs by ``log p(x1, x2 | same) - log p(x1, x2 | different)``: under "same"
    the stacked pair is Gaussian with covariance ``[[Σt, Σb], [Σb, Σt]]`` (``Σt = Σb + Σw``), under
    "different" ``[[Σt, 0], [0, Σt]]``. Several enrollment utterances: average them first.

    Shapes: ``fit((N, D), (N,))``; ``llr((N, D), (N, D)) -> (N,)``; ``llr_matrix((N, D), (M, D)) -> (N, M)``.
    """

    def __init__(self, iters: int = 10, eps: float = 1e-6) -> None:
        self.iters, self.eps = iters, eps
        self.mu: np.ndarray | None = None
        self.Sb: np.ndarray | None = None
        self.Sw: np.ndarray | None = None

    def fit(self, x: Any, labels: Any) -> PLDA:
        """Fit on embeddings ``(N, D)`` and speaker labels ``(N,)``; returns self."""
        a = _rows(x)
        eye = np.eye(a.shape[1])
        mu, sw, sb = _within_between(a, labels)
        ridge = self.eps * (np.trace(sw) + np.trace(sb)) / len(sw) * eye
        self.mu, self.Sw, self.Sb = mu, sw + ridge, sb + ridge
        _, _, counts, sums = _class_stats(a, labels)
        xx = a.T @ a
        for _ in range(self.iters):
            B, W = np.linalg.inv(self.Sb), np.linalg.inv(self.Sw)
            m = np.empty_like(sums)
            cov_sum = np.zeros_like(eye)       # Σ_s L_s^-1
            cov_wsum = np.zeros_like(eye)      # Σ_s n_s L_s^-1
            for n in np.unique(counts):        # speakers with the same count share a posterior covariance
                idx = np.flatnonzero(counts == n)
                cov = np.linalg.inv(B + n * W)
                m[idx] = (B @ self.mu + sums[idx] @ W) @ cov   # cov, B and W are symmetric
                cov_sum += len(idx) * cov
                cov_wsum += n * len(idx) * cov
            self.mu = m.mean(0)
            self.Sb = (cov_sum + m.T @ m) / len(m) - np.outer(self.mu, self.mu)
            cross = sums.T @ m
            self.Sw = (xx - cross - cross.T + (m * counts[:, None]).T @ m + cov_wsum) / counts.sum()
            self.Sb, self.Sw = (self.Sb + self.Sb.T) / 2 + ridge, (self.Sw + self.Sw.T) / 2 + ridge
        self._prepare()
        return self

    def _prepare(self) -> None:
        st = self.Sb + self.Sw
        t = np.linalg.inv(st)
        schur = st - self.Sb @ t @ self.Sb
        a = np.linalg.inv(schur)
        self._M = a - t                                  # quadratic term of each side
        self._C = -t @ self.Sb @ a                       # cross term
        self._C = (self._C + self._C.T) / 2
        self._const = -0.5 * (np.linalg.slogdet(schur)[1] - np.linalg.slogdet(st)[1])

    def llr(self, x1: Any, x2: Any) -> np.ndarray:
        """Log-likelihood ratio of each pair of rows: ``(N, D), (N, D) -> (N,)``."""
        a, b = _rows(x1) - self.mu, _rows(x2) - self.mu
        quad = np.sum((a @ self._M) * a, 1) + np.sum((b @ self._M) * b, 1)
        return -0.5 * (quad + 2 * np.sum((a @ self._C) * b, 1)) + self._const

    def llr_matrix(self, x1: Any, x2: Any) -> np.ndarray:
        """Log-likelihood ratio of every row of ``x1`` with every row of ``x2``: ``(N, M)``."""
        a, b = _rows(x1) - self.mu, _rows(x2) - self.mu
        qa, qb = np.sum((a @ self._M) * a, 1), np.sum((b @ self._M) * b, 1)
        return -0.5 * (qa[:, None] + qb[None, :] + 2 * (a @ self._C) @ b.T) + self._const

    def to_dict(self) -> dict[str, Any]:
        """JSON-able parameters (round-trips through :meth:`from_dict`)."""
        return {"kind": "plda", "mu": self.mu.tolist(), "Sb": self.Sb.tolist(), "Sw": self.Sw.tolist()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PLDA:
        p = cls()
        p.mu, p.Sb, p.Sw = (np.asarray(d[k], dtype=np.float64) for k in ("mu", "Sb", "Sw"))
        p._prepare()
        return p


# ---------------------------------------------------------------- score normalisation
def _cohort_stats(cohort: Any, top_n: int | None) -> tuple[np.ndarray, np.ndarray]:
    c = np.asarray(cohort, dtype=np.float64)
    if c.ndim != 2 or c.shape[1] < 2:
        raise ValueError(f"cohort scores: expected (N, M) with M >= 2, got shape {c.shape}")
    if top_n is not None and top_n < c.shape[1]:
        c = np.partition(c, c.shape[1] - top_n, axis=1)[:, -top_n:]
    return c.mean(1), np.maximum(c.std(1), 1e-12)


def s_norm(scores: Any, enroll_cohort: Any, test_cohort: Any, top_n: int | None = None) -> np.ndarray:
    """Symmetric score normalisation: ``½ ((s - μe) / σe + (s - μt) / σt)``.

    ``scores`` ``(N,)`` raw trial scores; ``enroll_cohort`` / ``test_cohort`` ``(N, M)``: each trial's
    enrollment / test side scored against the same M cohort embeddings (impostors). ``μ``/``σ`` are the
    mean and (population) standard deviation of those cohort scores, or of the ``top_n`` highest ones
    (adaptive s-norm, :func:`as_norm`). Returns ``(N,)``.
    """
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    me, se = _cohort_stats(enroll_cohort, top_n)
    mt, st = _cohort_stats(test_cohort, top_n)
    if not len(s) == len(me) == len(mt):
        raise ValueError(f"{len(s)} scores but cohort scores for {len(me)} / {len(mt)} trials")
    return 0.5 * ((s - me) / se + (s - mt) / st)


def as_norm(scores: Any, enroll_cohort: Any, test_cohort: Any, top_n: int = 200) -> np.ndarray:
    """Adaptive s-norm (Matějka et al. 2017): :func:`s_norm` over each side's ``top_n`` closest cohort scores."""
    return s_norm(scores, enroll_cohort, test_cohort, top_n)


# ---------------------------------------------------------------- calibration
def parse_operating_point(spec: str) -> tuple[str, float | None]:
    """``"eer"`` -> ``("eer", None)``; ``"far=0.01"`` / ``"p_target=0.05"`` / ``"min_dcf=0.01"`` -> (kind, value)."""
    kind, _, value = str(spec).partition("=")
    kind = kind.strip().lower()
    fix = "use eer, far=RATE, p_target=P or min_dcf=P (e.g. far=0.01)"
    if kind not in OPERATING_POINTS or (kind == "eer") != (value == ""):
        raise ConfigError(f"operating point {spec!r}", "not understood", fix)
    if kind == "eer":
        return kind, None
    try:
        v = float(value)
    except ValueError:
        raise ConfigError(f"operating point {spec!r}", f"{value!r} is not a number", fix) from None
    if not 0.0 < v < 1.0:
        raise ConfigError(f"operating point {spec!r}", "the rate must lie strictly between 0 and 1", fix)
    return kind, v


def _logistic(s: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Prior-balanced logistic regression ``logit P(target | s) = a s + b`` (targets and non-targets weigh
    the same in all, so ``a s + b`` is a log-likelihood ratio), fitted by scikit-learn's
    ``LogisticRegression`` on the standardised scores with sample weights ``0.5 / count`` of each class and an
    L2 penalty of ``CALIBRATION_RIDGE`` on the standardised slope only (the offset is free), so separable
    scores give a large but finite scale."""
    from sklearn.linear_model import LogisticRegression

    w = np.where(y, 0.5 / y.sum(), 0.5 / (~y).sum())
    mu, sd = s.mean(), max(s.std(), 1e-12)
    fit = LogisticRegression(C=1.0 / CALIBRATION_RIDGE, solver="newton-cholesky", tol=1e-12, max_iter=200)
    fit.fit(((s - mu) / sd)[:, None], y, sample_weight=w)       # objective: sum w·logloss + ridge/2 · slope²
    a = float(fit.coef_[0, 0] / sd)
    return a, float(fit.intercept_[0] - a * mu)


def calibrate(scores: Any, labels: Any, operating_point: str = "eer") -> dict[str, Any]:
    """Calibration of raw trial scores and the decision threshold of an operating point.

    ``scores`` ``(N,)`` and ``labels`` ``(N,)`` (1 = target) of held-out trials. Fits
    ``llr = scale · score + offset`` (prior-balanced logistic regression) and chooses ``threshold`` (accept
    when ``score >= threshold``) for ``operating_point``:

    * ``eer``: where miss and false-accept rates meet on these trials;
    * ``far=R``: false-accept rate ``R`` (the ``1 - R`` quantile of the non-target scores);
    * ``p_target=P``: the Bayes decision of the calibrated LLR for prior ``P`` (``llr >= log((1-P)/P)``);
    * ``min_dcf=P``: the threshold of minimum detection cost at prior ``P``.

    Returns a JSON-able dict: ``method``, ``scale``, ``offset``, ``operating_point``, ``threshold`` and, on
    these trials, ``far``, ``frr``, ``eer``, ``targets``, ``nontargets``.
    """
    from speechdl.metrics.detection import eer, flatten
    from speechdl.metrics.verification import min_dcf

    kind, value = parse_operating_point(operating_point)
    s, y, _ = flatten(scores, labels)
    if y.sum() < 1 or (~y).sum() < 1:
        raise DataError("calibration", f"{int(y.sum())} target and {int((~y).sum())} non-target trials",
                        "calibrate on trials of both kinds")
    scale, offset = _logistic(s, y)
    rate, eer_thr = eer(s, y)
    if kind == "eer":
        thr = eer_thr
    elif kind == "far":
        thr = float(np.quantile(s[~y], 1.0 - value))
    elif kind == "p_target":
        if scale <= 0:
            raise DataError("calibration", "target scores are not higher than non-target scores",
                            "check the trials' labels")
        thr = (math.log((1 - value) / value) - offset) / scale
    else:
        thr = min_dcf(s, y, value)[1]
    accept = s >= thr
    return {"method": "logistic", "scale": scale, "offset": offset, "operating_point": str(operating_point),
            "threshold": float(thr), "far": float(accept[~y].mean()), "frr": float((~accept[y]).mean()),
            "eer": float(rate), "targets": int(y.sum()), "nontargets": int((~y).sum())}


def calibrated_llr(calibration: dict[str, Any], scores: Any) -> np.ndarray:
    """Log-likelihood ratios ``scale · score + offset`` of raw scores ``(N,)`` under a :func:`calibrate` dict."""
    return calibration["scale"] * np.asarray(scores, dtype=np.float64) + calibration["offset"]

"""The back-end a speaker bundle scores with: cosine or LDA + PLDA, AS-norm against a cohort, calibrations.

A :class:`Scorer` turns embedding pairs into scores:

* ``cosine``: the cosine similarity of the raw embeddings;
* ``plda``: embeddings are length-normalised, centred on the training mean, length-normalised again,
  projected by LDA (``lda_dim``), length-normalised once more and scored by the two-covariance PLDA
  log-likelihood ratio (:class:`~speechdl.tasks.speaker.backends.PLDA`);
* ``norm="asnorm"``: adaptive s-norm (:func:`~speechdl.tasks.speaker.backends.s_norm` over each side's
  ``top_n`` closest cohort scores); the cohort is one length-normalised mean embedding per back-end
  training speaker, scored with the same back-end.

Every ``(backend, norm)`` pair has its own :func:`~speechdl.tasks.speaker.backends.calibrate` dict (scores of
different back-ends live on different scales). In a bundle the state is two small files, ``plda.npz``
(float64 mean, LDA and PLDA parameters) and ``cohort.npy`` (float32 ``(C, D)``), described under
``bundle.json``'s ``backend`` key; a bundle without them (older bundles) scores with cosine only, with its
top-level ``calibration``.

Example:
    >>> rng = np.random.default_rng(0); y = np.repeat(np.arange(10), 6)
    >>> x = rng.normal(0, 2, (10, 8))[y] + rng.normal(0, 1, (60, 8))
    >>> sc = Scorer.fit(x, y, lda_dim=6)
    >>> sc.backends, sc.score(x[:2], x[1:3], "plda", "asnorm").shape, sc.score_matrix(x[:3], x[:5]).shape
    (('cosine', 'plda'), (2,), (3, 5))
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from speechdl.errors import ConfigError, DataError
from speechdl.tasks.speaker.backends import LDA, PLDA, _cohort_stats, as_norm, cosine_matrix, cosine_scores, length_norm

BACKENDS = ("cosine", "plda")
NORMS = ("asnorm", "none")
PLDA_FILE, COHORT_FILE = "plda.npz", "cohort.npy"
DEFAULT_TOP_N = 100


def _check(kind: str, value: str, allowed: Sequence[str]) -> str:
    if value not in allowed:
        raise ConfigError(f"--{kind} {value}", "unknown", f"use one of {', '.join(allowed)}")
    return value


class Scorer:
    """Cosine / PLDA scores of embeddings, optional AS-norm, and one calibration per ``(backend, norm)``.

    Args:
        default: the back-end used when none is asked for. norm: the default normalisation (``asnorm``
            needs ``cohort``). center: training mean ``(D,)`` of the length-normalised embeddings (PLDA).
        lda, plda: fitted :class:`LDA` / :class:`PLDA` (both or neither). cohort: ``(C, D)`` cohort embeddings.
        calibrations: ``{backend: {norm: calibrate dict}}``. top_n: AS-norm's top-N (at most ``C``).
        where: the bundle (for error messages).
    """

    def __init__(self, default: str = "cosine", norm: str = "none", center: np.ndarray | None = None,
                 lda: LDA | None = None, plda: PLDA | None = None, cohort: np.ndarray | None = None,
                 calibrations: dict[str, dict[str, dict[str, Any]]] | None = None,
                 top_n: int = DEFAULT_TOP_N, where: str = "speaker bundle") -> None:
        self.center, self.lda, self.plda = center, lda, plda
        self.cohort = None if cohort is None or len(cohort) < 2 else np.asarray(cohort)
        self.top_n = min(int(top_n), len(self.cohort)) if self.cohort is not None else int(top_n)
        self.calibrations = calibrations or {}
        self.where = where
        self.default, self.norm = "cosine", "none"
        self.default = self.check(default, "none")[0]
        self.norm = _check("norm", norm, NORMS) if self.cohort is not None else "none"
        self._cohort_cache: dict[str, np.ndarray] = {}

    # ------------------------------------------------------------------ what is available
    @property
    def backends(self) -> tuple[str, ...]:
        """Back-ends this scorer can use: ``("cosine",)`` or ``("cosine", "plda")``."""
        return BACKENDS if self.plda is not None else BACKENDS[:1]

    def check(self, backend: str | None, norm: str | None) -> tuple[str, str]:
        """``(backend, norm)`` with the defaults filled in; ConfigError when the bundle lacks one."""
        b = _check("backend", backend or self.default, BACKENDS)
        if b not in self.backends:
            raise ConfigError(self.where, f"has no {b} back-end (no {PLDA_FILE})",
                              "use --backend cosine, or re-export the run with 'speechdl speaker export'")
        n = _check("norm", norm or self.norm, NORMS)
        if n == "asnorm" and self.cohort is None:
            raise ConfigError(self.where, f"has no score-normalisation cohort ({COHORT_FILE})",
                              "use --norm none, or re-export the run with 'speechdl speaker export'")
        return b, n

    def calibration(self, backend: str | None = None, norm: str | None = None) -> dict[str, Any] | None:
        """The :func:`calibrate` dict of ``(backend, norm)`` (defaults: the bundle's), or None."""
        b, n = self.check(backend, norm)
        return (self.calibrations.get(b) or {}).get(n)

    # ------------------------------------------------------------------ scores
    def transform(self, x: Any, backend: str) -> np.ndarray:
        """Embeddings ``(N, D)`` in the back-end's space: unit rows ``(N, D)`` (cosine) or ``(N, lda_dim)`` (PLDA)."""
        if backend == "cosine":
            return length_norm(x)
        z = length_norm(length_norm(x) - self.center)
        return length_norm(self.lda.transform(z))

    def _pairs(self, a: np.ndarray, b: np.ndarray, backend: str) -> np.ndarray:
        return cosine_scores(a, b) if backend == "cosine" else self.plda.llr(a, b)

    def _matrix(self, a: np.ndarray, b: np.ndarray, backend: str) -> np.ndarray:
        return cosine_matrix(a, b) if backend == "cosine" else self.plda.llr_matrix(a, b)

    def _cohort_scores(self, x: np.ndarray, backend: str) -> np.ndarray:
        """Scores ``(N, C)`` of each transformed row against the cohort."""
        if backend not in self._cohort_cache:
            self._cohort_cache[backend] = self.transform(self.cohort, backend)
        return self._matrix(x, self._cohort_cache[backend], backend)

    def score(self, a: Any, b: Any, backend: str | None = None, norm: str | None = None) -> np.ndarray:
        """Scores of row ``i`` of ``a`` with row ``i`` of ``b``: ``(N, D), (N, D) -> (N,)`` float64."""
        backend, norm = self.check(backend, norm)
        ta, tb = self.transform(a, backend), self.transform(b, backend)
        if len(ta) != len(tb):
            raise ValueError(f"score: {len(ta)} enrollment rows but {len(tb)} test rows")
        s = self._pairs(ta, tb, backend)
        if norm == "none":
            return s
        return as_norm(s, self._cohort_scores(ta, backend), self._cohort_scores(tb, backend), self.top_n)

    def score_matrix(self, enroll: Any, test: Any, backend: str | None = None, norm: str | None = None
                     ) -> np.ndarray:
        """Scores of every enrollment row with every test row: ``(E, D), (T, D) -> (E, T)`` float64."""
        backend, norm = self.check(backend, norm)
        te, tt = self.transform(enroll, backend), self.transform(test, backend)
        s = self._matrix(te, tt, backend)
        if norm == "none":
            return s
        (me, se), (mt, st) = (_cohort_stats(self._cohort_scores(x, backend), self.top_n) for x in (te, tt))
        return 0.5 * ((s - me[:, None]) / se[:, None] + (s - mt[None]) / st[None])

    # ------------------------------------------------------------------ fitting
    @classmethod
    def fit(cls, embeddings: Any, labels: Any, lda_dim: int | None = None, cohort_size: int = 200,
            default: str = "cosine", top_n: int = DEFAULT_TOP_N, plda_iters: int = 10) -> Scorer:
        """Fit LDA + PLDA and the cohort on back-end training embeddings ``(N, D)`` with speaker labels ``(N,)``.

        ``lda_dim`` default: ``min(D, speakers - 1, 128)``. The cohort: the length-normalised mean embedding
        of each of the first ``cohort_size`` speakers (sorted labels), stored as float32 (none when fewer
        than 2; the default normalisation is then ``none``, else ``asnorm``).
        """
        x, y = length_norm(embeddings), np.asarray(labels)
        speakers = np.unique(y)
        if len(speakers) < 3:
            raise DataError("back-end training", f"embeddings of {len(speakers)} speakers",
                            "give utterances of at least 3 speakers (--backend-data)")
        dim = min(int(lda_dim or 128), x.shape[1], len(speakers) - 1)
        if dim < 1:
            raise ConfigError("--lda-dim", f"must be at least 1, got {lda_dim}", "e.g. --lda-dim 128")
        center = x.mean(0)
        z = length_norm(x - center)
        lda = LDA(dim).fit(z, y)
        plda = PLDA(plda_iters).fit(length_norm(lda.transform(z)), y)
        cohort = [length_norm(x[y == s].mean(0, keepdims=True))[0] for s in speakers[:max(cohort_size, 0)]]
        cohort_arr = np.stack(cohort).astype(np.float32) if len(cohort) >= 2 else None
        return cls(default, "asnorm" if cohort_arr is not None else "none", center, lda, plda, cohort_arr,
                   top_n=top_n)

    # ------------------------------------------------------------------ bundle files
    def to_files(self, folder: str | os.PathLike) -> tuple[dict[str, Path], dict[str, Any]]:
        """Write the back-end's files into ``folder``: ``({name in the bundle: path}, bundle.json description)``."""
        folder = Path(folder)
        files: dict[str, Path] = {}
        desc: dict[str, Any] = {"default": self.default, "norm": self.norm, "available": list(self.backends),
                                "calibrations": self.calibrations}
        if self.plda is not None:
            files[PLDA_FILE] = folder / PLDA_FILE
            np.savez(files[PLDA_FILE], center=self.center, lda_mean=self.lda.mean, lda_W=self.lda.W,
                     plda_mu=self.plda.mu, plda_Sb=self.plda.Sb, plda_Sw=self.plda.Sw)
            d, k = self.lda.W.shape
            desc["plda"] = {"file": PLDA_FILE, "input_dim": int(d), "lda_dim": int(k),
                            "pipeline": "length-norm, centre, length-norm, LDA, length-norm, two-covariance PLDA LLR"}
        if self.cohort is not None:
            files[COHORT_FILE] = folder / COHORT_FILE
            np.save(files[COHORT_FILE], self.cohort.astype(np.float32))
            desc["cohort"] = {"file": COHORT_FILE, "speakers": int(len(self.cohort)), "top_n": self.top_n,
                              "kind": "length-normalised per-speaker mean embeddings"}
        return files, desc

    @classmethod
    def from_bundle(cls, path: str | os.PathLike, meta: dict[str, Any]) -> Scorer:
        """The scorer of a loaded bundle (directory ``path``, ``bundle.json`` contents ``meta``).

        Without a ``backend`` key (older bundles): cosine, no normalisation, the top-level ``calibration``.
        """
        path, desc = Path(path), meta.get("backend")
        if not desc:
            cal = meta.get("calibration")
            return cls(calibrations={"cosine": {"none": cal}} if cal else None, where=str(path))
        kw: dict[str, Any] = {}
        try:
            if desc.get("plda"):
                with np.load(path / desc["plda"]["file"]) as f:
                    lda = LDA.from_dict({"mean": f["lda_mean"], "W": f["lda_W"]})
                    plda = PLDA.from_dict({"mu": f["plda_mu"], "Sb": f["plda_Sb"], "Sw": f["plda_Sw"]})
                    kw.update(center=f["center"], lda=lda, plda=plda)
            if desc.get("cohort"):
                kw.update(cohort=np.load(path / desc["cohort"]["file"]), top_n=desc["cohort"].get("top_n", 100))
        except (OSError, KeyError, ValueError) as err:
            raise ConfigError(path, f"back-end files unreadable ({err})", "re-export the bundle") from None
        return cls(desc.get("default", "cosine"), desc.get("norm", "none"), calibrations=desc.get("calibrations"),
                   where=str(path), **kw)

"""Speaker-verification metrics: EER, minimum detection cost (minDCF) and DET points of trial scores.

A trial is a pair (enrollment, test) with a score (higher = more likely the same speaker) and a label
(1 = target, same speaker; 0 = non-target). A trial is accepted when ``score >= threshold``. The
miss rate is the share of rejected targets, the false-alarm (false-accept) rate the share of accepted
non-targets. EER and the DET curve come from :mod:`speechdl.metrics.detection`; this module adds the
NIST detection cost

    DCF(t) = C_miss · P_miss(t) · p_target + C_fa · P_fa(t) · (1 - p_target),

normalised by ``min(C_miss · p_target, C_fa · (1 - p_target))`` (the cost of always rejecting or always
accepting, whichever is cheaper), so a useless system scores 1. minDCF is its minimum over all
thresholds (the cost with an ideally chosen threshold).

Example:
    >>> s = [0.9, 0.5, 0.4, 0.8, 0.2, 0.1]; y = [1, 1, 1, 0, 0, 0]
    >>> m = verification_metrics(s, y)
    >>> round(m["eer"], 4), round(m["min_dcf_0.05"], 4), round(m["min_dcf_0.01"], 4)
    (0.3333, 0.6667, 0.6667)
    >>> [round(v, 4) for v in min_dcf(s, y, p_target=0.5)]
    [0.3333, 0.3]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from speechdl.metrics.detection import ArrayLike, between, det_curve, eer, flatten, sweep

P_TARGETS = (0.01, 0.05)


def _two_classes_or_raise(y: np.ndarray) -> None:
    if not (y.any() and (~y).any()):
        raise ValueError("verification metrics need both target and non-target trials")


def dcf_curve(scores: ArrayLike, labels: ArrayLike, p_target: float = 0.01, c_miss: float = 1.0,
              c_fa: float = 1.0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Normalised DCF at every distinct threshold: ``(thresholds, dcf, miss, false_alarm)``, each ``(K + 1,)``.

    ``thresholds`` run from ``inf`` (reject all: ``miss = 1``) down to the lowest score (accept all).
    ``scores``/``labels``: ``(N,)`` (or any shapes :func:`~speechdl.metrics.detection.flatten` takes).
    """
    if not 0.0 < p_target < 1.0:
        raise ValueError(f"p_target must lie in (0, 1), got {p_target}")
    s, y, _ = flatten(scores, labels)
    _two_classes_or_raise(y)
    thr, c = sweep(s, y)
    miss = c["fn"] / (c["tp"] + c["fn"])
    fa = c["fp"] / (c["fp"] + c["tn"])
    cost = c_miss * miss * p_target + c_fa * fa * (1.0 - p_target)
    return thr, cost / min(c_miss * p_target, c_fa * (1.0 - p_target)), miss, fa


def min_dcf(scores: ArrayLike, labels: ArrayLike, p_target: float = 0.01, c_miss: float = 1.0,
            c_fa: float = 1.0) -> tuple[float, float]:
    """Minimum normalised detection cost and a threshold that reaches it: ``(min_dcf, threshold)``.

    The threshold lies halfway between the chosen score and the next lower one (see
    :func:`~speechdl.metrics.detection.between`); among equal costs the highest threshold wins.
    """
    thr, dcf, _, _ = dcf_curve(scores, labels, p_target, c_miss, c_fa)
    k = int(np.argmin(dcf))
    return float(dcf[k]), between(thr, k)


def det_points(scores: ArrayLike, labels: ArrayLike) -> dict[str, list[float]]:
    """The DET curve as plain lists: ``{"false_alarm", "miss", "threshold"}`` (probabilities; the first
    threshold, ``inf`` in the ROC, is replaced by the largest score so the dict is JSON-safe)."""
    fa, miss, thr = det_curve(scores, labels)
    s, _, _ = flatten(scores, labels)
    thr = np.where(np.isfinite(thr), thr, s.max())
    return {"false_alarm": fa.tolist(), "miss": miss.tolist(), "threshold": thr.tolist()}


def verification_metrics(scores: ArrayLike, labels: ArrayLike, p_targets: Sequence[float] = P_TARGETS,
                         c_miss: float = 1.0, c_fa: float = 1.0) -> dict[str, Any]:
    """EER, its threshold, minDCF (and its threshold) per ``p_target``, and the trial counts.

    Keys: ``eer``, ``eer_threshold``, ``min_dcf_<p>`` / ``min_dcf_<p>_threshold`` for each ``p`` in
    ``p_targets`` (written with ``%g``: ``min_dcf_0.01``), ``targets``, ``nontargets``.
    Raises ``ValueError`` without both kinds of trial.
    """
    s, y, _ = flatten(scores, labels)
    _two_classes_or_raise(y)
    rate, thr = eer(s, y)
    out: dict[str, Any] = {"eer": rate, "eer_threshold": thr}
    for p in p_targets:
        value, t = min_dcf(s, y, p, c_miss, c_fa)
        out[f"min_dcf_{p:g}"], out[f"min_dcf_{p:g}_threshold"] = value, t
    out["targets"], out["nontargets"] = int(y.sum()), int((~y).sum())
    return out

"""Detection metrics for frame-level binary decisions (VAD, keyword spotting): numpy + scikit-learn.

Every function takes ``scores`` (higher = more likely positive) and ``labels`` (0/1), either as
arrays of any matching shape (e.g. padded batches ``(B, T)``) or as sequences of 1-D arrays of
different lengths (one per utterance), plus optional ``mask`` (True/1 = a real frame; padded frames
are dropped) and ``weights`` (per-frame weights, e.g. frame durations). A frame is decided positive
when ``score >= threshold``.

Conventions: precision is 0 when nothing is decided positive, recall 0 when there are no positives,
F1 0 when precision + recall is 0; ROC-AUC and EER are ``nan`` when only one class is present.

Example:
    >>> import numpy as np
    >>> s = np.array([0.9, 0.8, 0.3, 0.6, 0.1]); y = np.array([1, 1, 1, 0, 0])
    >>> m = frame_metrics(s, y, threshold=0.5)
    >>> round(m["precision"], 3), round(m["recall"], 3), round(m["f1"], 3), m["accuracy"]
    (0.667, 0.667, 0.667, 0.6)
    >>> round(roc_auc(s, y), 4)
    0.8333
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.stats import norm
from sklearn import metrics as skm

ArrayLike = Any  # np.ndarray | Sequence[np.ndarray] | torch.Tensor
CRITERIA = ("f1", "accuracy", "eer", "youden")


def _flat(x: ArrayLike, dtype: Any) -> np.ndarray:
    if hasattr(x, "detach"):  # torch tensor without importing torch
        x = x.detach().cpu().numpy()
    if isinstance(x, (list, tuple)) and x and np.ndim(x[0]) >= 1:
        return np.concatenate([np.asarray(a, dtype=dtype).reshape(-1) for a in x])
    return np.asarray(x, dtype=dtype).reshape(-1)


def flatten(
    scores: ArrayLike,
    labels: ArrayLike,
    mask: ArrayLike | None = None,
    weights: ArrayLike | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Flatten to 1-D ``(scores float64, labels bool, weights float64 | None)``, padded frames dropped.

    Raises ``ValueError`` when the sizes differ or a score is NaN.
    """
    s, y = _flat(scores, np.float64), _flat(labels, np.float64)
    if s.shape != y.shape:
        raise ValueError(f"scores ({s.size} frames) and labels ({y.size} frames) differ in size")
    keep = None if mask is None else _flat(mask, np.float64) != 0
    w = None if weights is None else _flat(weights, np.float64)
    for name, a in (("mask", keep), ("weights", w)):
        if a is not None and a.shape != s.shape:
            raise ValueError(f"{name} ({a.size} frames) does not match scores ({s.size} frames)")
    if keep is not None:
        s, y = s[keep], y[keep]
        w = None if w is None else w[keep]
    if np.isnan(s).any():
        raise ValueError("scores contain NaN")
    return s, y > 0.5, w


def confusion(
    scores: ArrayLike, labels: ArrayLike, threshold: float = 0.5,
    mask: ArrayLike | None = None, weights: ArrayLike | None = None,
) -> dict[str, float]:
    """Weighted counts ``tp, fp, tn, fn`` of the decision ``score >= threshold``."""
    s, y, w = flatten(scores, labels, mask, weights)
    w = np.ones_like(s) if w is None else w
    pred = s >= threshold
    return {"tp": float(w[pred & y].sum()), "fp": float(w[pred & ~y].sum()),
            "tn": float(w[~pred & ~y].sum()), "fn": float(w[~pred & y].sum())}


def _rates(tp: np.ndarray | float, fp: np.ndarray | float, tn: np.ndarray | float,
           fn: np.ndarray | float) -> dict[str, Any]:
    tp, fp, tn, fn = (np.asarray(v, dtype=np.float64) for v in (tp, fp, tn, fn))
    with np.errstate(divide="ignore", invalid="ignore"):
        total = tp + fp + tn + fn
        precision = np.where(tp + fp > 0, tp / np.maximum(tp + fp, 1e-300), 0.0)
        recall = np.where(tp + fn > 0, tp / np.maximum(tp + fn, 1e-300), 0.0)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / np.maximum(precision + recall, 1e-300), 0.0)
        accuracy = np.where(total > 0, (tp + tn) / np.maximum(total, 1e-300), 0.0)
        fpr = np.where(fp + tn > 0, fp / np.maximum(fp + tn, 1e-300), 0.0)
    return {"accuracy": accuracy, "precision": precision, "recall": recall, "f1": f1, "fpr": fpr}


def frame_metrics(
    scores: ArrayLike, labels: ArrayLike, threshold: float = 0.5,
    mask: ArrayLike | None = None, weights: ArrayLike | None = None,
) -> dict[str, float]:
    """Accuracy, precision, recall, F1, false-alarm rate (``fpr``) and miss rate at ``threshold``.

    Also returns the (weighted) counts ``tp, fp, tn, fn``, the number of frames and ``threshold``.
    For binary systems (scores 0/1) any threshold in ``(0, 1]`` gives the system's own decision.
    """
    c = confusion(scores, labels, threshold, mask, weights)
    r = {k: float(v) for k, v in _rates(c["tp"], c["fp"], c["tn"], c["fn"]).items()}
    r["miss"] = 1.0 - r["recall"] if c["tp"] + c["fn"] > 0 else 0.0
    return {**r, **c, "frames": c["tp"] + c["fp"] + c["tn"] + c["fn"], "threshold": float(threshold)}


def _two_classes(y: np.ndarray) -> bool:
    return bool(y.any() and (~y).any())


def roc_auc(scores: ArrayLike, labels: ArrayLike, mask: ArrayLike | None = None,
            weights: ArrayLike | None = None) -> float:
    """Area under the ROC curve (ties count one half); ``nan`` with a single class."""
    s, y, w = flatten(scores, labels, mask, weights)
    if not _two_classes(y):
        return float("nan")
    return float(skm.roc_auc_score(y, s, sample_weight=w))


def roc_curve(scores: ArrayLike, labels: ArrayLike, mask: ArrayLike | None = None,
              weights: ArrayLike | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(fpr, tpr, thresholds)`` from sklearn, thresholds decreasing (first one is ``inf``).

    Collinear points are dropped (``drop_intermediate``), so the curve stays small for hours of frames.
    """
    s, y, w = flatten(scores, labels, mask, weights)
    if not _two_classes(y):
        raise ValueError("ROC needs both positive and negative frames")
    fpr, tpr, thr = skm.roc_curve(y, s, sample_weight=w, drop_intermediate=True)
    return fpr, tpr, thr


def det_curve(scores: ArrayLike, labels: ArrayLike, mask: ArrayLike | None = None,
              weights: ArrayLike | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(false_alarm, miss, thresholds)`` probabilities, the operating points of the DET plot.

    Same points as :func:`roc_curve` (``false_alarm = fpr``, ``miss = 1 - tpr``); plot them on
    :func:`normal_deviate` axes.
    """
    fpr, tpr, thr = roc_curve(scores, labels, mask, weights)
    return fpr, 1.0 - tpr, thr


def normal_deviate(p: ArrayLike, eps: float = 1e-6) -> np.ndarray:
    """Probit ``Φ⁻¹(p)``, the DET axis scale; ``p`` is clipped to ``[eps, 1 - eps]`` to stay finite."""
    return norm.ppf(np.clip(np.asarray(p, dtype=np.float64), eps, 1 - eps))


def eer(scores: ArrayLike, labels: ArrayLike, mask: ArrayLike | None = None,
        weights: ArrayLike | None = None) -> tuple[float, float]:
    """Equal error rate and its threshold: ``(eer, threshold)``.

    The ROC is linearly interpolated between the two operating points where
    ``miss - false_alarm`` changes sign; the threshold is interpolated likewise (the first ROC
    point's infinite threshold is replaced by the largest score). ``(nan, nan)`` with a single class.
    """
    s, y, w = flatten(scores, labels, mask, weights)
    if not _two_classes(y):
        return float("nan"), float("nan")
    fpr, tpr, thr = skm.roc_curve(y, s, sample_weight=w, drop_intermediate=False)
    thr = np.where(np.isfinite(thr), thr, s.max())
    fnr = 1.0 - tpr
    diff = fnr - fpr  # decreasing from 1 to -1
    i = int(np.argmax(diff <= 0))  # first point where miss <= false alarm
    if i == 0 or diff[i] == 0:
        return float((fpr[i] + fnr[i]) / 2), float(thr[i])
    a = diff[i - 1] / (diff[i - 1] - diff[i])  # fraction of the segment from point i-1 to i
    rate = fpr[i - 1] + a * (fpr[i] - fpr[i - 1])
    return float(rate), float(thr[i - 1] + a * (thr[i] - thr[i - 1]))


def sweep(s: np.ndarray, y: np.ndarray, w: np.ndarray | None = None) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Counts at every distinct threshold (``score >= t``) in one sort: ``(thresholds, counts)``.

    ``s`` (N,) float scores, ``y`` (N,) bool labels, ``w`` (N,) weights or None (as :func:`flatten`
    returns them). ``thresholds`` (K + 1,) are ``inf`` (nothing positive) then the K distinct scores,
    decreasing; ``counts`` holds ``tp, fp, tn, fn`` (K + 1,) at each.
    """
    w = np.ones_like(s) if w is None else w
    order = np.argsort(-s, kind="mergesort")
    s, y, w = s[order], y[order], w[order]
    tp = np.cumsum(w * y)
    fp = np.cumsum(w * ~y)
    last = np.r_[np.flatnonzero(np.diff(s)), s.size - 1]  # last index of each distinct score
    tp, fp, thr = tp[last], fp[last], s[last]
    pos, neg = float((w * y).sum()), float((w * ~y).sum())
    # prepend "nothing positive" (threshold above the largest score)
    thr = np.r_[np.inf, thr]
    tp, fp = np.r_[0.0, tp], np.r_[0.0, fp]
    return thr, {"tp": tp, "fp": fp, "tn": neg - fp, "fn": pos - tp}


def tune_threshold(
    scores: ArrayLike, labels: ArrayLike, criterion: str = "f1",
    mask: ArrayLike | None = None, weights: ArrayLike | None = None,
) -> tuple[float, float]:
    """Threshold that optimises ``criterion`` on (dev) data: ``(threshold, value)``.

    ``criterion``: ``"f1"`` or ``"accuracy"`` (maximised), ``"youden"`` (max ``tpr - fpr``) or
    ``"eer"`` (the EER threshold; value = EER). Every distinct score is tried; the returned
    threshold lies halfway between the chosen score and the next lower one, so the same decisions
    are made on the tuning data (``frame_metrics(..., threshold)[criterion] == value``) and the
    threshold does not sit on a score value that other data will hit exactly.
    """
    if criterion not in CRITERIA:
        raise ValueError(f"unknown criterion {criterion!r}; choose one of {', '.join(CRITERIA)}")
    if criterion == "eer":
        rate, thr = eer(scores, labels, mask, weights)
        return thr, rate
    s, y, w = flatten(scores, labels, mask, weights)
    if s.size == 0:
        raise ValueError("no frames to tune a threshold on")
    thr, c = sweep(s, y, w)
    r = _rates(c["tp"], c["fp"], c["tn"], c["fn"])
    value = r["recall"] - r["fpr"] if criterion == "youden" else r[criterion]
    k = int(np.argmax(value))  # first best = highest threshold among ties
    return between(thr, k), float(value[k])


def between(thr: np.ndarray, k: int) -> float:
    """A threshold that makes the decisions of sweep point ``k`` (thresholds ``thr`` from :func:`sweep`)
    without sitting on a score: halfway to the next lower score; above the largest score for ``k = 0``;
    the lowest score itself for the last point (everything positive)."""
    if k == 0:
        return float(thr[1]) + 1.0 if thr.size > 1 else 0.0
    if k == thr.size - 1:
        return float(thr[k])
    return float((thr[k] + thr[k + 1]) / 2)


def summary(
    scores: ArrayLike, labels: ArrayLike, threshold: float = 0.5,
    mask: ArrayLike | None = None, weights: ArrayLike | None = None,
) -> dict[str, float]:
    """All scalar metrics at once: :func:`frame_metrics` at ``threshold`` + ``roc_auc``, ``eer``,
    ``eer_threshold`` and ``speech_fraction`` (weighted fraction of positive frames)."""
    out = frame_metrics(scores, labels, threshold, mask, weights)
    s, y, w = flatten(scores, labels, mask, weights)
    out["roc_auc"] = roc_auc(s, y, weights=w)
    out["eer"], out["eer_threshold"] = eer(s, y, weights=w)
    total = out["frames"]
    out["speech_fraction"] = (out["tp"] + out["fn"]) / total if total > 0 else 0.0
    return out


def is_binary(scores: ArrayLike | Sequence[np.ndarray]) -> bool:
    """True when every score is 0 or 1 (a system with hard decisions, e.g. WebRTC VAD)."""
    s = _flat(scores, np.float64)
    return bool(np.isin(s, (0.0, 1.0)).all())

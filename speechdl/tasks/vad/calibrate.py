"""Segment rules of a VAD picked on dev audio: which post-processing gives the best frame F1 after it.

The onset threshold comes first (best frame F1 of the raw posteriors, :func:`speechdl.metrics.detection.
tune_threshold`); then every rule of :data:`RULE_GRID` (hysteresis width, median window, minimum speech and
silence) turns the posteriors into segments (:func:`speechdl.tasks.vad.post.segments`, what users get), the
segments are read back on the 10 ms reference grid, and their F1 is measured. :func:`pick_rule` takes the rule
with the best mean rank over several dev sets (the folds of ``recipes/vad/lofo.py``), so one setting serves them
all and none of the folds' test families is looked at.

Example:
    >>> import numpy as np
    >>> y = np.zeros(300, np.float32); y[100:200] = 1                     # 1 s of speech on the 10 ms grid
    >>> p = np.where(y > 0, 0.9, 0.1).astype(np.float32)
    >>> p[20:26] = p[250:256] = 0.9                                         # two 60 ms blips of noise
    >>> scores = rule_f1([p], [y], 0.01, onset=0.5, candidates=[(0.0, 1, 0.15, 0.1), (0.0, 1, 0.0, 0.1)])
    >>> round(scores[(0.0, 1, 0.15, 0.1)], 3), round(scores[(0.0, 1, 0.0, 0.1)], 3)   # blips dropped / kept
    (0.971, 0.87)
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

from speechdl.tasks.vad.post import PostConfig, segments

Rule = tuple[float, int, float, float]  # (onset - offset, median window in model frames, min speech s, min silence s)

RULE_GRID: dict[str, tuple[float, ...]] = {
    "offset_delta": (0.0, 0.05, 0.1, 0.15),
    "smooth_frames": (1, 3, 5),
    "min_speech": (0.15, 0.25, 0.4),
    "min_silence": (0.1, 0.2),
}
PAD = 0.03


def rules(grid: dict[str, tuple[float, ...]] | None = None) -> list[Rule]:
    """Every combination of ``grid`` (default :data:`RULE_GRID`), in a fixed order."""
    g = grid or RULE_GRID
    return [(float(d), int(w), float(s), float(q)) for d, w, s, q in
            itertools.product(g["offset_delta"], g["smooth_frames"], g["min_speech"], g["min_silence"])]


def post_of(rule: Rule, onset: float, pad: float = PAD) -> PostConfig:
    """The :class:`PostConfig` of ``rule`` at ``onset`` (window 1: no smoothing).

    >>> post_of((0.0, 3, 0.25, 0.1), 0.43)
    PostConfig(onset=0.43, offset=0.43, smoothing='median', smooth_frames=3, min_speech=0.25, min_silence=0.1, pad=0.03)
    """
    delta, window, min_speech, min_silence = rule
    return PostConfig(onset=onset, offset=max(0.01, round(onset - delta, 6)),
                      smoothing="median" if window > 1 else "none", smooth_frames=int(window),
                      min_speech=min_speech, min_silence=min_silence, pad=pad)


def decisions(probs: np.ndarray, frame_hop: float, n_frames: int, post: PostConfig) -> np.ndarray:
    """Speech (True) per 10 ms reference frame ``(n_frames,)`` from the segments of ``probs`` ``(T,)`` (one
    recording, frames ``frame_hop`` s apart): a frame is speech when its centre lies in a segment."""
    centres = np.arange(n_frames) * 0.01
    out = np.zeros(n_frames, bool)
    for seg in segments(probs, frame_hop, post):
        out[(centres >= seg["start"] - 1e-9) & (centres < seg["end"] - 1e-9)] = True
    return out


def _f1(pred: np.ndarray, y: np.ndarray) -> float:
    truth = y > 0.5
    return 2.0 * float(np.sum(pred & truth)) / max(1.0, float(pred.sum() + truth.sum()))


def rule_f1(probs: Sequence[np.ndarray], labels: Sequence[np.ndarray], frame_hop: float, onset: float,
            candidates: list[Rule] | None = None) -> dict[Rule, float]:
    """Frame F1 after each rule's segments, over recordings ``probs[i] (T_i,)`` with 10 ms ``labels[i]``."""
    y = np.concatenate([np.asarray(a) for a in labels])
    out = {}
    for rule in candidates or rules():
        post = post_of(rule, onset)
        pred = np.concatenate([decisions(p, frame_hop, lab.size, post) for p, lab in zip(probs, labels, strict=True)])
        out[rule] = _f1(pred, y)
    return out


def pick_rule(per_set: Sequence[dict[Rule, float]]) -> tuple[Rule, dict[Rule, float]]:
    """The rule with the best mean rank (1 = best F1) over dev sets, and every rule's mean rank.

    >>> a, b = {(0.0, 1, 0.1, 0.1): 0.9, (0.1, 1, 0.1, 0.1): 0.8}, {(0.0, 1, 0.1, 0.1): 0.7, (0.1, 1, 0.1, 0.1): 0.75}
    >>> pick_rule([a, a, b])[0]
    (0.0, 1, 0.1, 0.1)
    """
    ranks: dict[Rule, list[int]] = {}
    for scores in per_set:
        for i, rule in enumerate(sorted(scores, key=lambda r: -scores[r])):
            ranks.setdefault(rule, []).append(i + 1)
    mean = {r: float(np.mean(v)) for r, v in ranks.items() if len(v) == len(per_set)}
    return min(mean, key=lambda r: (mean[r], r)), mean

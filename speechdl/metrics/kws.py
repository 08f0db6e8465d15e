"""Keyword spotting: miss rate at a false-alarm rate per hour, and the miss vs FA/h curve (DET-style).

Inputs:

* ``detections``: what the spotter fired, :class:`Detection` ``(time, score, keyword="", file="")`` (or
  tuples / dicts of those fields): ``time`` in seconds (the detection's time stamp, e.g. the frame where
  the score peaked), ``score`` higher = more confident.
* ``references``: the keyword events that were spoken, :class:`Event` ``(start, end, keyword="", file="")``
  in seconds (a float ``t`` is the event ``(t, t)``).
* ``hours``: the duration of all the audio scanned, in hours (the denominator of FA/h).

Matching, at any threshold: a detection is a **hit** of a reference of the same keyword and file when
``start - tolerance <= time <= end + tolerance``; detections are matched greedily in decreasing score,
each to the closest unmatched reference it can hit, each reference at most once. A detection with no
reference within tolerance is a **false alarm**; one whose references are all already hit is a
duplicate, ignored (``duplicates="ignore"``, as a spotter's refractory period would) or counted as a false
alarm (``"false_alarm"``). Because matching runs in score order, the outcome at threshold ``θ`` is that of
the detections scoring ``>= θ``, so the whole curve comes from one pass.

Example:
    >>> refs = [Event(1.0, 1.5), Event(5.0, 5.6), Event(9.0, 9.4)]
    >>> dets = [Detection(1.3, 0.9), Detection(5.7, 0.8), Detection(7.0, 0.7), Detection(9.2, 0.4)]
    >>> r = miss_rate_at(dets, refs, hours=0.5, fa_per_hour=1.0, tolerance=0.2)
    >>> round(r["miss_rate"], 3), r["false_alarms"], r["threshold"]   # 7.0 s fires wrongly: threshold above 0.7
    (0.333, 0, 0.8)
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

from speechdl.errors import ConfigError


class Detection(NamedTuple):
    """One firing of the spotter: ``time`` (s), ``score``, ``keyword``, ``file``."""

    time: float
    score: float
    keyword: str = ""
    file: str = ""


class Event(NamedTuple):
    """One spoken keyword: ``start`` and ``end`` (s), ``keyword``, ``file``."""

    start: float
    end: float
    keyword: str = ""
    file: str = ""


def _coerce(items: Iterable[Any], kind: type) -> list:
    out = []
    for it in items:
        if isinstance(it, kind):
            out.append(it)
        elif isinstance(it, Mapping):
            out.append(kind(**it))
        elif kind is Event and isinstance(it, (int, float, np.floating, np.integer)):
            out.append(Event(float(it), float(it)))
        else:
            out.append(kind(*it))
    return out


def match(detections: Iterable[Any], references: Iterable[Any], tolerance: float = 0.5,
          duplicates: str = "ignore") -> tuple[np.ndarray, np.ndarray, int]:
    """Greedy matching in decreasing score (module doc).

    Returns ``(scores, outcome, n_refs)``: detection scores sorted in decreasing order ``(D,)``, and per
    detection ``1`` hit, ``-1`` false alarm, ``0`` ignored duplicate; ``n_refs`` reference events.
    """
    if duplicates not in ("ignore", "false_alarm"):
        raise ConfigError("kws metric", f"duplicates={duplicates!r} is not valid", "use ignore or false_alarm")
    if tolerance < 0:
        raise ConfigError("kws metric", f"tolerance={tolerance} is negative", "use a tolerance >= 0 s")
    dets = _coerce(detections, Detection)
    refs = _coerce(references, Event)
    for e in refs:
        if e.end < e.start:
            raise ConfigError("kws metric", f"reference event ends ({e.end}) before it starts ({e.start})",
                              "swap start and end")
    if any(not np.isfinite(d.score) or not np.isfinite(d.time) for d in dets):
        raise ConfigError("kws metric", "a detection has a NaN or infinite time or score", "check the spotter")
    by_key: dict[tuple[str, str], list[int]] = defaultdict(list)
    for i, e in enumerate(refs):
        by_key[(e.keyword, e.file)].append(i)
    order = sorted(range(len(dets)), key=lambda i: (-dets[i].score, dets[i].time))
    taken = np.zeros(len(refs), bool)
    outcome = np.zeros(len(dets), np.int8)
    for rank, i in enumerate(order):
        d = dets[i]
        near = [j for j in by_key.get((d.keyword, d.file), ())
                if refs[j].start - tolerance <= d.time <= refs[j].end + tolerance]
        free = [j for j in near if not taken[j]]
        if free:
            j = min(free, key=lambda j: abs(d.time - (refs[j].start + refs[j].end) / 2))
            taken[j] = True
            outcome[rank] = 1
        elif not near or duplicates == "false_alarm":
            outcome[rank] = -1
    scores = np.array([dets[i].score for i in order], np.float64)
    return scores, outcome, len(refs)


def kws_curve(detections: Iterable[Any], references: Iterable[Any], hours: float, tolerance: float = 0.5,
              duplicates: str = "ignore") -> dict[str, np.ndarray]:
    """Miss rate vs false alarms per hour over every threshold.

    Returns ``{"threshold", "miss_rate", "fa_per_hour", "hits", "false_alarms"}``, arrays ``(K + 1,)`` ordered by
    decreasing threshold: the first point is ``threshold = inf`` (nothing fires: miss 1, FA 0), then one per
    distinct detection score (a detection fires when ``score >= threshold``). Miss rate is 0 without
    references.

    Example:
        >>> c = kws_curve([(1.0, 0.9), (3.0, 0.5)], [(0.8, 1.2)], hours=1.0)
        >>> c["miss_rate"].tolist(), c["fa_per_hour"].tolist()
        ([1.0, 0.0, 0.0], [0.0, 0.0, 1.0])
    """
    if not hours > 0:
        raise ConfigError("kws metric", f"hours={hours} is not positive", "pass the duration of the audio scanned")
    scores, outcome, n_refs = match(detections, references, tolerance, duplicates)
    hits = np.cumsum(outcome == 1)
    fas = np.cumsum(outcome == -1)
    last = np.r_[scores[1:] != scores[:-1], True] if len(scores) else np.zeros(0, bool)  # end of each tie group
    thr = np.r_[np.inf, scores[last]]
    hits = np.r_[0, hits[last]]
    fas = np.r_[0, fas[last]]
    miss = 1.0 - hits / n_refs if n_refs else np.zeros(len(thr))
    return {"threshold": thr, "miss_rate": miss, "fa_per_hour": fas / float(hours), "hits": hits,
            "false_alarms": fas}


def miss_rate_at(detections: Sequence[Any], references: Sequence[Any], hours: float, fa_per_hour: float = 1.0,
                 tolerance: float = 0.5, duplicates: str = "ignore") -> dict[str, Any]:
    """The lowest miss rate among thresholds whose false alarms per hour are ``<= fa_per_hour``.

    Returns ``{"miss_rate", "fa_per_hour" (at that threshold), "threshold", "hits", "false_alarms",
    "references"}``; the threshold is the lowest that keeps within the false-alarm budget (``inf`` when even
    the most confident detection is a false alarm beyond the budget).
    """
    if fa_per_hour < 0:
        raise ConfigError("kws metric", f"fa_per_hour={fa_per_hour} is negative", "pass a rate >= 0")
    refs = list(references)
    c = kws_curve(detections, refs, hours, tolerance, duplicates)
    # false alarms only grow and misses only fall as the threshold falls: the last point within budget is best
    k = int(np.flatnonzero(c["fa_per_hour"] <= fa_per_hour + 1e-12)[-1])
    return {"miss_rate": float(c["miss_rate"][k]), "fa_per_hour": float(c["fa_per_hour"][k]),
            "threshold": float(c["threshold"][k]), "hits": int(c["hits"][k]), "false_alarms": int(c["false_alarms"][k]),
            "references": len(refs)}

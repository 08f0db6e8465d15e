"""Pack speech segments into pieces a consumer can process one at a time (shared by the tasks).

A recogniser cuts a long recording at the pauses its bundle's ``segmenter`` component (the VAD
pipeline, declared in ``bundle.json`` and resolved through the registry) finds; this helper only turns
those segments into pieces of bounded length. It knows no task and imports nothing.

* :func:`pack_segments`: neighbouring segments are merged while the merged span stays within
  ``max_seconds`` (fewer, longer pieces give a recogniser more context); a segment longer than
  that is split into equal pieces; each piece is widened by ``pad`` seconds (clipped to
  ``[0, duration]``).

Example:
    >>> pack_segments([(0.5, 2.0), (2.3, 3.0), (9.0, 31.0)], max_seconds=10.0, pad=0.0)
    [(0.5, 3.0), (9.0, 16.333), (16.333, 23.667), (23.667, 31.0)]
    >>> pack_segments([(0.05, 1.0)], max_seconds=10.0, pad=0.1, duration=1.02)
    [(0.0, 1.02)]
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def pack_segments(segments: Sequence[tuple[float, float]], max_seconds: float = 20.0, pad: float = 0.1,
                  duration: float | None = None) -> list[tuple[float, float]]:
    """Merge neighbours up to ``max_seconds``, split longer segments evenly, widen by ``pad`` (all in s).

    Args:
        segments: ``[(start, end), ...]`` in seconds, any order; empty ones are dropped.
        max_seconds: longest piece before padding (> 0). pad: seconds added on both sides.
        duration: length of the signal (s); pieces are clipped to it (None: no upper clip).

    Returns:
        ``[(start, end), ...]`` sorted, rounded to ms.
    """
    if not max_seconds > 0:
        raise ValueError(f"max_seconds must be > 0, got {max_seconds!r}")
    out: list[list[float]] = []
    for a, b in sorted((float(a), float(b)) for a, b in segments if b > a):
        if out and b - out[-1][0] <= max_seconds:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    pieces: list[tuple[float, float]] = []
    for a, b in out:
        k = max(1, math.ceil((b - a) / max_seconds - 1e-9))
        step = (b - a) / k
        pieces += [(round(a + i * step, 3), round(a + (i + 1) * step if i < k - 1 else b, 3)) for i in range(k)]
    end = float("inf") if duration is None else duration
    return [(max(0.0, round(a - pad, 3)), min(end, round(b + pad, 3))) for a, b in pieces]

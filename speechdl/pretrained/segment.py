"""Cut long recordings into speech segments with a shipped (or given) VAD bundle.

Tasks must not import each other (DESIGN.md), yet a recogniser needs the voice activity detector to
cut an hour of audio into pieces it can decode. This helper is the one place that reaches the VAD's
public API, by name (``"speechdl.tasks.vad.infer:load_vad"``, imported when first used), and packs
its segments for the consumer:

* :func:`pack_segments`: neighbouring segments are merged while the merged span stays within
  ``max_seconds`` (fewer, longer pieces give a recogniser more context); a segment longer than
  that is split into equal pieces; each piece is widened by ``pad`` seconds.
* :func:`speech_segments`: VAD segments of a file, packed.

Example:
    >>> pack_segments([(0.5, 2.0), (2.3, 3.0), (9.0, 31.0)], max_seconds=10.0, pad=0.0)
    [(0.5, 3.0), (9.0, 16.333), (16.333, 23.667), (23.667, 31.0)]
"""

from __future__ import annotations

import importlib
import math
import os
from collections.abc import Sequence
from typing import Any

VAD_API = "speechdl.tasks.vad.infer:load_vad"


def pack_segments(segments: Sequence[tuple[float, float]], max_seconds: float = 20.0, pad: float = 0.1,
                  duration: float | None = None) -> list[tuple[float, float]]:
    """Merge neighbours up to ``max_seconds``, split longer segments evenly, widen by ``pad`` (s)."""
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


def load_api(spec: str = VAD_API) -> Any:
    """The object named ``"module:attribute"``."""
    module, _, attr = spec.partition(":")
    return getattr(importlib.import_module(module), attr)


def speech_segments(path: str | os.PathLike, vad: str = "vad", max_seconds: float = 20.0,
                    pad: float = 0.1) -> list[tuple[float, float]]:
    """Packed speech segments ``[(start, end), ...]`` (s) of an audio file, found by the VAD bundle ``vad``."""
    from speechdl import audio

    detector = load_api()(vad)
    duration = audio.info(path).duration
    segs = [(s["start"], s["end"]) for s in detector.segments(path)]
    return pack_segments(segs, max_seconds, pad, duration)

"""Vocal-tract-length warp shared by every synthetic voice: one engine voice, several pseudo-talkers.

:func:`vtl_warp` scales every frequency of a signal by ``factor`` (formants *and* F0, as a shorter or
longer vocal tract with its larger or smaller larynx does) and keeps its duration: the signal is
resampled (soxr) so that, played at the same rate, its spectrum is stretched by ``factor``, then put back
to its original length by WSOLA (waveform-similarity overlap-add, :func:`wsola`), which repeats or drops
whole pitch periods and so changes neither pitch nor spectrum.

Why this and not sox ``pitch``/``speed``: sox ``pitch`` is the same operation (``speed`` + WSOLA
``tempo``), but as a subprocess per utterance and a system dependency; this runs in process, on numpy and
soxr, is deterministic and costs a few milliseconds per second of speech. The engines' own pitch settings
(where they have one) move F0 independently, so a voice id records both (``...:p<Hz>:w<factor>``).

Example:
    >>> import numpy as np
    >>> t = np.arange(16000) / 16000
    >>> y = vtl_warp(np.sin(2 * np.pi * 500 * t).astype(np.float32), 16000, 1.2)
    >>> len(y), int(np.argmax(np.abs(np.fft.rfft(y))))     # same length, 500 Hz -> 600 Hz
    (16000, 600)
"""

from __future__ import annotations

import numpy as np

from speechdl import audio

MIN_WARP, MAX_WARP = 0.7, 1.4


def wsola(x: np.ndarray, n: int, sample_rate: int, frame_s: float = 0.03, tolerance_s: float = 0.01) -> np.ndarray:
    """Time-stretch ``x`` ``(m,)`` to exactly ``n`` samples without changing its pitch or spectrum.

    Frames of ``frame_s`` (Hann, 50 % overlap) are taken near their nominal input position, each shifted
    by up to ``tolerance_s`` to best continue the previous frame (cross-correlation), and overlap-added.

    Example:
        >>> wsola(np.ones(1000, np.float32), 1500, 16000).shape
        (1500,)
    """
    x = np.asarray(x, np.float32)
    m = len(x)
    if n <= 0:
        return np.zeros(0, np.float32)
    if m == 0:
        return np.zeros(n, np.float32)
    length = max(4, int(round(frame_s * sample_rate)) // 2 * 2)
    hop = length // 2
    tol = max(1, int(round(tolerance_s * sample_rate)))
    frames = -(-n // hop) + 1
    pad = length + tol
    xp = np.concatenate([np.zeros(pad, np.float32), x, np.zeros(pad + length + int(frames * hop * m / n), np.float32)])
    win = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(length) / length)).astype(np.float32)   # periodic Hann
    out = np.zeros((frames + 1) * hop + length, np.float32)
    prev = pad                                              # chosen input start of the previous frame
    for k in range(frames):
        nominal = pad + int(round((k - 1) * hop * m / n))
        if k == 0:
            start = nominal
        else:
            natural = xp[prev + hop: prev + hop + length]     # what would follow the previous frame
            lo = max(0, nominal - tol)
            region = xp[lo: nominal + tol + length]
            score = np.correlate(region, natural, "valid")
            start = lo + int(np.argmax(score))
        out[k * hop: k * hop + length] += win * xp[start: start + length]
        prev = start
    return out[hop: hop + n].copy()


def vtl_warp(x: np.ndarray, sample_rate: int, factor: float) -> np.ndarray:
    """All frequencies of ``x`` ``(n,)`` times ``factor`` (> 1: a smaller talker), same length ``(n,)``.

    ``factor`` must lie in ``[0.7, 1.4]``; ``1.0`` returns a copy.

    Example:
        >>> vtl_warp(np.zeros(800, np.float32), 16000, 0.9).shape
        (800,)
    """
    if not MIN_WARP <= factor <= MAX_WARP:
        raise ValueError(f"warp factor {factor} outside [{MIN_WARP}, {MAX_WARP}]")
    x = np.asarray(x, np.float32)
    if factor == 1.0 or len(x) == 0:
        return x.copy()
    squeezed = audio.resample(x, sample_rate, int(round(sample_rate / factor)))   # played at sample_rate: x factor
    return wsola(squeezed, len(x), sample_rate)

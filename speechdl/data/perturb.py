"""Pseudo-speakers: change a voice's pitch and vocal-tract length (formants), keeping its duration.

Speaker-embedding training wants many speakers. A new "speaker" is made from a real one by a fixed
pair ``(pitch_ratio, formant_ratio)`` per (speaker, variant): every utterance of variant ``k`` of
speaker ``s`` gets the same pair (:func:`variant_ratios`), so the variant is consistent across its
utterances, as a real voice is. The signal processing is Praat's "Change gender" (through
``parselmouth``): PSOLA resynthesis to the new pitch median after resampling the signal by the
formant ratio (a shorter vocal tract = formants times ``formant_ratio > 1``).

Example:
    >>> import numpy as np
    >>> t = np.arange(16000) / 16000
    >>> wave = (0.3 * np.sign(np.sin(2 * np.pi * 120 * t)) * np.exp(-((t * 120) % 1) * 8)).astype(np.float32)
    >>> out = change_voice(wave, 16000, pitch_ratio=1.2, formant_ratio=1.1)
    >>> out.shape, out.dtype, bool(np.abs(out).max() < 1)
    ((16000,), dtype('float32'), True)
    >>> variant_ratios("fotaq:joe", 1) == variant_ratios("fotaq:joe", 1)
    True
"""

from __future__ import annotations

import hashlib
import math
import warnings
from functools import lru_cache

import numpy as np

PITCH_FLOOR, PITCH_CEILING = 75.0, 600.0   # Hz, the pitch search range of the analysis
PITCH_RANGE = (0.75, 1.35)                  # default range of pitch ratios of a variant
FORMANT_RANGE = (0.85, 1.18)                # default range of formant (1 / vocal-tract length) ratios
MIN_DISTANCE = 0.12                         # least log-ratio distance of a variant to the original and to
#                                             the speaker's other variants (0.12 ~ 13 % in pitch alone)
MAX_CORNER = 1.2                            # |z_pitch - z_formant| <= this (z in [-1, 1], see variant_ratios)
PEAK = 0.99                                 # output peak limit (no clipping in 16-bit files)
MIN_SECONDS = 0.1                           # shorter input is returned unchanged (too short for pitch analysis)


def pitch_median(wave: np.ndarray, sample_rate: int) -> float:
    """Median F0 (Hz) of the voiced frames of ``wave`` ``(n,)``; ``nan`` when nothing is voiced.

    Example:
        >>> t = np.arange(16000) / 16000
        >>> round(pitch_median(np.sin(2 * np.pi * 150 * t).astype(np.float32), 16000))
        150
    """
    import parselmouth
    from parselmouth.praat import call

    sound = parselmouth.Sound(np.asarray(wave, dtype=np.float64), sampling_frequency=float(sample_rate))
    pitch = sound.to_pitch(pitch_floor=PITCH_FLOOR, pitch_ceiling=PITCH_CEILING)
    return float(call(pitch, "Get quantile", 0, 0, 0.5, "Hertz"))


def change_voice(wave: np.ndarray, sample_rate: int, pitch_ratio: float, formant_ratio: float) -> np.ndarray:
    """Multiply the pitch of ``wave`` by ``pitch_ratio`` and its formants by ``formant_ratio``.

    Args:
        wave: ``(n,)`` float32 mono samples in ``[-1, 1]``.
        sample_rate: Hz.
        pitch_ratio: new median F0 / original median F0 (e.g. 0.8 = lower voice). The pitch contour
            keeps its shape (range factor 1).
        formant_ratio: formant frequencies scale (> 1: shorter vocal tract, "smaller" speaker).

    Returns:
        ``(n,)`` float32: same length as ``wave`` (Praat's output is trimmed or zero-padded by at
        most a few samples), scaled down to a peak of 0.99 when it would exceed it.

    Fall-backs: input with no voiced frame (noise, silence, whispering) has no pitch to move, so
    only the formants are shifted (Praat is asked to keep the pitch); input shorter than 0.1 s or
    silent is returned unchanged (a copy).
    """
    import parselmouth
    from parselmouth.praat import call

    x = np.asarray(wave, dtype=np.float32)
    if x.ndim != 1:
        raise ValueError(f"change_voice expects a mono (n,) waveform, got shape {x.shape}")
    n = x.shape[0]
    if n < MIN_SECONDS * sample_rate or not np.any(x):
        return x.copy()
    median = pitch_median(x, sample_rate)
    new_median = median * pitch_ratio if math.isfinite(median) else 0.0   # 0: Praat keeps the pitch
    sound = parselmouth.Sound(x.astype(np.float64), sampling_frequency=float(sample_rate))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # "There were no voiced segments found." for unvoiced input
        out = call(sound, "Change gender", PITCH_FLOOR, PITCH_CEILING, float(formant_ratio), new_median, 1.0, 1.0)
    y = np.asarray(out.values[0], dtype=np.float32)
    y = y[:n] if y.shape[0] >= n else np.pad(y, (0, n - y.shape[0]))
    y = np.nan_to_num(y, nan=0.0, posinf=0.0, neginf=0.0)
    peak = float(np.abs(y).max(initial=0.0))
    if peak > PEAK:
        y *= PEAK / peak
    return y


def _seed(speaker: str, pitch_range: tuple[float, float], formant_range: tuple[float, float]) -> int:
    key = f"{speaker}\x00{pitch_range}\x00{formant_range}".encode()
    return int.from_bytes(hashlib.sha256(key).digest()[:8], "little")


@lru_cache(maxsize=4096)
def _variants(speaker: str, k: int, pitch_range: tuple[float, float],
              formant_range: tuple[float, float]) -> tuple[tuple[float, float], ...]:
    lo_p, hi_p = (math.log(v) for v in pitch_range)
    lo_f, hi_f = (math.log(v) for v in formant_range)
    rng = np.random.default_rng(_seed(speaker, pitch_range, formant_range))
    chosen: list[tuple[float, float]] = []        # (log pitch ratio, log formant ratio)
    min_dist, tries = MIN_DISTANCE, 0
    while len(chosen) < k:
        zp, zf = rng.uniform(-1.0, 1.0, size=2)
        tries += 1
        if tries % 200 == 0:                      # crowded (large k, narrow ranges): relax the spacing
            min_dist *= 0.8
        if abs(zp - zf) > MAX_CORNER:             # big vocal tract with a high voice, or the reverse
            continue
        lp = lo_p + (zp + 1) / 2 * (hi_p - lo_p)
        lf = lo_f + (zf + 1) / 2 * (hi_f - lo_f)
        if all(math.hypot(lp - a, lf - b) >= min_dist for a, b in [(0.0, 0.0), *chosen]):
            chosen.append((lp, lf))
    return tuple((math.exp(a), math.exp(b)) for a, b in chosen)


def variant_ratios(speaker: str, k: int, pitch_range: tuple[float, float] = PITCH_RANGE,
                   formant_range: tuple[float, float] = FORMANT_RANGE) -> tuple[float, float]:
    """``(pitch_ratio, formant_ratio)`` of variant ``k`` (1, 2, ...) of ``speaker``; deterministic.

    The pairs of a speaker are drawn in order from a generator seeded by a SHA-256 hash of the speaker
    id (and the ranges), uniformly in log-ratio space within the ranges, and kept when
    - they are at least ``MIN_DISTANCE`` (0.12, Euclidean in (log pitch, log formant)) away from the
      original ``(1, 1)`` and from the speaker's variants ``1..k-1`` (after every 200 rejected draws
      the distance shrinks by 20 %, so any ``k`` terminates);
    - pitch and formants do not sit in opposite corners: with ``z`` the position in the range mapped
      to ``[-1, 1]``, ``|z_pitch - z_formant| <= 1.2``. This correlates the two positively, as in
      people: a longer vocal tract (lower formants) mostly comes with a lower voice.
    Variant ``k`` therefore does not depend on how many variants are asked for.

    Example:
        >>> p, f = variant_ratios("fotaq:joe", 2)
        >>> 0.75 <= p <= 1.35 and 0.85 <= f <= 1.18
        True
    """
    if k < 1:
        raise ValueError(f"variant numbers start at 1 (got {k})")
    if not (0 < pitch_range[0] < pitch_range[1] and 0 < formant_range[0] < formant_range[1]):
        raise ValueError(f"ranges must be 0 < low < high (got {pitch_range}, {formant_range})")
    return _variants(speaker, int(k), tuple(map(float, pitch_range)), tuple(map(float, formant_range)))[k - 1]

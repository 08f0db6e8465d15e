"""Building blocks of the synthetic noise families: fast float32 noise, envelopes, oscillators, resonances.

Everything is vectorised numpy in float32 (scipy.fft for spectral shaping) so that a generator of
:mod:`speechdl.data.synth.noise_families` makes 4 s at 16 kHz in a few milliseconds.

* :func:`white` uniform white noise at unit variance (cheaper than Gaussian; filtered it is Gaussian anyway).
* :func:`shaped` white noise through a zero-phase spectral gain ``gain(f_hz) -> amplitude``.
* :func:`slow_env` a smooth random envelope (knots at ``rate`` Hz, uniform in dB, linear in between).
* :func:`harmonic_table` / :func:`osc` wavetable oscillator driven by an instantaneous-frequency track.
* :func:`resonate` impulses through damped resonances (2-pole filters), grouped into a few classes.
* :func:`add_at` adds a short event buffer into a longer signal (clipped at the ends).
* :func:`finish` adds a faint noise floor and scales to unit RMS (every generator ends with it).

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x = shaped(16000, 16000, rng, lambda f: (f < 500).astype(np.float32))
    >>> f = np.fft.rfftfreq(16000, 1 / 16000); p = np.abs(np.fft.rfft(x)) ** 2
    >>> bool(p[f < 500].sum() / p.sum() > 0.99)
    True
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import numpy as np
import scipy.fft
from scipy import signal

CTRL = 16              # control-rate decimation: envelopes are drawn every CTRL samples, then held
TABLE = 4096           # wavetable length (a power of two)
PHASE_BITS = 16        # fractional bits of the oscillators' fixed-point phase
SQRT12 = np.float32(np.sqrt(12.0))


def unit_rms(x: np.ndarray) -> np.ndarray:
    """``x`` scaled to unit RMS, float32 (an all-zero signal stays zero).

    Example:
        >>> round(float(np.sqrt(np.mean(unit_rms(np.arange(5.0)) ** 2))), 4)
        1.0
    """
    x = np.asarray(x)
    rms = float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if len(x) else 0.0
    return (x / rms).astype(np.float32) if rms > 0 else x.astype(np.float32)


def white(n: int, rng: np.random.Generator) -> np.ndarray:
    """Uniform white noise ``(n,)`` float32, zero mean, unit variance.

    Example:
        >>> abs(float(np.var(white(100000, np.random.default_rng(0)))) - 1) < 0.02
        True
    """
    return (rng.random(n, dtype=np.float32) - np.float32(0.5)) * SQRT12


def shaped(n: int, sample_rate: int, rng: np.random.Generator, gain: Callable[[np.ndarray], np.ndarray],
           base: np.ndarray | None = None) -> np.ndarray:
    """White noise (or ``base``) ``(n,)`` through the zero-phase amplitude response ``gain(f_hz)``, unit RMS.

    Example:
        >>> x = shaped(8000, 16000, np.random.default_rng(1), lambda f: np.ones_like(f))
        >>> x.shape, x.dtype
        ((8000,), dtype('float32'))
    """
    if n < 2:
        return np.zeros(n, np.float32)
    x = white(n, rng) if base is None else np.asarray(base, np.float32)
    spec = scipy.fft.rfft(x)
    spec *= np.asarray(gain(_freqs(n, sample_rate)), np.float32)
    return unit_rms(scipy.fft.irfft(spec, n))


@lru_cache(maxsize=16)
def _freqs(n: int, sample_rate: int) -> np.ndarray:
    f = np.fft.rfftfreq(n, 1.0 / sample_rate).astype(np.float32)
    f.setflags(write=False)
    return f


def band(f: np.ndarray, lo: float, hi: float, slope_db_oct: float = 0.0) -> np.ndarray:
    """Amplitude response of a soft band-pass ``lo``-``hi`` Hz (12 dB/oct skirts) with an in-band tilt.

    Example:
        >>> g = band(np.array([100.0, 1000.0, 8000.0]), 500, 2000)
        >>> bool(g[1] > 0.5 and g[0] < 0.1 and g[2] < 0.1)
        True
    """
    f = np.maximum(np.asarray(f, np.float32), np.float32(1.0))
    lo2, hi2 = np.float32(lo) ** 2, np.float32(1.0 / hi) ** 2
    f2 = f * f
    out = f2 / (f2 + lo2) / (1 + f2 * hi2)
    if slope_db_oct:
        out *= (f * np.float32(1.0 / np.sqrt(lo * hi))) ** np.float32(slope_db_oct / 6.02)
    return out.astype(np.float32, copy=False)


def frac(x: np.ndarray) -> np.ndarray:
    """Fractional part ``x - floor(x)`` (faster than ``x % 1`` on float32).

    Example:
        >>> frac(np.float32([1.25, -0.25])).tolist()
        [0.25, 0.75]
    """
    return x - np.floor(x)


def hold(ctrl: np.ndarray, n: int) -> np.ndarray:
    """A control-rate track (one value per :data:`CTRL` samples) held to ``n`` samples, float32."""
    out = np.repeat(np.asarray(ctrl, np.float32), CTRL)[:n]
    if len(out) < n:
        out = np.concatenate([out, np.full(n - len(out), out[-1] if len(out) else 0.0, np.float32)])
    return out


def slow_env(n: int, sample_rate: int, rng: np.random.Generator, rate: float, depth_db: float) -> np.ndarray:
    """Smooth random envelope ``(n,)`` (linear amplitude, float32): knots every ``1/rate`` s, uniform in
    ``[-depth_db, 0]`` dB, linearly interpolated at the control rate.

    Example:
        >>> e = slow_env(16000, 16000, np.random.default_rng(0), 2.0, 20.0)
        >>> bool(e.min() >= 0.09 and e.max() <= 1.0)
        True
    """
    m = n // CTRL + 2
    k = max(2, int(np.ceil(n / sample_rate * rate)) + 2)
    knots = rng.uniform(-depth_db, 0.0, k)
    env_db = np.interp(np.linspace(0, k - 1, m), np.arange(k), knots)
    return hold(10 ** (env_db / 20), n)


def harmonic_table(amps, phases=None) -> np.ndarray:
    """One period (:data:`TABLE` samples, float32) of ``sum_k amps[k-1] * sin(2 pi k t + phases[k-1])``.

    Example:
        >>> harmonic_table([1.0]).shape
        (4096,)
    """
    spec = np.zeros(TABLE // 2 + 1, np.complex128)
    amps = np.asarray(amps, np.float64)[: TABLE // 2 - 1]
    ph = np.zeros(len(amps)) if phases is None else np.asarray(phases, np.float64)[: len(amps)]
    spec[1: len(amps) + 1] = -0.5j * TABLE * amps * np.exp(1j * ph)      # sin(2 pi k t + ph) per bin
    return scipy.fft.irfft(spec, TABLE).astype(np.float32)


def osc(freq: np.ndarray, sample_rate: int, table: np.ndarray, phase0: float = 0.0) -> np.ndarray:
    """Wavetable oscillator: instantaneous frequency ``freq`` ``(n,)`` Hz -> ``(n,)`` float32.

    The phase is a fixed-point accumulator (int64, :data:`PHASE_BITS` fractional bits of a table step)
    summing ``freq / sample_rate``; a frequency of 0 holds the phase (silence is made by the amplitude).

    Example:
        >>> y = osc(np.full(16000, 1000.0), 16000, harmonic_table([1.0]))
        >>> int(np.argmax(np.abs(np.fft.rfft(y))))
        1000
    """
    inc = np.asarray(freq, np.float32) * np.float32(TABLE / sample_rate * 2 ** PHASE_BITS)
    if len(inc):
        inc[0] = (phase0 % 1.0) * TABLE * 2 ** PHASE_BITS
    acc = inc.astype(np.int64)                      # fixed-point phase accumulator (as in a DDS chip)
    np.cumsum(acc, out=acc)
    acc >>= PHASE_BITS
    acc &= TABLE - 1
    return table[acc]


def resonator(f_hz: float, decay_s: float, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """``(b, a)`` of a 2-pole resonance at ``f_hz`` whose impulse response decays by 1/e in ``decay_s``."""
    r = np.exp(-1.0 / max(decay_s * sample_rate, 1.0))
    w = 2 * np.pi * min(f_hz, 0.49 * sample_rate) / sample_rate
    return np.array([np.sin(w)], np.float32), np.array([1.0, -2 * r * np.cos(w), r * r], np.float32)


def resonate(n: int, sample_rate: int, rng: np.random.Generator, rate: float, f_range: tuple[float, float],
             decay_range: tuple[float, float], classes: int = 4, amp_sigma: float = 0.8) -> np.ndarray:
    """Poisson impulses (``rate`` per second, log-normal amplitudes) through ``classes`` random damped
    resonances (frequency log-uniform in ``f_range`` Hz, decay uniform in ``decay_range`` s); ``(n,)``.

    Example:
        >>> y = resonate(16000, 16000, np.random.default_rng(0), 50, (1000, 3000), (0.002, 0.01))
        >>> y.shape, bool(np.isfinite(y).all())
        ((16000,), True)
    """
    out = np.zeros(n, np.float32)
    lo, hi = min(f_range[0], 0.45 * sample_rate), min(f_range[1], 0.45 * sample_rate)
    for _ in range(classes):
        count = int(rng.poisson(rate * n / sample_rate / classes))
        imp = np.zeros(n, np.float32)
        if count and n:
            np.add.at(imp, rng.integers(0, n, count), rng.lognormal(0.0, amp_sigma, count).astype(np.float32))
        f = float(np.exp(rng.uniform(np.log(lo), np.log(hi))))
        b, a = resonator(f, float(rng.uniform(*decay_range)), sample_rate)
        out += signal.lfilter(b, a, imp).astype(np.float32)
    return out


def decaying(n: int, sample_rate: int, modes, rng: np.random.Generator, noise_ms: float = 1.0) -> np.ndarray:
    """A short event ``(n,)``: a ``noise_ms`` noise burst exciting damped ``modes`` ``[(f_hz, decay_s, gain)]``.

    Example:
        >>> e = decaying(800, 16000, [(2000.0, 0.005, 1.0)], np.random.default_rng(0))
        >>> bool(np.abs(e[:100]).max() > 10 * np.abs(e[-100:]).max())
        True
    """
    t = np.arange(n, dtype=np.float32) / np.float32(sample_rate)
    burst_len = max(1, int(noise_ms * 1e-3 * sample_rate))
    burst = white(burst_len, rng) * np.hanning(burst_len + 2)[1:-1].astype(np.float32)
    out = np.zeros(n, np.float32)
    for f, decay, g in modes:
        if f >= 0.49 * sample_rate:
            continue
        ring = np.exp(-t / decay) * np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi))
        out += np.float32(g) * ring.astype(np.float32)
    out[:burst_len] += burst * np.float32(np.max(np.abs(out)) if out.any() else 1.0)
    return out


def add_at(out: np.ndarray, pos: int, event: np.ndarray, gain: float = 1.0) -> None:
    """Add ``gain * event`` into ``out`` starting at sample ``pos`` (may be negative), clipped in place."""
    a, b = max(pos, 0), min(pos + len(event), len(out))
    if a < b:
        out[a:b] += np.float32(gain) * event[a - pos: b - pos]


def finish(x: np.ndarray, rng: np.random.Generator, floor_db: float = -50.0) -> np.ndarray:
    """``x`` plus a white floor ``floor_db`` dB below its RMS (so a silent draw is still a valid noise), unit RMS.

    Example:
        >>> y = finish(np.zeros(100, np.float32), np.random.default_rng(0))
        >>> round(float(np.sqrt(np.mean(y.astype(np.float64) ** 2))), 3)
        1.0
    """
    x = unit_rms(np.asarray(x, np.float32))
    if not x.any():
        return unit_rms(white(len(x), rng))
    return unit_rms(x + white(len(x), rng) * np.float32(10 ** (floor_db / 20)))

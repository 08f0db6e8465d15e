"""Channel effects for speech and noise alike: phone band, low sample rates, companding, quantisation, EQ,
clipping, a crude lossy codec and room reverb (numpy/scipy only, a few milliseconds per 4 s).

Every effect maps ``x`` ``(n,)`` float32 to ``(n,)`` float32 of the same length and rate.
:func:`random_channel` draws one effect (and, with probability ``p_second``, a second, different one)
with all its parameters from ``rng`` *before* looking at the signal, so the same seed gives the same
channel on two signals of the same length (apply it to a speech track and to a noise track separately,
or to their mix).

Effects (names of :data:`EFFECTS`):
    ``telephone`` 8 kHz, 300-3400 Hz, optional mu-law (:func:`speechdl.data.synth.room.telephone`);
    ``low_rate`` down to 8 or 11.025 kHz and back (:func:`low_rate`);
    ``companding`` 8-bit mu-law or A-law (:func:`compand`);
    ``quantise`` coarse uniform quantisation, 4-10 bits (:func:`quantise`);
    ``eq`` random low/high shelves (+-12 dB) with an optional high-pass and low-pass (:func:`eq`);
    ``clip`` soft clipping (:func:`soft_clip`);
    ``codec`` frame-wise spectral band limiting, masking holes, band dropouts and coarse magnitude
    quantisation, the artefacts of low-bitrate MP3/GSM (:func:`lossy_codec`);
    ``reverb`` a synthetic room (:func:`speechdl.data.synth.room.synth_rir`).

Example:
    >>> import numpy as np
    >>> x = np.random.default_rng(0).standard_normal(16000).astype(np.float32)
    >>> y, info = random_channel(x, 16000, np.random.default_rng(1))
    >>> y.shape, y.dtype, info["effects"][0]["name"] in EFFECTS
    ((16000,), dtype('float32'), True)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.fft
from numpy.lib.stride_tricks import sliding_window_view
from scipy import signal

from speechdl import audio
from speechdl.data.synth import room

EFFECTS = ("telephone", "low_rate", "companding", "quantise", "eq", "clip", "codec", "reverb")


def _fit(y: np.ndarray, n: int) -> np.ndarray:
    out = np.zeros(n, np.float32)
    out[: min(n, len(y))] = y[:n]
    return out


def _peak(x: np.ndarray) -> float:
    return float(np.max(np.abs(x))) if len(x) else 0.0


def low_rate(x: np.ndarray, sample_rate: int, rate: int) -> np.ndarray:
    """``x`` resampled to ``rate`` Hz and back (soxr): no energy above ``rate / 2``; same length.

    Example:
        >>> low_rate(np.ones(1000, np.float32), 16000, 8000).shape
        (1000,)
    """
    if rate >= sample_rate:
        return np.asarray(x, np.float32).copy()
    narrow = audio.resample(np.asarray(x, np.float32), sample_rate, rate)
    return _fit(audio.resample(narrow, rate, sample_rate), len(x))


def compand(x: np.ndarray, law: str = "mu", bits: int = 8) -> np.ndarray:
    """G.711-style companding: ``x`` (scaled to its peak) through mu-law (mu=255) or A-law (A=87.6),
    quantised to ``bits`` bits, expanded back and rescaled.

    Example:
        >>> x = np.linspace(-1, 1, 9, dtype=np.float32)
        >>> bool(np.abs(compand(x, "a") - x).max() < 0.02)
        True
    """
    peak = _peak(x)
    if peak == 0:
        return np.asarray(x, np.float32).copy()
    y = np.asarray(x, np.float32) / np.float32(peak)
    a = np.abs(y)
    if law == "mu":
        comp = np.log1p(255.0 * a) / np.log1p(255.0)
    elif law == "a":
        big = 87.6
        comp = np.where(a < 1 / big, big * a, 1 + np.log(np.maximum(big * a, np.float32(1e-12)))) / (1 + np.log(big))
    else:
        raise ValueError(f"unknown companding law {law!r}; use 'mu' or 'a'")
    levels = 2 ** (bits - 1) - 1
    q = np.round(comp * levels) / levels
    if law == "mu":
        out = np.expm1(q * np.log1p(255.0)) / 255.0
    else:
        lin = q * (1 + np.log(87.6))
        out = np.where(lin < 1, lin / 87.6, np.exp(lin - 1) / 87.6)
    return (np.sign(y) * out * peak).astype(np.float32)


def quantise(x: np.ndarray, bits: int) -> np.ndarray:
    """Uniform quantisation of ``x`` to ``bits`` bits over its peak range (no dither).

    Example:
        >>> np.unique(quantise(np.linspace(-1, 1, 100, dtype=np.float32), 2)).tolist()
        [-1.0, 0.0, 1.0]
    """
    peak = _peak(x)
    if peak == 0:
        return np.asarray(x, np.float32).copy()
    levels = 2 ** (bits - 1) - 1
    return (np.round(np.asarray(x, np.float64) / peak * levels) / levels * peak).astype(np.float32)


def _shelf(kind: str, f0: float, gain_db: float, sample_rate: int) -> np.ndarray:
    """RBJ-cookbook shelving biquad (slope 1) as one second-order section."""
    a_ = 10 ** (gain_db / 40)
    w = 2 * np.pi * f0 / sample_rate
    alpha = np.sin(w) / 2 * np.sqrt(2)
    cw, sa = np.cos(w), 2 * np.sqrt(a_) * alpha
    sign = 1 if kind == "low" else -1
    b = [a_ * ((a_ + 1) - sign * (a_ - 1) * cw + sa), sign * 2 * a_ * ((a_ - 1) - sign * (a_ + 1) * cw),
         a_ * ((a_ + 1) - sign * (a_ - 1) * cw - sa)]
    a = [(a_ + 1) + sign * (a_ - 1) * cw + sa, -sign * 2 * ((a_ - 1) + sign * (a_ + 1) * cw),
         (a_ + 1) + sign * (a_ - 1) * cw - sa]
    return np.concatenate([np.array(b) / a[0], np.array(a) / a[0]])[None, :]


def eq(x: np.ndarray, sample_rate: int, low_db: float = 0.0, high_db: float = 0.0, low_hz: float = 250.0,
       high_hz: float = 3000.0, highpass_hz: float | None = None, lowpass_hz: float | None = None) -> np.ndarray:
    """Tone control: a low shelf (``low_db`` below ``low_hz``), a high shelf (``high_db`` above ``high_hz``)
    and optional 2nd-order Butterworth high-pass / low-pass corners (Hz); same length.

    Example:
        >>> x = np.random.default_rng(0).standard_normal(16000).astype(np.float32)
        >>> y = eq(x, 16000, high_db=-12.0, high_hz=2000.0)
        >>> p = np.abs(np.fft.rfft(y)) ** 2 / np.abs(np.fft.rfft(x)) ** 2
        >>> round(float(10 * np.log10(np.median(p[7000:]))))
        -12
    """
    nyq = 0.5 * sample_rate
    sos = [_shelf("low", min(low_hz, 0.45 * nyq), low_db, sample_rate),
           _shelf("high", min(high_hz, 0.9 * nyq), high_db, sample_rate)]
    if highpass_hz:
        sos.append(signal.butter(2, min(highpass_hz, 0.9 * nyq), "highpass", fs=sample_rate, output="sos"))
    if lowpass_hz and lowpass_hz < 0.95 * nyq:
        sos.append(signal.butter(2, lowpass_hz, "lowpass", fs=sample_rate, output="sos"))
    return signal.sosfilt(np.concatenate(sos), np.asarray(x, np.float32)).astype(np.float32)


def soft_clip(x: np.ndarray, ratio: float) -> np.ndarray:
    """``c * tanh(x / c)`` with ``c = ratio * RMS(x)``: peaks above ~``ratio`` times the RMS are squashed.

    Example:
        >>> x = np.float32([0.01, 1.0, 10.0])
        >>> bool(soft_clip(x, 1.0).max() < 6.0)
        True
    """
    x = np.asarray(x, np.float32)
    rms = float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if len(x) else 0.0
    if rms == 0:
        return x.copy()
    c = np.float32(ratio * rms)
    return (c * np.tanh(x / c)).astype(np.float32)


def lossy_codec(x: np.ndarray, sample_rate: int, rng: np.random.Generator, cutoff_hz: float = 6000.0,
                bits: int = 3, mask_db: float = -30.0, p_drop: float = 0.1) -> np.ndarray:
    """A crude perceptual codec: 32 ms sine-windowed frames (50 % overlap, perfect reconstruction) whose
    spectrum is cut above ``cutoff_hz``, zeroed where a bin is ``mask_db`` below the frame's peak (holes),
    loses each upper band (1/3 octave above 1 kHz) with probability ``p_drop`` per frame (swirls), and has
    its magnitudes quantised with ``bits`` bits per band (log scale, phase kept); same length.

    Example:
        >>> x = np.random.default_rng(0).standard_normal(16000).astype(np.float32)
        >>> y = lossy_codec(x, 16000, np.random.default_rng(0), cutoff_hz=4000.0)
        >>> p = np.abs(np.fft.rfft(y)) ** 2
        >>> bool(p[4600:].sum() < 0.01 * p.sum())
        True
    """
    x = np.asarray(x, np.float32)
    n = len(x)
    size = 2 ** int(round(np.log2(0.032 * sample_rate)))
    hop = size // 2
    if n == 0:
        return x.copy()
    frames_n = -(-n // hop) + 1
    padded = np.zeros((frames_n + 1) * hop, np.float32)
    padded[hop: hop + n] = x
    win = np.sin(np.pi * (np.arange(size) + 0.5) / size).astype(np.float32)
    frames = sliding_window_view(padded, size)[::hop][:frames_n] * win
    spec = scipy.fft.rfft(frames, axis=1)                                     # complex64 (frames, bins)
    f = np.fft.rfftfreq(size, 1.0 / sample_rate).astype(np.float32)
    mag = np.abs(spec) + np.float32(1e-12)
    keep = (f <= cutoff_hz)[None, :] & (mag >= mag.max(axis=1, keepdims=True) * np.float32(10 ** (mask_db / 20)))
    edges = [0.0] + [1000.0 * 2 ** (k / 3) for k in range(30)]                # 1/3-octave bands above 1 kHz
    _, band_of = np.unique(np.searchsorted(edges, f, side="right"), return_inverse=True)
    starts = np.flatnonzero(np.diff(band_of, prepend=-1))
    drops = rng.random((frames_n, len(starts))) < p_drop
    keep &= ~(drops[:, band_of] & (f > 1000.0)[None, :])
    # magnitudes quantised on a log scale relative to their band's peak: steps of 6 dB / 2**(bits-1)
    ref = np.maximum.reduceat(mag, starts, axis=1)[:, band_of]
    step = np.float32(2.0 ** (1 - bits))
    gain = np.exp2(np.round(np.log2(mag / ref) / step) * step) * ref / mag
    spec = np.where(keep, spec * gain, np.complex64(0))
    out_frames = scipy.fft.irfft(spec, size, axis=1).astype(np.float32) * win
    out = np.zeros((frames_n + 1) * hop, np.float32)
    out[: frames_n * hop].reshape(frames_n, hop)[:] += out_frames[:, :hop]
    out[hop: (frames_n + 1) * hop].reshape(frames_n, hop)[:] += out_frames[:, hop:]
    return out[hop: hop + n].copy()


def _draw(name: str, sample_rate: int, rng: np.random.Generator) -> dict:
    """The parameters of one effect, drawn from ``rng`` (independent of the signal)."""
    nyq = 0.5 * sample_rate
    if name == "telephone":
        return {"name": name, "mu_law": bool(rng.random() < 0.7)}
    if name == "low_rate":
        return {"name": name, "rate": int(rng.choice([8000, 11025]))}
    if name == "companding":
        return {"name": name, "law": "mu" if rng.random() < 0.5 else "a"}
    if name == "quantise":
        return {"name": name, "bits": int(rng.integers(4, 11))}
    if name == "eq":
        return {"name": name, "low_db": round(float(rng.uniform(-12, 12)), 2),
                "high_db": round(float(rng.uniform(-12, 12)), 2), "low_hz": round(float(rng.uniform(100, 400))),
                "high_hz": round(float(rng.uniform(2000, min(5000, 0.8 * nyq)))),
                "highpass_hz": round(float(rng.uniform(50, 300))) if rng.random() < 0.5 else None,
                "lowpass_hz": round(float(rng.uniform(3000, max(3001, 0.9 * nyq)))) if rng.random() < 0.5 else None}
    if name == "clip":
        return {"name": name, "ratio": round(float(rng.uniform(0.8, 3.0)), 3)}
    if name == "codec":
        return {"name": name, "cutoff_hz": round(float(rng.uniform(min(3000, 0.8 * nyq), 0.95 * nyq))),
                "bits": int(rng.integers(2, 6)), "mask_db": round(float(rng.uniform(-40, -15)), 1),
                "p_drop": round(float(rng.uniform(0.0, 0.3)), 3), "seed": int(rng.integers(2 ** 31))}
    if name == "reverb":
        return {"name": name, "rt60": round(float(rng.uniform(0.15, 1.0)), 3),
                "drr_db": round(float(rng.uniform(-3, 10)), 2), "seed": int(rng.integers(2 ** 31))}
    raise ValueError(f"unknown channel effect {name!r}; use one of {EFFECTS}")


def apply_effect(x: np.ndarray, sample_rate: int, params: dict) -> np.ndarray:
    """Apply one effect described by ``params`` (a record of :func:`random_channel`) to ``x`` ``(n,)``.

    Example:
        >>> apply_effect(np.zeros(800, np.float32), 16000, {"name": "quantise", "bits": 8}).shape
        (800,)
    """
    x = np.asarray(x, np.float32)
    name = params["name"]
    kw = {k: v for k, v in params.items() if k != "name"}
    if name in EFFECTS and len(x) == 0:
        return x.copy()
    if name == "telephone":
        return room.telephone(x, sample_rate, mu_law=kw["mu_law"])
    if name == "low_rate":
        return low_rate(x, sample_rate, kw["rate"])
    if name == "companding":
        return compand(x, kw["law"])
    if name == "quantise":
        return quantise(x, kw["bits"])
    if name == "eq":
        return eq(x, sample_rate, **kw)
    if name == "clip":
        return soft_clip(x, kw["ratio"])
    if name == "codec":
        seed = kw.pop("seed")
        return lossy_codec(x, sample_rate, np.random.default_rng(seed), **kw)
    if name == "reverb":
        rir = room.synth_rir(sample_rate, kw["rt60"], np.random.default_rng(kw["seed"]), drr_db=kw["drr_db"])
        return room.reverberate(x, rir)
    raise ValueError(f"unknown channel effect {name!r}; use one of {EFFECTS}")


def random_channel(x: np.ndarray, sample_rate: int, rng: np.random.Generator,
                   effects: Sequence[str] = EFFECTS, p_second: float = 0.3) -> tuple[np.ndarray, dict]:
    """``x`` ``(n,)`` through one random effect of ``effects`` (and a second one with probability ``p_second``).

    Returns ``(y, info)``: float32 ``(n,)`` and ``{"effects": [{"name": ..., <parameters>}, ...]}``; each
    record replays with :func:`apply_effect`. The output is finite and has the input's length; its level may
    differ (shelves, clipping).

    Example:
        >>> x = np.random.default_rng(0).standard_normal(8000).astype(np.float32)
        >>> y, info = random_channel(x, 16000, np.random.default_rng(0), effects=["telephone"])
        >>> info["effects"][0]["name"], y.shape
        ('telephone', (8000,))
    """
    names = list(effects)
    if not names:
        raise ValueError("random_channel needs at least one effect")
    first = names[int(rng.integers(len(names)))]
    chosen = [first]
    second = rng.random() < p_second
    others = [e for e in names if e != first]
    if second and others:
        chosen.append(others[int(rng.integers(len(others)))])
    records = [_draw(name, sample_rate, rng) for name in chosen]
    y = np.asarray(x, np.float32)
    for rec in records:
        y = apply_effect(y, sample_rate, rec)
    y = np.nan_to_num(y, nan=0.0, posinf=0.0, neginf=0.0).astype(np.float32, copy=False)
    return y, {"effects": records}

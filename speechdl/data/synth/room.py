"""Rooms and channels: synthetic reverberation and the telephone band.

* :func:`synth_rir` draws a room impulse response: a unit direct path at sample 0 (so speech
  intervals stay aligned) followed, after a 2-10 ms gap, by Gaussian noise with an exponential
  envelope that falls 60 dB in ``rt60`` seconds, mixed at a direct-to-reverberant ratio ``drr_db``;
  high frequencies decay a little faster (a one-pole low-pass whose cut-off falls along the tail).
* :func:`reverberate` convolves with it (``scipy.signal.fftconvolve``), keeping the length.
* :func:`estimate_rt60` measures RT60 back from an RIR (Schroeder backward integration, line fit of
  the energy decay curve between -5 and -35 dB, extrapolated to -60 dB).
* :func:`telephone` simulates a narrow-band phone channel: resample to 8 kHz, 300-3400 Hz
  band-pass (4th-order Butterworth), optional 8-bit mu-law (G.711) quantisation or the GSM 06.10 full-rate
  codec (13 kbit/s, the mobile-phone codec; encoded and decoded by ``sox``), back to the rate.

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> rir = synth_rir(16000, rt60=0.5, rng=rng, drr_db=0.0)
    >>> abs(estimate_rt60(rir, 16000) - 0.5) < 0.1
    True
    >>> telephone(np.zeros(16000, np.float32), 16000, mu_law=True).shape
    (16000,)
"""

from __future__ import annotations

import numpy as np
from scipy import signal

from speechdl import audio
from speechdl.errors import ConfigError

PHONE_RATE = 8000
PHONE_BAND = (300.0, 3400.0)


def synth_rir(sample_rate: int, rt60: float, rng: np.random.Generator, drr_db: float = 3.0) -> np.ndarray:
    """Room impulse response ``(samples,)`` float32, length ``1.2 * rt60`` s (at least 50 ms).

    Args:
        sample_rate: Hz.
        rt60: reverberation time in seconds (time for the energy to fall by 60 dB).
        rng: random generator (the tail is noise).
        drr_db: direct-to-reverberant energy ratio in dB.
    """
    if rt60 <= 0:
        raise ValueError("rt60 must be > 0 seconds")
    n = max(int(1.2 * rt60 * sample_rate), int(0.05 * sample_rate))
    t = np.arange(n) / sample_rate
    tail = rng.standard_normal(n) * 10 ** (-3.0 * t / rt60)     # amplitude: -60 dB at t = rt60
    # frequency-dependent decay: a one-pole low-pass whose pole grows along the tail (8 steps)
    smoothed = np.empty(n)
    zi = np.zeros(1)
    for k, idx in enumerate(np.array_split(np.arange(n), 8)):
        a = 0.1 + 0.7 * k / 7
        y, zi = signal.lfilter([1 - a], [1, -a], tail[idx], zi=zi)
        smoothed[idx] = y / np.sqrt((1 - a) / (1 + a))           # keep the broadband energy decay
    gap = int(rng.uniform(0.002, 0.010) * sample_rate)
    smoothed[:gap] = 0.0
    e_tail = float(np.sum(smoothed ** 2))
    rir = smoothed * np.sqrt(10 ** (-drr_db / 10) / e_tail) if e_tail > 0 else smoothed
    rir[0] = 1.0
    return rir.astype(np.float32)


def reverberate(x: np.ndarray, rir: np.ndarray) -> np.ndarray:
    """Convolve ``x`` ``(n,)`` with ``rir`` and keep the first ``n`` samples (aligned, float32)."""
    if len(x) == 0:
        return x.astype(np.float32)
    return signal.fftconvolve(x, rir)[: len(x)].astype(np.float32)


def estimate_rt60(rir: np.ndarray, sample_rate: int, start_db: float = -5.0, end_db: float = -35.0) -> float:
    """RT60 in seconds of ``rir`` by Schroeder integration and a line fit of the decay curve."""
    energy = np.asarray(rir, dtype=np.float64) ** 2
    edc = np.cumsum(energy[::-1])[::-1]
    edc_db = 10 * np.log10(edc / edc[0] + 1e-300)
    sel = np.where((edc_db <= start_db) & (edc_db >= end_db))[0]
    if len(sel) < 2:
        raise ValueError("impulse response too short to measure its decay")
    slope, _ = np.polyfit(sel / sample_rate, edc_db[sel], 1)   # dB per second (negative)
    return float(-60.0 / slope)


def _mu_law(x: np.ndarray, mu: float = 255.0) -> np.ndarray:
    peak = float(np.max(np.abs(x))) if len(x) else 0.0
    if peak == 0:
        return x
    y = x / peak
    comp = np.sign(y) * np.log1p(mu * np.abs(y)) / np.log1p(mu)
    q = np.round((comp + 1) / 2 * mu) / mu * 2 - 1                 # 8 bits: 256 levels
    return (np.sign(q) * np.expm1(np.abs(q) * np.log1p(mu)) / mu * peak).astype(np.float32)


def gsm(x: np.ndarray) -> np.ndarray:
    """GSM 06.10 full-rate codec round trip (``sox``): ``x`` ``(n,)`` float32 at 8 kHz -> ``(n,)``.

    Example:
        >>> t = np.arange(8000)
        >>> y = gsm((0.3 * np.sin(2 * np.pi * 440 * t / 8000)).astype(np.float32))
        >>> y.shape, bool(np.corrcoef(y, 0.3 * np.sin(2 * np.pi * 440 * t / 8000))[0, 1] > 0.95)
        ((8000,), True)
    """
    import shutil
    import subprocess

    x = np.asarray(x, np.float32)
    if not len(x):
        return x.copy()
    if shutil.which("sox") is None:
        raise ConfigError("telephone channel", "the GSM codec needs sox, which is not installed",
                          "apt-get install -y sox, or set p_gsm: 0")
    peak = float(np.max(np.abs(x)))
    scale = 0.9 / peak if peak > 0.9 else 1.0   # the codec works on 16-bit samples: keep clear of clipping
    raw = ["-t", "raw", "-e", "floating-point", "-b", "32", "-r", str(PHONE_RATE), "-c", "1", "-"]
    fmt = ["-t", "gsm", "-r", str(PHONE_RATE), "-c", "1", "-"]
    enc = subprocess.run(["sox", "-q", *raw, *fmt], input=(x * scale).tobytes(), capture_output=True, check=True)
    dec = subprocess.run(["sox", "-q", *fmt, *raw], input=enc.stdout, capture_output=True, check=True)
    y = np.frombuffer(dec.stdout, np.float32) / scale
    out = np.zeros(len(x), np.float32)    # 160-sample frames: the decoder pads the last one
    out[: min(len(x), len(y))] = y[: len(x)]
    return out


def telephone(x: np.ndarray, sample_rate: int, mu_law: bool = True, codec: str | None = None) -> np.ndarray:
    """Telephone channel: ``x`` ``(n,)`` at ``sample_rate`` -> 8 kHz, 300-3400 Hz, mu-law or GSM, -> back.

    ``codec="gsm"`` runs the GSM 06.10 codec (:func:`gsm`) instead of mu-law. The output has the same length
    and rate as the input and no energy above 4 kHz (beyond the resampler's stop band).
    """
    narrow = audio.resample(np.asarray(x, dtype=np.float32), sample_rate, PHONE_RATE)
    sos = signal.butter(4, PHONE_BAND, btype="bandpass", fs=PHONE_RATE, output="sos")
    narrow = signal.sosfilt(sos, narrow).astype(np.float32)
    if codec == "gsm":
        narrow = gsm(narrow)
    elif codec is not None:
        raise ConfigError("telephone channel", f"codec={codec!r} is unknown", "use gsm or none (mu-law)")
    elif mu_law:
        narrow = _mu_law(narrow)
    wide = audio.resample(narrow, PHONE_RATE, sample_rate)
    out = np.zeros(len(x), dtype=np.float32)
    out[: min(len(x), len(wide))] = wide[: len(x)]
    return out

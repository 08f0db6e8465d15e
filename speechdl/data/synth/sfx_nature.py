"""Synthetic nature sounds: the ``animals`` and ``weather`` noise families.

Each generator is ``(n, sample_rate, rng) -> float32 (n,)`` at unit RMS, deterministic from ``rng``.

animals (tonal and modulated at syllable-like rates: the hardest sounds for a VAD)
    * :func:`birdsong` 1-3 birds; phrases of a repeated FM syllable (up/down sweeps, trills, arches,
      whistles; 1.5-8 kHz, up to 3 harmonics), gaps between syllables and phrases.
    * :func:`insects` crickets (pulsed tones grouped in chirps), cicadas (buzzing band noise), katydid
      trills (3-8 kHz, 20-250 Hz pulse rates).
    * :func:`frogs` croaks: low buzzy harmonic tones (80-500 Hz fundamental) pulsed at 8-60 Hz.
    * :func:`rainforest` a chorus of the three over a quiet pink bed.
weather
    * :func:`wind` gusty band-limited noise: a slow random envelope, brighter when it blows harder.
    * :func:`rain` dense droplet impulses through short resonances over a pink-ish bed.
    * :func:`thunder` low rumble bursts (< 300 Hz, seconds long, rolling) over a light bed.
    * :func:`stream` running water: modulated band noise and bubbles.

Example:
    >>> import numpy as np
    >>> x = birdsong(64000, 16000, np.random.default_rng(0))
    >>> x.shape, x.dtype, round(float(np.sqrt(np.mean(x.astype(np.float64) ** 2))), 3)
    ((64000,), dtype('float32'), 1.0)
"""

from __future__ import annotations

import numpy as np

from speechdl.data.synth.sfx_common import band, finish, frac, harmonic_table, osc, resonate, shaped, slow_env, unit_rms


def _bird(n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    """One bird's song: frequency and amplitude tracks filled phrase by phrase, then one oscillator."""
    top = min(8000.0, 0.45 * sr)
    freq = np.zeros(n, np.float32)
    amp = np.zeros(n, np.float32)
    base = float(rng.uniform(1500.0, max(1600.0, min(5500.0, 0.7 * top))))
    pos = int(rng.uniform(-0.3, 0.4) * sr)
    while pos < n:
        dur = float(rng.uniform(0.025, 0.2))
        m = max(4, int(dur * sr))
        u = np.linspace(0.0, 1.0, m, dtype=np.float32)
        f0 = base * float(rng.uniform(0.75, 1.35))
        bw = f0 * float(rng.uniform(0.1, 0.7))
        shape = int(rng.integers(5))
        if shape == 0:                                   # up-sweep
            track = f0 - bw / 2 + bw * u ** rng.uniform(0.5, 2.0)
        elif shape == 1:                                 # down-sweep
            track = f0 + bw / 2 - bw * u ** rng.uniform(0.5, 2.0)
        elif shape == 2:                                 # trill: fast sinusoidal FM
            track = f0 + bw / 2 * np.sin(2 * np.pi * rng.uniform(15, 60) * dur * u)
        elif shape == 3:                                 # arch
            track = f0 - bw / 2 + bw * np.sin(np.pi * u)
        else:                                            # whistle with a little vibrato
            track = f0 + 0.03 * f0 * np.sin(2 * np.pi * rng.uniform(4, 12) * dur * u)
        track = np.clip(track, 1000.0, top).astype(np.float32)
        env = (np.abs(np.sin(np.pi * u)) ** rng.uniform(0.5, 2.0)).astype(np.float32)
        gap = int(rng.uniform(0.015, 0.12) * sr)
        fade = float(rng.uniform(0.0, 0.15))
        for r in range(int(rng.integers(1, 9))):        # the syllable repeated, fading or swelling
            a, b = max(pos, 0), min(pos + m, n)
            if a < b:
                freq[a:b] = track[a - pos: b - pos]
                amp[a:b] = env[a - pos: b - pos] * max(0.2, 1.0 - fade * r)
            pos += m + gap
        pos += int(rng.uniform(0.15, 1.5) * sr)        # pause between phrases
    harmonics = [1.0] + [float(rng.uniform(0.0, 0.4)) / k for k in (2, 3) if k * base * 1.35 < 0.45 * sr]
    return osc(freq, sr, harmonic_table(harmonics)) * amp


def birdsong(n: int, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """Birdsong-like FM chirps ``(n,)``: 1-3 birds at levels within 12 dB, unit RMS.

    Example:
        >>> birdsong(1600, 16000, np.random.default_rng(3)).shape
        (1600,)
    """
    x = np.zeros(n, np.float32)
    for _ in range(int(rng.integers(1, 4))):
        x += _bird(n, sample_rate, rng) * np.float32(10 ** (rng.uniform(-12, 0) / 20))
    return finish(x, rng)


def _pulses(t: np.ndarray, rate: float, duty: float, sharp: float) -> np.ndarray:
    """A train of smooth pulses at ``rate`` Hz, each ``duty`` of its period long, in [0, 1]."""
    cyc = frac(t * np.float32(rate))
    on = np.clip(cyc / np.float32(duty), 0.0, 1.0)
    return (np.abs(np.sin(np.pi * on)) ** np.float32(sharp)).astype(np.float32)


def _gate(t: np.ndarray, pulse_rate: float, rate: float, length_s: float, offset: float) -> np.ndarray:
    """True over whole pulses (of a ``pulse_rate`` train) that start in the first ``length_s`` of each
    ``1 / rate`` s cycle: groups of pulses switched on and off between pulses, so without clicks."""
    start = np.floor(t * np.float32(pulse_rate)) / np.float32(pulse_rate)
    return frac(start * np.float32(rate) + np.float32(offset)) < length_s * rate


def _insect(n: int, sr: int, rng: np.random.Generator, t: np.ndarray) -> np.ndarray:
    top = 0.45 * sr
    kind = int(rng.integers(3))
    fc = float(rng.uniform(3000.0, min(8000.0, top)))
    if kind == 1:                                        # cicada: buzzing band noise, slow swell
        carrier = shaped(n, sr, rng, lambda f: band(f, fc * 0.8, fc * 1.2))
        am = _pulses(t, float(rng.uniform(80, 250)), float(rng.uniform(0.3, 0.7)), 1.0)
        return carrier * am * slow_env(n, sr, rng, 0.7, 12.0)
    freq = np.full(n, fc, np.float32) * (1 + np.float32(0.01) * np.sin(2 * np.pi * rng.uniform(0.2, 2) * t))
    carrier = osc(freq, sr, harmonic_table([1.0, 0.15 if 2 * fc < top else 0.0]), float(rng.random()))
    if kind == 0:                                        # cricket: 2-6 pulses per chirp, 1-4 chirps/s
        pulse_rate = float(rng.uniform(20, 60))
        chirp_rate = float(rng.uniform(1.0, 4.0))
        length = int(rng.integers(2, 7)) / pulse_rate
        gate = _gate(t, pulse_rate, chirp_rate, length, float(rng.random()))
        return carrier * _pulses(t, pulse_rate, 0.5, 1.0) * gate
    rate = float(rng.uniform(25, 120))
    trill = _pulses(t, rate, float(rng.uniform(0.3, 0.8)), 2.0)                 # katydid trill
    seg = float(rng.uniform(0.2, 1.0))                                           # trills with pauses
    on = rng.random(int(n / sr / seg) + 2) < 0.7
    gate = on[(np.floor(t * np.float32(rate)) / np.float32(rate * seg)).astype(np.int64)]
    return carrier * trill * gate


def insects(n: int, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """Insect trills ``(n,)``: 1-3 crickets, cicadas or katydids at 3-8 kHz, pulsed at 20-250 Hz, unit RMS.

    Example:
        >>> insects(1600, 16000, np.random.default_rng(3)).shape
        (1600,)
    """
    t = np.arange(n, dtype=np.float32) / np.float32(sample_rate)
    x = np.zeros(n, np.float32)
    for _ in range(int(rng.integers(1, 4))):
        x += _insect(n, sample_rate, rng, t) * np.float32(10 ** (rng.uniform(-10, 0) / 20))
    return finish(x, rng)


def frogs(n: int, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """Frog-like croaks ``(n,)``: buzzy harmonic tones (80-500 Hz) pulsed at 8-60 Hz, 1-3 frogs, unit RMS.

    Example:
        >>> frogs(1600, 16000, np.random.default_rng(3)).shape
        (1600,)
    """
    t = np.arange(n, dtype=np.float32) / np.float32(sample_rate)
    x = np.zeros(n, np.float32)
    for _ in range(int(rng.integers(1, 4))):
        f0 = float(rng.uniform(80.0, 500.0))
        top = int(min(20, 0.45 * sample_rate / (f0 * 1.1)))
        formant = float(rng.uniform(400.0, 1500.0))
        amps = [1.0 / (1.0 + ((k * f0 - formant) / 400.0) ** 2) + 0.2 / k for k in range(1, top + 1)]
        glide = 1 - np.float32(rng.uniform(0.0, 0.1)) * frac(t * np.float32(rng.uniform(0.7, 3.0)))
        tone = osc(f0 * glide, sample_rate, harmonic_table(amps))
        croak_rate = float(rng.uniform(0.7, 3.0))
        croak_len = float(rng.uniform(0.1, 0.6))
        offset, pulse_rate = float(rng.random()), float(rng.uniform(8.0, 60.0))
        gate = _gate(t, pulse_rate, croak_rate, croak_len, offset)
        pulses = _pulses(t, pulse_rate, float(rng.uniform(0.3, 0.8)), 1.0)
        x += tone * pulses * gate * np.float32(10 ** (rng.uniform(-10, 0) / 20))
    return finish(x, rng)


def rainforest(n: int, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """A chorus ``(n,)``: birdsong, insects and (p=0.5) frogs at random levels over a quiet pink bed.

    Example:
        >>> rainforest(1600, 16000, np.random.default_rng(3)).shape
        (1600,)
    """
    x = birdsong(n, sample_rate, rng) + insects(n, sample_rate, rng) * np.float32(10 ** (rng.uniform(-12, 3) / 20))
    if rng.random() < 0.5:
        x += frogs(n, sample_rate, rng) * np.float32(10 ** (rng.uniform(-12, 0) / 20))
    bed = shaped(n, sample_rate, rng, lambda f: band(f, 200, 6000, -3.0))
    return finish(x + bed * np.float32(10 ** (rng.uniform(-30, -12) / 20)), rng)


def wind(n: int, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """Wind ``(n,)``: low-pass noise under a slow gusty envelope plus a brighter whistle band in gusts, unit RMS.

    Example:
        >>> wind(1600, 16000, np.random.default_rng(3)).shape
        (1600,)
    """
    cut = float(rng.uniform(150.0, 800.0))
    base = shaped(n, sample_rate, rng, lambda f: band(f, 20.0, cut, -3.0))
    centre = float(rng.uniform(300.0, 1500.0))
    whistle = shaped(n, sample_rate, rng, lambda f: band(f, centre * 0.85, centre * 1.15))
    gust = slow_env(n, sample_rate, rng, float(rng.uniform(0.3, 2.0)), float(rng.uniform(8.0, 25.0)))
    return finish(gust * base + gust * gust * whistle * np.float32(rng.uniform(0.05, 0.5)), rng)


def rain(n: int, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """Rain ``(n,)``: 50-2000 droplets/s through 0.8-7 kHz resonances (1-5 ms) over a pink-ish bed, unit RMS.

    Example:
        >>> rain(1600, 16000, np.random.default_rng(3)).shape
        (1600,)
    """
    rate = float(np.exp(rng.uniform(np.log(50.0), np.log(2000.0))))
    drops = unit_rms(resonate(n, sample_rate, rng, rate, (800.0, 7000.0), (0.0008, 0.005), classes=8))
    lo = float(rng.uniform(300.0, 1500.0))
    bed = shaped(n, sample_rate, rng, lambda f: band(f, lo, 0.45 * sample_rate, -3.0))
    heavy = float(np.clip(np.log(rate / 50.0) / np.log(40.0), 0.0, 1.0))        # dense rain: more bed
    return finish(drops + bed * np.float32(0.2 + 1.2 * heavy), rng)


def thunder(n: int, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """Thunder ``(n,)``: 1-2 rolling rumble bursts below ~300 Hz lasting seconds, over light rain or wind.

    Example:
        >>> thunder(1600, 16000, np.random.default_rng(3)).shape
        (1600,)
    """
    sr = sample_rate
    cut = float(rng.uniform(80.0, 250.0))
    rumble = shaped(n, sr, rng, lambda f: band(f, 15.0, cut, -6.0))
    t = np.arange(n, dtype=np.float32) / np.float32(sr)
    env = np.zeros(n, np.float32)
    for _ in range(int(rng.integers(1, 3))):
        t0 = float(rng.uniform(-1.0, max(0.1, 0.8 * n / sr)))
        attack, tau = float(rng.uniform(0.02, 0.3)), float(rng.uniform(0.6, 2.5))
        dt = t - np.float32(t0)
        env += np.where(dt < 0, 0.0, np.minimum(dt / attack, 1.0) * np.exp(-np.maximum(dt - attack, 0) / tau))
    roll = slow_env(n, sr, rng, float(rng.uniform(3.0, 8.0)), 12.0)
    x = rumble * env * roll
    bed = rain(n, sr, rng) if rng.random() < 0.5 else wind(n, sr, rng)
    return finish(unit_rms(x) + bed * np.float32(10 ** (rng.uniform(-25, -8) / 20)), rng)


def stream(n: int, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """Running water ``(n,)``: band noise (300-4000 Hz) modulated at 5-20 Hz plus bubbles, unit RMS.

    Example:
        >>> stream(1600, 16000, np.random.default_rng(3)).shape
        (1600,)
    """
    lo, hi = float(rng.uniform(200.0, 600.0)), float(rng.uniform(2000.0, 5000.0))
    flow = shaped(n, sample_rate, rng, lambda f: band(f, lo, min(hi, 0.45 * sample_rate)))
    flow *= slow_env(n, sample_rate, rng, float(rng.uniform(5.0, 20.0)), float(rng.uniform(3.0, 10.0)))
    rate = float(rng.uniform(100.0, 600.0))
    bubbles = unit_rms(resonate(n, sample_rate, rng, rate, (300.0, 2500.0), (0.003, 0.015), classes=6))
    return finish(flow + bubbles * np.float32(rng.uniform(0.2, 1.0)), rng)

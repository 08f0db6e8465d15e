"""Synthetic alarms and signals: the ``signals`` noise family (train-only, opt-in).

Pitched, man-made sounds that are neither speech nor music, and that a VAD meets everywhere: they are
harmonic and they switch on and off at syllable-like rates, which is what a VAD learns as voicing. Each
generator is ``(n, sample_rate, rng) -> float32 (n,)`` at unit RMS, deterministic from ``rng``.

* :func:`siren` wail (slow 1-6 s sweeps), yelp (fast 0.15-0.5 s sweeps) or two-tone hi-lo; square-ish timbre.
* :func:`beeps` alarm clocks, microwaves, reversing trucks, smoke alarms: a tone (0.4-4 kHz, sine to square)
  switched on and off in groups.
* :func:`phone_tones` call-progress tones (dial, ringback, busy, UK ring) and DTMF digit strings.
* :func:`chimes` doorbells and notification dings: struck inharmonic partials that decay.
* :func:`whistle` a kettle or a referee's whistle: a breathy tone (1-3.5 kHz) that wobbles.
* :func:`buzzer` electric buzzers and transformer hum with harmonics (90-400 Hz), gated.

Example:
    >>> import numpy as np
    >>> x = phone_tones(16000, 16000, np.random.default_rng(0))
    >>> x.shape, x.dtype, round(float(np.sqrt(np.mean(x.astype(np.float64) ** 2))), 3)
    ((16000,), dtype('float32'), 1.0)
"""

from __future__ import annotations

import numpy as np

from speechdl.data.synth.sfx_common import add_at, decaying, finish, frac, harmonic_table, osc, shaped, slow_env

DTMF_LOW = (697.0, 770.0, 852.0, 941.0)
DTMF_HIGH = (1209.0, 1336.0, 1477.0, 1633.0)


def _timbre(rng: np.random.Generator, f0: float, sample_rate: int, square: float) -> np.ndarray:
    """A wavetable between a sine (``square`` 0) and an odd-harmonic square wave (1), band-limited below Nyquist."""
    k_max = max(1, int(0.45 * sample_rate / max(f0, 1.0)))
    amps = [1.0] + [square / k if k % 2 else square * float(rng.uniform(0.0, 0.15)) / k for k in range(2, k_max + 1)]
    return harmonic_table(amps[:40])


def _gate(n: int, sample_rate: int, on_s: float, off_s: float, group: int, pause_s: float,
          rng: np.random.Generator) -> np.ndarray:
    """0/1 ``(n,)``: ``group`` pulses of ``on_s`` s with ``off_s`` s gaps, then ``pause_s``; 2 ms ramps."""
    t = np.arange(n, dtype=np.float32) / np.float32(sample_rate)
    period = group * (on_s + off_s) + pause_s
    u = frac((t + np.float32(rng.uniform(0, period))) / np.float32(period)) * np.float32(period)
    k = np.floor(u / np.float32(on_s + off_s))
    inside = u - k * np.float32(on_s + off_s)
    on = (k < group) & (inside < on_s)
    ramp = max(1, int(0.002 * sample_rate))
    g = on.astype(np.float32)
    return np.convolve(g, np.ones(ramp, np.float32) / ramp)[:n].astype(np.float32) if n else g


def siren(n: int, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """An emergency siren ``(n,)``: wail, yelp or two-tone, slowly fading in level (passing), unit RMS.

    Example:
        >>> siren(1600, 16000, np.random.default_rng(1)).shape
        (1600,)
    """
    t = np.arange(n, dtype=np.float32) / np.float32(sample_rate)
    lo = float(rng.uniform(450.0, 900.0))
    hi = lo * float(rng.uniform(1.3, 2.2))
    kind = int(rng.integers(3))
    if kind == 2:                                            # two-tone hi-lo
        half = float(rng.uniform(0.35, 0.8))
        track = np.where(frac(t / np.float32(2 * half) + np.float32(rng.random())) < 0.5, hi, lo)
    else:                                                    # wail (slow) or yelp (fast) sweeps
        period = float(rng.uniform(1.0, 6.0) if kind == 0 else rng.uniform(0.15, 0.5))
        ph = frac(t / np.float32(period) + np.float32(rng.random()))
        track = lo + (hi - lo) * np.sin(np.pi * ph) ** 2
    doppler = 1.0 + 0.03 * np.tanh((t - rng.uniform(0.0, n / sample_rate)) * rng.uniform(0.3, 2.0))   # passing by
    f = (track * doppler).astype(np.float32)
    x = osc(f, sample_rate, _timbre(rng, hi, sample_rate, float(rng.uniform(0.3, 1.0))))
    return finish(x * slow_env(n, sample_rate, rng, 0.5, 12.0), rng)


def beeps(n: int, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """Beeping alarms ``(n,)``: 1-2 devices, each a tone in groups of on/off pulses, unit RMS.

    Example:
        >>> beeps(1600, 16000, np.random.default_rng(2)).shape
        (1600,)
    """
    x = np.zeros(n, np.float32)
    for _ in range(int(rng.integers(1, 3))):
        f0 = float(np.exp(rng.uniform(np.log(400.0), np.log(min(4000.0, 0.4 * sample_rate)))))
        on = float(rng.uniform(0.05, 0.5))
        gate = _gate(n, sample_rate, on, float(rng.uniform(0.05, 0.6)), int(rng.integers(1, 5)),
                     float(rng.uniform(0.0, 1.5)), rng)
        tone = osc(np.full(n, f0, np.float32), sample_rate, _timbre(rng, f0, sample_rate, float(rng.random())))
        x += tone * gate * np.float32(10 ** (rng.uniform(-10, 0) / 20))
    return finish(x, rng)


def phone_tones(n: int, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """Telephone signalling ``(n,)``: a call-progress tone (dial, ringback, busy, UK ring) or DTMF digits.

    Example:
        >>> phone_tones(1600, 16000, np.random.default_rng(3)).shape
        (1600,)
    """
    sine = harmonic_table([1.0])
    kind = int(rng.integers(5))
    if kind == 4:                                            # DTMF: digits of 40-200 ms with 40-300 ms gaps
        x = np.zeros(n, np.float32)
        pos = int(rng.uniform(0.0, 0.3) * sample_rate)
        while pos < n:
            m = int(rng.uniform(0.04, 0.2) * sample_rate)
            lo, hi = DTMF_LOW[int(rng.integers(4))], DTMF_HIGH[int(rng.integers(4))]
            tt = np.arange(m, dtype=np.float32) / np.float32(sample_rate)
            twist = np.float32(10 ** (rng.uniform(0, 3) / 20))             # the high tone 0-3 dB louder
            digit = np.sin(2 * np.pi * lo * tt) + twist * np.sin(2 * np.pi * hi * tt)
            add_at(x, pos, digit.astype(np.float32) * np.hanning(m).astype(np.float32) ** 0.1)
            pos += m + int(rng.uniform(0.04, 0.3) * sample_rate)
        return finish(x, rng)
    pairs, on, off, group, pause = [((350.0, 440.0), 1.0, 0.0, 1, 0.0), ((440.0, 480.0), 2.0, 4.0, 1, 0.0),
                                    ((480.0, 620.0), 0.5, 0.5, 1, 0.0), ((400.0, 450.0), 0.4, 0.2, 2, 1.4)][kind]
    x = sum(osc(np.full(n, f, np.float32), sample_rate, sine, float(rng.random())) for f in pairs)
    gate = np.ones(n, np.float32) if off == 0.0 else _gate(n, sample_rate, on, off, group, pause, rng)
    return finish(np.asarray(x, np.float32) * gate, rng)


def chimes(n: int, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """Doorbells and notification dings ``(n,)``: struck inharmonic partials decaying over 0.2-1.5 s.

    Example:
        >>> chimes(1600, 16000, np.random.default_rng(4)).shape
        (1600,)
    """
    x = np.zeros(n, np.float32)
    pos = int(rng.uniform(-0.2, 0.8) * sample_rate)
    notes = [float(np.exp(rng.uniform(np.log(500.0), np.log(2500.0)))) for _ in range(int(rng.integers(1, 4)))]
    ratios = (1.0, float(rng.uniform(2.0, 2.9)), float(rng.uniform(3.9, 5.4)))
    decay = float(rng.uniform(0.2, 1.5))
    while pos < n:
        for j, f in enumerate(notes):                      # a pattern: ding, ding-dong, three-note chime
            m = int(min(6 * decay, 4.0) * sample_rate)
            modes = [(f * r, decay / (1 + i), 0.6 ** i) for i, r in enumerate(ratios)]
            add_at(x, pos + int(j * rng.uniform(0.25, 0.6) * sample_rate), decaying(m, sample_rate, modes, rng))
        pos += int(rng.uniform(1.0, 5.0) * sample_rate)
    return finish(x, rng)


def whistle(n: int, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """A kettle or referee's whistle ``(n,)``: a breathy 1-3.5 kHz tone that wobbles and pulses, unit RMS.

    Example:
        >>> whistle(1600, 16000, np.random.default_rng(5)).shape
        (1600,)
    """
    t = np.arange(n, dtype=np.float32) / np.float32(sample_rate)
    f0 = float(rng.uniform(1000.0, min(3500.0, 0.4 * sample_rate)))
    trill = float(rng.uniform(0.0, 0.08)) * np.sin(2 * np.pi * rng.uniform(20, 50) * t)   # pea whistle roll
    f = (f0 * (1 + trill + 0.01 * np.sin(2 * np.pi * rng.uniform(0.2, 2) * t))).astype(np.float32)
    tone = osc(f, sample_rate, harmonic_table([1.0, float(rng.uniform(0, 0.2))]))
    breath = shaped(n, sample_rate, rng, lambda fr: np.exp(-((fr - f0) / (0.15 * f0)) ** 2)) * np.float32(
        10 ** (rng.uniform(-20, -6) / 20))
    blasts = _gate(n, sample_rate, float(rng.uniform(0.2, 2.0)), float(rng.uniform(0.1, 1.0)), 1,
                   float(rng.uniform(0.0, 1.0)), rng) if rng.random() < 0.6 else np.ones(n, np.float32)
    return finish((tone + breath) * blasts, rng)


def buzzer(n: int, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """Electric buzzers and transformer hum ``(n,)``: a harmonic-rich 90-400 Hz tone, steady or gated.

    Example:
        >>> buzzer(1600, 16000, np.random.default_rng(6)).shape
        (1600,)
    """
    f0 = float(rng.uniform(90.0, 400.0))
    k_max = max(1, int(0.45 * sample_rate / f0))
    tilt = float(rng.uniform(0.5, 1.5))
    table = harmonic_table([k ** -tilt for k in range(1, min(k_max, 60) + 1)], rng.uniform(0, 2 * np.pi, 60))
    x = osc(np.full(n, f0, np.float32), sample_rate, table)
    if rng.random() < 0.6:
        x *= _gate(n, sample_rate, float(rng.uniform(0.1, 1.5)), float(rng.uniform(0.1, 1.0)),
                   int(rng.integers(1, 4)), float(rng.uniform(0.0, 2.0)), rng)
    return finish(x, rng)

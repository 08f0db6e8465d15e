"""Synthetic man-made sounds: the ``vehicles`` and ``clicks`` noise families, and steady fans.

Each generator is ``(n, sample_rate, rng) -> float32 (n,)`` at unit RMS, deterministic from ``rng``.

vehicles
    * :func:`engine` idling or cruising engine: firing-rate harmonics (20-150 Hz, rpm drifting) over
      low-pass noise with a slow amplitude modulation; nearly all energy below 300 Hz.
    * :func:`passing` a car, lorry or train going by: level rising then falling over seconds, a
      doppler pitch drop at the closest point, tyre roar; trains add wheel/rail clacks.
    * :func:`machine` a machine or fan: broadband hum with a blade-pass tone and a tonal whine.
clicks (impulsive: high crest factor)
    * :func:`typing` keyboard: decaying resonant key clicks (press and release) in words and pauses.
    * :func:`mouse` mouse clicks, double clicks and wheel ratchets.
    * :func:`knocks` door knocks in groups, or objects dropped (impacts with ringing modes).
stationary
    * :func:`fan` a steady broadband fan / air conditioner (no tones).

Example:
    >>> import numpy as np
    >>> x = engine(64000, 16000, np.random.default_rng(0))
    >>> x.shape, x.dtype, round(float(np.sqrt(np.mean(x.astype(np.float64) ** 2))), 3)
    ((64000,), dtype('float32'), 1.0)
"""

from __future__ import annotations

import numpy as np

from speechdl.data.synth.sfx_common import (
    add_at,
    band,
    decaying,
    finish,
    harmonic_table,
    osc,
    shaped,
    slow_env,
    unit_rms,
)

SPEED_OF_SOUND = 343.0     # m/s


def _engine_table(rng: np.random.Generator, f_max: float, sample_rate: int, tilt: float = 1.5) -> np.ndarray:
    k_max = max(1, min(24, int(0.45 * sample_rate / f_max)))
    amps = [float(rng.uniform(0.4, 1.0)) / k ** tilt for k in range(1, k_max + 1)]
    return harmonic_table(amps, rng.uniform(0, 2 * np.pi, len(amps)))


def engine(n: int, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """Engine rumble ``(n,)``: harmonics of a drifting 20-150 Hz firing rate plus slowly modulated low-pass
    noise (cut-off 80-300 Hz), unit RMS.

    Example:
        >>> engine(1600, 16000, np.random.default_rng(3)).shape
        (1600,)
    """
    sr = sample_rate
    f0 = float(rng.uniform(20.0, 150.0))
    drift = slow_env(n, sr, rng, float(rng.uniform(0.2, 1.0)), float(rng.uniform(1.0, 6.0)))   # +-rpm wander
    freq = f0 * drift / np.float32(np.mean(drift) if n else 1.0)
    tones = osc(freq, sr, _engine_table(rng, f0 * 1.3, sr, float(rng.uniform(1.2, 2.2))))
    cut = float(rng.uniform(80.0, 300.0))
    rumble = shaped(n, sr, rng, lambda f: band(f, 15.0, cut, -3.0))
    am = slow_env(n, sr, rng, float(rng.uniform(0.5, 3.0)), float(rng.uniform(2.0, 8.0)))
    mix = float(rng.uniform(0.3, 0.8))
    return finish((tones * np.float32(mix) + rumble * np.float32(1 - mix)) * am, rng)


def passing(n: int, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """A vehicle or train passing by ``(n,)``: level ~ 1/distance, doppler-shifted engine harmonics, tyre or
    rail roar, and (trains, p=0.4) clacks of wheels on rail joints; unit RMS.

    The closest approach (2-25 m, at 8-40 m/s) falls in the middle 30-70 % of the signal, near enough for the
    level to rise and fall by about 9 dB or more over 4 s.

    Example:
        >>> passing(1600, 16000, np.random.default_rng(3)).shape
        (1600,)
    """
    sr = sample_rate
    t = np.arange(n, dtype=np.float32) / np.float32(sr)
    dur = n / sr
    t0 = np.float32(rng.uniform(0.3, 0.7) * dur)
    v = float(rng.uniform(8.0, 40.0))
    d = float(rng.uniform(2.0, max(2.5, min(25.0, 0.1 * v * dur))))      # near enough to rise and fall >= 9 dB
    x_pos = (t - t0) * np.float32(v)                                          # along the road, m
    dist = np.sqrt(x_pos * x_pos + np.float32(d * d))
    level = np.float32(d) / dist                                              # amplitude ~ 1/r
    radial = np.float32(v) * x_pos / dist                                     # m/s, > 0 receding
    doppler = np.float32(SPEED_OF_SOUND) / (np.float32(SPEED_OF_SOUND) + radial)
    train = rng.random() < 0.4
    f0 = float(rng.uniform(25.0, 120.0))
    tones = osc(f0 * doppler, sr, _engine_table(rng, f0 * 1.2, sr))
    top = float(rng.uniform(600.0, 2500.0))
    roar = shaped(n, sr, rng, lambda f: band(f, 40.0, top, -3.0))
    x = (tones * np.float32(rng.uniform(0.2, 0.7)) + roar) * level
    if train and n:
        clacks = np.zeros(n, np.float32)
        clack = decaying(int(0.05 * sr), sr, [(float(rng.uniform(300, 1500)), 0.012, 1.0),
                                              (float(rng.uniform(1500, 4000)), 0.004, 0.5)], rng)
        period = float(rng.uniform(18.0, 26.0)) / v                           # rail joints every ~25 m
        pair = float(rng.uniform(2.0, 3.0)) / v                               # two axles of a bogie
        start = float(rng.uniform(0.0, period))
        for k in range(int(dur / period) + 2):
            for off in (0.0, pair):
                pos = int((start + k * period + off) * sr)
                add_at(clacks, pos, clack, float(rng.uniform(0.6, 1.0)))
        x += unit_rms(clacks) * level * np.float32(rng.uniform(0.3, 1.0))
    return finish(x, rng)


def machine(n: int, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """A machine or fan ``(n,)``: broadband noise with a hump, a 40-300 Hz blade-pass tone with harmonics and
    a 1-6 kHz whine (slight wobble), unit RMS.

    Example:
        >>> machine(1600, 16000, np.random.default_rng(3)).shape
        (1600,)
    """
    sr = sample_rate
    t = np.arange(n, dtype=np.float32) / np.float32(sr)
    centre = float(rng.uniform(150.0, 1200.0))
    broad = shaped(n, sr, rng, lambda f: band(f, centre / 3, centre * 3, -2.0))
    bpf = float(rng.uniform(40.0, 300.0))
    blades = osc(np.full(n, bpf, np.float32), sr, harmonic_table([1.0, 0.5, 0.25, 0.12]), float(rng.random()))
    whine_f = float(rng.uniform(1000.0, min(6000.0, 0.4 * sr)))
    wobble = 1 + np.float32(0.004) * np.sin(np.float32(2 * np.pi * rng.uniform(0.2, 3.0)) * t)
    whine = osc(whine_f * wobble, sr, harmonic_table([1.0]), float(rng.random()))
    x = (broad + blades * np.float32(rng.uniform(0.2, 1.0)) + whine * np.float32(10 ** (rng.uniform(-25, -8) / 20)))
    return finish(x * slow_env(n, sr, rng, 0.5, float(rng.uniform(0.5, 3.0))), rng)


def fan(n: int, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """A steady broadband fan or air conditioner ``(n,)``: noise with a broad hump, no tones, unit RMS.

    Example:
        >>> fan(1600, 16000, np.random.default_rng(3)).shape
        (1600,)
    """
    lo, hi = float(rng.uniform(50.0, 300.0)), float(rng.uniform(1000.0, 0.45 * sample_rate))
    x = shaped(n, sample_rate, rng, lambda f: band(f, lo, hi, float(rng.uniform(-4.0, 0.0))))
    return finish(x * slow_env(n, sample_rate, rng, 0.3, 1.0), rng)


def _key_palette(sr: int, rng: np.random.Generator, count: int) -> list[np.ndarray]:
    """Sounds of a few keys of one keyboard (the last one is the space bar: lower and louder)."""
    m = int(0.04 * sr)
    keys = []
    for i in range(count):
        low = 0.6 if i == count - 1 else 1.0
        modes = [(float(rng.uniform(1500, 6000)) * low, float(rng.uniform(0.002, 0.008)), 1.0),
                 (float(rng.uniform(600, 2000)) * low, float(rng.uniform(0.003, 0.012)), 0.6),
                 (float(rng.uniform(100, 300)), float(rng.uniform(0.005, 0.015)), float(rng.uniform(0.2, 0.8)))]
        keys.append(decaying(m, sr, modes, rng, noise_ms=float(rng.uniform(0.5, 2.0))) * np.float32(1 / low))
    return keys


def typing(n: int, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """Keyboard typing ``(n,)``: words of 2-9 keystrokes (80-250 ms apart), each a press and a quieter release
    click, word gaps and pauses of up to 2 s; unit RMS.

    Example:
        >>> typing(1600, 16000, np.random.default_rng(3)).shape
        (1600,)
    """
    sr = sample_rate
    x = np.zeros(n, np.float32)
    keys = _key_palette(sr, rng, int(rng.integers(4, 8)))
    pace = float(rng.uniform(0.7, 1.5))
    pos = int(rng.uniform(-0.5, 0.3) * sr)
    while pos < n:
        for _ in range(int(rng.integers(2, 10))):                  # one word
            key = keys[-1] if rng.random() < 0.12 else keys[int(rng.integers(len(keys) - 1))]
            gain = float(10 ** (rng.uniform(-5, 0) / 20))
            add_at(x, pos, key, gain)
            add_at(x, pos + int(rng.uniform(0.03, 0.12) * sr), key, gain * float(rng.uniform(0.2, 0.5)))
            pos += int(rng.uniform(0.08, 0.25) * pace * sr)
        pos += int((rng.uniform(0.1, 0.5) if rng.random() < 0.8 else rng.uniform(0.6, 2.0)) * sr)
    return finish(x, rng, floor_db=-55.0)


def mouse(n: int, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """Mouse ``(n,)``: clicks (press + release 50-150 ms later), double clicks and wheel ratchets; unit RMS.

    Example:
        >>> mouse(1600, 16000, np.random.default_rng(3)).shape
        (1600,)
    """
    sr = sample_rate
    x = np.zeros(n, np.float32)
    m = int(0.015 * sr)
    click = decaying(m, sr, [(float(rng.uniform(2000, 7000)), float(rng.uniform(0.001, 0.003)), 1.0),
                             (float(rng.uniform(800, 2000)), 0.002, 0.4)], rng, noise_ms=0.3)
    tick = decaying(int(0.005 * sr), sr, [(float(rng.uniform(3000, 7000)), 0.0008, 1.0)], rng, noise_ms=0.2)
    pos = int(rng.uniform(0.0, 0.5) * sr)
    while pos < n:
        if rng.random() < 0.2:                                           # wheel: ticks at 10-30 Hz
            rate = float(rng.uniform(10.0, 30.0))
            for k in range(int(rng.uniform(0.2, 0.8) * rate)):
                add_at(x, pos + int(k * sr / rate), tick, float(rng.uniform(0.2, 0.4)))
        else:
            for _ in range(2 if rng.random() < 0.25 else 1):              # a click or a double click
                add_at(x, pos, click, 1.0)
                add_at(x, pos + int(rng.uniform(0.05, 0.15) * sr), click, float(rng.uniform(0.3, 0.7)))
                pos += int(rng.uniform(0.15, 0.25) * sr)
        pos += int(rng.uniform(0.2, 1.5) * sr)
    return finish(x, rng, floor_db=-55.0)


def knocks(n: int, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """Door knocks (groups of 2-5 at 3-7 per second) or impacts of dropped objects (ringing modes), unit RMS.

    Example:
        >>> knocks(1600, 16000, np.random.default_rng(3)).shape
        (1600,)
    """
    sr = sample_rate
    x = np.zeros(n, np.float32)
    pos = int(rng.uniform(0.0, 0.6) * sr)
    door = rng.random() < 0.6
    knock = decaying(int(0.12 * sr), sr, [(float(rng.uniform(80, 250)), float(rng.uniform(0.02, 0.06)), 1.0),
                                          (float(rng.uniform(300, 700)), float(rng.uniform(0.01, 0.03)), 0.6),
                                          (float(rng.uniform(1000, 2500)), 0.004, 0.4)], rng, noise_ms=2.0)
    while pos < n:
        if door:
            rate = float(rng.uniform(3.0, 7.0))
            for k in range(int(rng.integers(2, 6))):
                add_at(x, pos + int(k * sr / rate * rng.uniform(0.9, 1.1)), knock, float(rng.uniform(0.6, 1.0)))
            pos += int(rng.uniform(0.8, 2.5) * sr)
        else:
            metal = rng.random() < 0.5
            modes = [(float(rng.uniform(500, 4000) if metal else rng.uniform(150, 1200)),
                      float(rng.uniform(0.08, 0.5) if metal else rng.uniform(0.01, 0.05)),
                      float(rng.uniform(0.3, 1.0))) for _ in range(4)]
            impact = decaying(int(0.6 * sr if metal else 0.1 * sr), sr, modes, rng, noise_ms=1.5)
            add_at(x, pos, impact, float(rng.uniform(0.3, 1.0)))
            if rng.random() < 0.4:                                      # a bounce
                add_at(x, pos + int(rng.uniform(0.08, 0.25) * sr), impact, float(rng.uniform(0.1, 0.4)))
            pos += int(rng.uniform(0.4, 2.0) * sr)
    return finish(x, rng, floor_db=-55.0)

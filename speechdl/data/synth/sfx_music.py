"""Synthetic music: the fallback of the ``music`` noise family when no rendered music is in the bank.

:func:`music` writes a few bars of a random piece: a key and a scale (major, minor, dorian,
pentatonic, blues, harmonic minor), a chord progression, a bass line on the chord roots, a pad or an
arpeggio of the chord tones and a melody walking the scale; each voice is an additive-synthesis
wavetable timbre (flute, string, clarinet, organ, pluck) with attack/decay/release envelopes; drums
(p=0.7) are a kick (a falling sine), a snare (noise burst and a tone) and hi-hats (high-passed noise).

Example:
    >>> import numpy as np
    >>> x = music(64000, 16000, np.random.default_rng(0))
    >>> x.shape, x.dtype, round(float(np.sqrt(np.mean(x.astype(np.float64) ** 2))), 3)
    ((64000,), dtype('float32'), 1.0)
"""

from __future__ import annotations

import numpy as np

from speechdl.data.synth.sfx_common import add_at, finish, harmonic_table, osc, white

SCALES = {
    "major": [0, 2, 4, 5, 7, 9, 11], "minor": [0, 2, 3, 5, 7, 8, 10], "dorian": [0, 2, 3, 5, 7, 9, 10],
    "harmonic_minor": [0, 2, 3, 5, 7, 8, 11], "pentatonic": [0, 2, 4, 7, 9], "blues": [0, 3, 5, 6, 7, 10],
}
PROGRESSIONS = [[0, 4, 5, 3], [0, 5, 3, 4], [0, 3, 4, 0], [5, 3, 0, 4], [0, 0, 3, 4], [1, 4, 0, 0]]
TIMBRES = {                                              # harmonic amplitudes of one period
    "flute": [1.0, 0.25, 0.08], "string": [1.0 / k for k in range(1, 13)],
    "clarinet": [1.0 / k if k % 2 else 0.02 for k in range(1, 12)], "organ": [1.0, 0.6, 0.4, 0.0, 0.3, 0.0, 0.0, 0.2],
    "pluck": [1.0, 0.5, 0.33, 0.25, 0.2, 0.1], "sine": [1.0],
}


def _hz(midi: np.ndarray | float) -> np.ndarray:
    return 440.0 * 2.0 ** ((np.asarray(midi, np.float64) - 69.0) / 12.0)


def _degree(scale: list[int], root: int, deg: int) -> int:
    """MIDI note of scale degree ``deg`` (any integer, wraps into octaves)."""
    octave, step = divmod(deg, len(scale))
    return root + 12 * octave + scale[step]


class _Voice:
    """Frequency and amplitude tracks of one monophonic voice, rendered with one wavetable timbre."""

    def __init__(self, n: int, sr: int, rng: np.random.Generator, timbre: str, top_hz: float) -> None:
        self.n, self.sr = n, sr
        self.freq = np.zeros(n, np.float32)
        self.amp = np.zeros(n, np.float32)
        amps = TIMBRES[timbre][: max(1, int(0.45 * sr / float(top_hz)))]
        self.table = harmonic_table(amps, rng.uniform(0, 2 * np.pi, len(amps)))
        self.attack = float(rng.uniform(0.005, 0.06))
        self.decay = float(rng.uniform(0.1, 0.8)) if timbre == "pluck" or rng.random() < 0.3 else 0.0

    def note(self, start: float, dur: float, midi: float, gain: float) -> None:
        a, b = max(int(start * self.sr), 0), min(int((start + dur) * self.sr), self.n)
        if a >= b:
            return
        t = (np.arange(a, b, dtype=np.float32) - np.float32(start * self.sr)) / np.float32(self.sr)
        env = np.minimum(t / np.float32(self.attack), 1.0)
        env *= np.minimum((np.float32(dur) - t) / np.float32(0.03), 1.0)                 # release
        if self.decay:
            env *= np.exp(-t / np.float32(self.decay))
        self.freq[a:b] = _hz(midi)
        self.amp[a:b] = np.float32(gain) * np.maximum(env, 0.0)

    def render(self) -> np.ndarray:
        return osc(self.freq, self.sr, self.table) * self.amp


def _drums(n: int, sr: int, rng: np.random.Generator, beat: float, t0: float) -> np.ndarray:
    x = np.zeros(n, np.float32)
    tk = np.arange(int(0.25 * sr), dtype=np.float32) / np.float32(sr)
    kick = np.sin(2 * np.pi * (45.0 * tk + 75.0 * 0.04 * (1 - np.exp(-tk / 0.04)))) * np.exp(-tk / 0.12)
    ts = tk[: int(0.15 * sr)]
    snare = (white(len(ts), rng) * 0.7 + np.sin(2 * np.pi * 190.0 * ts)) * np.exp(-ts / 0.05)
    th = tk[: int(0.06 * sr)]
    hat = np.diff(white(len(th) + 1, rng)) * np.exp(-th / float(rng.uniform(0.01, 0.03)))   # high-passed
    pattern = int(rng.integers(3))
    for k in range(int((n / sr + t0) / beat * 2) + 2):          # eighth notes
        pos = int((k * beat / 2 - t0) * sr)
        if k % 4 == 0 or (pattern == 1 and k % 8 == 7):
            add_at(x, pos, kick.astype(np.float32), 1.0)
        if k % 4 == 2:
            add_at(x, pos, snare.astype(np.float32), 0.7)
        if pattern != 2 or k % 2 == 0:
            add_at(x, pos, hat.astype(np.float32), 0.25 if k % 2 else 0.4)
    return x


def music(n: int, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """Simple synthetic music ``(n,)``: bass, chords (pad or arpeggio), melody and (p=0.7) drums, unit RMS.

    Example:
        >>> music(1600, 16000, np.random.default_rng(3)).shape
        (1600,)
    """
    sr = sample_rate
    dur = n / sr
    beat = 60.0 / float(rng.uniform(70.0, 160.0))
    bar = 4 * beat
    scale = list(SCALES.values())[int(rng.integers(len(SCALES)))]
    root = int(rng.integers(48, 61))
    prog = PROGRESSIONS[int(rng.integers(len(PROGRESSIONS)))]
    t0 = float(rng.uniform(0.0, bar))                           # start somewhere inside a bar
    n_bars = int((dur + t0) / bar) + 1
    names = list(TIMBRES)
    pick = [names[int(i)] for i in rng.integers(len(names), size=3)]
    bass = _Voice(n, sr, rng, pick[0], _hz(root - 12))
    chord_voices = [_Voice(n, sr, rng, pick[1], _hz(root + 19)) for _ in range(3)]
    melody = _Voice(n, sr, rng, pick[2], _hz(root + 26))
    arpeggio = rng.random() < 0.4
    chord_len = bar if rng.random() < 0.6 else bar / 2
    for c in range(int(np.ceil(n_bars * bar / chord_len))):
        deg = prog[c % len(prog)]
        start = c * chord_len - t0
        notes = [_degree(scale, root, deg + 2 * j) for j in range(3)]
        step = beat * float(rng.choice([1.0, 2.0]))
        for j in range(max(1, int(round(chord_len / step)))):
            bass.note(start + j * step, step * 0.9, notes[0] - 12, 0.8)
        if arpeggio:
            for j in range(int(chord_len / beat * 2)):
                chord_voices[j % 3].note(start + j * beat / 2, beat * 0.5, notes[j % 3], 0.4)
        else:
            for v, m in zip(chord_voices, notes):
                v.note(start, chord_len * 0.97, m, 0.25)
    deg, pos = int(rng.integers(0, len(scale))), -t0
    while pos < dur:
        length = beat * float(rng.choice([0.5, 1.0, 1.0, 1.5, 2.0]))
        if rng.random() > 0.15:                                  # else a rest
            melody.note(pos, length * 0.95, _degree(scale, root + 12, deg), 0.6)
        deg = int(np.clip(deg + rng.integers(-2, 3), -3, 2 * len(scale)))
        pos += length
    x = bass.render() + melody.render() * np.float32(10 ** (rng.uniform(-3, 3) / 20))
    for v in chord_voices:
        x += v.render()
    if rng.random() < 0.7:
        x += _drums(n, sr, rng, beat, t0) * np.float32(10 ** (rng.uniform(-12, 0) / 20))
    return finish(x, rng, floor_db=-45.0)

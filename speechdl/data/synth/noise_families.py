"""Noise families and a family-aware noise draw (real bank files or synthetic generators).

Families (fixed names): ``weather``, ``animals``, ``vehicles``, ``music``, ``clicks`` (each may be held
out as a test family) and ``stationary`` (white, pink, brown, mains hum, fans) and ``babble`` (espeak-ng
talkers, or speech-shaped modulated noise without them), which are always in training and never a
test family. ``signals`` (sirens, beeps, phone tones, chimes, whistles, buzzers) is train-only and opt-in:
it is not in :data:`DEFAULT_FAMILIES`, so a recipe that does not name it draws exactly what it drew before
it existed. :data:`SYNTH_FAMILIES` maps each family to its generators
``(n, sample_rate, rng) -> float32 (n,)`` at unit RMS (see :mod:`~speechdl.data.synth.sfx_nature`,
:mod:`~speechdl.data.synth.sfx_machines`, :mod:`~speechdl.data.synth.sfx_music`,
:mod:`~speechdl.data.synth.sfx_signals`).

:func:`draw_noise` picks a family uniformly from the allowed ones, then a real bank file of that family
(probability ``p_real``, when the bank has one) or one of its synthetic generators; with probability
``p_mix`` it adds a second, different family 0-10 dB below.

Example:
    >>> import numpy as np
    >>> x, info = draw_noise(["animals", "clicks"], 16000, 16000, np.random.default_rng(0))
    >>> x.shape, info["family"] in ("animals", "clicks"), info["kind"].startswith("synthetic:")
    ((16000,), True, True)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from speechdl.data.synth import noise
from speechdl.data.synth.sfx_common import CTRL, band, hold, shaped, unit_rms
from speechdl.data.synth.sfx_machines import engine, fan, knocks, machine, mouse, passing, typing
from speechdl.data.synth.sfx_music import music
from speechdl.data.synth.sfx_nature import birdsong, frogs, insects, rain, rainforest, stream, thunder, wind
from speechdl.data.synth.sfx_signals import beeps, buzzer, chimes, phone_tones, siren, whistle

Generator = Callable[[int, int, np.random.Generator], np.ndarray]

TEST_FAMILIES = ("weather", "animals", "vehicles", "music", "clicks")    # may be held out for testing
TRAIN_ONLY_FAMILIES = ("stationary", "babble")                          # always in training, never tested
DEFAULT_FAMILIES = TEST_FAMILIES + TRAIN_ONLY_FAMILIES                  # what a recipe draws unless it says
OPT_IN_FAMILIES = ("signals",)                                           # train-only, named by a recipe
FAMILIES = DEFAULT_FAMILIES + OPT_IN_FAMILIES


def white(n: int, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """White Gaussian noise ``(n,)``, unit RMS (:func:`speechdl.data.synth.noise.colored_noise`).

    Example:
        >>> white(4, 16000, np.random.default_rng(0)).shape
        (4,)
    """
    return noise.colored_noise(n, "white", rng)


def pink(n: int, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """Pink (1/f) noise ``(n,)``, unit RMS.

    Example:
        >>> pink(4, 16000, np.random.default_rng(0)).shape
        (4,)
    """
    return noise.colored_noise(n, "pink", rng)


def brown(n: int, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """Brown (1/f^2) noise ``(n,)``, unit RMS.

    Example:
        >>> brown(4, 16000, np.random.default_rng(0)).shape
        (4,)
    """
    return noise.colored_noise(n, "brown", rng)


def hum(n: int, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """Mains hum ``(n,)`` at 50 or 60 Hz with harmonics, unit RMS (:func:`speechdl.data.synth.noise.hum`).

    Example:
        >>> hum(4, 16000, np.random.default_rng(0)).shape
        (4,)
    """
    return noise.hum(n, sample_rate, rng)


def babble_like(n: int, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """Babble without a synthesiser ``(n,)``: 3-8 "talkers" of speech-shaped noise, each switched on and off
    at syllable rate (100-350 ms syllables, pauses), summed; unit RMS.

    Example:
        >>> babble_like(16000, 16000, np.random.default_rng(0)).shape
        (16000,)
    """
    sr = sample_rate
    base = shaped(n, sr, rng, lambda f: band(f, 150.0, 2500.0, -2.0))
    ctrl_t = np.arange(n // CTRL + 1, dtype=np.float64) * CTRL / sr
    x = np.zeros(n, np.float32)
    for _ in range(int(rng.integers(3, 9))):
        count = int(n / sr / 0.1) + 4
        voiced = rng.uniform(0.1, 0.35, count)                             # syllable lengths, s
        slot = voiced + (rng.random(count) < 0.15) * rng.uniform(0.2, 0.8, count)   # some followed by a pause
        starts = np.cumsum(slot) - slot - rng.uniform(0.0, 0.5)
        k = np.clip(np.searchsorted(starts, ctrl_t, side="right") - 1, 0, count - 1)
        u = (ctrl_t - starts[k]) / voiced[k]                                # position inside the syllable
        env = np.where((u >= 0) & (u < 1), np.sin(np.pi * np.clip(u, 0.0, 1.0)), 0.0) * rng.uniform(0.5, 1, count)[k]
        x += hold(env, n) * np.roll(base, int(rng.integers(n)) if n else 0)
    return unit_rms(x) if x.any() else unit_rms(base)


SYNTH_FAMILIES: dict[str, list[Generator]] = {
    "weather": [wind, rain, thunder, stream],
    "animals": [birdsong, insects, frogs, rainforest],
    "vehicles": [engine, passing, machine],
    "music": [music],
    "clicks": [typing, mouse, knocks],
    "stationary": [white, pink, brown, hum, fan],
    "babble": [babble_like],
    "signals": [siren, beeps, phone_tones, chimes, whistle, buzzer],
}


def check_families(families: Sequence[str], where: str = "noise families") -> list[str]:
    """``families`` as a list, or a one-line :class:`~speechdl.errors.ConfigError` for an empty list or an
    unknown name.

    Example:
        >>> check_families(("rain",))
        Traceback (most recent call last):
        ...
        speechdl.errors.ConfigError: noise families: unknown noise family 'rain' (use some of: weather, \
animals, vehicles, music, clicks, stationary, babble, signals)
    """
    from speechdl.errors import ConfigError

    fams = [families] if isinstance(families, str) else list(families)
    if not fams:
        raise ConfigError(where, "no noise family given", "use some of: " + ", ".join(FAMILIES))
    for fam in fams:
        if fam not in SYNTH_FAMILIES:
            raise ConfigError(where, f"unknown noise family {fam!r}", "use some of: " + ", ".join(FAMILIES))
    return fams


def _draw_one(family: str, n: int, sample_rate: int, rng: np.random.Generator, bank, p_real: float,
              babble_voices, babble_sentences) -> tuple[np.ndarray, dict]:
    real = [f for f in bank or () if f.family == family]
    want_real = rng.random() < p_real                                 # drawn always: a stable stream
    if real and want_real:
        x, path = noise.real_noise(n, sample_rate, rng, real)
        return x, {"family": family, "kind": "real", "file": path}
    if family == "babble" and babble_voices and babble_sentences:
        x = noise.babble(n, sample_rate, rng, babble_voices, babble_sentences)
        return x, {"family": family, "kind": "synthetic:espeak_babble", "file": None}
    gens = SYNTH_FAMILIES[family]
    gen = gens[int(rng.integers(len(gens)))]
    return gen(n, sample_rate, rng), {"family": family, "kind": f"synthetic:{gen.__name__}", "file": None}


def draw_noise(families: Sequence[str], n: int, sample_rate: int, rng: np.random.Generator,
               bank: Sequence[noise.NoiseFile] | None = None, p_real: float = 0.5,
               babble_voices: list | None = None, babble_sentences: list[str] | None = None,
               p_mix: float = 0.25) -> tuple[np.ndarray, dict]:
    """A noise ``(n,)`` float32 at unit RMS from one of ``families``, and a record of what it is.

    Args:
        families: allowed family names (from :data:`FAMILIES`); one is drawn uniformly.
        n: samples; sample_rate: Hz.
        rng: the generator (the draw is deterministic given its state).
        bank: real noise files (:func:`~speechdl.data.synth.noise.load_noise_bank`); only files whose
            ``family`` is the drawn family are used.
        p_real: probability of a real file when the bank has one of the family, else a synthetic generator.
        babble_voices, babble_sentences: espeak-ng talkers for ``babble`` (else :func:`babble_like`).
        p_mix: probability of adding a second, different allowed family 0-10 dB below the first.

    Returns:
        ``(noise, info)`` with ``info = {"family": f, "kind": "synthetic:<generator>" | "real", "file": path
        or None}`` and, when two were summed, ``info["mixed_with"]`` (the same keys and ``gain_db``).

    Raises:
        ConfigError: an empty family list or an unknown family name.

    Example:
        >>> import numpy as np
        >>> x, info = draw_noise(["vehicles"], 8000, 16000, np.random.default_rng(1))
        >>> info["family"], info["file"], round(float(np.sqrt(np.mean(x.astype(np.float64) ** 2))), 3)
        ('vehicles', None, 1.0)
    """
    fams = check_families(families)
    first = fams[int(rng.integers(len(fams)))]
    x, info = _draw_one(first, n, sample_rate, rng, bank, p_real, babble_voices, babble_sentences)
    others = sorted(set(fams) - {first})
    if rng.random() < p_mix and others:
        second = others[int(rng.integers(len(others)))]
        y, info2 = _draw_one(second, n, sample_rate, rng, bank, p_real, babble_voices, babble_sentences)
        gain_db = float(rng.uniform(-10.0, 0.0))
        x = unit_rms(x + y * np.float32(10 ** (gain_db / 20)))
        info["mixed_with"] = {**info2, "gain_db": round(gain_db, 2)}
    return x.astype(np.float32, copy=False), info

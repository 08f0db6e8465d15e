"""On-the-fly acoustic conditions for training and held-out test audio (VAD, enhancement, keyword spotting).

One function, :func:`augment_wave`, turns a clean labelled crop into what a VAD meets in the field:
room reverb on the speech, noise of a chosen set of **families** at a random SNR (real bank files and
synthetic generators, :func:`speechdl.data.synth.noise_families.draw_noise`), sometimes no speech at
all (a noise-only crop, labels all 0), a random channel (telephone band, low rate, mu-law, a lossy
codec, ...) on the mixture, and a random output level. Training (:class:`~speechdl.tasks.vad.data.VADFrames`
with ``augment``) and the benchmark's test sets (:mod:`speechdl.tasks.vad.folds`) call the same code,
so what a fold holds out (a noise family) is held out in both.

Example:
    >>> import numpy as np
    >>> cfg = AugmentConfig(families=("stationary",), p_noise=1.0, p_noise_only=0.0, p_reverb=0.0,
    ...                     p_channel=0.0, snr_range=(10.0, 10.0), level_db=(-20.0, -20.0))
    >>> wave = np.sin(np.arange(16000) / 3).astype(np.float32)
    >>> y, info = augment_wave(wave, np.ones(16000, bool), 16000, np.random.default_rng(0), cfg)
    >>> y.shape, info["noise"]["family"], round(float(20 * np.log10(np.abs(y).max())), 1)
    ((16000,), 'stationary', -20.0)
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from functools import lru_cache
from typing import Any

import numpy as np

from speechdl.data.synth.noise_families import DEFAULT_FAMILIES, TEST_FAMILIES, TRAIN_ONLY_FAMILIES
from speechdl.data.synth.noise_families import FAMILIES as ALL_FAMILIES
from speechdl.errors import ConfigError

__all__ = ["ALL_FAMILIES", "DEFAULT_FAMILIES", "TEST_FAMILIES", "TRAIN_ONLY_FAMILIES", "AugmentConfig", "augment_wave",
           "draw_family_noise"]


@dataclass(frozen=True)
class AugmentConfig:
    """Probabilities and ranges of the conditions drawn per crop.

    Attributes:
        families: noise families to draw from (``DEFAULT_FAMILIES`` minus what a fold holds out; ``ALL_FAMILIES``
            also has the opt-in ``signals``).
        p_noise: probability of added noise; ``snr_range`` dB (uniform) against the active speech.
        p_noise_only: probability that the crop's speech is removed (noise only, labels all 0).
        p_reverb: probability of a synthetic room response on the speech; ``rt60`` s.
        p_channel: probability of a random channel on the mixture (telephone, codec, low rate, ...).
        p_real: probability of a real bank file (when the family has one) instead of a generator.
        level_db: output peak level in dBFS (uniform).
        noise_dirs: noise bank folders (``manifest.jsonl`` rows with ``family``).
    """

    families: tuple[str, ...] = DEFAULT_FAMILIES
    p_noise: float = 0.85
    snr_range: tuple[float, float] = (-5.0, 25.0)
    p_noise_only: float = 0.08
    p_reverb: float = 0.3
    rt60: tuple[float, float] = (0.15, 1.0)
    p_channel: float = 0.3
    p_real: float = 0.5
    level_db: tuple[float, float] = (-35.0, -1.0)
    noise_dirs: tuple[str, ...] = field(default_factory=tuple)

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None, where: str = "data.augment") -> AugmentConfig:
        """From a recipe mapping (lists become tuples; unknown keys and families: one-line ConfigError)."""
        d = dict(d or {})
        valid = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - valid)
        if unknown:
            raise ConfigError(where, f"unknown key(s) {', '.join(unknown)}", "valid: " + ", ".join(sorted(valid)))
        kw = {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}
        if isinstance(kw.get("noise_dirs"), str):
            kw["noise_dirs"] = (kw["noise_dirs"],)
        cfg = cls(**kw)
        bad = sorted(set(cfg.families) - set(ALL_FAMILIES))
        if bad or not cfg.families:
            raise ConfigError(where, f"unknown or no noise families {bad}", "use some of " + ", ".join(ALL_FAMILIES))
        return cfg

    def without(self, *families: str) -> AugmentConfig:
        """The same conditions with ``families`` removed (what a fold holds out)."""
        from dataclasses import replace

        return replace(self, families=tuple(f for f in self.families if f not in families))


@lru_cache(maxsize=8)
def noise_bank(noise_dirs: tuple[str, ...], split: str | None = None) -> tuple[Any, ...]:
    """The real noise files of ``noise_dirs`` (each a folder with ``manifest.jsonl``), cached per process;
    ``split`` (``"train"`` / ``"eval"``): only that half of the files
    (:func:`~speechdl.data.synth.noise.noise_split_of`)."""
    from speechdl.data.synth.noise import load_noise_bank
    from speechdl.paths import expand

    bank: list[Any] = []
    for d in noise_dirs:
        bank += load_noise_bank(os.path.expandvars(expand(str(d))), split=split)
    return tuple(bank)


def _babble_ok(bank: Sequence[Any]) -> bool:
    return any(getattr(f, "family", None) == "babble" for f in bank)


def augment_wave(wave: np.ndarray, active: np.ndarray, sample_rate: int, rng: np.random.Generator,
                 cfg: AugmentConfig) -> tuple[np.ndarray, dict[str, Any]]:
    """One random condition applied to a clean crop.

    Args:
        wave: clean speech ``(n,)`` float32.
        active: boolean ``(n,)``, True where the clean speech is active (the SNR reference).
        sample_rate: Hz.
        rng: the crop's generator (every decision is drawn from it, in a fixed order).
        cfg: the conditions.

    Returns:
        ``(signal (n,) float32, info)``; ``info["noise_only"]`` is True when the speech was removed
        (the caller sets the crop's labels to 0), ``info["noise"]`` names the family drawn.
    """
    from speechdl.data.synth import room
    from speechdl.data.synth.noise import mix_at_snr

    n = len(wave)
    do_noise_only = rng.random() < cfg.p_noise_only
    do_noise = do_noise_only or rng.random() < cfg.p_noise
    snr = float(rng.uniform(*cfg.snr_range))
    do_reverb = rng.random() < cfg.p_reverb
    rt60 = float(rng.uniform(*cfg.rt60))
    do_channel = rng.random() < cfg.p_channel
    level = float(rng.uniform(*cfg.level_db))
    sub = np.random.default_rng(rng.integers(2**63))   # noise and channel draw from their own stream
    info: dict[str, Any] = {"noise_only": bool(do_noise_only)}

    x = np.zeros(n, np.float32) if do_noise_only else np.asarray(wave, np.float32)
    if do_reverb and not do_noise_only and np.any(x):
        x = room.reverberate(x, room.synth_rir(sample_rate, rt60, sub))
        info["reverb"] = round(rt60, 3)
    if do_noise:
        nz, what = draw_family_noise(cfg, n, sample_rate, sub)
        if not do_noise_only and np.any(active) and np.any(x):
            x, _ = mix_at_snr(x, nz, snr, active)
            what["snr_db"] = round(snr, 2)
        else:
            x = x + nz
        info["noise"] = what
    if do_channel and np.any(x):
        from speechdl.data.synth.channel import random_channel

        x, ch = random_channel(x, sample_rate, sub)
        info["channel"] = ch
    peak = float(np.max(np.abs(x))) if n else 0.0
    if peak > 0:
        x = x * (10 ** (level / 20) / peak)
    return np.asarray(x, np.float32), info


def draw_family_noise(cfg: AugmentConfig, n: int, sample_rate: int, rng: np.random.Generator,
                      split: str | None = None) -> tuple[np.ndarray, dict[str, Any]]:
    """Unit-RMS noise ``(n,)`` of one of ``cfg.families`` (real bank file or generator) and its record;
    ``split``: real files of that half of the bank only (None: all)."""
    from speechdl.data.synth.noise_families import draw_noise

    bank = noise_bank(tuple(str(d) for d in cfg.noise_dirs), split)
    families = [f for f in cfg.families if f != "babble" or _babble_ok(bank)]
    return draw_noise(families, n, sample_rate, rng, bank=list(bank), p_real=cfg.p_real)

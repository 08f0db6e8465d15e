"""Noisy / clean training pairs for enhancement, mixed on the fly (recipe dataset ``enhance_mixes``).

Each item is a ``crop_seconds`` crop of a clean clip of the cache (:mod:`speechdl.tasks.enhance.clean_cache`;
real wideband speech, a synthetic voice with probability ``p_synth``, the 11 kHz studio dialogue of the
``narrow`` group with probability ``p_narrow``; a short clip sits at a random place in silence),
reverberated with probability ``p_reverb`` (synthetic room, RT60 ``rt60`` s; the target keeps the
reverberation: the models denoise, they do not dereverberate), with probability ``p_channel`` passed through
a random recording channel (:func:`~speechdl.data.synth.channel.random_channel`: telephone band, low rate,
companding, codec, tone control...; the target keeps it too: microphones and codecs differ), mixed with
noise of the allowed ``families`` (real bank files with probability ``p_real``, else the families' generators:
:func:`speechdl.data.augment.draw_family_noise`) at an SNR drawn from ``snr_range`` dB against the
active speech (with probability ``p_clean`` no noise at all: the target is the input, so the model learns
to leave clean speech alone), and scaled so the mixture peaks at a level drawn from ``level_db`` dBFS (the
target by the same gain). The held-out noise family (:data:`~speechdl.tasks.enhance.splits.HELD_OUT_NOISE`)
is refused. With ``noise_split`` set, real noise files come from the bank's train split for training items
and its eval split for validation items (:func:`~speechdl.data.synth.noise.noise_split_of`), so validation
noise recordings were never heard in training.

Training items are random on every draw; validation items are fixed per index (seeded), on the
validation clips (:func:`~speechdl.tasks.enhance.splits.split_of`).

Example:
    >>> import tempfile, numpy as np
    >>> from speechdl.tasks.enhance.clean_cache import write_cache
    >>> d = tempfile.mkdtemp()
    >>> clips = [(f"c{i}", "s", "real", np.sin(np.arange(16000) * 0.05 * (i + 1)).astype(np.float32))
    ...          for i in range(40)]
    >>> write_cache(d, clips)
    >>> ds = EnhanceMixes(d, split=None, families=("stationary",), items=4, fixed=True, crop_seconds=1.0)
    >>> item = ds[0]
    >>> item["x"].shape, item["target"].shape, bool((item["x"] != item["target"]).any())
    (torch.Size([16000]), torch.Size([16000]), True)
    >>> bool(torch.equal(ds[0]["x"], item["x"]))      # validation items are fixed
    True
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from speechdl.errors import ConfigError
from speechdl.tasks.enhance import splits


def active_mask(x: np.ndarray, sample_rate: int, below_db: float = 30.0) -> np.ndarray:
    """Boolean ``(n,)``: samples in 10 ms frames within ``below_db`` of the loudest frame (the SNR reference)."""
    hop = sample_rate // 100
    n = -(-len(x) // hop)
    pad = np.zeros(n * hop, np.float32)
    pad[: len(x)] = x
    e = 10 * np.log10(np.mean(pad.reshape(n, hop) ** 2, 1) + 1e-12)
    return np.repeat(e > e.max() - below_db, hop)[: len(x)]


class EnhanceMixes(Dataset):
    """On-the-fly noisy / clean pairs: items ``{"x": noisy (n,), "target": clean (n,)}`` float32 tensors.

    Args:
        cache: clean-speech cache folder. split: ``"train"``, ``"val"`` or None (all clips).
        crop_seconds: item length. items: items per epoch (the dataset's length).
        fixed: the same item for the same index (validation), else a fresh draw each time.
        families: noise families; ``noise_dirs``: the real noise bank folders; ``p_real``: real file share.
        snr_range, level_db, p_reverb, rt60, p_synth, p_narrow, p_clean, p_channel: see the module docstring.
        noise_split: ``"train"`` / ``"eval"``: only that split of the real noise files (None: all).
        seed: the stream's seed.
    """

    def __init__(self, cache: str, split: str | None = "train", crop_seconds: float = 2.0, items: int = 2000,
                 fixed: bool = False, families: Sequence[str] = splits.TRAIN_NOISE_FAMILIES,
                 noise_dirs: Sequence[str] = splits.NOISE_DIRS, p_real: float = 0.5,
                 snr_range: Sequence[float] = splits.SNR_RANGE, level_db: Sequence[float] = (-35.0, -3.0),
                 p_reverb: float = 0.2, rt60: Sequence[float] = (0.2, 0.8), p_synth: float = 0.3,
                 seed: int = 0, p_narrow: float = 0.0, p_clean: float = 0.0, p_channel: float = 0.0,
                 noise_split: str | None = None) -> None:
        from speechdl.data.augment import AugmentConfig
        from speechdl.tasks.enhance.clean_cache import CleanCache

        held = sorted(set(families) & set(splits.HELD_OUT_NOISE))
        if held:
            raise ConfigError("data.families", f"{held} is the held-out test noise family",
                              f"train on {', '.join(splits.TRAIN_NOISE_FAMILIES)}")
        self.cache = CleanCache(cache, split)
        self.sr = splits.SAMPLE_RATE
        self.n = int(round(crop_seconds * self.sr))
        self.items, self.fixed, self.seed = int(items), bool(fixed), int(seed)
        self.snr_range, self.level_db, self.rt60 = tuple(snr_range), tuple(level_db), tuple(rt60)
        self.p_reverb, self.p_synth, self.p_narrow = float(p_reverb), float(p_synth), float(p_narrow)
        self.p_clean, self.p_channel, self.noise_split = float(p_clean), float(p_channel), noise_split
        self.noise = AugmentConfig(families=tuple(families), p_real=p_real, noise_dirs=tuple(noise_dirs))
        self.groups = {g: [i for i, r in enumerate(self.cache.rows) if r["group"] == g]
                       for g in ("real", "synth", "narrow")}
        self.groups = {g: v for g, v in self.groups.items() if v}
        self._rng = np.random.default_rng(self.seed)

    def __len__(self) -> int:
        return self.items

    def _clean_crop(self, rng: np.random.Generator) -> np.ndarray:
        """A crop that holds speech: at least 0.2 s of 10 ms frames within 30 dB of the clip's loudest (20 tries)."""
        hop = self.sr // 100
        for _ in range(20):
            out, ref_db = self._draw_crop(rng)
            m = len(out) // hop
            e = 10 * np.log10(np.mean(out[: m * hop].reshape(m, hop) ** 2, 1) + 1e-12)
            if np.sum(e > ref_db - 30.0) >= 20:
                break
        return out

    def _draw_crop(self, rng: np.random.Generator) -> tuple[np.ndarray, float]:
        """A crop of a random clip and the clip's loudest 10 ms frame energy (dB)."""
        u = rng.random()
        g = "synth" if u < self.p_synth else "narrow" if u < self.p_synth + self.p_narrow else "real"
        if g not in self.groups:   # a group the cache lacks: the first group it has
            g = next(k for k in ("real", "synth", "narrow") if k in self.groups)
        idx = self.groups[g]
        x = self.cache.clip(idx[int(rng.integers(len(idx)))])
        hop = self.sr // 100
        m = max(1, len(x) // hop)
        ref_db = float(10 * np.log10(np.max(np.mean(np.resize(x, m * hop).reshape(m, hop) ** 2, 1)) + 1e-12))
        out = np.zeros(self.n, np.float32)
        if len(x) >= self.n:
            s = int(rng.integers(len(x) - self.n + 1))
            out[:] = x[s: s + self.n]
        else:
            s = int(rng.integers(self.n - len(x) + 1))
            out[s: s + len(x)] = x
        return out, ref_db

    def mix(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
        """One ``(noisy, clean target, info)`` drawn from ``rng``."""
        from speechdl.data.augment import draw_family_noise
        from speechdl.data.synth import room
        from speechdl.data.synth.noise import mix_at_snr

        clean = self._clean_crop(rng)
        info: dict[str, Any] = {}
        if rng.random() < self.p_reverb:
            rt60 = float(rng.uniform(*self.rt60))
            clean = room.reverberate(clean, room.synth_rir(self.sr, rt60, rng))
            info["rt60"] = round(rt60, 3)
        if self.p_channel > 0 and rng.random() < self.p_channel:
            from speechdl.data.synth.channel import random_channel

            clean, ch = random_channel(clean, self.sr, rng)
            info["channel"] = [e["name"] for e in ch["effects"]]
        snr = float(rng.uniform(*self.snr_range))
        if self.p_clean > 0 and rng.random() < self.p_clean:
            noisy, what, snr = clean.copy(), {"family": None}, float("inf")
        else:
            nz, what = draw_family_noise(self.noise, self.n, self.sr, rng, split=self.noise_split)
            noisy, _ = mix_at_snr(clean, nz, snr, active_mask(clean, self.sr))
        peak = float(np.abs(noisy).max())
        gain = 10 ** (float(rng.uniform(*self.level_db)) / 20) / peak if peak > 0 else 1.0
        info.update(snr_db=round(snr, 2), family=what.get("family"), noise_file=what.get("file"))
        return (noisy * gain).astype(np.float32), (clean * gain).astype(np.float32), info

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        rng = np.random.default_rng([self.seed, 7919, int(i)]) if self.fixed else self._rng
        noisy, clean, _ = self.mix(rng)
        return {"x": torch.from_numpy(noisy), "target": torch.from_numpy(clean)}


def enhance_mixes(cache: str = "${SPEECHDL_WORK}/enhance/clean", crop_seconds: float = 2.0,
                  items: int = 2000, val_items: int = 200, val_crop_seconds: float = 4.0,
                  families: Sequence[str] = splits.TRAIN_NOISE_FAMILIES, noise_dirs: Sequence[str] = splits.NOISE_DIRS,
                  p_real: float = 0.5, snr_range: Sequence[float] = splits.SNR_RANGE,
                  level_db: Sequence[float] = (-35.0, -3.0), p_reverb: float = 0.2,
                  rt60: Sequence[float] = (0.2, 0.8), p_synth: float = 0.3,
                  seed: int = 0, p_narrow: float = 0.0, p_clean: float = 0.0, p_channel: float = 0.0,
                  noise_split: bool = False) -> tuple[EnhanceMixes, EnhanceMixes]:
    """Recipe dataset ``enhance_mixes``: ``(train, val)``; validation items are fixed, on the validation clips.

    ``noise_split: true`` draws training noise from the bank's train files and validation noise from its eval files.

    Example recipe::

        data: {name: enhance_mixes, cache: "${SPEECHDL_WORK}/enhance/clean", crop_seconds: 2, items: 4000}
    """
    common = dict(families=families, noise_dirs=noise_dirs, p_real=p_real, snr_range=snr_range, level_db=level_db,
                  p_reverb=p_reverb, rt60=rt60, p_synth=p_synth, p_narrow=p_narrow, p_clean=p_clean,
                  p_channel=p_channel)
    train = EnhanceMixes(cache, "train", crop_seconds, items, False, seed=seed,
                         noise_split="train" if noise_split else None, **common)
    val = EnhanceMixes(cache, "val", val_crop_seconds, val_items, True, seed=seed + 1,
                       noise_split="eval" if noise_split else None, **common)
    return train, val

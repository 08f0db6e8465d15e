"""The keyword-spotting dataset: a spoken word placed in a 1 s window, in noise, reverb and a channel.

:class:`KwsWords` (registered as ``kws_words``) reads word manifests (:mod:`.synth_words`,
:mod:`.real_words`: rows with ``audio`` and ``label``) and returns log-Mel items
``{"x": (T, F) float32, "y": () int64 class index, "length": () int64}``, ``T = 1 + window * sr / hop``
(101 for 1 s at a 10 ms hop). Per item: a speed factor (resampling, pitch and tempo together), the word
at a random offset in the window (its centre within ``shift`` s of the window's), then one condition of
:func:`speechdl.data.augment.augment_wave` (noise families at a random SNR, room reverb, a channel,
a level); a noise-only draw is a ``_silence_`` item. ``train=False`` gives every item the same draw each
epoch (a fixed validation / test set).

Example:
    >>> import json, tempfile, numpy as np
    >>> from pathlib import Path
    >>> from speechdl import audio
    >>> d = Path(tempfile.mkdtemp()); audio.save(d / "w.flac", 0.3 * np.sin(np.arange(8000) / 5), 16000)
    >>> _ = (d / "manifest.jsonl").write_text(json.dumps({"audio": "w.flac", "label": "yes"}) + "\\n")
    >>> ds = KwsWords([str(d)], augment={"p_noise": 0.0, "p_noise_only": 0.0, "p_reverb": 0.0,
    ...                                  "p_channel": 0.0, "families": ["stationary"]})
    >>> item = ds[0]; tuple(item["x"].shape), int(item["y"])
    ((101, 40), 0)
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from speechdl import audio
from speechdl.errors import DataError
from speechdl.features import Frontend, FrontendConfig
from speechdl.tasks.kws.vocab import LABELS, SILENCE, UNKNOWN
from speechdl.train.datasets import register_dataset

DEFAULT_AUGMENT = {"p_noise": 0.8, "snr_range": [0.0, 25.0], "p_noise_only": 0.06, "p_reverb": 0.3,
                   "p_channel": 0.25, "level_db": [-35.0, -3.0]}


def read_words(manifests: str | os.PathLike | Sequence[str | os.PathLike],
               labels: Sequence[str] = LABELS) -> list[dict[str, Any]]:
    """Rows of word manifests (folders with ``manifest.jsonl`` or the files), ``path`` made absolute;
    labels outside ``labels`` become ``_unknown_`` (when that is a label) or are dropped."""
    paths = [manifests] if isinstance(manifests, str | os.PathLike) else list(manifests)
    rows: list[dict[str, Any]] = []
    for m in paths:
        f = Path(m) / "manifest.jsonl" if Path(m).is_dir() else Path(m)
        if not f.is_file():
            raise DataError(str(m), "is not a word manifest (no manifest.jsonl)",
                            "build one with speechdl kws synth, or point to a folder that has it")
        for line in f.read_text().splitlines():
            if not line.strip():
                continue
            r = json.loads(line)
            label = r["label"] if r["label"] in labels else (UNKNOWN if UNKNOWN in labels else None)
            if label is not None:
                rows.append({**r, "label": label, "path": str(f.parent / r["audio"])})
    if not rows:
        raise DataError(", ".join(map(str, paths)), "holds no word clips", "check the manifest paths")
    return rows


def place(word: np.ndarray, n: int, rng: np.random.Generator, shift: float, sample_rate: int) -> np.ndarray:
    """``word`` ``(m,)`` in a window of ``n`` samples, its centre at the window's plus a uniform offset of at
    most ``shift`` s (kept inside the window; a word longer than the window is cut around its centre)."""
    out = np.zeros(n, np.float32)
    m = len(word)
    if m >= n:
        s = (m - n) // 2
        return np.asarray(word[s: s + n], np.float32)
    slack = (n - m) // 2
    off = int(rng.uniform(-1, 1) * min(slack, shift * sample_rate)) if shift > 0 else 0
    start = slack + off
    out[start: start + m] = word
    return out


def speaker_split(speaker: str, dev_every: int = 10) -> str:
    """``"dev"`` for one speaker in ``dev_every`` (a fixed hash of the id), else ``"train"``."""
    return "dev" if int(hashlib.sha1(speaker.encode()).hexdigest()[:8], 16) % dev_every == 0 else "train"


class KwsWords(Dataset):
    """Word items for :mod:`speechdl.train` (``classify`` task, sequence labels ``(B,)``).

    Args:
        manifests: word manifest folders.
        frontend: :class:`FrontendConfig` dict (default log-Mel 40, 25 ms / 10 ms).
        window: seconds per item.
        augment: :class:`~speechdl.data.augment.AugmentConfig` dict (``None``: :data:`DEFAULT_AUGMENT`).
        speed: range of the speed factor (``[1, 1]``: none); shift: max offset of the word (s).
        warp: range of a vocal-tract-length warp (:func:`~speechdl.data.synth.warp.vtl_warp`: formants and F0
            scaled, duration kept) drawn with probability ``p_warp``: new talkers from the same recordings.
        spec_augment: ``{"freq_masks", "freq_width", "time_masks", "time_width"}``: that many bands / frames
            (each mask up to that wide) set to the item's mean level (training only).
        unknown_share: keep this share of ``_unknown_`` items among all (subsampled once, seeded); ``None`` all.
            Rows marked ``negative`` (running-speech crops, :func:`~speechdl.tasks.kws.real_words.dialogue_crops`)
            are always kept and not counted.
        labels: the class names (index = position).
        split: ``"train"`` / ``"dev"``: only the speakers of that part (:func:`speaker_split`); ``None`` all.
        train: fresh draws every epoch; ``False``: one fixed draw per item.
        seed: of every draw.
    """

    def __init__(self, manifests: str | Sequence[str], frontend: dict | None = None, window: float = 1.0,
                 augment: dict | None = None, speed: Sequence[float] = (0.9, 1.1), shift: float = 0.15,
                 warp: Sequence[float] = (1.0, 1.0), p_warp: float = 0.0, spec_augment: dict | None = None,
                 unknown_share: float | None = None, labels: Sequence[str] = LABELS, split: str | None = None,
                 train: bool = True, seed: int = 0) -> None:
        from speechdl.data.augment import AugmentConfig

        self.labels = tuple(labels)
        rows = read_words(manifests, self.labels)
        if split is not None:
            rows = [r for r in rows if speaker_split(str(r.get("speaker", r["audio"]))) == split]
        if unknown_share is not None and UNKNOWN in self.labels:
            unk = [r for r in rows if r["label"] == UNKNOWN and not r.get("negative")]
            known = [r for r in rows if r["label"] != UNKNOWN or r.get("negative")]
            keep = int(round(unknown_share * len(known) / max(1e-6, 1 - unknown_share)))
            pick = np.random.default_rng([seed, 5]).permutation(len(unk))[:keep]
            rows = known + [unk[i] for i in sorted(pick)]
        self.rows = rows
        self.cfg = FrontendConfig.from_dict(dict(frontend)) if frontend else FrontendConfig.logmel()
        self.frontend = Frontend(self.cfg).eval()
        self.augment = AugmentConfig.from_dict(DEFAULT_AUGMENT if augment is None else augment)
        self.n = int(round(window * self.cfg.sample_rate))
        self.speed, self.shift, self.train, self.seed = tuple(speed), float(shift), train, seed
        self.warp, self.p_warp = tuple(float(w) for w in warp), float(p_warp)
        self.spec_augment = dict(spec_augment or {})
        self._draws = 0
        self._cache: dict[int, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.rows)

    def _word(self, k: int) -> np.ndarray:
        if k not in self._cache:
            x, _ = audio.load(self.rows[k]["path"], sample_rate=self.cfg.sample_rate)
            self._cache[k] = audio.to_int16(x)
        return audio.to_float32(self._cache[k])

    def wave(self, k: int) -> tuple[np.ndarray, int]:
        """Item ``k``'s audio ``(n,)`` and class index (after its speed, placement and condition)."""
        from speechdl.data.augment import augment_wave

        rng = np.random.default_rng([self.seed, k, self._draws] if self.train else [self.seed, k])
        self._draws += 1
        sr = self.cfg.sample_rate
        word = self._word(k)
        f = float(rng.uniform(*self.speed))
        if abs(f - 1.0) > 1e-3 and len(word) > 1:
            word = audio.resample(word, int(round(sr * f)), sr)
        v = float(rng.uniform(*self.warp))
        if rng.random() < self.p_warp and abs(v - 1.0) > 1e-3 and len(word) > 256:
            from speechdl.data.synth.warp import vtl_warp

            word = vtl_warp(word, sr, v)
        x = place(word, self.n, rng, self.shift, sr)
        active = np.abs(x) > 0
        y, info = augment_wave(x, active, sr, rng, self.augment)
        label = SILENCE if info["noise_only"] and SILENCE in self.labels else self.rows[k]["label"]
        return y, self.labels.index(label)

    def _masks(self, feats: torch.Tensor, k: int) -> torch.Tensor:
        """SpecAugment: zero random bands and frames (at the item's mean level)."""
        sa = self.spec_augment
        rng = np.random.default_rng([self.seed, k, self._draws, 7])
        x = feats.clone()
        fill = x.mean()
        T, F = x.shape
        for _ in range(int(sa.get("freq_masks", 0))):
            w = int(rng.integers(0, int(sa.get("freq_width", 6)) + 1))
            f0 = int(rng.integers(0, max(1, F - w)))
            x[:, f0:f0 + w] = fill
        for _ in range(int(sa.get("time_masks", 0))):
            w = int(rng.integers(0, int(sa.get("time_width", 10)) + 1))
            t0 = int(rng.integers(0, max(1, T - w)))
            x[t0:t0 + w] = fill
        return x

    def __getitem__(self, k: int) -> dict[str, torch.Tensor]:
        y, label = self.wave(k)
        with torch.no_grad():
            feats = self.frontend(torch.from_numpy(y)[None])[0].float()
        if self.train and self.spec_augment:
            feats = self._masks(feats, k)
        return {"x": feats, "y": torch.tensor(label, dtype=torch.long),
                "length": torch.tensor(len(feats), dtype=torch.long)}


@register_dataset("kws_words")
def kws_words(manifests: str | Sequence[str], **kwargs: Any) -> tuple[KwsWords, KwsWords]:
    """Training items (fresh draws) and the dev items (one speaker in ten, one fixed draw each) of
    ``manifests``; ``kwargs`` as :class:`KwsWords`'s. Model selection never sees a test voice."""
    kwargs.pop("split", None)
    kwargs.pop("train", None)
    return (KwsWords(manifests, split="train", train=True, **kwargs),
            KwsWords(manifests, split="dev", train=False, **kwargs))

"""Training segments for vocoders (recipe dataset ``vocoder_segments``): waveform crops and their log-Mel frames.

A *clip list* is a JSON-lines file with one clip per line: ``audio`` (path, relative to the file's folder or
absolute), optional ``split`` (``train`` / ``val`` / ``test``; else a fixed hash of the path decides: 1 in 20
``test``, 1 in 20 ``val``), ``speaker``, ``actor``, ``duration``. The corpus builders of
:mod:`speechdl.tasks.vocoder.corpus` write one (16 kHz, cleaned); ``real_dev``'s ``manifest.jsonl`` is one too
(``actor`` / ``speaker`` filters pick a voice; absent files are skipped). ``source: synthetic`` generates
voice-like clips instead (glottal pulses with a moving F0 through three formant resonators, noise bursts and
pauses): the smoke runs and tests need no corpus.

Items (``output``): ``gan``: ``{"x": mel (T, 80), "target": wave (T * hop,)}`` (the frame that starts after the
segment is dropped); ``wavenet``: ``{"x": μ-law ids (N,), "cond": mel (1 + N // hop, 80)}``; ``wave`` (the
Gaussian WaveNet teacher): ``{"x": waveform (N,) float32, "cond": mel (1 + N // hop, 80)}``. The mel is computed
on the crop itself (as HiFi-GAN does). Training crops are drawn afresh each time (clips weighted by length);
validation crops are fixed per index.

Example:
    >>> ds = VocoderSegments("synthetic", split="val", segment=2048, items=2, fixed=True)
    >>> item = ds[0]
    >>> tuple(item["x"].shape), tuple(item["target"].shape)
    ((8, 80), (2048,))
    >>> bool(torch.equal(ds[0]["target"], item["target"]))   # validation crops are fixed
    True
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from speechdl.errors import ConfigError, DataError
from speechdl.tasks.vocoder.frontend import SAMPLE_RATE, VOCODER_FRONTEND, wave_to_mel

SPLITS = ("train", "val", "test")


def split_of(key: str) -> str:
    """Fixed split of a clip by a hash of its path: ``test`` (1 in 20), ``val`` (1 in 20) or ``train``.

    >>> split_of("a.wav") in SPLITS
    True
    """
    h = hashlib.sha1(key.encode("utf-8")).digest()[0] % 20
    return "test" if h == 0 else "val" if h == 1 else "train"


def read_clips(source: str | os.PathLike, split: str | None = None, **filters: Any) -> list[dict[str, Any]]:
    """Rows of a clip list (absolute ``audio`` paths) of ``split`` (None: all) whose fields equal ``filters``
    (None values ignored); files that are absent are skipped. DataError when nothing is left."""
    path = Path(os.path.expandvars(str(source)))
    if not path.is_file():
        raise DataError(path, "clip list not found", "build one with `speechdl vocode data ...` or pass a .jsonl")
    rows = []
    with path.open() as fh:
        for line in fh:
            if not line.strip():
                continue
            row = json.loads(line)
            if any(v is not None and row.get(k) != v for k, v in filters.items()):
                continue
            audio = Path(row["audio"])
            audio = audio if audio.is_absolute() else path.parent / audio
            row = {**row, "audio": str(audio), "split": row.get("split") or split_of(str(row["audio"]))}
            if (split is None or row["split"] == split) and audio.exists():
                rows.append(row)
    if not rows:
        raise DataError(path, f"no clips of split {split!r} with {filters}", "check the filters and the audio files")
    return rows


def synthetic_clip(rng: np.random.Generator, seconds: float = 1.5, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """A voice-like test signal ``(n,)`` float32: voiced stretches (glottal pulses, F0 80-260 Hz with a slow
    contour, three formants that move), noise bursts (fricatives) and pauses, at a random level.

    >>> x = synthetic_clip(np.random.default_rng(0), 1.0)
    >>> x.shape, bool(0.01 < np.abs(x).max() <= 0.9)
    ((16000,), True)
    """
    from scipy.signal import lfilter

    n = int(seconds * sample_rate)
    t = np.arange(n) / sample_rate
    f0 = rng.uniform(80, 260) * (1 + 0.15 * np.sin(2 * np.pi * rng.uniform(0.5, 3) * t + rng.uniform(0, 6)))
    phase = np.cumsum(f0) / sample_rate
    pulses = np.diff(np.floor(phase), prepend=0.0)
    source = lfilter([1.0], [1.0, -0.97], pulses)   # a glottal-ish tilt
    out = np.zeros(n)
    for k, (lo, hi) in enumerate(((300, 900), (900, 2400), (2400, 3500))):
        fc = rng.uniform(lo, hi) * (1 + 0.1 * np.sin(2 * np.pi * rng.uniform(1, 4) * t))
        r = np.exp(-np.pi * (60 + 40 * k) / sample_rate)
        y = np.zeros(n)   # a resonator with a moving centre, block by block (20 ms)
        zi = np.zeros(2)
        for s in range(0, n, 320):
            th = 2 * np.pi * fc[s] / sample_rate
            y[s:s + 320], zi = lfilter([1 - r], [1, -2 * r * np.cos(th), r * r], source[s:s + 320], zi=zi)
        out += y / (k + 1)
    env = np.ones(n)
    for _ in range(int(seconds * 2)):   # pauses and fricatives
        a, w = int(rng.integers(n)), int(rng.uniform(0.05, 0.2) * sample_rate)
        if rng.random() < 0.5:
            env[a:a + w] = 0.0
        else:
            out[a:a + w] = rng.standard_normal(len(out[a:a + w])) * 0.3 * np.abs(out).max()
    out = np.convolve(out * env, np.ones(64) / 64, mode="same") * 0.2 + out * env * 0.8   # soften the edges
    return (out / (np.abs(out).max() + 1e-9) * rng.uniform(0.1, 0.9)).astype(np.float32)


class VocoderSegments(Dataset):
    """Crops of clips with their log-Mel (see the module docstring).

    Args:
        source: a clip list (``.jsonl``) or ``"synthetic"``. split: ``train``, ``val``, ``test`` or None (all).
        segment: crop length in samples (a multiple of the hop, 256). items: items per epoch.
        fixed: the same crop for the same index (validation). output: ``gan``, ``wavenet`` or ``wave``.
        n_classes: μ-law levels (``wavenet``). speaker, actor: clip-list filters. max_clips: use at most this
            many clips. synthetic_clips: clips generated for ``synthetic``. seed: the stream's seed.
    """

    def __init__(self, source: str, split: str | None = "train", segment: int = 8192, items: int = 1000,
                 fixed: bool = False, output: str = "gan", n_classes: int = 256, speaker: str | None = None,
                 actor: str | None = None, max_clips: int | None = None, synthetic_clips: int = 16,
                 seed: int = 0) -> None:
        hop = VOCODER_FRONTEND.hop_length
        if output not in ("gan", "wavenet", "wave"):
            raise ConfigError("data.output", f"expected gan, wavenet or wave, got {output!r}", "fix the recipe")
        if segment < hop or segment % hop:
            raise ConfigError("data.segment", f"{segment} is not a positive multiple of the hop ({hop})",
                              f"use e.g. {32 * hop}")
        self.segment, self.items, self.fixed, self.output = int(segment), int(items), bool(fixed), output
        self.n_classes, self.seed = int(n_classes), int(seed)
        if source == "synthetic":
            base = {"train": 0, "val": 1, "test": 2}.get(split or "train", 0) * 100003 + self.seed
            self.clips = [synthetic_clip(np.random.default_rng([base, i]), 1.0 + (i % 3) * 0.5)
                          for i in range(synthetic_clips)]
        else:
            rows = read_clips(source, split, speaker=speaker, actor=actor)
            rows = rows[:max_clips] if max_clips else rows
            self.clips = [self._load(r["audio"]) for r in rows]
        weights = np.array([max(1, len(c) - self.segment + 1) for c in self.clips], np.float64)
        self.p = weights / weights.sum()
        self._rng = np.random.default_rng(self.seed)

    @staticmethod
    def _load(path: str) -> np.ndarray:
        from speechdl import audio

        x, _ = audio.load(path, sample_rate=SAMPLE_RATE)
        return x

    def __len__(self) -> int:
        return self.items

    def crop(self, rng: np.random.Generator) -> np.ndarray:
        """A ``segment``-sample crop of a clip (zero-padded at the end when the clip is shorter)."""
        x = self.clips[int(rng.choice(len(self.clips), p=self.p))]
        out = np.zeros(self.segment, np.float32)
        if len(x) >= self.segment:
            s = int(rng.integers(len(x) - self.segment + 1))
            out[:] = x[s:s + self.segment]
        else:
            out[:len(x)] = x
        return out

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        rng = np.random.default_rng([self.seed, 7919, int(i)]) if self.fixed else self._rng
        wave = self.crop(rng)
        mel = torch.from_numpy(wave_to_mel(wave))
        if self.output == "gan":
            return {"x": mel[:-1], "target": torch.from_numpy(wave)}
        if self.output == "wave":
            return {"x": torch.from_numpy(wave), "cond": mel}
        from speechdl.nn.wavenet import mu_law_encode

        return {"x": mu_law_encode(torch.from_numpy(wave), self.n_classes), "cond": mel}


def vocoder_segments(source: str = "data/vocoder/joe/clips.jsonl", segment: int = 8192, items: int = 2000,
                     val_items: int = 64, val_segment: int | None = None, output: str = "gan", n_classes: int = 256,
                     speaker: str | None = None, actor: str | None = None, max_clips: int | None = None,
                     synthetic_clips: int = 16, n: int | None = None, seed: int = 0
                     ) -> tuple[VocoderSegments, VocoderSegments]:
    """Recipe dataset ``vocoder_segments``: ``(train, val)`` from the ``train`` / ``val`` clips of ``source``.

    ``n`` (the smoke runs' size knob) overrides ``items`` and sets ``val_items`` to ``max(2, n // 8)``.

    Example recipe::

        data: {name: vocoder_segments, source: data/vocoder/joe/clips.jsonl, segment: 8192, items: 4000}
    """
    if n is not None:
        items, val_items = int(n), max(2, int(n) // 8)
    common = dict(output=output, n_classes=n_classes, speaker=speaker, actor=actor, max_clips=max_clips,
                  synthetic_clips=synthetic_clips)
    train = VocoderSegments(source, "train", segment, items, False, seed=seed, **common)
    val = VocoderSegments(source, "val", val_segment or segment, val_items, True, seed=seed + 1, **common)
    return train, val

"""VAD frame data: speech intervals of lhotse manifests -> 0/1 labels per 10 ms feature frame.

* :func:`frame_labels`: the label definition. Frame ``t`` (centred at ``t * hop_s``, as the
  front-end's centred frames are) is speech when its centre lies in a speech interval ``[start, end)``.
* :class:`VADFrames` (registered as the recipe dataset ``vad_frames``): recordings of one or more
  manifest directories (``speechdl data synth`` / ``data mix`` output, or any manifest whose
  supervisions mark speech), features computed on the fly with a :class:`FrontendConfig` (default
  MFCC39) or read from a ``.npy`` cache; random ``crop_seconds`` crops for training, whole
  recordings for validation; optional on-the-fly noise.
* :func:`load_frames`: a whole eval manifest as ``(features (N, F), labels (N,))`` arrays.
* :func:`export_frames`: the lecture's CSV (39 MFCC+Δ+ΔΔ columns, then the 0/1 label).

Example:
    >>> frame_labels([(0.05, 0.12)], num_frames=15, hop_s=0.01).tolist()[3:14]
    [0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0]
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from speechdl import audio
from speechdl.features import Frontend, FrontendConfig
from speechdl.train.datasets import register_dataset

EPS = 1e-9


def frame_labels(speech_intervals: Sequence[tuple[float, float]], num_frames: int, hop_s: float = 0.01) -> np.ndarray:
    """0/1 float32 labels ``(num_frames,)``: 1 where the frame centre ``t * hop_s`` lies in ``[start, end)``.

    Intervals are seconds from the recording start; they may overlap or extend past the end.
    """
    centres = np.arange(int(num_frames)) * float(hop_s)
    y = np.zeros(int(num_frames), dtype=np.float32)
    for a, b in speech_intervals:
        y[(centres >= a - EPS) & (centres < b - EPS)] = 1.0
    return y


def _as_config(frontend: FrontendConfig | dict | str | None) -> FrontendConfig:
    if frontend is None or frontend == "mfcc39":
        return FrontendConfig.mfcc39()
    if frontend == "logmel":
        return FrontendConfig.logmel()
    if isinstance(frontend, FrontendConfig):
        return frontend
    return FrontendConfig.from_dict(dict(frontend))


def _paths(manifests: str | os.PathLike | Sequence[str | os.PathLike]) -> list[str]:
    return [str(manifests)] if isinstance(manifests, str | os.PathLike) else [str(m) for m in manifests]


def read_recordings(manifests: str | os.PathLike | Sequence[str | os.PathLike]) -> list[dict[str, Any]]:
    """``[{"id", "path", "num_samples", "sample_rate", "speech": [(s, e), ...]}, ...]`` of manifest dirs.

    Speech intervals are ``custom["speech"]`` of the supervisions, else their spans (recording time).
    """
    from speechdl.data.manifests import load_manifests, speech_intervals

    out = []
    for m in _paths(manifests):
        recs, sups = load_manifests(m)
        speech: dict[str, list[tuple[float, float]]] = {}
        for s in sups or []:
            speech.setdefault(s.recording_id, []).extend(speech_intervals(s))
        for r in recs:
            out.append({"id": r.id, "path": str(r.sources[0].source), "num_samples": int(r.num_samples),
                        "sample_rate": int(r.sampling_rate), "speech": sorted(speech.get(r.id, []))})
    return out


class FeatureCache:
    """Features ``(T, F)`` float32 of whole recordings, computed once and kept in ``cache_dir``.

    Files are ``<cache_dir>/<frontend hash>/<recording id>.npy``, written atomically, so several
    front-ends and several processes can share one cache. ``cache_dir=None`` computes every time.
    """

    def __init__(self, cfg: FrontendConfig, cache_dir: str | os.PathLike | None = None) -> None:
        self.cfg, self.frontend = cfg, Frontend(cfg).eval()
        key = hashlib.sha1(json.dumps(cfg.to_dict(), sort_keys=True).encode()).hexdigest()[:12]
        self.dir = Path(cache_dir) / key if cache_dir else None

    def compute(self, wave: np.ndarray) -> np.ndarray:
        """Features of a mono float32 waveform ``(N,)`` at ``cfg.sample_rate`` -> ``(1 + N // hop, F)``."""
        with torch.no_grad():
            return self.frontend(torch.from_numpy(np.ascontiguousarray(wave, np.float32))[None])[0].numpy()

    def load(self, rec: dict[str, Any]) -> np.ndarray:
        """Features of a whole recording (``read_recordings`` row), from the cache when present."""
        path = self.dir / f"{rec['id']}.npy" if self.dir else None
        if path is not None and path.is_file():
            return np.load(path)
        wave, _ = audio.load(rec["path"], sample_rate=self.cfg.sample_rate)
        feats = self.compute(wave)
        if path is not None:
            with audio.atomic_write(path, suffix=".npy") as tmp, open(tmp, "wb") as f:
                np.save(f, feats)
        return feats


def add_noise(wave: np.ndarray, active: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    """``wave`` ``(N,)`` plus white/pink/brown noise at ``snr_db`` against the ``active`` (speech) samples."""
    from speechdl.data.synth import noise as noise_mod

    nz = noise_mod.colored_noise(len(wave), str(rng.choice(list(noise_mod.COLORS))), rng)
    return noise_mod.mix_at_snr(wave, nz, snr_db, active if active.any() else None)[0]


class VADFrames(Dataset):
    """Frame-labelled VAD items ``{"x": (T, F) float32, "y": (T,) float32 0/1, "length": () int64}``.

    Args:
        manifests: one or more manifest directories (or files) with speech intervals.
        frontend: :class:`FrontendConfig`, its dict, ``"mfcc39"`` (default) or ``"logmel"``.
        crop_seconds: training crops of this length (``T = crop_seconds / hop``); ``None``: whole recordings.
        random_crops: random crop positions (training); ``False`` cuts each recording into fixed
            consecutive crops (reproducible validation).
        cache_dir: ``.npy`` feature cache (whole recordings); ``None`` reads audio every time.
        noise_prob / snr_range: probability of adding coloured noise at a random SNR (dB) to an item
            (computed from audio, so the cache is bypassed for those items).
        seed: crop and noise positions.
        augment: :class:`~speechdl.data.augment.AugmentConfig` (or its dict): every item gets a
            random condition (noise families, reverb, channel, level, noise-only crops), computed from
            audio. With ``random_crops=False`` the condition of item ``k`` is the same every epoch
            (a fixed, reproducible dev set).
        split: ``"train"`` or ``"dev"`` keeps that part of the recordings (a fixed split by the SHA-1
            of the recording id, one in ``dev_every`` is dev); ``None`` keeps all.

    ``len`` is the number of crops that cover the audio once (``sum(duration // crop_seconds)``, at
    least one per recording); item ``k`` belongs to recording ``index[k]``.
    """

    def __init__(self, manifests: str | Sequence[str], frontend: FrontendConfig | dict | str | None = None,
                 crop_seconds: float | None = 4.0, random_crops: bool = True, cache_dir: str | None = None,
                 noise_prob: float = 0.0, snr_range: tuple[float, float] = (0.0, 30.0), seed: int = 0,
                 augment: Any = None, split: str | None = None, dev_every: int = 10) -> None:
        from speechdl.data.augment import AugmentConfig

        self.recs = [r for r in read_recordings(manifests) if split is None or split_of(r["id"], dev_every) == split]
        self.augment = augment if isinstance(augment, AugmentConfig | None) else AugmentConfig.from_dict(augment)
        self.cfg = _as_config(frontend)
        self.cache = FeatureCache(self.cfg, cache_dir)
        self.hop = self.cfg.hop_length
        self.crop = None if not crop_seconds else max(1, int(round(crop_seconds * self.cfg.sample_rate / self.hop)))
        self.random_crops, self.noise_prob, self.snr_range, self.seed = random_crops, noise_prob, snr_range, seed
        self.index: list[tuple[int, int]] = []       # (recording, crop number)
        for i in range(len(self.recs)):
            n = self.num_frames(i)
            k = 1 if self.crop is None else max(1, n // self.crop)
            self.index += [(i, j) for j in range(k)]
        self._draws = 0

    def num_frames(self, i: int) -> int:
        """Feature frames of recording ``i``."""
        r = self.recs[i]
        return self.cfg.num_frames(int(round(r["num_samples"] * self.cfg.sample_rate / r["sample_rate"])))

    def __len__(self) -> int:
        return len(self.index)

    def _window(self, i: int, j: int, n: int, rng: np.random.Generator) -> tuple[int, int]:
        if self.crop is None or n <= self.crop:
            return 0, n
        if self.random_crops:
            s = int(rng.integers(0, n - self.crop + 1))
        else:
            s = j * self.crop
        return s, s + self.crop

    def __getitem__(self, k: int) -> dict[str, torch.Tensor]:
        i, j = self.index[k]
        rec = self.recs[i]
        rng = np.random.default_rng([self.seed, k] if not self.random_crops else [self.seed, k, self._draws])
        self._draws += 1
        n = self.num_frames(i)
        s, e = self._window(i, j, n, rng)
        labels = frame_labels(rec["speech"], n, self.hop / self.cfg.sample_rate)[s:e]
        if self.augment is not None:
            x, noise_only = self._augmented(rec, s, e, rng)
            if noise_only:
                labels = np.zeros_like(labels)
        elif self.noise_prob > 0 and rng.random() < self.noise_prob:
            x = self._noisy(rec, s, e, rng)
        else:
            x = self.cache.load(rec)[s:e] if self.cache.dir or self.crop is None else self._features(rec, s, e)
        m = min(len(x), len(labels))
        return {"x": torch.from_numpy(np.ascontiguousarray(x[:m])), "y": torch.from_numpy(labels[:m]),
                "length": torch.tensor(m, dtype=torch.long)}

    def _wave(self, rec: dict[str, Any], s: int, e: int) -> np.ndarray:
        sr = self.cfg.sample_rate
        wave, _ = audio.load(rec["path"], sample_rate=sr, offset=s * self.hop / sr, duration=(e - s) * self.hop / sr)
        return wave

    def _features(self, rec: dict[str, Any], s: int, e: int) -> np.ndarray:
        """Features of frames ``[s, e)`` from the audio around them (frame ``s`` centred at sample ``s * hop``)."""
        return self.cache.compute(self._wave(rec, s, e))[: e - s]

    def _augmented(self, rec: dict[str, Any], s: int, e: int, rng: np.random.Generator) -> tuple[np.ndarray, bool]:
        from speechdl.data.augment import augment_wave
        from speechdl.data.synth.mixer import interval_mask

        sr = self.cfg.sample_rate
        wave = self._wave(rec, s, e)
        t0 = s * self.hop / sr
        active = interval_mask([(a - t0, b - t0) for a, b in rec["speech"]], len(wave), sr)
        wave, info = augment_wave(wave, active, sr, rng, self.augment)
        return self.cache.compute(wave)[: e - s], bool(info["noise_only"])

    def _noisy(self, rec: dict[str, Any], s: int, e: int, rng: np.random.Generator) -> np.ndarray:
        from speechdl.data.synth.mixer import interval_mask

        sr = self.cfg.sample_rate
        wave = self._wave(rec, s, e)
        t0 = s * self.hop / sr
        active = interval_mask([(a - t0, b - t0) for a, b in rec["speech"]], len(wave), sr)
        wave = add_noise(wave, active, float(rng.uniform(*self.snr_range)), rng)
        return self.cache.compute(wave)[: e - s]


def split_of(recording_id: str, dev_every: int = 10) -> str:
    """``"dev"`` for one recording id in ``dev_every`` (by SHA-1 of the id), else ``"train"``.

    Example:
        >>> split_of("rec-0001") in ("train", "dev")
        True
    """
    digest = hashlib.sha1(str(recording_id).encode("utf-8")).digest()
    return "dev" if int.from_bytes(digest[:4], "big") % max(1, int(dev_every)) == 0 else "train"


@register_dataset("vad_frames")
def vad_frames(manifests: str | list[str], val_manifests: str | list[str] | None = None,
               frontend: dict | str | None = None, crop_seconds: float | None = 4.0,
               val_crop_seconds: float | None = None, cache_dir: str | None = None, noise_prob: float = 0.0,
               snr_range: tuple[float, float] | list[float] = (0.0, 30.0), seed: int = 0,
               augment: dict | None = None, val_augment: dict | None = None, split: str | None = None,
               val_split: str | None = None, dev_every: int = 10) -> VADFrames | tuple[VADFrames, VADFrames]:
    """Recipe dataset ``vad_frames``: random crops of ``manifests``; with ``val_manifests`` a
    ``(train, val)`` pair whose validation items are whole recordings (or fixed ``val_crop_seconds`` crops).

    ``augment`` / ``val_augment``: on-the-fly conditions (:class:`~speechdl.data.augment.AugmentConfig`
    keys); the validation ones are fixed per item. ``split`` / ``val_split``: ``"train"`` / ``"dev"``
    parts of the recordings (:func:`split_of`), so one manifest can give both without overlap.

    Example recipe::

        data: {name: vad_frames, manifests: [/data/vad/train_synth, /data/vad/train_real],
               val_manifests: /data/vad/dev, crop_seconds: 4, cache_dir: /data/vad/cache}
    """
    train = VADFrames(manifests, frontend, crop_seconds, True, cache_dir, noise_prob, tuple(snr_range), seed,
                      augment=augment, split=split, dev_every=dev_every)
    if val_manifests is None:
        return train
    return train, VADFrames(val_manifests, frontend, val_crop_seconds, False, cache_dir, 0.0, (0.0, 30.0), seed,
                            augment=val_augment, split=val_split, dev_every=dev_every)


def iter_recordings(manifests: str | Sequence[str], frontend: FrontendConfig | dict | str | None = None,
                    cache_dir: str | None = None):
    """Yield ``(recording id, features (T, F), labels (T,))`` for every recording, in manifest order."""
    cfg = _as_config(frontend)
    cache = FeatureCache(cfg, cache_dir)
    for rec in read_recordings(manifests):
        x = cache.load(rec)
        yield rec["id"], x, frame_labels(rec["speech"], len(x), cfg.frame_shift)


def load_frames(manifests: str | Sequence[str], frontend: FrontendConfig | dict | str | None = None,
                cache_dir: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """A whole (eval) manifest as ``(features (N, F) float32, labels (N,) float32 0/1)``, recordings concatenated.

    Example:
        >>> x, y = load_frames("/data/vad/eval_clean")  # doctest: +SKIP
        >>> x.shape[1], set(np.unique(y))  # doctest: +SKIP
        (39, {0.0, 1.0})
    """
    xs, ys = [], []
    for _, x, y in iter_recordings(manifests, frontend, cache_dir):
        xs.append(x)
        ys.append(y)
    return np.concatenate(xs).astype(np.float32), np.concatenate(ys).astype(np.float32)


def export_frames(manifests: str | Sequence[str], out: str | os.PathLike, max_frames: int | None = None,
                  frontend: FrontendConfig | dict | str | None = None, seed: int = 0,
                  progress: Callable | None = None) -> dict[str, Any]:
    """Write the lecture's CSV: per frame the features (39 MFCC+Δ+ΔΔ by default) then the 0/1 label.

    Comma-separated, no header, loadable with ``numpy.loadtxt(out, delimiter=",")`` -> ``(N, F + 1)``.
    ``max_frames`` keeps a seeded random subset spread over all recordings (about ``max_frames``,
    never more). Written to a temporary file and renamed.

    Returns:
        ``{"out", "frames", "columns", "speech_fraction", "recordings"}``.
    """
    cfg = _as_config(frontend)
    recs = read_recordings(manifests)
    total = sum(cfg.num_frames(int(round(r["num_samples"] * cfg.sample_rate / r["sample_rate"]))) for r in recs)
    keep = 1.0 if not max_frames or max_frames >= total else max_frames / total
    rng = np.random.default_rng(seed)
    cache = FeatureCache(cfg)
    written, speech = 0, 0.0
    wrap = progress or (lambda it, **_: it)
    with audio.atomic_write(out, suffix=".csv") as tmp:
        with open(tmp, "w", encoding="ascii") as f:
            for rec in wrap(recs, total=len(recs), desc="export-frames", unit="rec"):
                if max_frames and written >= max_frames:
                    break
                x = cache.load(rec)
                y = frame_labels(rec["speech"], len(x), cfg.frame_shift)
                sel = rng.random(len(x)) < keep if keep < 1.0 else slice(None)
                x, y = x[sel], y[sel]
                if max_frames:
                    x, y = x[: max_frames - written], y[: max_frames - written]
                if len(x):
                    np.savetxt(f, np.column_stack([x, y]), delimiter=",",
                               fmt=["%.6g"] * x.shape[1] + ["%d"])
                written += len(x)
                speech += float(y.sum())
    return {"out": str(out), "frames": written, "columns": cfg.feature_dim + 1,
            "speech_fraction": round(speech / written, 4) if written else 0.0, "recordings": len(recs)}

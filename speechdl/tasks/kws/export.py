"""KWS training run -> bundle: weights, front-end, labels and the event threshold calibrated on dev words.

The threshold is the one (on a grid) whose clip labels (:func:`speechdl.tasks.kws.pipeline.clip_label`) are
most often right on the run's **dev** items (one training speaker in ten, fixed conditions); test voices and
real words never take part.

Example:
    >>> best_threshold({0.3: 0.80, 0.5: 0.85, 0.7: 0.85})
    0.5
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from speechdl.pretrained.export import load_run, save_run_bundle
from speechdl.tasks.kws.vocab import LABELS

GRID = tuple(round(x, 2) for x in np.arange(0.2, 0.96, 0.05))


def best_threshold(acc: dict[float, float]) -> float:
    """The lowest threshold of the best accuracy (ties: the lower, i.e. the more sensitive)."""
    top = max(acc.values())
    return min(t for t, a in acc.items() if a >= top)


def dev_accuracy(model: Any, cfg: Any, ds: Any, grid: tuple[float, ...] = GRID) -> dict[float, float]:
    """Clip-label accuracy of each threshold of ``grid`` on the items of ``ds`` (one detection pass each)."""
    from speechdl.tasks.kws.detect import detect, events_from
    from speechdl.tasks.kws.pipeline import clip_label

    hop = 10 * cfg.hop_length / cfg.sample_rate
    posts, truth = [], []
    for k in range(len(ds)):
        wave, y = ds.wave(k)
        posts.append(detect(model, cfg, wave))
        truth.append(LABELS[y])
    return {t: float(np.mean([clip_label(p, events_from(p, hop, t), LABELS)[0] == y
                              for p, y in zip(posts, truth)])) for t in grid}


def negative_embeddings(model: Any, cfg: Any, data: dict[str, Any], count: int = 1500) -> np.ndarray:
    """``(count, D)`` float16 embeddings (:class:`~speechdl.tasks.kws.custom.Encoder`) of training items that
    are not keywords: ``_unknown_`` words under training conditions and ``_silence_`` (noise only) items;
    custom keywords are enrolled against them."""
    import torch

    from speechdl.tasks.kws.custom import Encoder
    from speechdl.tasks.kws.data import KwsWords
    from speechdl.tasks.kws.vocab import KEYWORDS

    kw = {k: v for k, v in data.items() if k not in ("manifests", "split", "train", "unknown_share")}
    ds = KwsWords(data["manifests"], split="train", train=False, seed=11, **kw)
    idx = [i for i, r in enumerate(ds.rows) if r["label"] not in KEYWORDS]
    idx = [idx[i] for i in np.random.default_rng(0).permutation(len(idx))[:count]]
    enc = Encoder(model, cfg)
    out = [enc.embed_features(torch.stack([ds[i]["x"] for i in idx[s:s + 128]])) for s in range(0, len(idx), 128)]
    return np.concatenate(out).astype(np.float16)


def export_run(run_dir: str | os.PathLike, out: str | os.PathLike, max_dev: int | None = 600) -> Path:
    """Bundle the best checkpoint of a ``classify`` KWS run, calibrate its keyword threshold on dev items and
    store ``negatives.npy`` (for custom keywords)."""
    import tempfile

    from speechdl.features import FrontendConfig
    from speechdl.tasks.kws.data import kws_words

    run = load_run(run_dir, ("classify",))
    data = {k: v for k, v in (run.config.get("data") or {}).items() if k != "name"}
    cfg = FrontendConfig.from_dict(dict(data["frontend"])) if data.get("frontend") else FrontendConfig.logmel()
    _, dev = kws_words(**data)
    if max_dev and len(dev) > max_dev:
        keep = np.random.default_rng(0).permutation(len(dev))[:max_dev]
        dev.rows = [dev.rows[i] for i in sorted(keep)]
    acc = dev_accuracy(run.model, cfg, dev)
    thr = best_threshold(acc)
    with tempfile.TemporaryDirectory() as tmp:
        neg = Path(tmp) / "negatives.npy"
        np.save(neg, negative_embeddings(run.model, cfg, data))
        return save_run_bundle(run, out, task="kws", frontend=cfg.to_dict(),
                               command=f"speechdl kws export {run.path} --bundle {out}",
                               metrics={"dev_clip_accuracy": round(acc[thr], 4), "dev_items": len(dev)},
                               thresholds={"keyword": thr}, extra={"labels": list(LABELS)},
                               files={"negatives.npy": neg})

"""KWS training run -> bundle: weights, front-end, labels and the event threshold calibrated on dev data.

The threshold is the one (on a grid) whose events are most often right on the run's **dev** items (one training
speaker in ten, fixed conditions: a keyword item needs an event of its keyword, any other item none), among those
that
fire at most ``fa_target`` false alarms per hour on real dialogue without keywords of the **dev speakers** of the
training sources (when real_dev is there; ``speechdl.tasks.kws.real_words.TRAIN_SOURCES``; their train speakers'
dialogue may be training negatives). Test voices, test sources and their dialogue never take part.

Example:
    >>> best_threshold({0.3: 0.80, 0.5: 0.85, 0.7: 0.85})
    0.5
    >>> best_threshold({0.3: 0.80, 0.5: 0.85, 0.7: 0.82}, fa={0.3: 9.0, 0.5: 6.0, 0.7: 1.5}, fa_target=3.0)
    0.7
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from speechdl.paths import expand
from speechdl.pretrained.export import load_run, save_run_bundle
from speechdl.tasks.kws.vocab import LABELS

GRID = (*(round(x, 2) for x in np.arange(0.2, 0.96, 0.05)), 0.97, 0.99)
FA_TARGET = 10.0        # false alarms per hour on keyword-free dialogue
DIALOGUE_MINUTES = 20.0


def best_threshold(acc: dict[float, float], fa: dict[float, float] | None = None,
                   fa_target: float = FA_TARGET) -> float:
    """The lowest threshold of the best accuracy (ties: the lower, i.e. the more sensitive) among those within
    the false-alarm budget ``fa`` (per hour; without ``fa`` all; none within it: the strictest threshold)."""
    ok = {t: a for t, a in acc.items() if fa is None or fa.get(t, 0.0) <= fa_target}
    if not ok:
        return max(acc)
    top = max(ok.values())
    return min(t for t, a in ok.items() if a >= top)


def dialogue_false_alarms(model: Any, cfg: Any, wave: np.ndarray, grid: tuple[float, ...] = GRID) -> dict[float, float]:
    """False alarms per hour of each threshold of ``grid`` on keyword-free speech ``wave`` (one detection pass)."""
    from speechdl.tasks.kws.detect import detect, events_from, window_hop

    if not len(wave):
        return {}
    post = detect(model, cfg, wave)
    hours = len(wave) / cfg.sample_rate / 3600
    hop = window_hop(model, cfg)
    return {t: len(events_from(post, hop, t)) / hours for t in grid}


def dev_accuracy(model: Any, cfg: Any, ds: Any, grid: tuple[float, ...] = GRID) -> dict[float, float]:
    """Share of the items of ``ds`` whose events are right at each threshold of ``grid`` (one detection pass
    each): a keyword item needs an event of its keyword, any other item none."""
    from speechdl.tasks.kws.detect import detect, events_from, window_hop
    from speechdl.tasks.kws.vocab import KEYWORDS

    hop = window_hop(model, cfg)
    posts, truth = [], []
    for k in range(len(ds)):
        wave, y = ds.wave(k)
        posts.append(detect(model, cfg, wave))
        truth.append(LABELS[y])

    def right(post: np.ndarray, label: str, t: float) -> bool:
        names = {e["keyword"] for e in events_from(post, hop, t)}
        return names == {label} if label in KEYWORDS else not names

    return {t: float(np.mean([right(p, y, t) for p, y in zip(posts, truth)])) for t in grid}


def negative_embeddings(model: Any, cfg: Any, data: dict[str, Any], count: int = 1500) -> np.ndarray:
    """``(count, D)`` float16 embeddings (:class:`~speechdl.tasks.kws.custom.Encoder`) of training items that
    are not keywords: ``_unknown_`` words under training conditions and ``_silence_`` (noise only) items;
    custom keywords are enrolled against them."""
    import torch

    from speechdl.tasks.kws.custom import Encoder
    from speechdl.tasks.kws.data import KwsWords
    from speechdl.tasks.kws.vocab import KEYWORDS

    kw = {k: v for k, v in data.items() if k not in ("manifests", "split", "train", "unknown_share")}
    kw["window"] = 1.0                    # custom keywords embed 1 s windows (custom.Encoder), whatever the context
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
    fa: dict[float, float] = {}
    real_dev = Path(expand("${SPEECHDL_DATA}/real_dev"))
    if (real_dev / "manifest.jsonl").is_file():
        from speechdl.tasks.kws.real_words import TRAIN_SOURCES, negative_dialogue

        fa = dialogue_false_alarms(run.model, cfg, negative_dialogue(real_dev, DIALOGUE_MINUTES, TRAIN_SOURCES,
                                                                      split="dev"))
    thr = best_threshold(acc, fa or None)
    import json

    from speechdl.paths import work_root

    # the bundle names its training data by the data root, never by this machine's folders
    root = str(work_root().resolve()) + "/"
    run.config["data"] = json.loads(json.dumps(run.config["data"]).replace(root, "${SPEECHDL_WORK}/"))
    with tempfile.TemporaryDirectory() as tmp:
        neg = Path(tmp) / "negatives.npy"
        np.save(neg, negative_embeddings(run.model, cfg, data))
        return save_run_bundle(run, out, task="kws", frontend=cfg.to_dict(),
                               command=f"speechdl kws export {run.path} --bundle {out}",
                               metrics={"dev_event_accuracy": round(acc[thr], 4), "dev_items": len(dev),
                                        "dev_dialogue_fa_per_hour": round(fa[thr], 2) if fa else None},
                               thresholds={"keyword": thr}, extra={"labels": list(LABELS)},
                               files={"negatives.npy": neg})

"""Accuracy of a keyword classifier (or an anchor) on a word set under a named acoustic condition.

Conditions (:func:`condition`): ``clean`` (the clip as recorded, level varied), ``<family>@<snr>`` (noise of
one family at that SNR, e.g. ``music@10``: real bank files and generators of the family, the bank's
**eval** half of the files) and ``<family>-only`` (the noise alone: the right answer is ``_silence_``).
Every item's draw is fixed by its index (``KwsWords(train=False)``), so every system hears the same audio.

Metrics (:func:`report`): ``accuracy`` over all items, ``keyword_accuracy`` over the keyword items (the 20
commands and digits), ``unknown_accuracy`` / ``silence_accuracy`` (items of those labels answered right),
``false_keyword`` (share of non-keyword items answered with a keyword) and the most frequent confusions.

Example:
    >>> import numpy as np
    >>> r = report(np.array([0, 1, 21, 3]), np.array([0, 2, 21, 21]))
    >>> r["accuracy"], r["keyword_accuracy"], r["false_keyword"], r["confusions"][0]
    (0.5, 0.5, 0.5, ['up', 'no', 1])
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from speechdl.tasks.kws.data import KwsWords
from speechdl.tasks.kws.vocab import KEYWORDS, LABELS, SILENCE, UNKNOWN

QUIET = {"p_noise": 0.0, "p_noise_only": 0.0, "p_reverb": 0.0, "p_channel": 0.0, "level_db": [-30.0, -6.0],
         "families": ["stationary"]}


def condition(name: str, noise_dirs: Sequence[str] = ()) -> dict[str, Any]:
    """The ``augment`` dict of a test condition name (``clean``, ``music@10``, ``music-only``)."""
    if name == "clean":
        return dict(QUIET)
    if name.endswith("-only"):
        fam = name[: -len("-only")]
        return {**QUIET, "p_noise_only": 1.0, "families": [fam], "noise_dirs": list(noise_dirs)}
    fam, _, snr = name.partition("@")
    return {**QUIET, "p_noise": 1.0, "snr_range": [float(snr), float(snr)], "families": [fam],
            "noise_dirs": list(noise_dirs)}


def test_set(manifests: str | Sequence[str], cond: str, noise_dirs: Sequence[str] = (), seed: int = 1,
             frontend: dict | None = None, window: float = 1.0) -> KwsWords:
    """The fixed items of ``manifests`` under ``cond`` (no speed change or shift: the word is centred) in
    windows of ``window`` s (a model's :func:`~speechdl.tasks.kws.columns.window_seconds`: the same items,
    labels and conditions with more context around the word)."""
    return KwsWords(manifests, frontend=frontend, augment=condition(cond, noise_dirs), speed=(1.0, 1.0),
                    shift=0.0, train=False, seed=seed, window=window)


def model_predict(model: torch.nn.Module, ds: KwsWords, batch: int = 64) -> np.ndarray:
    """Class indices ``(N,)`` of a ``(B, T, F) -> (B, C)`` classifier over every item of ``ds``."""
    preds = []
    with torch.no_grad():
        for s in range(0, len(ds), batch):
            xs = torch.stack([ds[k]["x"] for k in range(s, min(len(ds), s + batch))])
            preds.append(model(xs).argmax(-1).numpy())
    return np.concatenate(preds) if preds else np.zeros(0, int)


def anchor_predict(system: Callable[[list[np.ndarray]], list[str]], ds: KwsWords) -> np.ndarray:
    """Class indices of an anchor that maps waveforms to label names."""
    waves = [ds.wave(k)[0] for k in range(len(ds))]
    return np.array([LABELS.index(lab) for lab in system(waves)], int)


def targets(ds: KwsWords) -> np.ndarray:
    """True class indices ``(N,)`` of ``ds`` (its fixed draws: a noise-only item is ``_silence_``)."""
    return np.array([ds.wave(k)[1] for k in range(len(ds))], int)


def report(pred: np.ndarray, true: np.ndarray, labels: Sequence[str] = LABELS, top: int = 5) -> dict[str, Any]:
    """Accuracy figures of predictions ``pred`` against ``true`` (class indices ``(N,)``)."""
    pred, true = np.asarray(pred), np.asarray(true)
    kw = np.isin(true, [labels.index(k) for k in KEYWORDS if k in labels])
    is_kw_pred = np.isin(pred, [labels.index(k) for k in KEYWORDS if k in labels])

    def share(mask: np.ndarray, ok: np.ndarray) -> float | None:
        return round(float(ok[mask].mean()), 4) if mask.any() else None

    right = pred == true
    conf = Counter((labels[t], labels[p]) for t, p in zip(true, pred) if t != p)
    return {"items": int(len(true)), "accuracy": share(np.ones_like(right), right),
            "keyword_accuracy": share(kw, right),
            "unknown_accuracy": share(true == labels.index(UNKNOWN), right) if UNKNOWN in labels else None,
            "silence_accuracy": share(true == labels.index(SILENCE), right) if SILENCE in labels else None,
            "false_keyword": share(~kw, is_kw_pred),
            "confusions": [[a, b, n] for (a, b), n in conf.most_common(top)]}

"""Plots of detection results: ROC and DET side by side, several systems per figure, PNG files.

A *system* is ``(scores, labels)`` or ``(scores, labels, mask)`` as accepted by
:mod:`speechdl.metrics.detection`. A system whose scores are all 0/1 (hard decisions, e.g. WebRTC
VAD) has a single operating point and is drawn as a marker, not a curve. The DET panel uses
normal-deviate (probit) axes labelled in percent; its diagonal is the EER line.

Example:
    >>> import numpy as np, tempfile, os
    >>> rng = np.random.default_rng(0); y = rng.random(500) < 0.4
    >>> systems = {"good": (y + rng.normal(0, .5, 500), y), "hard": (y ^ (rng.random(500) < .1), y)}
    >>> path = plot_roc_det(systems, os.path.join(tempfile.mkdtemp(), "roc_det.png"))
    >>> path.stat().st_size > 1000
    True
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from speechdl.audio import atomic_write
from speechdl.metrics.detection import det_curve, eer, flatten, is_binary, normal_deviate, roc_auc, roc_curve

System = tuple[Any, ...]  # (scores, labels) or (scores, labels, mask)
CLASSES = ("speech frames", "non-speech frames")   # (positives, negatives) on the ROC axes
DET_TICKS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 0.9, 0.95, 0.99)


def _pct(p: float) -> str:
    v = 100 * p
    return f"{v:g}"


def _draw_row(ax_roc: Any, ax_det: Any, systems: Mapping[str, System], title: str | None,
              det_range: tuple[float, float], classes: tuple[str, str] = CLASSES) -> None:
    from matplotlib import colormaps

    lo, hi = det_range
    for i, (name, sys_) in enumerate(systems.items()):
        s, y, _ = flatten(*sys_[:2], mask=sys_[2] if len(sys_) > 2 else None)
        color = f"C{i % 10}" if len(systems) <= 10 else colormaps["tab20"](i % 20)  # 11+ systems: no repeats
        if not (y.any() and (~y).any()):
            continue
        if is_binary(s):
            fa = float(((s >= 0.5) & ~y).sum() / (~y).sum())
            miss = float(((s < 0.5) & y).sum() / y.sum())
            label = f"{name} (FA {100 * fa:.1f} %, miss {100 * miss:.1f} %)"
            ax_roc.plot([fa], [1 - miss], "o", color=color, label=label)
            fa_c, miss_c = np.clip([fa, miss], lo, hi)  # a point at 0 % sits on the axis edge
            ax_det.plot(normal_deviate(fa_c), normal_deviate(miss_c), "o", color=color, clip_on=False)
            continue
        fpr, tpr, _ = roc_curve(s, y)
        fa, miss, _ = det_curve(s, y)
        label = f"{name} (AUC {roc_auc(s, y):.4f}, EER {100 * eer(s, y)[0]:.2f} %)"
        ax_roc.plot(fpr, tpr, color=color, lw=1.5, label=label)
        ax_det.plot(normal_deviate(fa), normal_deviate(miss), color=color, lw=1.5)
    ax_roc.plot([0, 1], [0, 1], ":", color="0.6", lw=1)
    ax_roc.set(xlim=(0, 1), ylim=(0, 1.01), xlabel=f"false-alarm rate ({classes[1]})",
               ylabel=f"detection rate ({classes[0]})", title=f"ROC{' — ' + title if title else ''}")
    ax_roc.legend(loc="lower right", fontsize=7)
    ax_roc.grid(alpha=0.3)
    ticks = [t for t in DET_TICKS if lo <= t <= hi]
    lim = (normal_deviate(lo), normal_deviate(hi))
    ax_det.plot(lim, lim, ":", color="0.6", lw=1)  # EER line
    ax_det.set(xlim=lim, ylim=lim, xlabel="false-alarm probability (%)", ylabel="miss probability (%)",
               title=f"DET{' — ' + title if title else ''}")
    ax_det.set_xticks(normal_deviate(ticks), [_pct(t) for t in ticks])
    ax_det.set_yticks(normal_deviate(ticks), [_pct(t) for t in ticks])
    ax_det.grid(alpha=0.3)


def plot_roc_det_grid(
    sets: Mapping[str, Mapping[str, System]],
    path: str | os.PathLike,
    det_range: tuple[float, float] = (0.001, 0.6),
    dpi: int = 110,
    classes: tuple[str, str] = CLASSES,
) -> Path:
    """One row per evaluation set (``{set name: {system name: system}}``): ROC left, DET right.

    ``classes`` names the positives and negatives on the ROC axes (VAD: speech / non-speech frames;
    speaker verification: target / non-target trials). Written atomically as PNG to ``path``; returns
    the path.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    rows = max(1, len(sets))
    fig, axes = plt.subplots(rows, 2, figsize=(12, 5.2 * rows), squeeze=False)
    for (title, systems), (ax_roc, ax_det) in zip(sets.items(), axes):
        _draw_row(ax_roc, ax_det, systems, title or None, det_range, classes)
    fig.tight_layout()
    try:
        with atomic_write(path, suffix=".png") as tmp:
            fig.savefig(tmp, dpi=dpi, format="png")
    finally:
        plt.close(fig)
    return Path(path)


def plot_roc_det(
    systems: Mapping[str, System],
    path: str | os.PathLike,
    title: str | None = None,
    det_range: tuple[float, float] = (0.001, 0.6),
    classes: tuple[str, str] = CLASSES,
) -> Path:
    """ROC and DET side by side for several ``systems`` (``{name: (scores, labels[, mask])}``)."""
    return plot_roc_det_grid({title or "": systems}, path, det_range, classes=classes)


def operating_points(systems: Mapping[str, System]) -> dict[str, np.ndarray]:
    """``{name: (fa, miss)}`` of the hard-decision systems (scores all 0/1): what the markers show."""
    out = {}
    for name, sys_ in systems.items():
        s, y, _ = flatten(*sys_[:2], mask=sys_[2] if len(sys_) > 2 else None)
        if is_binary(s) and y.any() and (~y).any():
            out[name] = np.array([((s >= 0.5) & ~y).sum() / (~y).sum(), ((s < 0.5) & y).sum() / y.sum()])
    return out

"""PNG of a VAD decision: waveform on top, speech probability + threshold below, segments shaded.

Long files are drawn from a min/max envelope (at most ``max_points`` columns), so an hour of audio
plots in bounded memory when the waveform is streamed in blocks.

Example:
    >>> import numpy as np, tempfile, os
    >>> out = os.path.join(tempfile.mkdtemp(), "vad.png")
    >>> plot_vad(out, np.zeros(16000, np.float32), 16000, np.full(101, 0.2), 0.01, [{"start": 0.2, "end": 0.5}])
    ... # doctest: +ELLIPSIS
    '...vad.png'
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np


def envelope(blocks: Iterable[np.ndarray], total: int, max_points: int = 4000) -> tuple[np.ndarray, np.ndarray]:
    """Min and max of ``total`` samples (given in blocks) over ``<= max_points`` equal bins: ``(lo, hi)``."""
    per = max(1, -(-total // max_points))
    lo, hi, carry = [], [], np.zeros(0, np.float32)
    for b in blocks:
        carry = np.concatenate([carry, np.asarray(b, np.float32)])
        n = len(carry) // per * per
        if n:
            view = carry[:n].reshape(-1, per)
            lo.append(view.min(1))
            hi.append(view.max(1))
            carry = carry[n:]
    if len(carry):
        lo.append(carry.min(keepdims=True))
        hi.append(carry.max(keepdims=True))
    if not lo:
        return np.zeros(1), np.zeros(1)
    return np.concatenate(lo), np.concatenate(hi)


def plot_vad(out: str | os.PathLike, wave: np.ndarray | Iterable[np.ndarray], sample_rate: int,
             probs: np.ndarray, frame_hop: float, segments: list[dict[str, float]],
             threshold: float = 0.5, offset: float | None = None, title: str = "") -> str:
    """Write the figure to ``out`` (PNG) and return its path.

    Args:
        wave: ``(samples,)`` waveform, or an iterable of blocks (streamed). sample_rate: its rate (Hz).
        probs: ``(frames,)`` speech probabilities, frame ``t`` at ``t * frame_hop`` s.
        segments: ``[{start, end}]`` (s), shaded on both panels.
        threshold / offset: onset (and offset) thresholds drawn as horizontal lines.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from speechdl.audio import atomic_write

    blocks = [wave] if isinstance(wave, np.ndarray) else wave
    blocks = list(blocks) if not isinstance(blocks, list) else blocks
    total = int(sum(len(b) for b in blocks))
    lo, hi = envelope(blocks, total)
    t_env = np.linspace(0, total / sample_rate, len(lo))
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(12, 4.5), sharex=True, height_ratios=[1, 1])
    ax1.fill_between(t_env, lo, hi, color="0.3", lw=0)
    ax1.set_ylabel("waveform")
    t = np.arange(len(probs)) * frame_hop
    ax2.plot(t, probs, color="C0", lw=1, label="P(speech)")
    ax2.axhline(threshold, color="C3", ls="--", lw=1, label=f"onset {threshold:g}")
    if offset is not None and offset != threshold:
        ax2.axhline(offset, color="C1", ls=":", lw=1, label=f"offset {offset:g}")
    for ax in (ax1, ax2):
        for seg in segments:
            ax.axvspan(seg["start"], seg["end"], color="C2", alpha=0.25, lw=0)
    ax2.set_ylim(-0.02, 1.02)
    ax2.set_ylabel("probability")
    ax2.set_xlabel("time (s)")
    ax2.legend(loc="upper right", fontsize=8)
    ax1.set_title(title or f"{len(segments)} speech segment(s)")
    fig.tight_layout()
    try:
        with atomic_write(out, ".png") as tmp:
            fig.savefig(tmp, dpi=100, format="png")
    finally:
        plt.close(fig)
    return str(Path(out))

"""Keyword detection over audio of any length: 1 s windows every 80 or 100 ms, posteriors, smoothed events.

The signal gets silence before and after (half a window, so a word at the very start or end is seen centred in
some window), features are made incrementally (:class:`~speechdl.features.incremental.FeaturePipeline`), and the
windows are classified in one of two ways. A 2-D ResNet (the shipped ``kws``) runs **column by column**
(:class:`~speechdl.tasks.kws.columns.ColumnStream`): each convolution once over the stream, a window being the mean
of the 13 last-stage columns that a 1 s window has, one window every 8 frames (80 ms; about 16 µs per 10 ms
instead of 230). Other networks classify the last ``window`` frames every ``hop`` frames (100 ms). :class:`Detector`
is the one engine: offline runs push the signal in 10 s blocks, streams push whatever chunks arrive, so streaming
equals offline by construction; :func:`window_hop` is the seconds between windows. Events come from the posteriors
(:func:`events_from`): each window's keyword posteriors averaged over the last ``smooth`` windows; a run of windows
whose best keyword is the same and scores at least ``threshold`` is one event (keyword, peak time, start / end
of the run, peak score).

Example:
    >>> import numpy as np
    >>> P = np.zeros((6, 22)); P[:, 21] = 1.0; P[2:4, 0], P[2:4, 21] = 0.9, 0.1
    >>> [(e["keyword"], e["time"]) for e in events_from(P, hop_s=0.1, threshold=0.5, smooth=1)]
    [('yes', 0.2)]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from speechdl.features import FrontendConfig
from speechdl.tasks.kws.vocab import KEYWORDS, LABELS

PAD = 0.5          # s of silence around the signal for a 1 s window (Detector derives its own padding)
WINDOW = 101       # frames per window (1 s at a 10 ms hop)
HOP = 10           # frames between windows (100 ms) when windows are classified one by one
BLOCK = 10.0       # s per offline block


def use_columns(model: torch.nn.Module, columns: bool | None = None) -> bool:
    """Whether :class:`Detector` runs ``model`` column by column (``None``: whenever it can)."""
    from speechdl.tasks.kws.columns import supports

    return supports(model) if columns is None else bool(columns)


def window_hop(model: torch.nn.Module, cfg: FrontendConfig, hop: int = HOP, columns: bool | None = None) -> float:
    """Seconds between the windows that :class:`Detector` gives for ``model`` (window ``w`` is centred at
    ``w * window_hop`` s of the input)."""
    from speechdl.tasks.kws.columns import column_stride

    frames = column_stride(model) if use_columns(model, columns) else hop
    return frames * cfg.hop_length / cfg.sample_rate


def smoothed(post: np.ndarray, smooth: int) -> np.ndarray:
    """Each row of ``post`` ``(W, C)`` averaged with up to ``smooth - 1`` rows before it (causal)."""
    csum = np.cumsum(np.vstack([np.zeros((1, post.shape[1])), post]), 0)
    lo = np.maximum(np.arange(len(post)) + 1 - smooth, 0)
    return (csum[1:] - csum[lo]) / (np.arange(len(post)) + 1 - lo)[:, None]


def events_from(post: np.ndarray, hop_s: float, threshold: float | Sequence[float], smooth: int = 3,
                labels: Sequence[str] = LABELS, t0: float = 0.0,
                keywords: Sequence[str] = KEYWORDS) -> list[dict[str, Any]]:
    """Keyword events of window scores ``post`` ``(W, C)``; window ``w`` is centred at ``t0 + w * hop_s``.

    ``keywords``: the labels that make events; ``threshold``: one for all, or one per label of ``labels``."""
    kw = [labels.index(k) for k in keywords if k in labels]
    if not len(post) or not kw:
        return []
    sm = smoothed(post, smooth)
    thr = np.broadcast_to(np.asarray(threshold, np.float64), (len(labels),))
    margin = sm[:, kw] - thr[kw]                    # how far each keyword is above its own threshold
    k_best = np.asarray(kw)[margin.argmax(1)]
    s_best = sm[np.arange(len(sm)), k_best]
    above = margin.max(1) >= 0
    events: list[dict[str, Any]] = []
    w = 0
    while w < len(sm):
        if not above[w]:
            w += 1
            continue
        e = w
        while e + 1 < len(sm) and above[e + 1] and k_best[e + 1] == k_best[w]:
            e += 1
        peak = w + int(np.argmax(s_best[w:e + 1]))
        events.append({"keyword": labels[k_best[w]], "time": round(t0 + peak * hop_s, 3),
                       "start": round(t0 + w * hop_s, 3), "end": round(t0 + e * hop_s, 3),
                       "score": round(float(s_best[peak]), 4)})
        w = e + 1
    return events


class Detector:
    """Window posteriors of a keyword classifier over pushed audio (state inside; one per stream).

    Args:
        model: ``(B, window, F) -> (B, C)`` logits, eval mode.
        cfg: the bundle's front-end (10 ms hop expected).
        window, hop: frames per window and between windows (``hop`` only where windows are classified
            one by one; column mode moves by the network's stride).
        engine: the front-end's (``"numpy"`` per hop for streams; ``"torch"`` for large offline blocks: the
            same features to float32 rounding).
        columns: column mode (``None``: whenever the network allows; ``False``: windows one by one).
    ``push(samples) -> (W, C)`` posteriors of the windows completed; ``finish() -> (W, C)`` the rest
    (the trailing silence included). Window ``w`` (counted from the first) is centred at ``w * hop_s`` s
    of the input signal: the first window's centre is the input's first sample.
    """

    def __init__(self, model: torch.nn.Module, cfg: FrontendConfig, window: int = WINDOW, hop: int = HOP,
                 engine: str = "numpy", columns: bool | None = None) -> None:
        from speechdl.features.incremental import FeaturePipeline
        from speechdl.tasks.kws.columns import ColumnStream, context_frames, window_columns

        self.model, self.cfg, self.window, self.hop = model, cfg, int(window), int(hop)
        self.features = FeaturePipeline(cfg, engine=engine)
        self.frames = np.zeros((0, cfg.feature_dim), np.float32)
        self.seen = 0                   # frames produced so far
        self.columns = ColumnStream(model) if use_columns(model, columns) else None
        self.window += 2 * context_frames(model)                    # a window with context: 149 frames
        pad_frames = (self.window - 1) // 2                         # window 0 centred on the input's start
        if self.columns is not None:
            self.hop = self.columns.stride
            self.n_cols = window_columns(model, int(window))
            # window 0 centred on the input's start; `skip` windows before it cover the receptive field
            # that reaches back over the stream's start (the convolutions' zero padding)
            self.skip = -(-self.columns.lookahead // self.columns.stride)
            pad_frames = self.columns.stride * (self.n_cols // 2 + self.skip)
            self.cols = torch.zeros(0, model.out_channels)
        self.pad = pad_frames * cfg.hop_length
        self.tail = self.pad + (self.columns.lookahead * cfg.hop_length if self.columns is not None else 0)
        self.done = False
        first = self._take(self.features.push(np.zeros(self.pad, np.float32)))
        assert not len(first)

    @property
    def hop_s(self) -> float:
        return self.hop * self.cfg.hop_length / self.cfg.sample_rate

    def _take(self, new: np.ndarray, final: bool = False) -> np.ndarray:
        """Append frames; classify every window that ends in them -> posteriors ``(W, C)``."""
        if self.columns is not None:
            return self._take_columns(new, final)
        ends = []
        for i in range(len(new)):
            t = self.seen + i                      # frame index of new[i]
            if t >= self.window - 1 and (t - (self.window - 1)) % self.hop == 0:
                ends.append(i)
        buf = np.concatenate([self.frames, new]) if len(new) else self.frames
        base = self.seen - len(self.frames)        # frame index of buf[0]
        wins = [buf[self.seen + i - base - self.window + 1: self.seen + i - base + 1] for i in ends]
        self.seen += len(new)
        self.frames = buf[-(self.window - 1):] if len(buf) >= self.window - 1 else buf
        if not wins:
            return np.zeros((0, len(LABELS)), np.float32)
        with torch.no_grad():
            logits = self.model(torch.from_numpy(np.ascontiguousarray(np.stack(wins))))
        return torch.softmax(logits.float(), -1).numpy()

    def _take_columns(self, new: np.ndarray, final: bool = False) -> np.ndarray:
        """Column mode: new frames -> the windows (means of ``n_cols`` last-stage columns) they complete.

        Frames wait until a window hop's worth (8) has come (or the end): small convolutions cost per call, so
        10 ms pushes would cost several times more per frame than 80 ms ones (the columns are the same)."""
        self.seen += len(new)
        self.frames = np.concatenate([self.frames, new]) if len(self.frames) else new
        if not len(self.frames) or (len(self.frames) < self.columns.stride and not final):
            return np.zeros((0, len(LABELS)), np.float32)
        new, self.frames = self.frames, np.zeros((0, self.cfg.feature_dim), np.float32)
        cols = torch.cat([self.cols, self.columns.push(torch.from_numpy(np.ascontiguousarray(new)))])
        n = self.n_cols
        if len(cols) < n:
            self.cols = cols
            return np.zeros((0, len(LABELS)), np.float32)
        csum = torch.cat([cols.new_zeros(1, cols.shape[1]), torch.cumsum(cols, 0)])
        pooled = (csum[n:] - csum[:-n]) / n
        self.cols = cols[len(cols) - n + 1:]
        if self.skip:
            drop = min(self.skip, len(pooled))
            pooled, self.skip = pooled[drop:], self.skip - drop
        with torch.no_grad():
            return torch.softmax(self.columns.head(pooled).float(), -1).numpy()

    def push(self, samples: np.ndarray) -> np.ndarray:
        """Add mono float32 samples at the model rate -> posteriors of the windows they complete."""
        return self._take(self.features.push(np.asarray(samples, np.float32).reshape(-1)))

    def finish(self) -> np.ndarray:
        """The trailing silence and the last frames -> the remaining windows' posteriors."""
        if self.done:
            return np.zeros((0, len(LABELS)), np.float32)
        self.done = True
        a = self._take(self.features.push(np.zeros(self.tail, np.float32)))
        return np.concatenate([a, self._take(self.features.flush(), final=True)])


def detect(model: torch.nn.Module, cfg: FrontendConfig, wave: np.ndarray, columns: bool | None = None) -> np.ndarray:
    """Posteriors ``(W, C)`` of every window of ``wave`` (offline: 10 s blocks through :class:`Detector`)."""
    d = Detector(model, cfg, engine="torch", columns=columns)
    step = int(BLOCK * cfg.sample_rate)
    parts = [d.push(wave[i:i + step]) for i in range(0, len(wave), step)]
    return np.concatenate([*parts, d.finish()])

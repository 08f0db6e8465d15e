"""Post-processing of VAD frame posteriors: smoothing, hysteresis, minimum durations, padding, segments.

One incremental state machine (:class:`SegmentTracker`) serves both offline and streaming use, so a
file processed in one go and the same audio pushed in pieces give identical segments.

Pipeline per frame ``t`` (frame ``t`` stands for the time span ``[t * hop, (t + 1) * hop)`` s):

1. **Smoothing**: centred median or moving average over ``smooth_frames`` (odd) posteriors, the edges
   repeated; it needs ``smooth_frames // 2`` frames of look-ahead.
2. **Hysteresis**: silence -> speech when ``p >= onset``; speech -> silence when ``p < offset``
   (``offset <= onset``), so a posterior hovering around one threshold does not chatter.
3. **Merging**: a silence gap shorter than ``max(min_silence, 2 * pad)`` between two speech runs is
   filled (padded segments never overlap).
4. **Dropping**: a merged segment shorter than ``min_speech`` is discarded.
5. **Padding**: ``pad`` seconds are added on both sides (clipped to ``[0, duration]``).

Events (streaming): ``{"event": "start", "time": s}`` once a segment is confirmed (it has lasted
``min_speech``), ``{"event": "end", "time": e, "start": s}`` once ``max(min_silence, 2 * pad)`` of
silence followed it (or at the end of the audio).

Example:
    >>> import numpy as np
    >>> p = np.array([0.1] * 20 + [0.9] * 30 + [0.1] * 20)
    >>> segments(p, 0.01, PostConfig(smooth_frames=1, min_speech=0.1, min_silence=0.1, pad=0.0))
    [{'start': 0.2, 'end': 0.5}]
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np

from speechdl.errors import ConfigError

Event = dict[str, Any]
PIECE = 8192  # frames per push in the offline functions (same result as one push: the tracker is incremental)


@dataclass(frozen=True)
class PostConfig:
    """Post-processing settings (seconds for durations, probabilities for thresholds).

    ``offset=None`` means ``onset - 0.15`` (clipped at 0.01).
    """

    onset: float = 0.5
    offset: float | None = None
    smoothing: str = "median"  # median | mean | none
    smooth_frames: int = 5
    min_speech: float = 0.15
    min_silence: float = 0.2
    pad: float = 0.03

    def __post_init__(self) -> None:
        if not 0.0 < self.onset < 1.0:
            raise ConfigError("vad post-processing", f"onset threshold {self.onset} is outside (0, 1)",
                              "use e.g. --threshold 0.5")
        if self.offset is not None and not 0.0 <= self.offset <= self.onset:
            raise ConfigError("vad post-processing", f"offset threshold {self.offset} must lie in [0, onset]",
                              f"use a value <= {self.onset}")
        if self.smoothing not in ("median", "mean", "none"):
            raise ConfigError("vad post-processing", f"smoothing={self.smoothing!r}", "use median, mean or none")
        if self.smooth_frames < 1 or self.smooth_frames % 2 == 0:
            raise ConfigError("vad post-processing", f"smooth_frames={self.smooth_frames}", "use an odd number >= 1")
        for name in ("min_speech", "min_silence", "pad"):
            if getattr(self, name) < 0:
                raise ConfigError("vad post-processing", f"{name} is negative", "use seconds >= 0")

    @property
    def offset_threshold(self) -> float:
        """The speech -> silence threshold actually used."""
        return max(0.01, self.onset - 0.15) if self.offset is None else self.offset

    @property
    def lookahead(self) -> int:
        """Frames of look-ahead needed by the smoothing."""
        return 0 if self.smoothing == "none" else self.smooth_frames // 2

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (JSON)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> PostConfig:
        """Build from a dict, ignoring ``None`` values; unknown keys raise ConfigError."""
        d = {k: v for k, v in (d or {}).items() if v is not None or k == "offset"}
        unknown = sorted(set(d) - {f.name for f in fields(cls)})
        if unknown:
            raise ConfigError("vad post-processing", f"unknown key(s) {', '.join(unknown)}",
                              f"valid: {', '.join(f.name for f in fields(cls))}")
        return cls(**d)


class Smoother:
    """Centred median / mean over ``width`` frames, fed in pieces; edges repeat the first/last value.

    ``push(p (n,))`` returns the smoothed values that became final; ``flush()`` the rest. The output
    sequence equals smoothing the whole input at once.
    """

    def __init__(self, kind: str = "median", width: int = 5) -> None:
        self.kind, self.half = kind, (width // 2 if kind != "none" else 0)
        self.buf: list[float] = []  # left context (half) + pending frames
        self.started = False

    def _emit(self, final: bool) -> np.ndarray:
        h = self.half
        buf = self.buf + [self.buf[-1]] * h if final and self.buf else self.buf
        n = len(buf) - 2 * h
        if n <= 0:
            return np.zeros(0)
        w = 2 * h + 1
        if n > 32:  # long pieces: vectorised
            win = np.lib.stride_tricks.sliding_window_view(np.asarray(buf), w)[:n]
            out = np.median(win, axis=1) if self.kind == "median" else win.mean(axis=1)
        elif self.kind == "median":  # a few frames per hop: plain Python is cheaper than numpy calls
            out = np.array([sorted(buf[i:i + w])[h] for i in range(n)])
        else:
            out = np.array([sum(buf[i:i + w]) / w for i in range(n)])
        self.buf = buf[n:]
        return out

    def push(self, p: np.ndarray) -> np.ndarray:
        """Add posteriors ``(n,)``; returns the smoothed posteriors that are final ``(m,)``."""
        if self.half == 0:
            return np.asarray(p, np.float64).reshape(-1)
        vals = np.asarray(p, np.float64).reshape(-1).tolist()
        if not vals:
            return np.zeros(0)
        if not self.started:
            self.started = True
            vals = [vals[0]] * self.half + vals
        self.buf += vals
        return self._emit(False)

    def flush(self) -> np.ndarray:
        """End of input: the remaining smoothed posteriors."""
        if self.half == 0 or not self.started:
            return np.zeros(0)
        return self._emit(True)


class SegmentTracker:
    """Incremental frames -> segments state machine (see the module docstring).

    Args:
        frame_hop: seconds per frame.
        cfg: :class:`PostConfig`.

    ``push(probs (n,))`` returns the events that became certain; ``flush()`` ends the audio.
    ``segments`` holds the finished segments ``[{start, end}]`` (s).
    """

    def __init__(self, frame_hop: float, cfg: PostConfig | None = None) -> None:
        self.cfg = cfg = cfg or PostConfig()
        self.hop = float(frame_hop)
        self.smoother = Smoother(cfg.smoothing, cfg.smooth_frames)
        self.min_speech = int(round(cfg.min_speech / self.hop))
        self.merge_gap = int(round(max(cfg.min_silence, 2 * cfg.pad) / self.hop))
        self.t = 0  # frames decided so far
        self.speaking = False
        self.pending: list[int] | None = None  # [start, end) frames of the segment being built
        self.confirmed = False  # "start" event sent for pending
        self.segments: list[dict[str, float]] = []

    def _time(self, frame: int) -> float:
        return round(frame * self.hop, 6)

    def _confirm(self, events: list[Event]) -> None:
        s, e = self.pending  # type: ignore[misc]
        if not self.confirmed and e - s >= self.min_speech:
            self.confirmed = True
            events.append({"event": "start", "time": round(max(0.0, s * self.hop - self.cfg.pad), 6)})

    def _finish(self, events: list[Event], total: int | None = None, duration: float | None = None) -> None:
        if self.pending is None:
            return
        s, e = self.pending
        if self.confirmed:
            end = e * self.hop + self.cfg.pad
            if total is not None:
                end = min(end, total * self.hop if duration is None else duration)
            seg = {"start": round(max(0.0, s * self.hop - self.cfg.pad), 6), "end": round(end, 6)}
            self.segments.append(seg)
            events.append({"event": "end", "time": seg["end"], "start": seg["start"]})
        self.pending, self.confirmed = None, False

    def _decide(self, probs: np.ndarray) -> list[Event]:
        events: list[Event] = []
        on, off = self.cfg.onset, self.cfg.offset_threshold
        for p in probs.tolist():
            t = self.t
            self.t += 1
            self.speaking = p >= on if not self.speaking else p >= off
            if self.speaking:
                if self.pending is None:
                    self.pending = [t, t + 1]
                else:  # a new run within merge_gap of the last one, or the current run going on
                    self.pending[1] = t + 1
                self._confirm(events)
            elif self.pending is not None and self.t - self.pending[1] >= self.merge_gap:
                self._finish(events)
        return events

    def push(self, probs: np.ndarray) -> list[Event]:
        """Add raw posteriors ``(n,)``; returns the ``start`` / ``end`` events now certain."""
        return self._decide(self.smoother.push(probs))

    def flush(self, duration: float | None = None) -> list[Event]:
        """End of audio (of ``duration`` s, if known): decide the remaining frames, close an open segment."""
        events = self._decide(self.smoother.flush())
        self.speaking = False
        self._finish(events, total=self.t, duration=duration)
        return events


def smooth(probs: np.ndarray, cfg: PostConfig) -> np.ndarray:
    """Smoothed posteriors ``(T,) -> (T,)`` (what the hysteresis sees)."""
    s = Smoother(cfg.smoothing, cfg.smooth_frames)
    probs = np.asarray(probs).reshape(-1)
    return np.concatenate([*(s.push(probs[i:i + PIECE]) for i in range(0, len(probs), PIECE)), s.flush()])


def segments(probs: np.ndarray, frame_hop: float, cfg: PostConfig | None = None,
             duration: float | None = None) -> list[dict[str, float]]:
    """Speech segments ``[{start, end}]`` (s) of posteriors ``(T,)`` spaced ``frame_hop`` s apart.

    Ends are clipped to ``duration`` (s) when given, else to ``T * frame_hop``.
    """
    tracker = SegmentTracker(frame_hop, cfg)
    probs = np.asarray(probs).reshape(-1)
    for i in range(0, len(probs), PIECE):  # pieces: the tracker's Python lists stay small on hour-long inputs
        tracker.push(probs[i:i + PIECE])
    tracker.flush(duration)
    return tracker.segments

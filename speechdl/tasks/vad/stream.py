"""Streaming VAD: audio chunks of any size in, frame probabilities and segment events out.

The per-hop path makes no torch call: the front-end (window, FFT, mel, log, DCT), the deltas /
stacking and the network (dense, or a unidirectional rnn/gru/lstm cell) run in numpy
(:func:`speechdl.tasks.vad.model.numpy_net`); per-call overhead dominates a 10 ms hop, and numpy
has far less of it than ``nn.Module`` calls (shared/PERF.md). Other models (``vad_crnn``) stream
through their torch ``forward_chunk``.

**Latency.** Frame ``t`` is centred on sample ``t * hop`` and needs ``n_fft // 2`` samples after
it (16 ms at 16 kHz, n_fft 512); deltas need ``delta_window`` more frames per order (MFCC39: 2 x 2
= 4 frames, 40 ms) and stacking ``+-k`` needs ``k`` frames. So a probability for frame ``t``
comes ``latency`` seconds after the audio of frame ``t`` arrived (MFCC39: 56 ms); segment events
add the smoothing half-window and the ``min_speech`` / silence confirmation. The emitted frames
are the same frames, in the same order, as the offline ones: nothing is shifted.

Example:
    >>> import numpy as np
    >>> from speechdl.features import FrontendConfig
    >>> pipe = FeaturePipeline(FrontendConfig.mfcc39())
    >>> a = pipe.push(np.zeros(1600, np.float32)); b = pipe.flush()
    >>> len(a) + len(b), a.shape[1], pipe.latency_frames
    (11, 39, 4)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from speechdl.errors import ConfigError
from speechdl.features import FeatureStream, Frontend, FrontendConfig, dct_matrix, make_window, mel_filterbank
from speechdl.features.stft import padded_window
from speechdl.tasks.vad.post import Event, PostConfig, SegmentTracker


class NumpyStatic:
    """Static features (log-Mel / MFCC / power) from pushed samples, in numpy: ``(n,) -> (frames, S)``.

    Equals :class:`speechdl.features.FeatureStream` (constant centring padding) to float32 rounding.
    """

    def __init__(self, cfg: FrontendConfig) -> None:
        if cfg.pad_mode != "constant" and cfg.center:
            raise ConfigError("frontend", "the numpy stream supports pad_mode=constant", "use TorchStatic")
        self.cfg = cfg
        self.window = padded_window(make_window(cfg.window, cfg.win_length), cfg.n_fft).numpy()
        fb = mel_filterbank(cfg.sample_rate, cfg.n_fft, cfg.n_mels, cfg.f_min, cfg.f_max,
                            cfg.mel_scale, cfg.mel_norm).numpy()
        rows = np.flatnonzero(fb.any(axis=1))
        self.lo, self.hi = (int(rows[0]), int(rows[-1]) + 1) if len(rows) else (0, 0)
        self.fb = np.ascontiguousarray(fb[self.lo:self.hi])
        self.dct = dct_matrix(cfg.n_mels, cfg.n_mfcc).numpy()
        self.log_scale = 10.0 / np.log(10.0) if cfg.log == "db" else 1.0
        self.buf = np.zeros(cfg.n_fft // 2 if cfg.center else 0, np.float32)
        self.last = np.float32(0.0)

    def _frames(self) -> np.ndarray:
        cfg = self.cfg
        n = len(self.buf)
        count = 0 if n < cfg.n_fft else 1 + (n - cfg.n_fft) // cfg.hop_length
        if count == 0:
            return np.zeros((0, cfg.static_dim), np.float32)
        frames = np.lib.stride_tricks.sliding_window_view(self.buf, cfg.n_fft)[::cfg.hop_length][:count]
        spec = np.fft.rfft(frames * self.window)
        power = spec.real * spec.real + spec.imag * spec.imag
        if cfg.power != 2.0:
            power = power ** (cfg.power / 2.0)
        self.buf = self.buf[count * cfg.hop_length:]
        if cfg.kind == "power":
            return power.astype(np.float32, copy=False)
        mel = power[:, self.lo:self.hi] @ self.fb
        out = np.log(np.maximum(mel, cfg.log_floor))
        if self.log_scale != 1.0:
            out *= self.log_scale
        return out @ self.dct if cfg.kind == "mfcc" else out

    def push(self, x: np.ndarray) -> np.ndarray:
        """Add mono float32 samples; returns the newly complete frames ``(t, static_dim)``."""
        x = np.asarray(x, np.float32).reshape(-1)
        if self.cfg.preemphasis and len(x):
            y = x.copy()
            y[1:] -= self.cfg.preemphasis * x[:-1]
            y[0] -= self.cfg.preemphasis * self.last
            self.last = x[-1]
            x = y
        self.buf = np.concatenate([self.buf, x])
        return self._frames()

    def flush(self) -> np.ndarray:
        """End of audio: the remaining frames (right centring padding added)."""
        if self.cfg.center:
            self.buf = np.concatenate([self.buf, np.zeros(self.cfg.n_fft // 2, np.float32)])
        return self._frames()


class TorchStatic:
    """:class:`FeatureStream` with numpy in and out (fast for large blocks; any padding mode)."""

    def __init__(self, cfg: FrontendConfig) -> None:
        self.stream = FeatureStream(Frontend(cfg.replace(cmvn="none", deltas=0, stack=0)))

    def push(self, x: np.ndarray) -> np.ndarray:
        return self.stream.push(x)[0].numpy()

    def flush(self) -> np.ndarray:
        return self.stream.flush()[0].numpy()


class ContextStage:
    """A sequence stage needing ``ctx`` frames on each side, edges repeated (as the offline stages do).

    ``kind='delta'``: output ``[x, delta(x[:, -dim:])]`` (regression over +-ctx frames);
    ``kind='stack'``: output frames ``t-ctx .. t+ctx`` side by side. ``push((n, F)) -> (m, F')``.
    """

    def __init__(self, kind: str, ctx: int, in_dim: int, dim: int = 0) -> None:
        self.kind, self.ctx, self.dim = kind, ctx, dim
        self.out_dim = in_dim + dim if kind == "delta" else in_dim * (2 * ctx + 1)
        self.denom = np.float32(2 * sum(n * n for n in range(1, ctx + 1)))
        self.buf: np.ndarray | None = None

    def _run(self, buf: np.ndarray) -> np.ndarray:
        c = self.ctx
        m = len(buf) - 2 * c
        if m <= 0:
            self.buf = buf
            return np.zeros((0, self.out_dim), np.float32)
        if self.kind == "stack":
            out = np.lib.stride_tricks.sliding_window_view(buf, 2 * c + 1, axis=0)[:m]  # (m, F, 2c+1)
            out = out.transpose(0, 2, 1).reshape(m, -1)
        else:
            p = buf[:, -self.dim:]
            d = p[c + 1: c + 1 + m] - p[c - 1: c - 1 + m]
            for n in range(2, c + 1):
                d += (p[c + n: c + n + m] - p[c - n: c - n + m]) * np.float32(n)
            d /= self.denom
            out = np.concatenate([buf[c: c + m], d], axis=1)
        self.buf = buf[m:]
        return out

    def push(self, x: np.ndarray) -> np.ndarray:
        """Add frames ``(n, F)``; returns the frames whose context is complete."""
        if not len(x):
            return np.zeros((0, self.out_dim), np.float32)
        if self.buf is None:
            self.buf = np.repeat(x[:1], self.ctx, axis=0)
        return self._run(np.concatenate([self.buf, x]))

    def flush(self) -> np.ndarray:
        """End of input: the remaining frames (last frame repeated)."""
        if self.buf is None or not len(self.buf):
            return np.zeros((0, self.out_dim), np.float32)
        return self._run(np.concatenate([self.buf, np.repeat(self.buf[-1:], self.ctx, axis=0)]))


class FeaturePipeline:
    """Samples -> final features ``(t, cfg.feature_dim)``, incrementally, equal to ``Frontend(cfg)``.

    ``engine='numpy'`` (per-hop streaming) or ``'torch'`` (large blocks: the torch FFT front-end).
    CMVN must be ``none`` (normalisation lives in the model, measured on the training data).
    """

    def __init__(self, cfg: FrontendConfig, engine: str = "numpy") -> None:
        if cfg.cmvn != "none":
            raise ConfigError("frontend", f"cmvn={cfg.cmvn!r} cannot run blockwise or stream",
                              "use cmvn: none (the vad task normalises inside the model)")
        self.cfg = cfg
        numpy_ok = engine == "numpy" and (cfg.pad_mode == "constant" or not cfg.center)
        self.static = NumpyStatic(cfg) if numpy_ok else TorchStatic(cfg)
        self.stages: list[ContextStage] = []
        dim = cfg.static_dim
        for _ in range(cfg.deltas):
            self.stages.append(ContextStage("delta", cfg.delta_window, dim, cfg.static_dim))
            dim += cfg.static_dim
        if cfg.stack:
            self.stages.append(ContextStage("stack", cfg.stack, dim))
        self.latency_frames = cfg.deltas * cfg.delta_window + cfg.stack

    @property
    def latency(self) -> float:
        """Seconds from the audio of frame t arriving to its features: centring half-window + look-ahead."""
        half = self.cfg.n_fft // 2 if self.cfg.center else self.cfg.n_fft
        return half / self.cfg.sample_rate + self.latency_frames * self.cfg.frame_shift

    def _through(self, x: np.ndarray, final: bool) -> np.ndarray:
        x = x.astype(np.float32, copy=False)
        for st in self.stages:
            x = st.push(x)
            if final:
                x = np.concatenate([x, st.flush()])
        return x

    def push(self, samples: np.ndarray) -> np.ndarray:
        """Add mono samples at ``cfg.sample_rate``; returns new feature frames ``(t, F)``."""
        return self._through(self.static.push(samples), False)

    def flush(self) -> np.ndarray:
        """End of audio: the remaining frames ``(t, F)``."""
        return self._through(self.static.flush(), True)


@dataclass
class StreamOutput:
    """What :meth:`VADStream.push` returns: probabilities of frames ``first_frame ...`` and new events."""

    first_frame: int
    probabilities: np.ndarray
    events: list[Event] = field(default_factory=list)


class VADStream:
    """Streaming VAD over a loaded :class:`~speechdl.tasks.vad.infer.VAD`.

    ``push(samples)`` (mono float32 at the model's rate, any length, even 0) returns a
    :class:`StreamOutput`: the probabilities ``(n,)`` of the frames that became final and the segment
    events (``{"event": "start"|"end", "time": s}``); ``flush()`` ends the audio. Concatenated,
    the probabilities equal ``VAD.probabilities`` of the whole signal (to 1e-4).

    Example:
        >>> # vad = load_vad(); s = vad.stream()
        >>> # for chunk in mic: out = s.push(chunk); print(out.events)
    """

    def __init__(self, model: Any, frontend: FrontendConfig, post: PostConfig | None = None,
                 engine: str = "numpy") -> None:
        from speechdl.tasks.vad.model import numpy_net

        self.features = FeaturePipeline(frontend, engine="numpy")
        self.frontend = frontend
        self.tracker = SegmentTracker(frontend.frame_shift, post or PostConfig())
        self.np_net = None
        if engine == "numpy":
            try:
                self.np_net = numpy_net(model)
            except ConfigError:
                self.np_net = None
        self.model = model
        self.state = self.np_net.init_state() if self.np_net is not None else model.init_state()
        self.frames = 0
        self.samples = 0

    @property
    def latency(self) -> float:
        """Seconds between a frame's audio and its probability (see the module docstring)."""
        return self.features.latency

    def _probs(self, feats: np.ndarray) -> np.ndarray:
        if not len(feats):
            return np.zeros(0, np.float32)
        if self.np_net is not None:
            logits, self.state = self.np_net(feats, self.state)
        else:
            with torch.no_grad():
                out, self.state = self.model.forward_chunk(torch.from_numpy(feats)[None], self.state)
            logits = out[0].numpy()
        return 1.0 / (1.0 + np.exp(-logits))

    def _emit(self, feats: np.ndarray, final: bool) -> StreamOutput:
        probs = self._probs(feats)
        out = StreamOutput(self.frames, probs, self.tracker.push(probs))
        if final:
            out.events += self.tracker.flush(self.samples / self.frontend.sample_rate)
        self.frames += len(probs)
        return out

    def push(self, samples: np.ndarray) -> StreamOutput:
        """Add audio; returns the newly final frame probabilities and segment events."""
        self.samples += len(samples)
        return self._emit(self.features.push(samples), False)

    def flush(self) -> StreamOutput:
        """End of audio: the remaining probabilities and the closing events."""
        return self._emit(self.features.flush(), True)

    @property
    def segments(self) -> list[dict[str, float]]:
        """Segments finished so far ``[{start, end}]`` (s)."""
        return self.tracker.segments

"""Streaming VAD: audio chunks of any size in, frame probabilities and segment events out.

The per-hop path makes no torch call: the front-end (window, FFT, mel, log, DCT), the deltas /
stacking and the network (dense, or a unidirectional rnn/gru/lstm cell) run in numpy
(:func:`speechdl.tasks.vad.model.numpy_net`); per-call overhead dominates a 10 ms hop, and numpy
has far less of it than ``nn.Module`` calls (shared/PERF.md). For a dense net, :class:`FusedDense`
folds dB scaling, DCT, deltas (and stacking), the input normalisation and the first Linear into one
matrix applied to the last ``2L + 1`` ln-mel frames, so a hop costs one FFT and a few small products
(measured, 1 thread on a shared 2-core machine: lecture DNN about 27 us p50 per 10 ms hop, 2x64 LSTM
about 48 us). Other models (``vad_crnn``) stream through their torch ``forward_chunk``.

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

import math
from dataclasses import dataclass, field
from functools import lru_cache
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

    def __init__(self, cfg: FrontendConfig, raw_log: bool = False) -> None:
        if cfg.pad_mode != "constant" and cfg.center:
            raise ConfigError("frontend", "the numpy stream supports pad_mode=constant", "use TorchStatic")
        self.cfg = cfg
        self.window = padded_window(make_window(cfg.window, cfg.win_length), cfg.n_fft).numpy()
        fb = mel_filterbank(cfg.sample_rate, cfg.n_fft, cfg.n_mels, cfg.f_min, cfg.f_max,
                            cfg.mel_scale, cfg.mel_norm).numpy()
        rows = np.flatnonzero(fb.any(axis=1))
        self.lo, self.hi = (int(rows[0]), int(rows[-1]) + 1) if len(rows) else (0, 0)
        self.fb = np.ascontiguousarray(fb[self.lo:self.hi])
        self.fb2 = np.repeat(self.fb, 2, axis=0)  # (re, im) interleaved rows: |X|^2 @ fb == (v * v) @ fb2
        self.raw_log = raw_log  # stop at ln(mel): the fused stream folds scaling and DCT into its weights
        self.dct = dct_matrix(cfg.n_mels, cfg.n_mfcc).numpy()
        self.log_scale = 10.0 / np.log(10.0) if cfg.log == "db" else 1.0
        self.buf = np.zeros(cfg.n_fft // 2 if cfg.center else 0, np.float32)
        self.last = np.float32(0.0)
        self.empty = np.zeros((0, cfg.n_mels if raw_log else cfg.static_dim), np.float32)

    def _frames(self) -> np.ndarray:
        cfg = self.cfg
        n = len(self.buf)
        count = 0 if n < cfg.n_fft else 1 + (n - cfg.n_fft) // cfg.hop_length
        if count == 0:
            return np.zeros((0, cfg.n_mels if self.raw_log else cfg.static_dim), np.float32)
        if count == 1:
            frames = self.buf[None, :cfg.n_fft]
        else:
            frames = np.lib.stride_tricks.sliding_window_view(self.buf, cfg.n_fft)[::cfg.hop_length][:count]
        spec = np.fft.rfft(frames * self.window)
        self.buf = self.buf[count * cfg.hop_length:]
        if cfg.power == 2.0 and cfg.kind != "power" and spec.dtype == np.complex64:
            v = spec.view(np.float32)[:, 2 * self.lo: 2 * self.hi]
            mel = (v * v) @ self.fb2
        else:
            power = spec.real * spec.real + spec.imag * spec.imag
            if cfg.power != 2.0:
                power = power ** (cfg.power / 2.0)
            if cfg.kind == "power":
                return power.astype(np.float32, copy=False)
            mel = power[:, self.lo:self.hi] @ self.fb
        out = np.log(np.maximum(mel, cfg.log_floor, out=mel), out=mel)
        if self.raw_log:
            return out
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
        if len(self.buf) < self.cfg.n_fft:  # no frame completed (most 10 ms pushes of a 20 ms hop)
            return self.empty
        return self._frames()

    def flush(self) -> np.ndarray:
        """End of audio: the remaining frames (right centring padding added)."""
        if self.cfg.center:
            self.buf = np.concatenate([self.buf, np.zeros(self.cfg.n_fft // 2, np.float32)])
        return self._frames()


@lru_cache(maxsize=8)
def static_frontend(cfg: FrontendConfig) -> Frontend:
    """The (stateless) torch front-end of the static features of ``cfg``, built once per config:
    building its mel filterbank costs about as much as the features of a few seconds of audio."""
    return Frontend(cfg.replace(cmvn="none", deltas=0, stack=0)).eval()


class TorchStatic:
    """:class:`FeatureStream` with numpy in and out (fast for large blocks; any padding mode)."""

    def __init__(self, cfg: FrontendConfig) -> None:
        self.stream = FeatureStream(static_frontend(cfg))

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


def make_stages(cfg: FrontendConfig) -> list[ContextStage]:
    """The sequence stages of ``cfg``: one delta stage per order, then stacking."""
    stages, dim = [], cfg.static_dim
    for _ in range(cfg.deltas):
        stages.append(ContextStage("delta", cfg.delta_window, dim, cfg.static_dim))
        dim += cfg.static_dim
    if cfg.stack:
        stages.append(ContextStage("stack", cfg.stack, dim))
    return stages


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
        self.stages = make_stages(cfg)
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


class FusedDense:
    """Per-hop fast path of a dense net: ln-mel of the last ``2L + 1`` frames -> first hidden layer in one product.

    Deltas and stacking are linear in the static frames, and so are the DCT, the dB scaling, the input
    normalisation and the first Linear: their composition is one matrix ``M`` ``((2L+1) n_mels, hidden)``
    applied to the window of ln-mel frames ``t-L .. t+L`` (``L`` = look-ahead frames). Frames near the
    start and the end (where the offline stages repeat edge frames) go through the exact generic stages.
    ``push(samples) -> logits (n,)``; the frames are those of :class:`FeaturePipeline` + the net.
    """

    def __init__(self, cfg: FrontendConfig, net: Any) -> None:
        self.cfg, self.net = cfg, net
        self.static = NumpyStatic(cfg, raw_log=True)
        self.L = L = cfg.deltas * cfg.delta_window + cfg.stack
        S, n_mels = cfg.static_dim, cfg.n_mels
        scale = 10.0 / np.log(10.0) if cfg.log == "db" else 1.0
        q = dct_matrix(n_mels, cfg.n_mfcc).double().numpy() if cfg.kind == "mfcc" else np.eye(n_mels)
        self.q = (q * scale).astype(np.float32)  # ln-mel -> static features
        w1, self.b1, _ = net.layers[0]
        A = np.zeros((2 * L + 1, S, cfg.feature_dim))
        for j in range(2 * L + 1):  # impulse responses of the (linear) sequence stages, away from edges
            for i in range(S):
                x = np.zeros((4 * L + 1, S), np.float64)
                x[L + j, i] = 1.0
                A[j, i] = self._features(x, final=True)[2 * L]
        self.M = np.einsum("ms,jsf,fh->jmh", q * scale, A, w1.astype(np.float64)).reshape(-1, w1.shape[1])
        self.M = self.M.astype(np.float32)
        self.hist = np.zeros((0, n_mels), np.float32)  # last 2L+1 ln-mel frames
        self.seen = 0  # ln-mel frames so far
        self.done = 0  # output frames so far

    def _features(self, static: np.ndarray, final: bool) -> np.ndarray:
        x = static
        for st in make_stages(self.cfg):
            x = st.push(x.astype(np.float64))
            if final:
                x = np.concatenate([x, st.flush()])
        return x

    def _generic(self, upto: int, final: bool) -> np.ndarray:
        """Logits of frames ``done .. upto-1`` from the history through the exact stages."""
        g0 = self.seen - len(self.hist)
        feats = self._features(self.hist @ self.q, final)
        sel = feats[self.done - g0: upto - g0].astype(np.float32)
        return self.net(sel)[0] if len(sel) else np.zeros(0, np.float32)

    def _run(self, u: np.ndarray) -> np.ndarray:
        L, H = self.L, 2 * self.L + 1
        full = np.concatenate((self.hist, u)) if len(self.hist) else u
        g0 = self.seen - len(self.hist)
        self.seen += len(u)
        ready = self.seen - L  # frames < ready have their look-ahead
        parts = []
        if self.done < min(L, ready):  # start: edges repeated, exact stages
            self.hist = full
            parts.append(self._generic(min(L, ready), final=False))
            self.done = min(L, ready)
        if ready > self.done:
            a = self.done - L - g0  # row of the first window's first frame
            if ready - self.done == 1:
                pre = full[a:a + H].reshape(-1) @ self.M
                pre = pre[None]
            else:
                win = np.lib.stride_tricks.sliding_window_view(full[a:], H, axis=0)[: ready - self.done]
                pre = win.transpose(0, 2, 1).reshape(ready - self.done, -1) @ self.M
            pre += self.b1
            parts.append(self.net.after_first(pre))
            self.done = ready
        self.hist = full[-H:] if len(full) > H else full
        if not parts:
            return np.zeros(0, np.float32)
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def push(self, samples: np.ndarray) -> np.ndarray:
        """Add samples; logits of the frames that became final."""
        st, hop = self.static, self.cfg.hop_length
        n_fft = self.cfg.n_fft
        if (len(samples) == hop and len(self.hist) == 2 * self.L + 1 and n_fft - hop <= len(st.buf) < n_fft
                and not self.cfg.preemphasis and isinstance(samples, np.ndarray) and samples.dtype == np.float32
                and st.fb2 is not None and self.cfg.power == 2.0):
            # steady state, one hop in -> one frame out: the same arithmetic as the general path, fewer calls
            buf = np.concatenate((st.buf, samples.reshape(-1)))
            st.buf = buf[hop:]
            v = np.fft.rfft(buf[:n_fft] * st.window).view(np.float32)[2 * st.lo: 2 * st.hi]
            mel = (v * v) @ st.fb2
            np.log(np.maximum(mel, self.cfg.log_floor, out=mel), out=mel)
            self.hist = np.concatenate((self.hist[1:], mel[None]))
            self.seen += 1
            self.done += 1
            pre = self.hist.reshape(-1) @ self.M
            pre += self.b1
            return self.net.after_first(pre[None])
        return self._run(self.static.push(samples))

    def flush(self) -> np.ndarray:
        """End of audio: the remaining logits (edge frames through the exact stages)."""
        head = self._run(self.static.flush())
        tail = self._generic(self.seen, final=True) if self.seen > self.done else np.zeros(0, np.float32)
        self.done = self.seen
        return np.concatenate([head, tail])


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
        self.fused = None
        if (self.np_net is not None and hasattr(self.np_net, "after_first") and frontend.kind != "power"
                and frontend.cmvn == "none" and (frontend.pad_mode == "constant" or not frontend.center)):
            self.fused = FusedDense(frontend, self.np_net)
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
        if len(logits) == 1:  # one frame per hop: a scalar sigmoid is cheaper than an array one
            return np.array([0.5 + 0.5 * math.tanh(0.5 * float(logits[0]))], np.float32)
        return 1.0 / (1.0 + np.exp(-logits))

    def _emit(self, feats: np.ndarray, final: bool) -> StreamOutput:
        if not len(feats) and not final:
            return StreamOutput(self.frames, feats[:, 0], [])
        probs = self._probs(feats)
        out = StreamOutput(self.frames, probs, self.tracker.push(probs))
        if final:
            out.events += self.tracker.flush(self.samples / self.frontend.sample_rate)
        self.frames += len(probs)
        return out

    def _emit_logits(self, logits: np.ndarray, final: bool) -> StreamOutput:
        if len(logits) == 1:
            probs = np.array([0.5 + 0.5 * math.tanh(0.5 * float(logits[0]))], np.float32)
        else:
            probs = 1.0 / (1.0 + np.exp(-logits))
        out = StreamOutput(self.frames, probs, self.tracker.push(probs) if len(probs) else [])
        if final:
            out.events += self.tracker.flush(self.samples / self.frontend.sample_rate)
        self.frames += len(probs)
        return out

    def push(self, samples: np.ndarray) -> StreamOutput:
        """Add audio; returns the newly final frame probabilities and segment events."""
        self.samples += len(samples)
        if self.fused is not None:
            return self._emit_logits(self.fused.push(samples), False)
        return self._emit(self.features.push(samples), False)

    def flush(self) -> StreamOutput:
        """End of audio: the remaining probabilities and the closing events."""
        if self.fused is not None:
            return self._emit_logits(self.fused.flush(), True)
        return self._emit(self.features.flush(), True)

    @property
    def segments(self) -> list[dict[str, float]]:
        """Segments finished so far ``[{start, end}]`` (s)."""
        return self.tracker.segments

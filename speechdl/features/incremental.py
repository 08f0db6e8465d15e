"""Incremental features: samples in any chunk sizes -> the frames of ``Frontend(cfg)``, exactly.

:class:`NumpyStatic` (per-hop, numpy FFT) or :class:`TorchStatic` (large blocks, the torch front-end) make
the static features (log-Mel / MFCC / power); :class:`ContextStage` adds deltas and stacking with the
look-ahead they need; :class:`FeaturePipeline` chains them. Used by the streaming VAD
(:mod:`speechdl.tasks.vad.stream`) and by offline blockwise inference (:mod:`speechdl.tasks.vad.infer`); the
streaming front-end of every frame-level task.

Example:
    >>> import numpy as np
    >>> from speechdl.features import FrontendConfig
    >>> pipe = FeaturePipeline(FrontendConfig.mfcc39())
    >>> a = pipe.push(np.zeros(1600, np.float32)); b = pipe.flush()
    >>> len(a) + len(b), a.shape[1], pipe.latency_frames
    (11, 39, 4)
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

try:  # numpy >= 2: the pocketfft gufunc itself, without np.fft.rfft's few us of Python per call
    from numpy.fft._pocketfft_umath import rfft_n_even as _rfft_even
except ImportError:  # pragma: no cover - older numpy
    _rfft_even = None

from speechdl.errors import ConfigError
from speechdl.features import FeatureStream, Frontend, FrontendConfig, dct_matrix, make_window, mel_filterbank
from speechdl.features.stft import padded_window


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
        even = _rfft_even is not None and cfg.n_fft % 2 == 0 and self.window.dtype == np.float32
        self.spec_out = np.empty(cfg.n_fft // 2 + 1, np.complex64) if even else None  # reused: consumed at once
        self.last = np.float32(0.0)
        self.empty = np.zeros((0, cfg.n_mels if raw_log else cfg.static_dim), np.float32)

    def rfft_frame(self, frame: np.ndarray) -> np.ndarray:
        """FFT ``(n_fft // 2 + 1,)`` of one windowed frame ``(n_fft,)``; the result is overwritten by the next call."""
        if self.spec_out is not None:   # the pocketfft gufunc directly, into a reused buffer
            return _rfft_even(frame * self.window, 1, out=self.spec_out)
        return np.fft.rfft(frame * self.window)

    def frame_log_mel(self, frame: np.ndarray) -> np.ndarray:
        """ln-mel ``(n_mels,)`` of one frame ``(n_fft,)`` (power 2, float32 window: the per-hop streaming path)."""
        v = self.rfft_frame(frame).view(np.float32)[2 * self.lo: 2 * self.hi]
        mel = (v * v) @ self.fb2
        return np.log(np.maximum(mel, self.cfg.log_floor, out=mel), out=mel)

    def _frames(self) -> np.ndarray:
        cfg = self.cfg
        n = len(self.buf)
        count = 0 if n < cfg.n_fft else 1 + (n - cfg.n_fft) // cfg.hop_length
        if count == 0:
            return np.zeros((0, cfg.n_mels if self.raw_log else cfg.static_dim), np.float32)
        if count == 1:   # the streaming hop
            spec = self.rfft_frame(self.buf[:cfg.n_fft])[None]
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

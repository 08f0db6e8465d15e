"""The per-hop fast path of a dense VAD net: front-end, deltas/stacking and first layer folded into one matrix.

Example:
    >>> import numpy as np, torch
    >>> from speechdl.features import Frontend, FrontendConfig
    >>> from speechdl.tasks.vad.net import FrameModel, numpy_net
    >>> cfg, model = FrontendConfig.mfcc39(), FrameModel("dense", {"in_dim": 39, "hidden": [8], "out_dim": 1}).eval()
    >>> x = np.random.default_rng(0).standard_normal(4000).astype(np.float32) * 0.1
    >>> fused = FusedDense(cfg, numpy_net(model))
    >>> logits = np.concatenate([fused.push(x[:1234]), fused.push(x[1234:]), fused.flush()])
    >>> ref = model(Frontend(cfg)(torch.from_numpy(x)[None]))[0].detach().numpy()
    >>> bool(np.allclose(logits, ref, atol=1e-4))
    True
"""

from __future__ import annotations

from typing import Any

import numpy as np

from speechdl.features import FrontendConfig, dct_matrix
from speechdl.features.incremental import NumpyStatic, make_stages


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
            mel = st.frame_log_mel(buf[:n_fft])
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

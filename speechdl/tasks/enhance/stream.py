"""Chunk-by-chunk enhancement: any chunk size in, the same samples out as the offline pass.

:class:`EnhanceStream` frames the incoming samples (``n_fft`` window, ``hop`` = ``n_fft / 2``), runs the
masker on the frames it can (a causal masker on every complete frame, carrying its recurrent state; a
masker with ``context`` look-ahead frames once those have arrived), and overlap-adds the masked frames.
A causal model gives back each sample ``n_fft`` samples (20 ms) after it came in; :meth:`EnhanceStream.flush`
ends the signal (the same zero padding as :meth:`~speechdl.nn.spectral_mask.SpectralMasker.forward`)
and returns what is left, so the concatenated outputs have exactly the input's length.
Memory is bounded by the chunk (and ``2 context`` frames of history), so hour-long audio runs in 10 s blocks.
The causal band GRU streams through its numpy twin (:class:`~speechdl.tasks.enhance.twin.NumpyBandGRU`,
``numpy=True``, the default): the same samples to float32 rounding, about 10x faster per 10 ms hop.

Example:
    >>> import numpy as np, torch
    >>> from speechdl.nn.enhance import BandGRU
    >>> net = BandGRU(bands=16, hidden=16, layers=1).eval()
    >>> x = np.random.default_rng(0).standard_normal(2345).astype(np.float32)
    >>> s = EnhanceStream(net)
    >>> y = np.concatenate([s.push(x[:1000]), s.push(x[1000:1001]), s.push(x[1001:]), s.flush()])
    >>> ref = net(torch.from_numpy(x)[None]).detach().numpy()[0]
    >>> y.shape, bool(np.abs(y - ref).max() < 1e-5)
    ((2345,), True)
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch


class EnhanceStream:
    """Streaming state machine over a :class:`~speechdl.nn.spectral_mask.SpectralMasker` (eval mode).

    ``push(samples (n,) float32) -> enhanced (m,)`` (``m`` may be 0), ``flush() -> the rest``; after
    ``flush`` the stream is fresh again.
    """

    def __init__(self, model: Any, numpy: bool = True) -> None:
        from speechdl.nn.enhance import BandGRU
        from speechdl.tasks.enhance.twin import NumpyBandGRU

        self.model = model
        self.hop, self.n_fft = model.hop, model.n_fft
        self.causal = bool(getattr(model, "causal", False))
        self.context = 0 if self.causal else int(getattr(model, "context", 0))
        self.twin = NumpyBandGRU(model) if numpy and isinstance(model, BandGRU) else None
        self.reset()

    def reset(self) -> None:
        """Forget everything (a new signal starts)."""
        self.buf = np.zeros(self.hop, np.float32)           # unframed input (the front padding first)
        self.tail = np.zeros(self.hop, np.float32)          # second half of the last synthesised frame
        self.n_in = self.n_out = 0
        self.frames_in = 0                                   # frames analysed
        self.skip = self.hop                                 # the front padding's output is dropped
        self.state = self.model.init_state() if self.causal else None
        if self.twin is not None:
            self.twin.reset()
        c, f = self.context, self.model.n_bins
        self.ctx = torch.zeros(1, c, f)                      # normalised features of the frames before `pending`
        self.pend_re = torch.zeros(1, 0, f)
        self.pend_im = torch.zeros(1, 0, f)

    # ------------------------------------------------------------ frames
    def _analyse(self) -> np.ndarray | None:
        """The complete frames ``(n, n_fft)`` of the buffer (None: not one yet); the buffer keeps the rest."""
        n = (len(self.buf) - self.n_fft) // self.hop + 1 if len(self.buf) >= self.n_fft else 0
        if n <= 0:
            return None
        if n == 1:   # the usual 10 ms hop: no strided view (its set-up costs more than the copy)
            frames = self.buf[None, : self.n_fft].copy()
        else:
            frames = np.array(np.lib.stride_tricks.sliding_window_view(self.buf, self.n_fft)[:: self.hop][:n])
        self.buf = self.buf[n * self.hop:].copy()
        self.frames_in += n
        return frames

    def _mask(self, frames: np.ndarray, final: bool = False) -> np.ndarray:
        """Masked, synthesised and overlap-added samples of the frames that can be decided now."""
        if self.causal and len(frames) == 0:
            return np.zeros(0, np.float32)
        if self.twin is not None:
            return self._overlap_add(self.twin.process(frames))
        with torch.no_grad():
            return self._overlap_add(self._torch_frames(frames, final))

    def _torch_frames(self, frames: np.ndarray, final: bool) -> np.ndarray:
        """The masked synthesis frames ``(k, n_fft)`` through the torch model (k may be 0)."""
        m = self.model
        re, im = m.spectra(torch.from_numpy(frames)[None])
        if self.causal:
            g, self.state = m.mask_chunk(re, im, self.state)
        else:
            c = self.context
            self.ctx = torch.cat([self.ctx, m.norm(m.features(re, im))], 1)
            self.pend_re, self.pend_im = torch.cat([self.pend_re, re], 1), torch.cat([self.pend_im, im], 1)
            if final:   # frames past the end are zeros, as offline
                self.ctx = torch.cat([self.ctx, torch.zeros(1, c, m.n_bins)], 1)
            ready = self.ctx.shape[1] - 2 * c
            if ready <= 0:
                return np.zeros((0, self.n_fft), np.float32)
            g = m.mask_from_features(self.ctx)[:, c: c + ready]
            re, im = self.pend_re[:, :ready], self.pend_im[:, :ready]
            self.pend_re, self.pend_im = self.pend_re[:, ready:], self.pend_im[:, ready:]
            self.ctx = self.ctx[:, ready:]
        return m.frame_out(re * g, im * g)[0].numpy()

    def _overlap_add(self, fr: np.ndarray) -> np.ndarray:
        """Synthesis frames ``(k, n_fft)`` -> the ``k hop`` samples they complete (the last half waits)."""
        k = len(fr)
        out = np.zeros((k + 1) * self.hop, np.float32)
        out[: self.hop] += self.tail
        halves = fr.reshape(k, 2, self.hop)
        body = out[: k * self.hop].reshape(k, self.hop)
        body += halves[:, 0]
        out[self.hop:] += halves[:, 1].reshape(-1)
        self.tail = out[k * self.hop:].copy()
        return out[: k * self.hop]

    def _emit(self, y: np.ndarray) -> np.ndarray:
        if self.skip:
            cut = min(self.skip, len(y))
            y, self.skip = y[cut:], self.skip - cut
        room = self.n_in - self.n_out
        y = y[:room] if len(y) > room else y
        self.n_out += len(y)
        return y

    # ------------------------------------------------------------ public
    def push(self, samples: np.ndarray) -> np.ndarray:
        """Feed ``samples`` ``(n,)`` (mono float32 at the model rate); returns the enhanced samples ready now."""
        x = np.asarray(samples, np.float32).reshape(-1)
        self.n_in += len(x)
        self.buf = np.concatenate([self.buf, x])
        frames = self._analyse()
        if frames is None:
            return np.zeros(0, np.float32)
        return self._emit(self._mask(frames))

    def flush(self) -> np.ndarray:
        """End of the signal: the remaining enhanced samples; the stream is reset."""
        total = self.model.num_frames(self.n_in) if self.n_in else 0
        need = (total - self.frames_in + 1) * self.hop
        if total > self.frames_in and need > len(self.buf):
            self.buf = np.concatenate([self.buf, np.zeros(need - len(self.buf), np.float32)])
        frames = self._analyse() if total > self.frames_in else None
        frames = frames if frames is not None else np.zeros((0, self.n_fft), np.float32)
        out = self._emit(self._mask(frames, final=True)) if self.n_in else np.zeros(0, np.float32)
        self.reset()
        return out

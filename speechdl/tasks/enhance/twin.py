"""numpy twin of the causal band-gain GRU (``enhance_gru``) for streaming: no torch call per 10 ms hop.

Through torch a 10 ms hop costs ~0.5 ms of call overhead for a few small matrix products (~18x real time);
the same arithmetic in numpy runs the stream well over 100x real time. :class:`NumpyBandGRU` takes the
analysis frames (``(k, n_fft)``, as :class:`~speechdl.tasks.enhance.stream.EnhanceStream` cuts them) and
returns the masked, windowed synthesis frames to overlap-add, carrying the GRU state between calls.
Its output equals :class:`~speechdl.nn.enhance.BandGRU`'s to float32 rounding (``tests/unit/test_enhance_nets.py``).

Example:
    >>> import numpy as np, torch
    >>> from speechdl.nn.enhance import BandGRU
    >>> net = BandGRU(bands=16, hidden=16, layers=2).eval()
    >>> twin = NumpyBandGRU(net)
    >>> fr = np.random.default_rng(0).standard_normal((9, net.n_fft)).astype(np.float32)
    >>> out = np.concatenate([twin.process(fr[:4]), twin.process(fr[4:])])
    >>> re, im = net.spectra(torch.from_numpy(fr)[None])
    >>> g = net.mask(re, im)
    >>> ref = net.frame_out(re * g, im * g)[0].detach().numpy()
    >>> out.shape, bool(np.abs(out - ref).max() < 1e-4)
    ((9, 320), True)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from speechdl.nn.numpy_rnn import init_state, pack_layers, run_layers


def _f32(t: Any) -> np.ndarray:
    return t.detach().float().cpu().numpy().astype(np.float32)


class NumpyBandGRU:
    """Streaming numpy copy of a :class:`~speechdl.nn.enhance.BandGRU` (weights copied at construction).

    ``process(frames (k, n_fft)) -> synthesis frames (k, n_fft)``; :meth:`reset` zeroes the GRU state.
    """

    causal = True

    def __init__(self, model: Any) -> None:
        self.n_fft, self.hop, self.n_bins = model.n_fft, model.hop, model.n_bins
        self.fwd = np.concatenate([_f32(model.fwd_re), _f32(model.fwd_im)], 1)          # (n_fft, 2F)
        self.inv = np.concatenate([_f32(model.inv_re), _f32(model.inv_im)], 0)          # (2F, n_fft)
        fb = model.bands_fb.double()
        self.pool = (fb / fb.sum(1, keepdim=True)).T.float().numpy()                     # (F, bands)
        self.fb = _f32(model.bands_fb)                                                   # (bands, F)
        self.mean, self.std = _f32(model.norm.mean), _f32(model.norm.std)
        self.w_in, self.b_in = _f32(model.inp[0].weight).T.copy(), _f32(model.inp[0].bias)
        self.hidden = model.hidden
        self.layers = pack_layers(model.gru, "gru")
        self.w_head, self.b_head = _f32(model.head.weight).T.copy(), _f32(model.head.bias)
        self.min_gain = float(model.min_gain)
        self.reset()

    def reset(self) -> None:
        """A new signal: the GRU state back to zeros."""
        self.state = init_state("gru", self.layers, self.hidden)

    def gains(self, spec: np.ndarray) -> np.ndarray:
        """Band gains expanded to bins ``(k, F)`` of spectra ``spec = [re | im]`` ``(k, 2F)``; advances the state."""
        F = self.n_bins
        re, im = spec[:, :F], spec[:, F:]
        f = (np.log10((re * re + im * im) @ self.pool + 1e-10) - self.mean) / self.std
        h, self.state = run_layers("gru", self.layers, np.tanh(f @ self.w_in + self.b_in), self.state, self.hidden)
        g = 1.0 / (1.0 + np.exp(-(np.concatenate([h, f], 1) @ self.w_head + self.b_head)))
        if self.min_gain > 0:
            g = self.min_gain + (1 - self.min_gain) * g
        return (g @ self.fb).astype(np.float32)

    def process(self, frames: np.ndarray) -> np.ndarray:
        """Analysis frames ``(k, n_fft)`` -> masked synthesis frames ``(k, n_fft)`` (float32)."""
        if len(frames) == 0:
            return np.zeros((0, self.n_fft), np.float32)
        spec = np.asarray(frames, np.float32) @ self.fwd
        g = self.gains(spec)
        return (spec * np.concatenate([g, g], 1)) @ self.inv

"""The inverse front-end: complex STFT and its exact inverse (windowed overlap-add), offline or streaming.

:func:`stft` frames a waveform exactly as the features do (:mod:`speechdl.features.stft`: ``n_fft``,
``win_length`` window zero-padded and centred in ``n_fft``, ``hop_length``, ``center`` / ``pad_mode``,
pre-emphasis) and keeps the phase; :func:`istft` inverts it by windowed overlap-add,

    ``y[n] = sum_t w[n - t hop] frame_t[n - t hop] / sum_t w[n - t hop]^2``,

so ``istft(stft(x)) == x`` up to float rounding wherever some window covers the sample (everywhere when
``center=True``; with ``center=False`` the first ``(n_fft - win_length) // 2`` samples and the tail after
the last frame come back as zeros). Pre-emphasis is undone by the matching de-emphasis filter
(in numpy: no gradient flows through it). :class:`ISTFTStream` gives the same samples from
frames pushed in pieces of any size (the offline inverse runs through it block by block).
Magnitude-only inversion (mel -> linear, Griffin-Lim, log-Mel -> waveform) is in :mod:`.resynth`.

Example:
    >>> import torch
    >>> cfg = FrontendConfig()
    >>> x = torch.randn(2, 16000, dtype=torch.float64)
    >>> spec = stft(x, cfg)
    >>> tuple(spec.shape), spec.dtype                     # (B, frames, n_fft // 2 + 1)
    ((2, 101, 257), torch.complex128)
    >>> bool((istft(spec, cfg, length=16000) - x).abs().max() < 1e-10)
    True
"""

from __future__ import annotations

import numpy as np
import torch

from speechdl.errors import ConfigError
from speechdl.features.config import FrontendConfig
from speechdl.features.stft import make_window, pad_for_center, padded_window, preemphasize


def _window(cfg: FrontendConfig, dtype: torch.dtype) -> torch.Tensor:
    """The ``(n_fft,)`` analysis / synthesis window of ``cfg`` in ``dtype``."""
    return padded_window(make_window(cfg.window, cfg.win_length, dtype=dtype), cfg.n_fft)


def _frames_per_block(cfg: FrontendConfig) -> int:
    return max(1, int(round(cfg.chunk_seconds * cfg.sample_rate / cfg.hop_length)))


def stft(wave: torch.Tensor, cfg: FrontendConfig, emphasis: bool = True) -> torch.Tensor:
    """Complex spectra of every frame, framed as the features frame: ``(B, N)`` or ``(N,)`` ->
    ``(B, T, n_fft // 2 + 1)`` with ``T = cfg.num_frames(N)`` (complex64, or complex128 for float64 input).

    ``|stft(x, cfg)| ** cfg.power`` equals ``PowerSpectrum(cfg)(x)``. ``emphasis=False`` skips the
    pre-emphasis (the STFT of an already emphasised signal). Computed in ``cfg.chunk_seconds`` blocks.
    """
    wave = wave.unsqueeze(0) if wave.dim() == 1 else wave
    wave = wave if wave.is_floating_point() else wave.float()
    if emphasis and cfg.preemphasis:
        wave = preemphasize(wave, cfg.preemphasis)
    padded = pad_for_center(wave, cfg)
    n = padded.shape[-1]
    total = 0 if n < cfg.n_fft else 1 + (n - cfg.n_fft) // cfg.hop_length
    cdtype = torch.complex128 if wave.dtype == torch.float64 else torch.complex64
    if total == 0:
        return torch.zeros(wave.shape[0], 0, cfg.n_freqs, dtype=cdtype, device=wave.device)
    window = _window(cfg, wave.dtype).to(wave.device)
    per_block, out = _frames_per_block(cfg), []
    for first in range(0, total, per_block):
        count = min(per_block, total - first)
        start = first * cfg.hop_length
        seg = padded[:, start:start + (count - 1) * cfg.hop_length + cfg.n_fft]
        out.append(torch.fft.rfft(seg.unfold(-1, cfg.n_fft, cfg.hop_length) * window))
    return out[0] if len(out) == 1 else torch.cat(out, dim=1)


def _first_order_iir(x: np.ndarray, a: float, y0: np.ndarray) -> np.ndarray:
    """``y[n] = x[n] + a y[n-1]`` along the last axis of ``x`` ``(B, n)`` (float64), ``y[-1] = y0`` ``(B,)``.

    Blockwise closed form: inside a block of K samples ``y[j] = a^j cumsum(a^-i x[i])[j] + a^(j+1) y_start``
    (K keeps ``a^-K`` far from overflow), then one step per block carries the state: about 100x faster than
    a sample loop, without scipy (whose import costs seconds).
    """
    batch, n = x.shape
    k = 256 if abs(a) >= 0.5 else max(1, min(256, int(150 / -np.log10(abs(a)))))
    blocks = -(-n // k)
    xb = np.zeros((batch, blocks * k))
    xb[:, :n] = x
    xb = xb.reshape(batch, blocks, k)
    j = np.arange(k)
    y = (a ** j) * np.cumsum(xb * (a ** -j.astype(np.float64)), axis=-1)  # zero-state response per block
    carry, lift = np.asarray(y0, np.float64), a ** (j + 1)
    for b in range(blocks):
        y[:, b] += lift * carry[:, None]
        carry = y[:, b, -1]
    return y.reshape(batch, -1)[:, :n]


def deemphasize(wave: torch.Tensor, coef: float, prev: np.ndarray | None = None) -> tuple[torch.Tensor, np.ndarray]:
    """Undo :func:`~speechdl.features.stft.preemphasize`: ``y[n] = x[n] + coef * y[n-1]`` along the last axis.

    ``prev`` ``(B,)`` is the output sample before ``x[0]`` (zeros at the start). Returns ``(y, last)``,
    ``last`` being the state for the next block. Runs in float64 numpy (no gradient).

    Example:
        >>> x = torch.tensor([[1.0, 2.0, 3.0]])
        >>> y, last = deemphasize(preemphasize(x, 0.5), 0.5)
        >>> y.tolist(), last.tolist()
        ([[1.0, 2.0, 3.0]], [3.0])
    """
    x = wave.detach().cpu().numpy().astype(np.float64, copy=False)
    state = np.zeros(x.shape[0]) if prev is None else np.asarray(prev, np.float64)
    y = _first_order_iir(x, coef, state)
    last = y[:, -1].copy() if y.shape[-1] else state
    return torch.from_numpy(y).to(dtype=wave.dtype, device=wave.device), last


class ISTFTStream:
    """Inverse STFT of frames pushed in pieces of any size, equal to :func:`istft` sample for sample.

    ``push(spec)`` takes complex frames ``(B, t, n_fft // 2 + 1)`` (or ``(t, F)``) and returns the samples
    ``(B, m)`` that no later frame can change; ``flush(length)`` returns the rest, up to ``length`` samples in
    all (default: :func:`istft`'s). With ``center=True`` the centring padding at the start is dropped.
    Latency: ``n_fft - hop`` samples (more only when ``hop > n_fft / 2``).

    Example:
        >>> import torch
        >>> cfg = FrontendConfig()
        >>> x = torch.randn(1, 8000, dtype=torch.float64)
        >>> spec, s = stft(x, cfg), ISTFTStream(cfg)
        >>> y = torch.cat([s.push(spec[:, i:i + 7]) for i in range(0, spec.shape[1], 7)] + [s.flush()], 1)
        >>> y.shape[1], bool((y - x).abs().max() < 1e-10)
        (8000, True)
    """

    def __init__(self, cfg: FrontendConfig, emphasis: bool = True) -> None:
        self.cfg, self.emphasis = cfg, emphasis
        self.pad = cfg.n_fft // 2 if cfg.center else 0
        self.skip = self.pad  # centring padding still to drop at the start
        # samples held back so that flush can stop at the default length when hop > n_fft - pad
        self.lag = max(0, self.pad - (cfg.n_fft - cfg.hop_length))
        self.held: torch.Tensor | None = None
        self.num: torch.Tensor | None = None  # overlap of the frames so far: (B, n_fft - hop)
        self.den: torch.Tensor | None = None  # their summed squared windows: (n_fft - hop,)
        self.prev: np.ndarray | None = None   # de-emphasis state
        self.window: torch.Tensor | None = None
        self.frames = self.emitted = 0

    def default_length(self) -> int:
        """Samples of the whole output without a ``length``: ``(T - 1) * hop + n_fft - 2 * pad`` for T frames."""
        return max(0, (self.frames - 1) * self.cfg.hop_length + self.cfg.n_fft - 2 * self.pad) if self.frames else 0

    @staticmethod
    def _divide(num: torch.Tensor, den: torch.Tensor) -> torch.Tensor:
        ok = den > torch.finfo(den.dtype).tiny
        return torch.where(ok, num / torch.where(ok, den, torch.ones_like(den)), torch.zeros_like(num))

    def _take(self, y: torch.Tensor) -> torch.Tensor:
        """New samples in order: start padding dropped, held-back samples in front."""
        if self.skip:
            drop = min(self.skip, y.shape[1])
            y, self.skip = y[:, drop:], self.skip - drop
        if self.held is not None:
            y, self.held = torch.cat([self.held, y], dim=1), None
        return y

    def _out(self, y: torch.Tensor) -> torch.Tensor:
        if self.emphasis and self.cfg.preemphasis and y.shape[1]:
            y, self.prev = deemphasize(y, self.cfg.preemphasis, self.prev)
        self.emitted += y.shape[1]
        return y

    def push(self, spec: torch.Tensor) -> torch.Tensor:
        """Add frames ``(B, t, F)``; returns the completed samples ``(B, m)``."""
        cfg = self.cfg
        spec = spec.unsqueeze(0) if spec.dim() == 2 else spec
        if spec.shape[-1] != cfg.n_freqs:
            raise ConfigError("istft", f"frames have {spec.shape[-1]} bins, the config {cfg.n_freqs}",
                              "pass spectra of this front-end's n_fft")
        batch, t = spec.shape[0], spec.shape[1]
        rdtype = spec.real.dtype
        if self.window is None:
            self.window = _window(cfg, rdtype).to(spec.device)
            keep = cfg.n_fft - cfg.hop_length
            self.num = torch.zeros(batch, keep, dtype=rdtype, device=spec.device)
            self.den = torch.zeros(keep, dtype=rdtype, device=spec.device)
        if t == 0:
            return self.num.new_zeros(batch, 0)
        frames = torch.fft.irfft(spec, n=cfg.n_fft) * self.window  # (B, t, n_fft)
        length = (t - 1) * cfg.hop_length + cfg.n_fft
        fold = dict(output_size=(1, length), kernel_size=(1, cfg.n_fft), stride=(1, cfg.hop_length))
        num = torch.nn.functional.fold(frames.transpose(1, 2), **fold).reshape(batch, length)
        win2 = (self.window * self.window)[None, :, None].expand(1, cfg.n_fft, t)
        den = torch.nn.functional.fold(win2, **fold).reshape(length)
        keep = self.num.shape[1]
        num = torch.cat([num[:, :keep] + self.num, num[:, keep:]], dim=1)
        den = torch.cat([den[:keep] + self.den, den[keep:]])
        done = t * cfg.hop_length
        self.num, self.den = num[:, done:], den[done:]
        self.frames += t
        y = self._take(self._divide(num[:, :done], den[:done]))
        if self.lag:
            cut = max(0, y.shape[1] - self.lag)
            y, self.held = y[:, :cut], y[:, cut:]
        return self._out(y)

    def flush(self, length: int | None = None) -> torch.Tensor:
        """End of frames: the remaining samples ``(B, m)``, so that all outputs together have ``length``
        samples (zeros past the last window), or :meth:`default_length` samples."""
        if self.num is None:
            return torch.zeros(1, length or 0)
        y = self._take(self._divide(self.num, self.den))
        self.num, self.den = self.num[:, :0], self.den[:0]
        need = max(0, (self.default_length() if length is None else length) - self.emitted)
        y = y[:, :need] if y.shape[1] >= need else torch.nn.functional.pad(y, (0, need - y.shape[1]))
        return self._out(y)


def istft(spec: torch.Tensor, cfg: FrontendConfig, length: int | None = None, emphasis: bool = True) -> torch.Tensor:
    """Waveform ``(B, N)`` of complex frames ``(B, T, n_fft // 2 + 1)`` (or ``(T, F)``), by windowed overlap-add.

    ``length``: this many samples (the original length: samples past the last window are zeros; without it
    ``N = (T - 1) * hop`` when centred, ``(T - 1) * hop + n_fft`` otherwise). Inverts :func:`stft` exactly
    (module doc); differentiable except through the de-emphasis.
    """
    stream = ISTFTStream(cfg, emphasis)
    per_block = _frames_per_block(cfg)
    spec = spec.unsqueeze(0) if spec.dim() == 2 else spec
    parts = [stream.push(spec[:, i:i + per_block]) for i in range(0, spec.shape[1], per_block)]
    if not parts:
        return spec.real.new_zeros(spec.shape[0], length or 0)
    y = torch.cat([*parts, stream.flush(length)], dim=1)
    return y[:, :length] if length is not None else y

"""Short-time spectral masking with perfect reconstruction: the frame of every enhancement network.

Analysis and synthesis use a ``sqrt``-Hann window (periodic) of ``n_fft`` samples, hop ``n_fft / 2``:
the squared windows sum to one, so ``synthesis(analysis(x)) == x`` and a mask of ones is the identity.
The DFT is a pair of matrix products (no complex tensors), so the same code trains, runs offline,
streams frame by frame and exports to ONNX.

Framing of a signal ``x`` of ``N`` samples: ``hop`` zeros are put in front, frame ``k`` covers padded
samples ``[k hop, k hop + n_fft)``, and output sample ``n`` is complete once frame ``n // hop + 1`` is in,
i.e. ``n_fft`` samples after it began: the algorithmic latency is the window (20 ms at 320 / 16 kHz).

- :class:`SpectralMasker`: base class; a subclass implements :meth:`SpectralMasker.mask` (and, when causal,
  ``init_state`` / ``mask_chunk``); ``forward(wave (B, N)) -> enhanced (B, N)``.
- :func:`band_matrix`: triangular bands on the mel scale that sum to one in every bin (energies pool
  through it, band gains interpolate back through it).

Example:
    >>> import torch
    >>> m = SpectralMasker(n_fft=320)
    >>> x = torch.randn(2, 1000)
    >>> re, im = m.analysis(x)
    >>> re.shape, bool(torch.allclose(m.synthesis(re, im, 1000), x, atol=1e-5))
    (torch.Size([2, 8, 161]), True)
    >>> band_matrix(8, 161, 16000).sum(0).allclose(torch.ones(161))
    True
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from speechdl.errors import ConfigError


def _mel(f: torch.Tensor) -> torch.Tensor:
    return 2595.0 * torch.log10(1.0 + f / 700.0)


def _hz(m: torch.Tensor) -> torch.Tensor:
    return 700.0 * (10.0 ** (m / 2595.0) - 1.0)


def band_matrix(bands: int, n_bins: int, sample_rate: int) -> torch.Tensor:
    """``(bands, n_bins)`` triangular weights, centres mel-spaced from 0 Hz to Nyquist, at least one bin
    apart; every column sums to one (a partition of unity over the bins)."""
    if bands < 2 or bands > n_bins:
        raise ConfigError("bands", f"{bands} bands for {n_bins} bins", f"use 2..{n_bins}")
    nyq = sample_rate / 2
    centres = _hz(torch.linspace(0.0, float(_mel(torch.tensor(nyq))), bands, dtype=torch.float64)) / nyq * (n_bins - 1)
    c = centres.tolist()
    for i in range(1, bands):   # at least one bin apart (low bands are narrower than a bin otherwise)
        c[i] = max(c[i], c[i - 1] + 1.0)
    if c[-1] > n_bins - 1:       # squeeze the top back below Nyquist, keeping the order
        top = n_bins - 1
        for i in range(bands - 1, 0, -1):
            c[i] = min(c[i], top - (bands - 1 - i))
    c[-1] = float(n_bins - 1)
    bins = torch.arange(n_bins, dtype=torch.float64)
    w = torch.zeros(bands, n_bins, dtype=torch.float64)
    for b in range(bands):
        left = (bins - c[b - 1]) / (c[b] - c[b - 1]) if b > 0 else (bins <= c[0]).double()
        right = (c[b + 1] - bins) / (c[b + 1] - c[b]) if b < bands - 1 else (bins >= c[-1]).double()
        rise = torch.where(bins <= c[b], left, right)
        w[b] = rise.clamp(0.0, 1.0)
    w = w / w.sum(0, keepdim=True)
    return w.float()


class SpectralMasker(nn.Module):
    """STFT -> mask -> inverse STFT with the noisy phase; subclasses define the mask.

    Args:
        n_fft: window and DFT length (samples, even); hop is ``n_fft // 2``.
        sample_rate: Hz (recorded for the bands and the bundle).
    Shapes: waveforms ``(B, N)``; spectra ``(B, T, F)`` with ``F = n_fft // 2 + 1``.
    """

    causal: bool = False

    def __init__(self, n_fft: int = 320, sample_rate: int = 16000) -> None:
        super().__init__()
        if n_fft < 4 or n_fft % 2:
            raise ConfigError("n_fft", f"expected an even number >= 4, got {n_fft}", "e.g. n_fft: 320")
        self.n_fft, self.hop, self.sample_rate = int(n_fft), int(n_fft) // 2, int(sample_rate)
        self.n_bins = self.n_fft // 2 + 1
        n = torch.arange(self.n_fft, dtype=torch.float64)
        k = torch.arange(self.n_bins, dtype=torch.float64)
        window = torch.sin(math.pi * n / self.n_fft)   # sqrt of the periodic Hann window
        ang = 2 * math.pi * n[:, None] * k[None, :] / self.n_fft
        scale = torch.full((self.n_bins,), 2.0, dtype=torch.float64)
        scale[0] = 1.0
        scale[-1] = 1.0
        self.register_buffer("fwd_re", (window[:, None] * torch.cos(ang)).float(), persistent=False)
        self.register_buffer("fwd_im", (-window[:, None] * torch.sin(ang)).float(), persistent=False)
        self.register_buffer("inv_re", (scale[:, None] * torch.cos(ang.T) / self.n_fft * window[None]).float(),
                             persistent=False)
        self.register_buffer("inv_im", (-scale[:, None] * torch.sin(ang.T) / self.n_fft * window[None]).float(),
                             persistent=False)

    # ------------------------------------------------------------ framing
    def num_frames(self, n: int) -> int:
        """Frames of ``n`` samples: ``n // hop + 2`` (they cover every sample twice)."""
        return int(n) // self.hop + 2

    def frames(self, wave: torch.Tensor) -> torch.Tensor:
        """``(B, N)`` -> frames ``(B, T, n_fft)`` of the signal with ``hop`` zeros in front and ``2 hop`` behind
        (fixed pads: the graph exports with a dynamic length)."""
        x = nn.functional.pad(wave, (self.hop, 2 * self.hop))
        return x.unfold(-1, self.n_fft, self.hop)

    def spectra(self, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Frames ``(..., n_fft)`` -> windowed DFT ``(re, im)``, each ``(..., F)``."""
        return frames @ self.fwd_re, frames @ self.fwd_im

    def analysis(self, wave: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(B, N)`` -> ``(re, im)`` ``(B, T, F)``: :meth:`spectra` of :meth:`frames`, as one strided
        convolution (it exports to ONNX with a dynamic length)."""
        x = nn.functional.pad(wave, (self.hop, 2 * self.hop))[:, None]
        kernels = torch.cat([self.fwd_re, self.fwd_im], 1).T[:, None]        # (2F, 1, n_fft)
        spec = nn.functional.conv1d(x, kernels, stride=self.hop).transpose(1, 2)
        return spec[..., : self.n_bins], spec[..., self.n_bins:]

    def frame_out(self, re: torch.Tensor, im: torch.Tensor) -> torch.Tensor:
        """Spectra ``(..., F)`` -> windowed time frames ``(..., n_fft)`` (to overlap-add)."""
        return re @ self.inv_re + im @ self.inv_im

    def synthesis(self, re: torch.Tensor, im: torch.Tensor, n: int) -> torch.Tensor:
        """``(B, T, F)`` spectra -> ``(B, n)`` samples by overlap-add (inverse of :meth:`analysis`)."""
        fr = self.frame_out(re, im)                       # (B, T, n_fft)
        b, t, _ = fr.shape
        halves = fr.reshape(b, t, 2, self.hop)
        out = torch.zeros(b, t + 1, self.hop, dtype=fr.dtype, device=fr.device)
        out = out + nn.functional.pad(halves[:, :, 0], (0, 0, 0, 1)) + nn.functional.pad(halves[:, :, 1], (0, 0, 1, 0))
        return out.reshape(b, (t + 1) * self.hop)[:, self.hop: self.hop + n]

    # ------------------------------------------------------------ masking
    @staticmethod
    def power(re: torch.Tensor, im: torch.Tensor) -> torch.Tensor:
        """``|X|^2`` ``(B, T, F)``."""
        return re * re + im * im

    def mask(self, re: torch.Tensor, im: torch.Tensor) -> torch.Tensor:
        """Real gains ``(B, T, F)`` in [0, 1] for the noisy spectra (the identity here)."""
        return torch.ones_like(re)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        """Enhanced waveform: ``(B, N)`` -> ``(B, N)``."""
        re, im = self.analysis(wave)
        g = self.mask(re, im)
        return self.synthesis(re * g, im * g, wave.shape[-1])

    def forward_spectra(self, wave: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Training view: ``(enhanced (B, N), mask (B, T, F), noisy power (B, T, F))``."""
        re, im = self.analysis(wave)
        g = self.mask(re, im)
        return self.synthesis(re * g, im * g, wave.shape[-1]), g, self.power(re, im)

    # causal subclasses: init_state() and mask_chunk(re, im, state) -> (mask, state) on any number of frames
    def init_state(self) -> Any:
        """Streaming state of a causal masker (None here)."""
        return None

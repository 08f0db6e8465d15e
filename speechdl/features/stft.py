"""Framing, windows and the FFT power spectrum, computed in blocks of about 10 s.

One ``torch.stft`` over a whole file is 3-4x slower than a loop over 10 s blocks (the working set
falls out of cache), so :func:`blockwise_frames` cuts the padded signal into overlapping blocks
that give exactly the frames of the whole-signal transform and applies a per-frame function to
each block before concatenating.

Example:
    >>> import torch
    >>> spec = PowerSpectrum()(torch.zeros(2, 16000))
    >>> tuple(spec.shape)  # (B, frames, n_fft // 2 + 1)
    (2, 101, 257)
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from speechdl.features.config import FrontendConfig


def make_window(kind: str, length: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Periodic analysis window ``(length,)``: hann, hamming, povey (Kaldi) or rect."""
    if kind == "hann":
        return torch.hann_window(length, periodic=True, dtype=dtype)
    if kind == "hamming":
        return torch.hamming_window(length, periodic=True, dtype=dtype)
    if kind == "povey":
        return torch.hann_window(length, periodic=False, dtype=dtype).pow(0.85)
    return torch.ones(length, dtype=dtype)


def preemphasize(wave: torch.Tensor, coef: float, prev: torch.Tensor | None = None) -> torch.Tensor:
    """``y[n] = x[n] - coef * x[n-1]`` along the last axis; ``prev`` is the sample before ``x[0]``."""
    if coef == 0.0:
        return wave
    before = torch.zeros_like(wave[..., :1]) if prev is None else prev.reshape(wave[..., :1].shape)
    shifted = torch.cat([before, wave[..., :-1]], dim=-1)
    return wave - coef * shifted


def pad_for_center(wave: torch.Tensor, cfg: FrontendConfig) -> torch.Tensor:
    """Pad ``(B, N)`` by ``n_fft // 2`` on both sides when ``cfg.center`` (constant or reflect)."""
    if not cfg.center:
        return wave
    pad = cfg.n_fft // 2
    if cfg.pad_mode == "reflect" and wave.shape[-1] > pad:
        return torch.nn.functional.pad(wave.unsqueeze(1), (pad, pad), mode="reflect").squeeze(1)
    return torch.nn.functional.pad(wave, (pad, pad))


def blockwise_frames(
    padded: torch.Tensor,
    cfg: FrontendConfig,
    window: torch.Tensor,
    per_frame: Callable[[torch.Tensor], torch.Tensor],
) -> torch.Tensor:
    """Power spectra of an already padded signal, block by block, through ``per_frame``.

    Args:
        padded: ``(B, N)`` float waveform, already padded (no centring is applied here).
        cfg: framing settings (``n_fft``, ``win_length``, ``hop_length``, ``power``, ``chunk_seconds``).
        window: ``(win_length,)`` analysis window.
        per_frame: maps a power-spectrum block ``(B, t, n_fft // 2 + 1)`` to ``(B, t, F)``.

    Returns:
        ``(B, T, F)`` with ``T = 1 + (N - n_fft) // hop_length`` (0 if ``N < n_fft``).
    """
    batch, n = padded.shape
    total = 0 if n < cfg.n_fft else 1 + (n - cfg.n_fft) // cfg.hop_length
    if total == 0:
        probe = per_frame(torch.zeros(batch, 0, cfg.n_freqs, dtype=padded.dtype))
        return probe
    per_block = max(1, int(round(cfg.chunk_seconds * cfg.sample_rate / cfg.hop_length)))
    out = []
    for first in range(0, total, per_block):
        count = min(per_block, total - first)
        start = first * cfg.hop_length
        seg = padded[:, start : start + (count - 1) * cfg.hop_length + cfg.n_fft]
        spec = torch.stft(seg, cfg.n_fft, cfg.hop_length, cfg.win_length, window,
                          center=False, return_complex=True)
        power = spec.real.square() + spec.imag.square()  # (B, n_freqs, t), faster than abs()**2
        if cfg.power != 2.0:
            power = power.pow(cfg.power / 2.0)
        out.append(per_frame(power.transpose(1, 2)))
    return out[0] if len(out) == 1 else torch.cat(out, dim=1)


class PowerSpectrum(nn.Module):
    """Framed, windowed FFT power spectrum ``(B, samples) -> (B, frames, n_fft // 2 + 1)``.

    Uses ``cfg.power`` (2 = power, 1 = magnitude), centring and padding as configured; with the
    default config it equals ``abs(librosa.stft(x, n_fft=512, hop_length=160, win_length=400,
    pad_mode='constant')) ** 2`` (transposed).
    """

    def __init__(self, cfg: FrontendConfig | None = None) -> None:
        super().__init__()
        self.cfg = cfg or FrontendConfig(kind="power")
        self.register_buffer("window", make_window(self.cfg.window, self.cfg.win_length), persistent=False)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        """``wave`` ``(B, samples)`` or ``(samples,)`` -> ``(B, frames, n_freqs)``."""
        wave = wave.unsqueeze(0) if wave.dim() == 1 else wave
        wave = preemphasize(wave, self.cfg.preemphasis)
        return blockwise_frames(pad_for_center(wave, self.cfg), self.cfg, self.window, lambda p: p)

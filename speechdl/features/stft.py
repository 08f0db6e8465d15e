"""Framing, windows and the FFT power spectrum, computed in blocks of about 10 s.

One ``torch.stft`` over a whole file is 3-4x slower than a loop over 10 s blocks (the working set
falls out of cache), so :func:`blockwise_frames` cuts the signal into overlapping blocks that give
exactly the frames of the whole-signal transform and applies a per-frame function to each block
before concatenating. The centring padding is applied per block (:func:`centred_segment`): padding
a 10 min signal as a whole costs as much as a fifth of the log-Mel time (a fresh 38 MB buffer).

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


def padded_window(window: torch.Tensor, n_fft: int) -> torch.Tensor:
    """``(win_length,)`` window zero-padded to ``(n_fft,)`` and centred, as ``torch.stft`` places it."""
    left = (n_fft - window.shape[-1]) // 2
    return torch.nn.functional.pad(window, (left, n_fft - window.shape[-1] - left))


def centred_segment(wave: torch.Tensor, start: int, stop: int, cfg: FrontendConfig) -> torch.Tensor:
    """``pad_for_center(wave, cfg)[:, start:stop]`` without padding (copying) the whole signal.

    Interior segments are views of ``wave``; only segments that reach into the padding are built.
    """
    pad = cfg.n_fft // 2 if cfg.center else 0
    n = wave.shape[-1]
    lo, hi = start - pad, stop - pad
    if lo >= 0 and hi <= n:
        return wave[:, lo:hi]
    idx = torch.arange(lo, hi)
    if cfg.pad_mode == "reflect" and n > pad:  # torch's reflect: x[1..pad] mirrored, edge not repeated
        idx = idx.abs()
        return wave[:, torch.where(idx >= n, 2 * (n - 1) - idx, idx)]
    seg = wave.new_zeros(wave.shape[0], hi - lo)
    a, b = max(lo, 0), min(hi, n)
    if b > a:
        seg[:, a - lo : b - lo] = wave[:, a:b]
    return seg


def frame_power(seg: torch.Tensor, cfg: FrontendConfig, window: torch.Tensor) -> torch.Tensor:
    """Power spectra ``(B, t, n_fft // 2 + 1)`` of every frame of ``seg`` ``(B, n)`` (no centring).

    Equals ``torch.stft(seg, n_fft, hop, win_length, window, center=False).abs() ** cfg.power``
    (transposed) but squares the FFT output in place instead of building ``real**2`` and ``imag**2``.

    Args:
        seg: ``(B, n)`` with ``n >= n_fft``.
        cfg: ``n_fft``, ``hop_length`` and ``power``.
        window: ``(n_fft,)`` window, already padded (:func:`padded_window`).
    """
    frames = seg.unfold(-1, cfg.n_fft, cfg.hop_length) * window  # (B, t, n_fft)
    parts = torch.view_as_real(torch.fft.rfft(frames))  # (B, t, n_freqs, 2), freshly allocated
    if torch.is_grad_enabled() and parts.requires_grad:  # keep autograd's saved tensors intact
        parts = parts * parts
        power = parts[..., 0] + parts[..., 1]
        # d/dx x^(p/2) is infinite at 0 for p < 2 (a digitally silent frame made a vocoder's loss NaN): clamp,
        # which changes nothing above 1e-12 (magnitude 1e-6, far below any log floor) and gives a zero gradient
        return power.clamp_min(1e-12).pow(cfg.power / 2.0) if cfg.power != 2.0 else power
    parts.mul_(parts)
    power = torch.add(parts[..., 0], parts[..., 1])
    return power.pow_(cfg.power / 2.0) if cfg.power != 2.0 else power


def blockwise_frames(
    padded: torch.Tensor,
    cfg: FrontendConfig,
    window: torch.Tensor,
    per_frame: Callable[[torch.Tensor], torch.Tensor],
    center: bool = False,
) -> torch.Tensor:
    """Power spectra of a signal, block by block, through ``per_frame``.

    Args:
        padded: ``(B, N)`` float waveform, already padded, or raw when ``center`` is true.
        cfg: framing settings (``n_fft``, ``win_length``, ``hop_length``, ``power``, ``chunk_seconds``).
        window: ``(win_length,)`` analysis window.
        per_frame: maps a power-spectrum block ``(B, t, n_fft // 2 + 1)`` to ``(B, t, F)``.
        center: apply ``cfg``'s centring padding per block (as :func:`pad_for_center` would on the
            whole signal, but copying only the first and last blocks).

    Returns:
        ``(B, T, F)`` with ``T = 1 + (N' - n_fft) // hop_length`` (0 if ``N' < n_fft``), where ``N'``
        is the padded length.
    """
    batch, n = padded.shape
    if center and cfg.center:
        n += 2 * (cfg.n_fft // 2)
    else:
        center = False
    total = 0 if n < cfg.n_fft else 1 + (n - cfg.n_fft) // cfg.hop_length
    if total == 0:
        probe = per_frame(torch.zeros(batch, 0, cfg.n_freqs, dtype=padded.dtype))
        return probe
    full_window = padded_window(window, cfg.n_fft)
    per_block = max(1, int(round(cfg.chunk_seconds * cfg.sample_rate / cfg.hop_length)))
    out = []
    for first in range(0, total, per_block):
        count = min(per_block, total - first)
        start = first * cfg.hop_length
        stop = start + (count - 1) * cfg.hop_length + cfg.n_fft
        seg = centred_segment(padded, start, stop, cfg) if center else padded[:, start:stop]
        out.append(per_frame(frame_power(seg, cfg, full_window)))
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
        return blockwise_frames(wave, self.cfg, self.window, lambda p: p, center=True)

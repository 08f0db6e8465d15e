"""Multi-resolution STFT magnitude loss (Yamamoto, Song and Kim 2020, Parallel WaveGAN; ClariNet's STFT term).

For each resolution ``(n_fft, hop, window)``: spectral convergence ``‖|Y| - |X|‖_F / ‖|X|‖_F`` plus the mean
absolute difference of the log magnitudes (Hann windows, centred frames, magnitudes floored at ``sqrt(1e-7)``);
the loss is the mean over resolutions. ``x`` is the reference (real audio), ``y`` the generated waveform.

Example:
    >>> import torch
    >>> x = torch.sin(torch.arange(8000) * 0.1)[None]
    >>> float(stft_magnitude_loss(x, x))
    0.0
    >>> bool(stft_magnitude_loss(0.5 * x, x) > 0.5)      # a gain shows in both terms
    True
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

# Parallel WaveGAN's three resolutions (FFT size, hop, window length)
RESOLUTIONS: tuple[tuple[int, int, int], ...] = ((1024, 120, 600), (2048, 240, 1200), (512, 50, 240))


def stft_magnitude(x: Tensor, n_fft: int, hop: int, win: int) -> Tensor:
    """|STFT| of waveforms ``(B, N)`` -> ``(B, frames, n_fft // 2 + 1)``, floored at ``sqrt(1e-7)`` (safe gradients)."""
    window = torch.hann_window(win, dtype=x.dtype, device=x.device)
    spec = torch.view_as_real(torch.stft(x, n_fft, hop, win, window=window, return_complex=True))
    return torch.sqrt(spec.pow(2).sum(-1).clamp_min(1e-7)).transpose(1, 2)


def stft_magnitude_loss(y: Tensor, x: Tensor,
                        resolutions: Sequence[Sequence[int]] = RESOLUTIONS) -> Tensor:
    """Spectral convergence + log-magnitude L1 of ``y`` against ``x`` (both ``(B, N)``), averaged over resolutions."""
    if y.shape != x.shape:
        raise ValueError(f"waveforms differ in shape: {tuple(y.shape)} vs {tuple(x.shape)}")
    total = y.new_zeros(())
    for n_fft, hop, win in resolutions:
        my, mx = stft_magnitude(y, n_fft, hop, win), stft_magnitude(x, n_fft, hop, win)
        sc = torch.linalg.norm(mx - my) / torch.linalg.norm(mx).clamp_min(1e-7)
        total = total + sc + (torch.log(my) - torch.log(mx)).abs().mean()
    return total / len(resolutions)

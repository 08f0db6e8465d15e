"""Mel filterbank (Slaney or HTK scale) and the log compression of filterbank energies.

The filterbank is computed in float64 exactly as ``librosa.filters.mel`` does (triangles in Hz
between mel-spaced edges, optional Slaney area normalisation), then stored as float32.

Example:
    >>> fb = mel_filterbank(16000, 512, 40)
    >>> tuple(fb.shape)  # (n_fft // 2 + 1, n_mels)
    (257, 40)
"""

from __future__ import annotations

import math

import torch

_F_SP = 200.0 / 3  # Slaney: linear part, Hz per mel
_MIN_LOG_HZ = 1000.0
_MIN_LOG_MEL = _MIN_LOG_HZ / _F_SP
_LOGSTEP = math.log(6.4) / 27.0


def hz_to_mel(hz: torch.Tensor, scale: str = "slaney") -> torch.Tensor:
    """Frequency in Hz to mels (``slaney``: linear below 1 kHz, log above; ``htk``: 2595 log10(1 + f/700))."""
    hz = torch.as_tensor(hz, dtype=torch.float64)
    if scale == "htk":
        return 2595.0 * torch.log10(1.0 + hz / 700.0)
    lin = hz / _F_SP
    log = _MIN_LOG_MEL + torch.log(torch.clamp(hz, min=_MIN_LOG_HZ) / _MIN_LOG_HZ) / _LOGSTEP
    return torch.where(hz >= _MIN_LOG_HZ, log, lin)


def mel_to_hz(mel: torch.Tensor, scale: str = "slaney") -> torch.Tensor:
    """Inverse of :func:`hz_to_mel`."""
    mel = torch.as_tensor(mel, dtype=torch.float64)
    if scale == "htk":
        return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)
    lin = _F_SP * mel
    log = _MIN_LOG_HZ * torch.exp(_LOGSTEP * (mel - _MIN_LOG_MEL))
    return torch.where(mel >= _MIN_LOG_MEL, log, lin)


def mel_filterbank(
    sample_rate: int,
    n_fft: int,
    n_mels: int,
    f_min: float = 0.0,
    f_max: float | None = None,
    scale: str = "slaney",
    norm: str = "slaney",
) -> torch.Tensor:
    """Triangular mel filters as a ``(n_fft // 2 + 1, n_mels)`` float32 matrix (power spectrum @ fb)."""
    f_max = sample_rate / 2.0 if f_max is None else float(f_max)
    fft_freqs = torch.linspace(0.0, sample_rate / 2.0, n_fft // 2 + 1, dtype=torch.float64)
    mels = torch.linspace(float(hz_to_mel(torch.tensor(f_min), scale)),
                          float(hz_to_mel(torch.tensor(f_max), scale)), n_mels + 2, dtype=torch.float64)
    edges = mel_to_hz(mels, scale)  # (n_mels + 2,)
    widths = edges.diff()
    ramps = edges[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / widths[:-1, None]
    upper = ramps[2:] / widths[1:, None]
    weights = torch.clamp(torch.minimum(lower, upper), min=0.0)  # (n_mels, n_freqs)
    if norm == "slaney":
        weights = weights * (2.0 / (edges[2:] - edges[:-2]))[:, None]
    return weights.T.contiguous().to(torch.float32)


def mel_bands(fb: torch.Tensor, groups: int = 4) -> list[tuple[int, int, int, int]]:
    """Split the filters of ``fb`` ``(n_freqs, n_mels)`` into ``groups`` runs of adjacent bands.

    Returns ``(m0, m1, lo, hi)`` per run: bands ``m0:m1`` have all their non-zero weights in FFT
    bins ``lo:hi``. Multiplying each run by its own bins skips the zeros of the triangular
    filters: with 40 bands over 257 bins, 4 runs do about a quarter of the dense product's work.
    """
    n_mels = fb.shape[1]
    edges = [round(i * n_mels / max(1, min(groups, n_mels))) for i in range(min(groups, n_mels) + 1)]
    out = []
    for m0, m1 in zip(edges[:-1], edges[1:]):
        rows = (fb[:, m0:m1] != 0).any(dim=1).nonzero()[:, 0]
        lo, hi = (int(rows[0]), int(rows[-1]) + 1) if len(rows) else (0, 0)
        out.append((m0, m1, lo, hi))
    return out


def banded_mel(power: torch.Tensor, fb: torch.Tensor, bands: list[tuple[int, int, int, int]]) -> torch.Tensor:
    """Mel energies ``power @ fb``: ``(B, t, n_freqs) -> (B, t, n_mels)``, stored band-major.

    ``bands`` comes from :func:`mel_bands` of the same ``fb``; weights outside a run's bins are zero,
    so the result equals the dense product up to float32 summation order. All ``B * t`` frames go
    through one product per run; the result is a permuted view of a ``(n_mels, B, t)`` tensor.
    """
    if torch.is_grad_enabled() and (power.requires_grad or fb.requires_grad):
        return power @ fb  # out= products do not support autograd
    batch, frames, n_freqs = power.shape
    rows = power.reshape(batch * frames, n_freqs)
    out = power.new_empty(fb.shape[1], batch * frames)
    fb_t = fb.T
    for m0, m1, lo, hi in bands:
        if hi > lo:
            torch.mm(fb_t[m0:m1, lo:hi], rows[:, lo:hi].T, out=out[m0:m1])
        else:
            out[m0:m1] = 0.0
    return out.view(fb.shape[1], batch, frames).permute(1, 2, 0)


def log_compress(x: torch.Tensor, kind: str = "ln", floor: float = 1e-10) -> torch.Tensor:
    """``ln(max(x, floor))`` or, for ``kind='db'``, ``10 log10(max(x, floor))`` (librosa.power_to_db)."""
    y = torch.clamp(x, min=floor).log_()
    return y.mul_(10.0 / math.log(10.0)) if kind == "db" else y

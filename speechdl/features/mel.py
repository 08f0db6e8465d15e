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


def log_compress(x: torch.Tensor, kind: str = "ln", floor: float = 1e-10) -> torch.Tensor:
    """``ln(max(x, floor))`` or, for ``kind='db'``, ``10 log10(max(x, floor))`` (librosa.power_to_db)."""
    y = torch.clamp(x, min=floor).log_()
    return y.mul_(10.0 / math.log(10.0)) if kind == "db" else y

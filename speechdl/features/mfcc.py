"""Cepstra: the orthonormal DCT-II that turns log-Mel energies into MFCCs.

Example:
    >>> import torch
    >>> d = dct_matrix(40, 13)
    >>> tuple(d.shape), bool(torch.allclose(d.T @ d, torch.eye(13), atol=1e-6))
    ((40, 13), True)
"""

from __future__ import annotations

import math

import torch


def dct_matrix(n_in: int, n_out: int) -> torch.Tensor:
    """Orthonormal DCT-II basis ``(n_in, n_out)``: ``log_mel @ D`` gives the first ``n_out`` cepstra.

    Equals ``scipy.fft.dct(x, type=2, norm='ortho')[..., :n_out]`` (what librosa's MFCC uses).
    """
    n = torch.arange(n_in, dtype=torch.float64)
    k = torch.arange(n_out, dtype=torch.float64)
    basis = torch.cos(math.pi / n_in * (n[:, None] + 0.5) * k[None, :]) * math.sqrt(2.0 / n_in)
    basis[:, 0] /= math.sqrt(2.0)
    return basis.to(torch.float32)

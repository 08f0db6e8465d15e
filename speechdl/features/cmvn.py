"""Cepstral mean and variance normalisation, per utterance or with global statistics.

Global statistics are buffers of the module, so they are saved with the model (state_dict) and
travel in its bundle.

Example:
    >>> import torch
    >>> x = torch.randn(2, 50, 3) * 4 + 7
    >>> y = CMVN("utterance")(x)
    >>> bool(y.mean(1).abs().max() < 1e-5), bool((y.std(1, unbiased=False) - 1).abs().max() < 1e-4)
    (True, True)
"""

from __future__ import annotations

import torch
from torch import nn

from speechdl.errors import ConfigError


def _length_mask(feats: torch.Tensor, lengths: torch.Tensor | None) -> torch.Tensor:
    b, t, _ = feats.shape
    if lengths is None:
        return torch.ones(b, t, 1, dtype=feats.dtype)
    return (torch.arange(t).unsqueeze(0) < lengths.unsqueeze(1)).unsqueeze(2).to(feats.dtype)


class CMVN(nn.Module):
    """Normalise ``(B, T, F)`` features to zero mean (and unit variance when ``norm_vars``).

    ``mode='utterance'`` uses each utterance's own statistics (respecting ``lengths`` of a padded
    batch); ``mode='global'`` uses statistics accumulated by :meth:`accumulate` and frozen by
    :meth:`finalize`, stored as buffers.
    """

    def __init__(self, mode: str = "utterance", dim: int | None = None, norm_vars: bool = True,
                 eps: float = 1e-5) -> None:
        super().__init__()
        if mode not in ("utterance", "global", "none"):
            raise ConfigError("cmvn", f"mode={mode!r} is not valid", "use utterance, global or none")
        self.mode, self.norm_vars, self.eps = mode, norm_vars, eps
        if mode == "global":
            if dim is None:
                raise ConfigError("cmvn", "global CMVN needs the feature dimension", "pass dim=F")
            self.register_buffer("mean", torch.zeros(dim))
            self.register_buffer("std", torch.ones(dim))
            self.register_buffer("count", torch.zeros((), dtype=torch.float64))
            self.register_buffer("sum", torch.zeros(dim, dtype=torch.float64))
            self.register_buffer("sumsq", torch.zeros(dim, dtype=torch.float64))

    @torch.no_grad()
    def accumulate(self, feats: torch.Tensor, lengths: torch.Tensor | None = None) -> None:
        """Add a batch ``(B, T, F)`` to the global statistics."""
        m = _length_mask(feats, lengths).double()
        x = feats.double() * m
        self.count += m.sum()
        self.sum += x.sum(dim=(0, 1))
        self.sumsq += (x * feats.double()).sum(dim=(0, 1))

    @torch.no_grad()
    def finalize(self) -> None:
        """Turn the accumulated sums into ``mean`` and ``std``."""
        if float(self.count) == 0:
            raise ConfigError("cmvn", "no statistics accumulated", "call accumulate() on training data first")
        mean = self.sum / self.count
        var = (self.sumsq / self.count - mean.square()).clamp(min=0.0)
        self.mean.copy_(mean.float())
        self.std.copy_(var.sqrt().float().clamp(min=self.eps))

    def forward(self, feats: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """``(B, T, F) -> (B, T, F)``; padded frames (beyond ``lengths``) are left as zeros."""
        if self.mode == "none":
            return feats
        if self.mode == "global":
            out = feats - self.mean
            return out / self.std if self.norm_vars else out
        m = _length_mask(feats, lengths)
        n = m.sum(dim=1, keepdim=True).clamp(min=1.0)
        mean = (feats * m).sum(dim=1, keepdim=True) / n
        out = (feats - mean) * m
        if self.norm_vars:
            std = (out.square().sum(dim=1, keepdim=True) / n).sqrt().clamp(min=self.eps)
            out = out / std
        return out

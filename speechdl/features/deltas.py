"""Regression deltas (HTK formula), as in python_speech_features and librosa (``mode='nearest'``).

``d[t] = sum_{n=1..N} n (c[t+n] - c[t-n]) / (2 sum_{n=1..N} n^2)`` with the edge frames repeated.

Example:
    >>> import torch
    >>> c = torch.arange(6.0).reshape(1, 6, 1)  # a ramp: slope 1 per frame
    >>> deltas(c, 2)[0, 2:4, 0].tolist()
    [1.0, 1.0]
"""

from __future__ import annotations

import torch
from torch import nn


def deltas(feats: torch.Tensor, window: int = 2) -> torch.Tensor:
    """Delta features ``(B, T, F) -> (B, T, F)`` over ``+-window`` frames."""
    if feats.shape[1] == 0:
        return feats.clone()
    padded = torch.cat([feats[:, :1].expand(-1, window, -1), feats, feats[:, -1:].expand(-1, window, -1)], 1)
    t = feats.shape[1]
    # n = 1 initialises, n >= 2 accumulate n * (ahead - behind); same rounding as the plain formula
    out = torch.sub(padded[:, window + 1 : window + 1 + t], padded[:, window - 1 : window - 1 + t])
    for n in range(2, window + 1):
        out.add_((padded[:, window + n : window + n + t] - padded[:, window - n : window - n + t]).mul_(n))
    return out.div_(2 * sum(n * n for n in range(1, window + 1)))


def add_deltas(feats: torch.Tensor, order: int = 2, window: int = 2) -> torch.Tensor:
    """Concatenate statics with ``order`` levels of deltas: ``(B, T, F) -> (B, T, F * (1 + order))``."""
    levels = [feats]
    for _ in range(order):
        levels.append(deltas(levels[-1], window))
    return torch.cat(levels, dim=-1)


class Deltas(nn.Module):
    """Module form of :func:`add_deltas`."""

    def __init__(self, order: int = 2, window: int = 2) -> None:
        super().__init__()
        self.order, self.window = order, window

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        """``(B, T, F) -> (B, T, F * (1 + order))``."""
        return add_deltas(feats, self.order, self.window)

"""Frame stacking (splicing): the lecture's "frame stacking at input", +-k context frames.

Example:
    >>> import torch
    >>> x = torch.arange(4.0).reshape(1, 4, 1)
    >>> stack_frames(x, 1)[0].tolist()  # edges repeat the first / last frame
    [[0.0, 0.0, 1.0], [0.0, 1.0, 2.0], [1.0, 2.0, 3.0], [2.0, 3.0, 3.0]]
"""

from __future__ import annotations

import torch
from torch import nn


def stack_frames(feats: torch.Tensor, context: int, stride: int = 1) -> torch.Tensor:
    """``(B, T, F) -> (B, ceil(T / stride), F * (2 context + 1))``: frames t-k..t+k side by side."""
    if context == 0:
        return feats[:, ::stride]
    t = feats.shape[1]
    if t == 0:
        return feats.new_zeros(feats.shape[0], 0, feats.shape[2] * (2 * context + 1))
    idx = torch.arange(t).unsqueeze(1) + torch.arange(-context, context + 1).unsqueeze(0)
    idx = idx.clamp_(0, t - 1)[::stride]  # (T', 2k+1)
    out = feats[:, idx]  # (B, T', 2k+1, F)
    return out.reshape(feats.shape[0], idx.shape[0], -1)


class FrameStack(nn.Module):
    """Module form of :func:`stack_frames`."""

    def __init__(self, context: int = 5, stride: int = 1) -> None:
        super().__init__()
        self.context, self.stride = context, stride

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        """``(B, T, F) -> (B, T', F * (2 context + 1))``."""
        return stack_frames(feats, self.context, self.stride)

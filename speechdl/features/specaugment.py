"""SpecAugment: random frequency and time masks on ``(B, T, F)`` features (training only).

Example:
    >>> import torch
    >>> aug = SpecAugment(freq_masks=1, freq_width=5, time_masks=1, time_width=10).train()
    >>> y = aug(torch.ones(2, 100, 40), generator=torch.Generator().manual_seed(0))
    >>> bool((y == 0).any()), tuple(y.shape)
    (True, (2, 100, 40))
"""

from __future__ import annotations

import torch
from torch import nn


class SpecAugment(nn.Module):
    """Zero (or mean-fill) up to ``freq_masks`` bands of width <= ``freq_width`` and ``time_masks``
    spans of width <= ``time_width`` frames (at most ``max_time_ratio`` of the utterance)."""

    def __init__(self, freq_masks: int = 2, freq_width: int = 8, time_masks: int = 2, time_width: int = 40,
                 max_time_ratio: float = 0.2, fill: str = "zero") -> None:
        super().__init__()
        self.freq_masks, self.freq_width = freq_masks, freq_width
        self.time_masks, self.time_width = time_masks, time_width
        self.max_time_ratio, self.fill = max_time_ratio, fill

    def _mask(self, n: int, width: int, count: int, batch: int, gen) -> torch.Tensor:
        mask = torch.zeros(batch, n, dtype=torch.bool)
        if n == 0 or width <= 0:
            return mask
        for _ in range(count):
            w = torch.randint(0, min(width, n) + 1, (batch,), generator=gen)
            start = (torch.rand(batch, generator=gen) * (n - w + 1)).long()
            pos = torch.arange(n).unsqueeze(0)
            mask |= (pos >= start.unsqueeze(1)) & (pos < (start + w).unsqueeze(1))
        return mask

    def forward(self, feats: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """``(B, T, F) -> (B, T, F)``; identity in eval mode."""
        if not self.training:
            return feats
        b, t, f = feats.shape
        fmask = self._mask(f, self.freq_width, self.freq_masks, b, generator)  # (B, F)
        tw = min(self.time_width, int(self.max_time_ratio * t))
        tmask = self._mask(t, tw, self.time_masks, b, generator)  # (B, T)
        mask = (fmask.unsqueeze(1) | tmask.unsqueeze(2)).to(feats.device)  # drawn on the CPU generator
        value = feats.mean(dim=(1, 2), keepdim=True) if self.fill == "mean" else 0.0
        return torch.where(mask, value, feats) if self.fill == "mean" else feats.masked_fill(mask, 0.0)

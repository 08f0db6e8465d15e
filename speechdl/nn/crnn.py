"""A causal convolutional-recurrent frame model (``vad_crnn``): streams exactly.

Example:
    >>> import torch
    >>> net = CausalCRNN(8, channels=[16], kernel_size=3, hidden_size=8).eval()
    >>> x = torch.randn(1, 20, 8)
    >>> a, s = net.forward_chunk(x[:, :7]); b, _ = net.forward_chunk(x[:, 7:], s)
    >>> bool(torch.allclose(torch.cat([a, b], 1), net(x), atol=1e-5))
    True
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from speechdl.nn.registry import register


@register("vad_crnn")
class CausalCRNN(nn.Module):
    """Causal 1-D convolutions over time, then a unidirectional GRU, then one logit per frame.

    Convolutions are padded on the left only, so the net streams exactly (``forward_chunk`` keeps
    the last ``kernel_size - 1`` frames of every conv input and the GRU state).

    Args:
        in_dim: features F. channels: conv widths. kernel_size: odd or even, >= 1.
        hidden_size: GRU units. out_dim: logits per frame (1 for VAD). dropout: before the head.

    Shapes: ``(B, T, F)`` -> ``(B, T, out_dim)``.
    """

    def __init__(self, in_dim: int, channels: list[int] | None = None, kernel_size: int = 5,
                 hidden_size: int = 32, out_dim: int = 1, dropout: float = 0.0) -> None:
        super().__init__()
        chans = [in_dim, *(channels or [32, 32])]
        self.k = int(kernel_size)
        self.convs = nn.ModuleList(nn.Conv1d(a, b, self.k) for a, b in zip(chans[:-1], chans[1:]))
        self.gru = nn.GRU(chans[-1], hidden_size, batch_first=True)
        self.drop = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.head = nn.Linear(hidden_size, out_dim)

    def _convs(self, h: torch.Tensor, ctx: list[torch.Tensor] | None) -> tuple[torch.Tensor, list[torch.Tensor]]:
        h = h.transpose(1, 2)  # (B, C, T)
        new = []
        for i, conv in enumerate(self.convs):
            left = h.new_zeros(h.shape[0], h.shape[1], self.k - 1) if ctx is None else ctx[i]
            h = torch.cat([left, h], dim=2)
            new.append(h[:, :, h.shape[2] - (self.k - 1):])
            h = F.relu(conv(h))
        return h.transpose(1, 2), new

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, T, F) -> (B, T, out_dim)``."""
        h, _ = self._convs(x, None)
        y, _ = self.gru(h)
        return self.head(self.drop(y))

    def init_state(self, batch_size: int = 1) -> None:
        """Zero state (built lazily by :meth:`forward_chunk`)."""
        return None

    def forward_chunk(self, x: torch.Tensor, state: Any = None) -> tuple[torch.Tensor, Any]:
        """``(B, t, F)`` chunk -> ``((B, t, out_dim), state)``; any chunk sizes give :meth:`forward`'s frames."""
        ctx, hid = (None, None) if state is None else state
        h, ctx = self._convs(x, ctx)
        y, hid = self.gru(h, hid)
        return self.head(y), (ctx, hid)


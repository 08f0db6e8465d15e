"""Attention for encoder-decoder models: additive (Bahdanau et al. 2015) and location-aware
(Chorowski et al. 2015), both masking padded encoder frames.

One decoder step asks: given the decoder state ``query`` (B, Dq), the encoder outputs ``keys``
(B, T, Dk) and their validity ``mask`` (B, T) (True = real frame), which frames matter now?
The answer is ``weights`` (B, T) — a distribution over valid frames that is exactly zero on padding —
and the ``context`` (B, Dk) = sum_t weights[:, t] * keys[:, t].

Both classes share one call signature, ``attn(query, keys, mask, prev_weights, processed_keys)``;
additive attention ignores ``prev_weights``. ``processed_keys = attn.process_keys(keys)`` may be
computed once per utterance and passed to every step to save the key projection.

Example:
    >>> import torch
    >>> from speechdl.nn import build
    >>> attn = build("location_attention", query_dim=8, key_dim=6, attn_dim=5)
    >>> mask = torch.tensor([[True] * 4, [True, True, False, False]])
    >>> ctx, w = attn(torch.randn(2, 8), torch.randn(2, 4, 6), mask)
    >>> tuple(ctx.shape), w[1, 2:].tolist(), bool(torch.allclose(w.sum(1), torch.ones(2)))
    ((2, 6), [0.0, 0.0], True)
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from speechdl.nn.registry import register


def masked_softmax(scores: Tensor, mask: Tensor | None) -> Tensor:
    """Softmax over the last axis of (B, T) scores with weights exactly 0 where ``mask`` is False."""
    if mask is None:
        return torch.softmax(scores, dim=-1)
    w = torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=-1)
    return w.masked_fill(~mask, 0.0)  # rows with no valid frame would be NaN: make them 0


@register("additive_attention")
class AdditiveAttention(nn.Module):
    """Bahdanau (content-based, additive) attention: e_t = v^T tanh(W q + U k_t + b).

    Args:
        query_dim: decoder state size Dq. key_dim: encoder output size Dk. attn_dim: hidden size.
        sharpening: inverse temperature applied to the scores (1.0 = plain softmax).

    Shapes: query (B, Dq), keys (B, T, Dk), mask (B, T) bool -> context (B, Dk), weights (B, T).

    Example:
        >>> import torch
        >>> attn = AdditiveAttention(query_dim=4, key_dim=3, attn_dim=5)
        >>> ctx, w = attn(torch.randn(2, 4), torch.randn(2, 7, 3))
        >>> tuple(ctx.shape), tuple(w.shape)
        ((2, 3), (2, 7))
    """

    def __init__(self, query_dim: int, key_dim: int, attn_dim: int = 128, sharpening: float = 1.0) -> None:
        super().__init__()
        self.query_proj = nn.Linear(query_dim, attn_dim, bias=True)
        self.key_proj = nn.Linear(key_dim, attn_dim, bias=False)
        self.v = nn.Linear(attn_dim, 1, bias=False)
        self.sharpening = sharpening

    def process_keys(self, keys: Tensor) -> Tensor:
        """Project the encoder outputs once per utterance: (B, T, Dk) -> (B, T, attn_dim)."""
        return self.key_proj(keys)

    def _energies(self, query: Tensor, processed: Tensor, prev_weights: Tensor | None) -> Tensor:
        return self.v(torch.tanh(processed + self.query_proj(query)[:, None, :])).squeeze(-1)

    def forward(self, query: Tensor, keys: Tensor, mask: Tensor | None = None,
                prev_weights: Tensor | None = None, processed_keys: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """One attention step; see the class docstring for shapes."""
        processed = self.process_keys(keys) if processed_keys is None else processed_keys
        scores = self.sharpening * self._energies(query, processed, prev_weights)
        weights = masked_softmax(scores, mask)
        context = torch.bmm(weights[:, None, :], keys).squeeze(1)
        return context, weights


@register("location_attention")
class LocationAwareAttention(AdditiveAttention):
    """Location-aware attention (Chorowski et al. 2015): the additive score also sees features
    f = F * alpha_{i-1} obtained by convolving the previous step's attention weights:
    e_t = v^T tanh(W q + U k_t + V f_t + b).

    Args:
        query_dim, key_dim, attn_dim, sharpening: as :class:`AdditiveAttention`.
        n_filters: convolution channels over the previous weights. kernel_size: odd filter width.

    Shapes: query (B, Dq), keys (B, T, Dk), mask (B, T), prev_weights (B, T) or None (then a uniform
    distribution over the valid frames is used) -> context (B, Dk), weights (B, T).

    Example:
        >>> import torch
        >>> attn = LocationAwareAttention(query_dim=4, key_dim=3, attn_dim=5, n_filters=2, kernel_size=3)
        >>> ctx, w = attn(torch.randn(2, 4), torch.randn(2, 7, 3), prev_weights=torch.full((2, 7), 1 / 7))
        >>> tuple(w.shape)
        (2, 7)
    """

    def __init__(self, query_dim: int, key_dim: int, attn_dim: int = 128, n_filters: int = 10,
                 kernel_size: int = 31, sharpening: float = 1.0) -> None:
        super().__init__(query_dim, key_dim, attn_dim, sharpening)
        if kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd, not {kernel_size}")
        self.loc_conv = nn.Conv1d(1, n_filters, kernel_size, padding=kernel_size // 2, bias=False)
        self.loc_proj = nn.Linear(n_filters, attn_dim, bias=False)

    def _energies(self, query: Tensor, processed: Tensor, prev_weights: Tensor | None) -> Tensor:
        assert prev_weights is not None
        loc = self.loc_proj(self.loc_conv(prev_weights[:, None, :]).transpose(1, 2))  # (B, T, A)
        return self.v(torch.tanh(processed + self.query_proj(query)[:, None, :] + loc)).squeeze(-1)

    def forward(self, query: Tensor, keys: Tensor, mask: Tensor | None = None,
                prev_weights: Tensor | None = None, processed_keys: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """One attention step; see the class docstring for shapes."""
        if prev_weights is None:
            prev_weights = initial_weights(keys.shape[0], keys.shape[1], mask, keys)
        return super().forward(query, keys, mask, prev_weights, processed_keys)


def initial_weights(batch: int, frames: int, mask: Tensor | None, like: Tensor) -> Tensor:
    """Uniform attention over the valid frames, (B, T): the 'previous weights' of the first step."""
    if mask is None:
        return torch.full((batch, frames), 1.0 / frames, dtype=like.dtype, device=like.device)
    m = mask.to(like.dtype)
    return m / m.sum(-1, keepdim=True).clamp_min(1.0)


__all__ = ["AdditiveAttention", "LocationAwareAttention", "initial_weights", "masked_softmax"]

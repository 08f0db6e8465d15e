"""BERT (Devlin et al., 2019): a Transformer encoder over word pieces that learns context by masked-token prediction.

Token, position and segment embeddings are summed and layer-normalised; each of ``n_layers`` post-norm layers
runs multi-head self-attention and a GELU feed-forward block, each followed by dropout, a residual connection
and LayerNorm (the original layout, so that published BERT-family weights load: :meth:`BertEncoder.load_hf`).
The masked-LM head is a dense GELU layer, LayerNorm and a projection tied to the token embeddings.

Shapes: ids (B, T) int64, lengths (B,) -> states (B, T, d_model) (:meth:`BertEncoder.encode`), MLM logits
(B, T, vocab) (``forward``), mean-pooled (B, d_model) (:meth:`BertEncoder.pool`). Padding positions are masked
out of attention, so the states of a sequence never depend on its padding.

Example:
    >>> import torch
    >>> net = BertEncoder(vocab_size=30, d_model=16, n_heads=2, n_layers=2, ff_dim=32).eval()
    >>> ids, lens = torch.tensor([[2, 5, 6, 3], [2, 7, 3, 0]]), torch.tensor([4, 3])
    >>> tuple(net(ids, lens).shape), tuple(net.pool(ids, lens).shape)
    ((2, 4, 30), (2, 16))
    >>> short = net.encode(ids[1:, :3], lens[1:])
    >>> bool(torch.allclose(net.encode(ids, lens)[1, :3], short[0], atol=1e-5))   # padding changes nothing
    True
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from speechdl.nn.registry import register


class _Attention(nn.Module):
    def __init__(self, d_model: int, n_heads: int, dropout: float) -> None:
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"d_model={d_model} is not a multiple of n_heads={n_heads}")
        self.h = n_heads
        self.query, self.key, self.value = (nn.Linear(d_model, d_model) for _ in range(3))
        self.out = nn.Linear(d_model, d_model)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: Tensor, pad: Tensor) -> Tensor:
        b, t, d = x.shape
        q, k, v = (proj(x).view(b, t, self.h, d // self.h).transpose(1, 2)
                   for proj in (self.query, self.key, self.value))
        scores = q @ k.transpose(-1, -2) / math.sqrt(d // self.h)
        scores = scores.masked_fill(pad[:, None, None, :], float("-inf"))
        att = self.drop(torch.softmax(scores, dim=-1)) @ v
        return self.out(att.transpose(1, 2).reshape(b, t, d))


class _Layer(nn.Module):
    def __init__(self, d_model: int, n_heads: int, ff_dim: int, dropout: float, eps: float) -> None:
        super().__init__()
        self.attn = _Attention(d_model, n_heads, dropout)
        self.norm1 = nn.LayerNorm(d_model, eps=eps)
        self.ff1, self.ff2 = nn.Linear(d_model, ff_dim), nn.Linear(ff_dim, d_model)
        self.norm2 = nn.LayerNorm(d_model, eps=eps)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: Tensor, pad: Tensor) -> Tensor:
        x = self.norm1(x + self.drop(self.attn(x, pad)))
        return self.norm2(x + self.drop(self.ff2(F.gelu(self.ff1(x)))))


@register("bert")
class BertEncoder(nn.Module):
    """BERT encoder with a tied masked-LM head.

    Args:
        vocab_size: word pieces V. d_model, n_heads, n_layers, ff_dim: the Transformer. max_len: positions.
        type_vocab: segment ids. dropout. eps: LayerNorm epsilon (1e-12 as published). pad_id: padding id.
    """

    def __init__(self, vocab_size: int, d_model: int = 256, n_heads: int = 4, n_layers: int = 4, ff_dim: int = 1024,
                 max_len: int = 512, type_vocab: int = 2, dropout: float = 0.1, eps: float = 1e-12,
                 pad_id: int = 0) -> None:
        super().__init__()
        self.pad_id, self.max_len = pad_id, max_len
        self.tokens = nn.Embedding(vocab_size, d_model)
        self.positions = nn.Embedding(max_len, d_model)
        self.segments = nn.Embedding(type_vocab, d_model)
        self.norm = nn.LayerNorm(d_model, eps=eps)
        self.drop = nn.Dropout(dropout)
        self.layers = nn.ModuleList(_Layer(d_model, n_heads, ff_dim, dropout, eps) for _ in range(n_layers))
        self.mlm_dense = nn.Linear(d_model, d_model)
        self.mlm_norm = nn.LayerNorm(d_model, eps=eps)
        self.mlm_bias = nn.Parameter(torch.zeros(vocab_size))
        self.apply(self._init)

    @staticmethod
    def _init(m: nn.Module) -> None:
        if isinstance(m, nn.Linear | nn.Embedding):
            nn.init.normal_(m.weight, std=0.02)
        if isinstance(m, nn.Linear) and m.bias is not None:
            nn.init.zeros_(m.bias)

    def _pad(self, ids: Tensor, lengths: Tensor | None) -> Tensor:
        if lengths is None:
            return ids == self.pad_id
        return torch.arange(ids.shape[1], device=ids.device)[None, :] >= lengths.to(ids.device)[:, None]

    def encode(self, ids: Tensor, lengths: Tensor | None = None, segments: Tensor | None = None) -> Tensor:
        """Contextual states (B, T, d_model) of ``ids`` (B, T); ``lengths`` (B,) (None: ``pad_id`` is padding)."""
        if ids.shape[1] > self.max_len:
            raise ValueError(f"{ids.shape[1]} tokens exceed max_len={self.max_len}")
        pad = self._pad(ids, lengths)
        pos = torch.arange(ids.shape[1], device=ids.device)
        seg = torch.zeros_like(ids) if segments is None else segments
        x = self.drop(self.norm(self.tokens(ids) + self.positions(pos)[None] + self.segments(seg)))
        for layer in self.layers:
            x = layer(x, pad)
        return x

    def forward(self, ids: Tensor, lengths: Tensor | None = None) -> Tensor:
        """Masked-LM logits (B, T, V)."""
        h = self.mlm_norm(F.gelu(self.mlm_dense(self.encode(ids, lengths))))
        return h @ self.tokens.weight.T + self.mlm_bias

    def pool(self, ids: Tensor, lengths: Tensor | None = None) -> Tensor:
        """Mean of the states over the valid tokens (B, d_model) (sentence-transformers' mean pooling)."""
        keep = (~self._pad(ids, lengths)).to(torch.float32)[..., None]
        return (self.encode(ids, lengths) * keep).sum(1) / keep.sum(1).clamp_min(1.0)

    @classmethod
    def load_hf(cls, state: dict[str, Tensor], config: dict[str, Any]) -> BertEncoder:
        """A network with the weights of a Hugging Face ``BertModel`` state dict (``embeddings.*``,
        ``encoder.layer.N.*``; an optional ``bert.`` prefix) and its ``config.json``; no MLM head weights
        are needed (they stay initialised)."""
        net = cls(config["vocab_size"], config["hidden_size"], config["num_attention_heads"],
                  config["num_hidden_layers"], config["intermediate_size"], config["max_position_embeddings"],
                  config.get("type_vocab_size", 2), 0.0, config.get("layer_norm_eps", 1e-12),
                  config.get("pad_token_id", 0))
        state = {k.removeprefix("bert."): v for k, v in state.items()}
        names = {"tokens.weight": "embeddings.word_embeddings.weight",
                 "positions.weight": "embeddings.position_embeddings.weight",
                 "segments.weight": "embeddings.token_type_embeddings.weight",
                 "norm.weight": "embeddings.LayerNorm.weight", "norm.bias": "embeddings.LayerNorm.bias"}
        parts = {"attn.query": "attention.self.query", "attn.key": "attention.self.key",
                 "attn.value": "attention.self.value", "attn.out": "attention.output.dense",
                 "norm1": "attention.output.LayerNorm", "ff1": "intermediate.dense", "ff2": "output.dense",
                 "norm2": "output.LayerNorm"}
        for i in range(len(net.layers)):
            for ours, theirs in parts.items():
                for w in ("weight", "bias"):
                    names[f"layers.{i}.{ours}.{w}"] = f"encoder.layer.{i}.{theirs}.{w}"
        own = net.state_dict()
        missing = [v for v in names.values() if v not in state]
        if missing:
            raise KeyError(f"not a BERT state dict: {missing[0]} missing")
        own.update({k: state[v].to(own[k].dtype) for k, v in names.items()})
        net.load_state_dict(own)
        return net.eval()

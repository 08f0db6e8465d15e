"""Tiny architectures registered for the training-engine tests (importable by subprocesses via
``imports: [tests.unit.train_toy_models]``) until the real ``speechdl.nn`` families land."""

from __future__ import annotations

import torch
from torch import nn

from speechdl.nn.registry import _MODELS, register


def _register(name):
    return (lambda cls: cls) if name in _MODELS else register(name)


@_register("tiny_mlp")
class TinyMLP(nn.Module):
    """Per-frame MLP on the last axis: (B, F) -> (B, out_dim) or (B, T, F) -> (B, T, out_dim)."""

    def __init__(self, in_dim: int, out_dim: int, hidden: int = 0, l2: float = 0.0) -> None:
        super().__init__()
        self.l2 = l2
        self.net = (nn.Linear(in_dim, out_dim) if hidden == 0 else
                    nn.Sequential(nn.Linear(in_dim, hidden), nn.Tanh(), nn.Linear(hidden, out_dim)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def penalty(self) -> torch.Tensor:
        """L2 weight penalty (``l2`` × sum of squared weights)."""
        return self.l2 * sum(p.pow(2).sum() for p in self.parameters())

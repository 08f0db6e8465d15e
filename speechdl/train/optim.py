"""Optimizers and learning-rate schedules from :class:`~speechdl.train.config.OptimConfig` /
:class:`~speechdl.train.config.SchedulerConfig` (as plain dicts, as saved in checkpoints).

Example:
    >>> import torch
    >>> opt = build_optimizer(torch.nn.Linear(2, 1).parameters(), {"name": "sgd", "lr": 0.1})
    >>> sched = build_scheduler(opt, {"name": "cosine", "warmup_steps": 2}, total_steps=10)
    >>> sched["interval"], round(opt.param_groups[0]["lr"], 3)   # step 0 of 2 warm-up steps: lr / 3, never 0
    ('step', 0.033)
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable
from typing import Any

import torch

from speechdl.train.config import OptimConfig, SchedulerConfig


def build_optimizer(params: Iterable, cfg: dict[str, Any]) -> torch.optim.Optimizer:
    """``adam`` | ``adamw`` | ``sgd`` with ``lr``, ``weight_decay`` (and betas/eps or momentum)."""
    c = OptimConfig(**cfg)
    if c.name == "sgd":
        return torch.optim.SGD(params, lr=c.lr, momentum=c.momentum, weight_decay=c.weight_decay,
                               nesterov=c.nesterov)
    cls = torch.optim.AdamW if c.name == "adamw" else torch.optim.Adam
    return cls(params, lr=c.lr, betas=tuple(c.betas), eps=c.eps, weight_decay=c.weight_decay)


class WarmupDecay:
    """LR factor: linear warm-up over ``warmup`` steps, then cosine or linear decay to ``floor``.

    A class (not a closure) so that it pickles with the scheduler state.
    """

    def __init__(self, warmup: int, total: int, floor: float, shape: str) -> None:
        self.warmup, self.total, self.floor, self.shape = warmup, max(total, 1), floor, shape

    def __call__(self, step: int) -> float:
        if step < self.warmup:
            return (step + 1) / (self.warmup + 1)
        span = max(self.total - self.warmup, 1)
        p = min(max(step - self.warmup, 0) / span, 1.0)
        decay = 0.5 * (1 + math.cos(math.pi * p)) if self.shape == "cosine" else 1.0 - p
        return self.floor + (1.0 - self.floor) * decay


def build_scheduler(opt: torch.optim.Optimizer, cfg: dict[str, Any], total_steps: int,
                    monitor: str = "val_loss", mode: str = "min") -> dict[str, Any] | None:
    """A Lightning ``lr_scheduler`` config dict (None for ``none``); ``total_steps`` = optimizer steps."""
    c = SchedulerConfig(**cfg)
    lr = opt.param_groups[0]["lr"]
    if c.name == "none":
        return None
    if c.name in ("cosine", "warmup_linear"):
        floor = c.min_lr / lr if lr > 0 else 0.0
        shape = "cosine" if c.name == "cosine" else "linear"
        sched = torch.optim.lr_scheduler.LambdaLR(opt, WarmupDecay(c.warmup_steps, total_steps, floor, shape))
        return {"scheduler": sched, "interval": "step"}
    if c.name == "onecycle":
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=max(total_steps, 2),
                                                    pct_start=c.pct_start)
        return {"scheduler": sched, "interval": "step"}
    if c.name == "step":
        return {"scheduler": torch.optim.lr_scheduler.StepLR(opt, c.step_size, c.gamma), "interval": "epoch"}
    if c.name == "exponential":
        return {"scheduler": torch.optim.lr_scheduler.ExponentialLR(opt, c.gamma), "interval": "epoch"}
    if c.name == "plateau":
        sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode=mode, factor=c.factor, patience=c.patience,
                                                           min_lr=c.min_lr)
        return {"scheduler": sched, "interval": "epoch", "monitor": monitor, "strict": False}
    raise ValueError(f"unknown scheduler {c.name!r}")


def as_dict(cfg: Any) -> dict[str, Any]:
    """A config dataclass as a plain dict (tuples become lists)."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(cfg).items()}

"""Shared checks for the architecture tests: every parameter gets a gradient; a tiny model overfits a batch."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import torch
from torch import nn


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """Tiny models run fastest on one thread; a busy 2-core machine makes intra-op threads spin for seconds."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def projection_loss(out: torch.Tensor, seed: int = 123) -> torch.Tensor:
    """A loss touching every output with a fixed random weight (a plain sum is blind behind BatchNorm)."""
    g = torch.Generator().manual_seed(seed)
    return (out * torch.randn(out.shape, generator=g)).sum()


def assert_gradients_flow(model: nn.Module, loss: torch.Tensor) -> None:
    """Backprop ``loss``: every parameter must get a finite, non-zero gradient."""
    model.zero_grad()
    loss.backward()
    for name, p in model.named_parameters():
        assert p.grad is not None, f"{name} got no gradient"
        assert torch.isfinite(p.grad).all(), f"{name} has a non-finite gradient"
        assert p.grad.abs().sum() > 0, f"{name} has an all-zero gradient"


def assert_learns(model: nn.Module, loss_fn: Callable[[], torch.Tensor], steps: int = 150, lr: float = 1e-2,
                  factor: float = 10.0) -> tuple[float, float]:
    """Adam on a fixed batch: the loss must fall by ``factor`` within ``steps``; returns (first, best)."""
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    first = best = float("nan")
    for i in range(steps):
        opt.zero_grad()
        loss = loss_fn()
        if i == 0:
            first = best = loss.item()
        best = min(best, loss.item())
        if best * factor <= first:
            break
        loss.backward()
        opt.step()
    assert best * factor <= first, f"loss only fell from {first:.4g} to {best:.4g} in {steps} steps"
    return first, best


def assert_doctests_pass(module: object) -> None:
    """The runnable examples in a module's docstrings give what they show."""
    import doctest

    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0, result

"""Small shared pieces of the dense/recurrent/conv/resnet/tdnn families: activations and norms by name, masks.

Not a family of its own (the leading underscore keeps :mod:`speechdl.nn` from treating it as one).

Example:
    >>> import torch
    >>> act = make_activation("leaky_relu", "example")
    >>> act(torch.tensor([-1.0, 2.0])).tolist()
    [-0.009999999776482582, 2.0]
    >>> length_mask(torch.tensor([1, 3]), 3).tolist()
    [[True, False, False], [True, True, True]]
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from speechdl.errors import ConfigError

ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "gelu": nn.GELU,
    "leaky_relu": nn.LeakyReLU,
    "elu": nn.ELU,
    "selu": nn.SELU,
    "silu": nn.SiLU,
    "swish": nn.SiLU,
    "mish": nn.Mish,
    "softplus": nn.Softplus,
    "prelu": nn.PReLU,
    "hardtanh": nn.Hardtanh,
    "softmax": lambda: nn.Softmax(dim=-1),
    "log_softmax": lambda: nn.LogSoftmax(dim=-1),
    "identity": nn.Identity,
    "linear": nn.Identity,
}


def make_activation(name: str | None, where: str) -> nn.Module:
    """Activation module by name (``None``/``"linear"``/``"identity"`` give the identity)."""
    if name is None:
        return nn.Identity()
    key = str(name).lower()
    if key not in ACTIVATIONS:
        raise ConfigError(where, f"unknown activation {name!r}", f"choose one of: {', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[key]()


class ChannelLayerNorm(nn.Module):
    """LayerNorm over the channel axis (dim 1) of a ``(B, C, ...)`` tensor, at every position."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x.movedim(1, -1)).movedim(-1, 1)


def make_norm(kind: str | None, channels: int, dims: int, where: str) -> nn.Module:
    """Normalisation by name for channel-first tensors of ``dims`` spatial dims (0 = ``(B, C)``).

    ``kind``: ``None`` | ``"batch"`` | ``"layer"`` (over channels) | ``"instance"`` (dims >= 1).
    """
    if kind is None or kind == "none":
        return nn.Identity()
    if kind == "batch":
        return nn.BatchNorm2d(channels) if dims == 2 else nn.BatchNorm1d(channels)
    if kind == "layer":
        return nn.LayerNorm(channels) if dims == 0 else ChannelLayerNorm(channels)
    if kind == "instance" and dims >= 1:
        return nn.InstanceNorm2d(channels, affine=True) if dims == 2 else nn.InstanceNorm1d(channels, affine=True)
    raise ConfigError(where, f"unknown norm {kind!r}", "choose one of: None, batch, layer, instance")


def check_choice(value: object, choices: Sequence[object], name: str, where: str) -> None:
    """Raise ConfigError unless ``value`` is one of ``choices``."""
    if value not in choices:
        raise ConfigError(where, f"{name}={value!r} is not allowed", f"choose one of: {', '.join(map(str, choices))}")


def per_layer(value: object, n: int, name: str, where: str) -> list:
    """Broadcast a scalar to a list of ``n``; check a list has length ``n``."""
    if isinstance(value, list | tuple):
        if len(value) != n:
            raise ConfigError(where, f"{name} has {len(value)} entries but there are {n} layers",
                              f"give one value or {n}")
        return list(value)
    return [value] * n


def length_mask(lengths: torch.Tensor, max_len: int) -> torch.Tensor:
    """``(B,)`` integer lengths -> ``(B, max_len)`` bool mask, True at valid frames."""
    return torch.arange(max_len, device=lengths.device)[None, :] < lengths.to(torch.long)[:, None]


def conv_out_length(lengths: torch.Tensor, kernel: int, stride: int = 1, padding: int = 0,
                    dilation: int = 1) -> torch.Tensor:
    """Output lengths of a convolution / pooling along one axis (PyTorch floor arithmetic)."""
    return torch.div(lengths + 2 * padding - dilation * (kernel - 1) - 1, stride, rounding_mode="floor") + 1


def main_output(out: Any) -> torch.Tensor:
    """The prediction tensor of a model output (first item of a tuple, ``logits``/``out`` of a dict)."""
    if isinstance(out, dict):
        for key in ("logits", "out", "recon", "y"):
            if key in out:
                return out[key]
        return next(iter(out.values()))
    if isinstance(out, tuple | list):
        return out[0]
    return out


class InputNorm(nn.Module):
    """Per-feature affine normalisation ``(x - mean) / std`` with buffers (saved in the state dict)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("std", torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(..., F) -> (..., F)``."""
        return (x - self.mean) / self.std

    @torch.no_grad()
    def fit(self, frames: torch.Tensor, eps: float = 1e-3) -> None:
        """Set mean / std from ``(..., F)`` frames (std floored at ``eps``)."""
        frames = frames.reshape(-1, frames.shape[-1]).double()
        self.mean.copy_(frames.mean(0).float())
        self.std.copy_(frames.std(0, unbiased=False).clamp_min(eps).float())

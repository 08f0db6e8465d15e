"""Residual networks ``y = x + F(x)``: basic and bottleneck blocks, 1-D and 2-D, and a configurable ResNet.

The "thin ResNet-34" used for speaker embeddings is ``ResNet(dims=2, block="basic", layers=[3, 4, 6, 3],
channels=[16, 32, 64, 128])``. Blocks are post-activation (He et al., 2016: ``relu(x + F(x))``) by default or
pre-activation (``preact=True``: ``x + F(x)``, F = norm-relu-conv twice); a projection shortcut (1x1 conv
+ norm) replaces the identity when the stride or the channel count changes.

Example:
    >>> import torch
    >>> from speechdl.nn import build
    >>> net = build("resnet", in_dim=40, out_dim=10, layers=[1, 1], channels=[8, 16])
    >>> net(torch.randn(2, 100, 40)).shape
    torch.Size([2, 10])
"""

from __future__ import annotations

import torch
from torch import nn

from speechdl.errors import ConfigError
from speechdl.nn._parts import check_choice, length_mask, make_activation
from speechdl.nn.registry import register
from speechdl.nn.tdnn import StatsPooling


def _conv(dims: int, cin: int, cout: int, k: int, stride: int = 1) -> nn.Module:
    cls = nn.Conv2d if dims == 2 else nn.Conv1d
    return cls(cin, cout, k, stride, k // 2, bias=False)


def _bn(dims: int, c: int) -> nn.Module:
    return nn.BatchNorm2d(c) if dims == 2 else nn.BatchNorm1d(c)


class _Residual(nn.Module):
    """Common shortcut / combination logic; subclasses build ``self.body`` (a list of (norm, conv) stages)."""

    expansion = 1

    def _setup(self, in_channels: int, out_channels: int, stride: int, dims: int, preact: bool,
               activation: str) -> None:
        check_choice(dims, [1, 2], "dims", type(self).__name__)
        self.dims, self.preact, self.stride = dims, preact, stride
        self.act = make_activation(activation, type(self).__name__)
        if stride != 1 or in_channels != out_channels:
            parts = [_conv(dims, in_channels, out_channels, 1, stride)]
            if not preact:
                parts.append(_bn(dims, out_channels))
            self.shortcut: nn.Module = nn.Sequential(*parts)
        else:
            self.shortcut = nn.Identity()

    def residual(self, x: torch.Tensor) -> torch.Tensor:
        """F(x): post-activation conv-norm(-act) stages, or pre-activation norm-act-conv stages."""
        h = x
        last = len(self.convs) - 1
        for i, (conv, norm) in enumerate(zip(self.convs, self.norms)):
            if self.preact:
                h = conv(self.act(norm(h)))
            else:
                h = norm(conv(h))
                if i < last:
                    h = self.act(h)
        return h

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.shortcut(x) + self.residual(x)
        return y if self.preact else self.act(y)

    def zero_init_last(self) -> None:
        """Zero F's last layer (post: last norm's scale; pre: last conv), so the block starts as the identity."""
        nn.init.zeros_(self.convs[-1].weight if self.preact else self.norms[-1].weight)


class BasicBlock(_Residual):
    """Two 3x3 (or 3) convolutions: ``(B, C_in, T[, F]) -> (B, channels, T/stride[, F/stride])``.

    Example:
        >>> BasicBlock(8, 16, stride=2, dims=2)(torch.randn(2, 8, 20, 10)).shape
        torch.Size([2, 16, 10, 5])
    """

    expansion = 1

    def __init__(self, in_channels: int, channels: int, stride: int = 1, dims: int = 2, preact: bool = False,
                 activation: str = "relu") -> None:
        super().__init__()
        self._setup(in_channels, channels, stride, dims, preact, activation)
        self.convs = nn.ModuleList([_conv(dims, in_channels, channels, 3, stride), _conv(dims, channels, channels, 3)])
        self.norms = nn.ModuleList([_bn(dims, in_channels if preact else channels), _bn(dims, channels)])


class Bottleneck(_Residual):
    """1x1 reduce -> 3x3 (strided) -> 1x1 expand: ``(B, C_in, ...) -> (B, 4 * channels, .../stride)``.

    Example:
        >>> Bottleneck(16, 8, dims=1)(torch.randn(2, 16, 30)).shape
        torch.Size([2, 32, 30])
    """

    expansion = 4

    def __init__(self, in_channels: int, channels: int, stride: int = 1, dims: int = 2, preact: bool = False,
                 activation: str = "relu") -> None:
        super().__init__()
        out = channels * self.expansion
        self._setup(in_channels, out, stride, dims, preact, activation)
        self.convs = nn.ModuleList([_conv(dims, in_channels, channels, 1), _conv(dims, channels, channels, 3, stride),
                                    _conv(dims, channels, out, 1)])
        norm_in = [in_channels, channels, channels] if preact else [channels, channels, out]
        self.norms = nn.ModuleList([_bn(dims, c) for c in norm_in])


class BasicBlock1d(BasicBlock):
    """:class:`BasicBlock` over ``(B, C, T)``."""

    def __init__(self, in_channels: int, channels: int, stride: int = 1, preact: bool = False,
                 activation: str = "relu") -> None:
        super().__init__(in_channels, channels, stride, 1, preact, activation)


class BasicBlock2d(BasicBlock):
    """:class:`BasicBlock` over ``(B, C, T, F)``."""

    def __init__(self, in_channels: int, channels: int, stride: int = 1, preact: bool = False,
                 activation: str = "relu") -> None:
        super().__init__(in_channels, channels, stride, 2, preact, activation)


class Bottleneck1d(Bottleneck):
    """:class:`Bottleneck` over ``(B, C, T)``."""

    def __init__(self, in_channels: int, channels: int, stride: int = 1, preact: bool = False,
                 activation: str = "relu") -> None:
        super().__init__(in_channels, channels, stride, 1, preact, activation)


class Bottleneck2d(Bottleneck):
    """:class:`Bottleneck` over ``(B, C, T, F)``."""

    def __init__(self, in_channels: int, channels: int, stride: int = 1, preact: bool = False,
                 activation: str = "relu") -> None:
        super().__init__(in_channels, channels, stride, 2, preact, activation)


@register("resnet")
class ResNet(nn.Module):
    """Stem conv -> residual stages -> global pooling -> [embedding Linear] -> Linear to ``out_dim``.

    Args:
        in_dim: features per frame F. ``dims=2`` treats ``(T, F)`` as a 1-channel image; ``dims=1`` convolves
            over time with F input channels.
        out_dim: outputs (logits).
        dims: 1 or 2.
        block: ``"basic"`` | ``"bottleneck"``.
        layers: blocks per stage; channels: block width per stage (bottleneck outputs 4x that).
        strides: per stage (default 1 for the first, 2 for the others); stem_channels: default ``channels[0]``.
        pool: ``"avg"`` | ``"max"`` (global, over time and frequency -> C) or ``"stats"`` (mean + std over
            time of the ``C x F'`` features, as in speaker ResNets); padded frames are ignored given lengths.
        embed_dim: optional Linear after pooling whose output :meth:`embed` returns.
        preact: pre-activation blocks; zero_init_residual: blocks start as the identity.
        pool_crop: last-stage time columns left out of the pooling at each end (``avg`` / ``max``): the input
            carries that much context, so every pooled column is computed from real frames only, never from
            the convolutions' zero padding (what a stream computed column by column gives; keyword spotting).

    Shapes: ``x (B, T, F)``, ``lengths (B,)`` -> ``(B, out_dim)``; :meth:`embed` -> ``(B, embed_dim or pooled)``.
    """

    def __init__(self, in_dim: int, out_dim: int, dims: int = 2, block: str = "basic",
                 layers: list[int] | None = None, channels: list[int] | None = None,
                 strides: list[int] | None = None, stem_channels: int | None = None, pool: str = "avg",
                 embed_dim: int | None = None, preact: bool = False, zero_init_residual: bool = False,
                 activation: str = "relu", pool_crop: int = 0) -> None:
        super().__init__()
        where = "model 'resnet'"
        check_choice(dims, [1, 2], "dims", where)
        if int(pool_crop) < 0 or (pool_crop and pool == "stats"):
            raise ConfigError(where, f"pool_crop={pool_crop!r} needs pool avg or max and a count >= 0",
                              "use e.g. pool_crop: 3 with pool: avg")
        self.pool_crop = int(pool_crop)
        check_choice(block, ["basic", "bottleneck"], "block", where)
        check_choice(pool, ["avg", "max", "stats"], "pool", where)
        layers = list(layers or [2, 2, 2, 2])
        channels = list(channels or [16, 32, 64, 128])[: len(layers)]
        strides = list(strides or [1] + [2] * (len(layers) - 1))
        if not (len(layers) == len(channels) == len(strides)):
            raise ConfigError(where, "layers, channels and strides differ in length", "give one entry per stage")
        cls = BasicBlock if block == "basic" else Bottleneck
        stem = stem_channels or channels[0]
        self.dims, self.pool_kind, self.strides, self.preact = dims, pool, strides, preact
        stem_parts = [_conv(dims, 1 if dims == 2 else in_dim, stem, 3)]
        if not preact:
            stem_parts += [_bn(dims, stem), make_activation(activation, where)]
        self.stem = nn.Sequential(*stem_parts)
        blocks: list[nn.Module] = []
        c, f = stem, in_dim
        for n, ch, st in zip(layers, channels, strides):
            for i in range(n):
                blocks.append(cls(c, ch, st if i == 0 else 1, dims, preact, activation))
                c = ch * cls.expansion
            f = (f - 1) // st + 1
        self.blocks = nn.Sequential(*blocks)
        if zero_init_residual:
            for b in blocks:
                b.zero_init_last()
        self.final = nn.Sequential(_bn(dims, c), make_activation(activation, where)) if preact else nn.Identity()
        self.stats, self.mean = StatsPooling(), StatsPooling(std=False)
        self.out_channels = c
        pooled = 2 * c * (f if dims == 2 else 1) if pool == "stats" else c
        self.embedding: nn.Module = nn.Linear(pooled, embed_dim) if embed_dim else nn.Identity()
        self.out = nn.Linear(embed_dim or pooled, out_dim)

    def _pooled(self, x: torch.Tensor, lengths: torch.Tensor | None) -> torch.Tensor:
        h = x.unsqueeze(1) if self.dims == 2 else x.transpose(1, 2)
        h = self.final(self.blocks(self.stem(h)))
        h = h.permute(0, 2, 1, 3).flatten(2) if self.dims == 2 else h.transpose(1, 2)  # (B, T', C * F')
        n = None
        if lengths is not None:
            n = lengths.to(x.device, torch.long)
            for st in self.strides:
                n = torch.div(n - 1, st, rounding_mode="floor") + 1
        if self.pool_kind == "stats":
            return self.stats(h, n)
        if self.dims == 2:
            h = h.unflatten(2, (self.out_channels, -1))
            h = h.mean(3) if self.pool_kind == "avg" else h.amax(3)  # over F' -> (B, T', C)
        if self.pool_crop:
            c = self.pool_crop
            if h.shape[1] <= 2 * c:
                raise ConfigError("model 'resnet'", f"an input of {x.shape[1]} frames leaves no column after "
                                  f"pool_crop={c}", "pass longer inputs (the context the model was trained with)")
            h = h[:, c:h.shape[1] - c] if n is None else h[:, c:]
            n = None if n is None else torch.clamp(n - 2 * c, min=1)
        if n is None:
            return h.mean(1) if self.pool_kind == "avg" else h.amax(1)
        if self.pool_kind == "avg":
            return self.mean(h, n)
        return h.masked_fill(~length_mask(n, h.shape[1])[..., None], float("-inf")).amax(1)

    def embed(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """``(B, T, F)`` [+ ``(B,)`` lengths] -> ``(B, embed_dim)`` (the pooled features when no ``embed_dim``)."""
        return self.embedding(self._pooled(x, lengths))

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """``(B, T, F)`` [+ ``(B,)`` lengths] -> ``(B, out_dim)`` logits."""
        return self.out(self.embed(x, lengths))

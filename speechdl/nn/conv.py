"""Convolutional networks: conv blocks (1-D, 2-D), the lecture's CNN-FC classifier, a frame-level 1-D CNN
and the Deep Speech 2 style 2-D convolutional subsampling front-end.

Blocks take channel-first tensors like ``torch.nn.Conv*d`` (``(B, C, T)`` / ``(B, C, T, F)``); the registered
models take batch-first features ``(B, T, F)``.

Example:
    >>> import torch
    >>> from speechdl.nn import build
    >>> cnn = build("cnn_fc", in_dim=40, out_dim=3, channels=[8, 16], fc=[32], pool="max")
    >>> cnn(torch.randn(2, 100, 40)).shape
    torch.Size([2, 3])
    >>> frames = build("cnn1d", in_dim=40, out_dim=2, channels=[16, 16], kernel_size=5)
    >>> frames(torch.randn(2, 100, 40)).shape
    torch.Size([2, 100, 2])
    >>> sub = build("conv2d_subsample", in_dim=80, out_dim=144, factor=4)
    >>> y, n = sub(torch.randn(2, 100, 80), torch.tensor([100, 61]))
    >>> y.shape, n.tolist()
    (torch.Size([2, 25, 144]), [25, 16])
"""

from __future__ import annotations

import torch
from torch import nn

from speechdl.errors import ConfigError
from speechdl.nn._parts import (
    check_choice,
    conv_out_length,
    length_mask,
    make_activation,
    make_norm,
    per_layer,
)
from speechdl.nn.registry import register

IntPair = int | tuple[int, int] | list[int]


def _pair(v: IntPair) -> tuple[int, int]:
    return (int(v), int(v)) if isinstance(v, int) else (int(v[0]), int(v[1]))


def _same_padding(kernel: int, dilation: int) -> int:
    if kernel % 2 == 0:
        raise ConfigError("conv block", f"kernel size {kernel} is even", "use odd kernels for 'same' padding")
    return dilation * (kernel - 1) // 2


class _ConvBlock(nn.Module):
    dims = 1

    def __init__(self, in_channels: int, out_channels: int, kernel_size: IntPair = 3, stride: IntPair = 1,
                 dilation: IntPair = 1, norm: str | None = "batch", activation: str | None = "relu",
                 pool: str | None = None, pool_size: IntPair = 2, dropout: float = 0.0) -> None:
        super().__init__()
        where = f"ConvBlock{self.dims}d"
        check_choice(pool, [None, "max", "avg"], "pool", where)
        if self.dims == 1:
            k, s, d = int(kernel_size), int(stride), int(dilation)  # type: ignore[arg-type]
            conv: nn.Module = nn.Conv1d(in_channels, out_channels, k, s, _same_padding(k, d), d, bias=norm is None)
            pooler = {"max": nn.MaxPool1d, "avg": nn.AvgPool1d}.get(pool or "")
        else:
            k2, s2, d2 = _pair(kernel_size), _pair(stride), _pair(dilation)
            pad = (_same_padding(k2[0], d2[0]), _same_padding(k2[1], d2[1]))
            conv = nn.Conv2d(in_channels, out_channels, k2, s2, pad, d2, bias=norm is None)
            pooler = {"max": nn.MaxPool2d, "avg": nn.AvgPool2d}.get(pool or "")
        self.conv = conv
        self.norm = make_norm(norm, out_channels, self.dims, where)
        self.act = make_activation(activation, where)
        self.pool: nn.Module = pooler(pool_size) if pooler else nn.Identity()
        self.drop: nn.Module = nn.Dropout(dropout) if dropout > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.pool(self.act(self.norm(self.conv(x)))))


class ConvBlock1d(_ConvBlock):
    """Conv1d ('same' padding; odd kernels) -> norm -> activation -> [max|avg pool] -> [dropout].

    Shapes: ``(B, C_in, T)`` -> ``(B, C_out, T // (stride * pool_size))`` (``pool_size`` only when pooling).

    Example:
        >>> ConvBlock1d(40, 8, kernel_size=5, pool="max")(torch.randn(2, 40, 100)).shape
        torch.Size([2, 8, 50])
    """

    dims = 1


class ConvBlock2d(_ConvBlock):
    """Conv2d ('same' padding; odd kernels) -> norm -> activation -> [max|avg pool] -> [dropout].

    Shapes: ``(B, C_in, T, F)`` -> ``(B, C_out, T', F')``; ``kernel_size``, ``stride``, ``pool_size`` are an int
    or a ``(time, freq)`` pair.

    Example:
        >>> ConvBlock2d(1, 8, pool="avg", pool_size=(2, 2))(torch.randn(2, 1, 100, 40)).shape
        torch.Size([2, 8, 50, 20])
    """

    dims = 2


@register("cnn_fc")
class CNNFC(nn.Module):
    """The lecture's CNN-FC: 2-D conv blocks with pooling over the spectrogram image, then FC layers.

    Args:
        in_dim: features per frame F (the image is ``T x F``, one input channel).
        out_dim: classes (logits, one vector per sequence).
        channels: output channels of each conv block.
        kernel_size: conv kernel (int or (time, freq)).
        pool: ``"max"`` | ``"avg"`` pooling inside each block; ``pool_size`` its size.
        norm, activation: of the conv blocks.
        fc: hidden widths of the fully-connected layers after the convs.
        dropout: dropout before every FC layer.
        num_frames: if set, inputs have exactly this many frames and the conv output is flattened whole
            (the classic fixed-size image CNN); if ``None``, it is pooled over time (``time_pool``) first,
            which accepts any length and respects ``lengths``.
        time_pool: ``"mean"`` | ``"max"`` global pooling over time when ``num_frames`` is ``None``.

    Shapes: ``x (B, T, F)``, ``lengths (B,)`` -> ``(B, out_dim)``.
    """

    def __init__(self, in_dim: int, out_dim: int, channels: list[int] | None = None, kernel_size: IntPair = 3,
                 pool: str = "max", pool_size: IntPair = 2, norm: str | None = "batch", activation: str = "relu",
                 fc: list[int] | None = None, dropout: float = 0.0, num_frames: int | None = None,
                 time_pool: str = "mean") -> None:
        super().__init__()
        where = "model 'cnn_fc'"
        check_choice(pool, ["max", "avg"], "pool", where)
        check_choice(time_pool, ["mean", "max"], "time_pool", where)
        channels = list(channels or [16, 32])
        self.blocks = nn.ModuleList()
        c = 1
        for ch in channels:
            self.blocks.append(ConvBlock2d(c, ch, kernel_size, 1, 1, norm, activation, pool, pool_size))
            c = ch
        self.pool_t, pool_f = _pair(pool_size)
        n = len(channels)
        t_out, f_out = (num_frames or 1), in_dim
        for _ in range(n):
            t_out, f_out = t_out // self.pool_t, f_out // pool_f
        if f_out < 1 or (num_frames is not None and t_out < 1):
            raise ConfigError(where, f"{n} pooling blocks shrink the {num_frames or '?'} x {in_dim} input to nothing",
                              "use fewer blocks or a smaller pool_size")
        self.num_frames, self.time_pool = num_frames, time_pool
        width = c * f_out * (t_out if num_frames else 1)
        layers: list[nn.Module] = []
        for h in list(fc or []):
            layers += [nn.Dropout(dropout), nn.Linear(width, h), make_activation(activation, where)]
            width = h
        layers += [nn.Dropout(dropout), nn.Linear(width, out_dim)]
        self.fc = nn.Sequential(*[m for m in layers if not (isinstance(m, nn.Dropout) and dropout == 0)])

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """``(B, T, F)`` [+ ``(B,)`` lengths] -> logits ``(B, out_dim)``."""
        B, T, _ = x.shape
        if self.num_frames is not None and T != self.num_frames:
            raise ConfigError("model 'cnn_fc'", f"got {T} frames but num_frames={self.num_frames}",
                              "crop/pad inputs or set num_frames=None")
        n = None if lengths is None else lengths.to(x.device, torch.long)
        h = x.unsqueeze(1)
        for block in self.blocks:  # zero padded frames before every block: valid outputs ignore padding
            h = h if n is None else h * length_mask(n, h.shape[2])[:, None, :, None].to(h.dtype)
            h = block(h)
            n = None if n is None else torch.div(n, self.pool_t, rounding_mode="floor")
        if self.num_frames is not None:
            return self.fc(h.flatten(1))
        h = h.permute(0, 2, 1, 3).flatten(2)  # (B, T', C * F')
        if n is None:
            pooled = h.mean(1) if self.time_pool == "mean" else h.amax(1)
        else:
            n = n.clamp(1, h.shape[1])
            mask = length_mask(n, h.shape[1])[..., None]
            if self.time_pool == "mean":
                pooled = (h * mask).sum(1) / n[:, None].to(h.dtype)
            else:
                pooled = h.masked_fill(~mask, float("-inf")).amax(1)
        return self.fc(pooled)


@register("cnn1d")
class CNN1d(nn.Module):
    """Frame-level 1-D CNN: 'same'-padded ConvBlock1d stack over time (T kept), then a per-frame Linear.

    Padded frames are zeroed after every block, so with ``lengths`` (in eval mode) each sequence's outputs
    equal what it gives alone.

    Args:
        in_dim: input features F (the conv input channels).
        out_dim: per-frame outputs (logits).
        channels: output channels per block.
        kernel_size, dilation: one int or one per block (odd kernels).
        norm, activation, dropout: of the blocks.

    Shapes: ``x (B, T, F)``, ``lengths (B,)`` -> ``(B, T, out_dim)``.
    """

    def __init__(self, in_dim: int, out_dim: int, channels: list[int] | None = None,
                 kernel_size: int | list[int] = 5, dilation: int | list[int] = 1, norm: str | None = "batch",
                 activation: str = "relu", dropout: float = 0.0) -> None:
        super().__init__()
        channels = list(channels or [64, 64])
        ks = per_layer(kernel_size, len(channels), "kernel_size", "model 'cnn1d'")
        ds = per_layer(dilation, len(channels), "dilation", "model 'cnn1d'")
        self.blocks = nn.ModuleList()
        c = in_dim
        for ch, k, d in zip(channels, ks, ds):
            self.blocks.append(ConvBlock1d(c, ch, k, 1, d, norm, activation, None, 2, dropout))
            c = ch
        self.head = nn.Linear(c, out_dim)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """``(B, T, F)`` [+ ``(B,)`` lengths] -> ``(B, T, out_dim)`` (zeros at padded frames)."""
        mask = None if lengths is None else length_mask(lengths.to(x.device), x.shape[1])[:, None, :].to(x.dtype)
        h = x.transpose(1, 2)
        for block in self.blocks:
            h = block(h if mask is None else h * mask)
        y = self.head((h if mask is None else h * mask).transpose(1, 2))
        return y if mask is None else y * mask.transpose(1, 2)


@register("conv2d_subsample")
class Conv2dSubsampler(nn.Module):
    """Deep Speech 2 style front-end: two strided 3x3 Conv2d + activation layers, then Linear to ``out_dim``.

    Time is reduced by ``factor`` (2: strides 2, 1; 4: strides 2, 2), frequency by 4; each conv is padded by
    ``kernel_size // 2`` so ``T' = ceil(T / 2)`` per stride-2 layer. Padded frames are zeroed between the
    layers, so valid outputs do not depend on padding.

    Args:
        in_dim: features per frame F.
        out_dim: output width D.
        channels: conv channels.
        factor: time subsampling, 2 or 4.
        kernel_size: odd conv kernel.
        activation: after each conv.

    Shapes: ``x (B, T, F)``, ``lengths (B,)`` -> ``(y (B, T', D), lengths' (B,))``.
    """

    def __init__(self, in_dim: int, out_dim: int, channels: int = 32, factor: int = 4, kernel_size: int = 3,
                 activation: str = "relu") -> None:
        super().__init__()
        where = "model 'conv2d_subsample'"
        check_choice(factor, [2, 4], "factor", where)
        self.kernel, self.pad = kernel_size, _same_padding(kernel_size, 1)
        self.time_strides = (2, 2) if factor == 4 else (2, 1)
        self.convs = nn.ModuleList(
            nn.Conv2d(c_in, channels, kernel_size, (st, 2), self.pad)
            for c_in, st in zip((1, channels), self.time_strides)
        )
        self.act = make_activation(activation, where)
        f = in_dim
        for _ in range(2):
            f = (f + 2 * self.pad - kernel_size) // 2 + 1
        self.out = nn.Linear(channels * f, out_dim)
        self.factor = factor

    def output_lengths(self, lengths: torch.Tensor) -> torch.Tensor:
        """Frame counts after subsampling: ``(B,)`` -> ``(B,)``."""
        for st in self.time_strides:
            lengths = conv_out_length(lengths, self.kernel, st, self.pad)
        return lengths

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``(B, T, F)`` [+ ``(B,)`` lengths] -> ``((B, T', D), (B,) lengths')``."""
        if lengths is None:
            lengths = torch.full((x.shape[0],), x.shape[1], dtype=torch.long, device=x.device)
        lengths = lengths.to(x.device, torch.long)
        h = (x * length_mask(lengths, x.shape[1])[..., None].to(x.dtype)).unsqueeze(1)
        n = lengths
        for conv, st in zip(self.convs, self.time_strides):
            n = conv_out_length(n, self.kernel, st, self.pad)
            h = self.act(conv(h))
            h = h * length_mask(n, h.shape[2])[:, None, :, None].to(h.dtype)
        y = self.out(h.permute(0, 2, 1, 3).flatten(2))
        return y, n

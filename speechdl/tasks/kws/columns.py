"""A 2-D ResNet computed once over a stream: its last-stage columns, pooled into sliding 1 s windows.

Classifying a 1 s window every 100 ms recomputes every convolution ten times (2.2 ms per window, 222 µs per
10 ms of audio). :class:`ColumnStream` runs each convolution of a :class:`~speechdl.nn.resnet.ResNet`
(``dims=2``, basic post-activation blocks, average pooling) once over the stream instead: a layer keeps the
input columns (time steps) it still needs, so each output column is computed once from the stream's real
past and future frames. A window is then the mean of ``n`` consecutive last-stage columns (the network's
global average pool) through the output layer. Windows move by the network's total time stride (8 frames:
80 ms), the only hop at which every window sees the same column grid.

What changes against classifying cut-out 1 s windows: a column near a window's edge sees the stream's real
neighbours where the cut window saw the convolution's zero padding. A model trained with context
(``pool_crop``: 1.48 s items, the 13 central of 19 columns pooled; :func:`window_seconds`) sees exactly in
training what the stream gives it. Batch norms are folded into the convolutions (eval mode). Everything is
causal given a fixed look-ahead (:attr:`ColumnStream.lookahead`
frames: 22 for three stride-2 stages), and pushing frames in any chunking gives the same columns
(tested), so streaming equals offline.

Example:
    >>> import torch
    >>> from speechdl.nn import build
    >>> net = build("resnet", in_dim=40, out_dim=5, layers=[1, 1, 1], channels=[8, 8, 8],
    ...             strides=[2, 2, 2]).eval()
    >>> cs = ColumnStream(net)
    >>> x = torch.randn(300, 40)
    >>> a = cs.push(x[:123]); b = cs.push(x[123:])
    >>> whole = ColumnStream(net).push(x)
    >>> bool(torch.allclose(torch.cat([a, b]), whole, atol=1e-5)), tuple(whole.shape)
    (True, (35, 8))
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from speechdl.errors import ConfigError


def supports(net: Any) -> bool:
    """True for the ResNets :class:`ColumnStream` can run: 2-D, basic post-activation blocks, average
    pooling, 3x3 convolutions with time strides only in the blocks' first convolution, no embedding."""
    from speechdl.nn.resnet import BasicBlock, ResNet

    return (isinstance(net, ResNet) and net.dims == 2 and not net.preact and net.pool_kind == "avg"
            and isinstance(net.embedding, nn.Identity)
            and all(isinstance(b, BasicBlock) for b in net.blocks))


def context_frames(net: Any) -> int:
    """Frames of context a model wants on each side of its 1 s window: its ``pool_crop`` columns (0 for
    models without one)."""
    crop = int(getattr(net, "pool_crop", 0) or 0)
    return crop * column_stride(net) if crop else 0


def window_seconds(net: Any, hop_seconds: float = 0.01, window: float = 1.0) -> float:
    """Seconds of audio a model classifies: the 1 s window plus its context (1.48 s for ``pool_crop: 3``)."""
    return round(window + 2 * context_frames(net) * hop_seconds, 6)


def _time_strides(net: Any) -> list[int]:
    """The blocks' time strides (their first convolution's)."""
    return [int(b.convs[0].stride[0]) for b in net.blocks]


def column_stride(net: Any) -> int:
    """Frames per last-stage column (the product of the blocks' time strides)."""
    return math.prod(_time_strides(net))


def window_columns(net: Any, window: int) -> int:
    """Last-stage columns of a ``window``-frame input (13 for 101 frames and three stride-2 stages)."""
    t = int(window)
    for s in _time_strides(net):
        t = (t - 1) // s + 1
    return t


def _fold(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> tuple[torch.Tensor, torch.Tensor, tuple[int, int]]:
    """Conv + eval batch norm -> (weight, bias, stride) of one convolution."""
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    w = conv.weight * scale[:, None, None, None]
    b = bn.bias - bn.running_mean * scale
    return w.detach().contiguous(), b.detach().contiguous(), tuple(conv.stride)  # type: ignore[return-value]


class _Conv:
    """One k x k convolution (k = 1 or 3) over time columns: keeps the input columns its next outputs need.

    Columns are ``(C, t, F)`` tensors; input column ``-1`` (before the stream) is zero, as in the network's
    padding. Output column ``j`` needs input columns ``s j - p .. s j + p``."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor, stride: tuple[int, int]) -> None:
        self.w, self.b, self.s = weight, bias, int(stride[0])
        self.fs, self.k = int(stride[1]), int(weight.shape[-1])
        self.p = self.k // 2
        self.buf = torch.zeros(weight.shape[1], self.p, 0)    # input columns from index first on
        self.first = -self.p
        self.next = 0                                          # next output column

    def push(self, x: torch.Tensor) -> torch.Tensor:
        """New input columns ``(C_in, t, F)`` -> the output columns they complete ``(C_out, t', F')``."""
        if self.buf.shape[-1] == 0:
            self.buf = x.new_zeros(x.shape[0], self.p, x.shape[2])
        buf = torch.cat([self.buf, x], 1)
        last = self.first + buf.shape[1] - 1                   # index of the newest input column
        end = (last - self.p) // self.s                        # last output column computable now
        if end < self.next:
            self.buf = buf
            return x.new_zeros(self.w.shape[0], 0, (x.shape[2] + 2 * self.p - self.k) // self.fs + 1)
        lo = self.s * self.next - self.p - self.first          # buffer position of the first input needed
        hi = self.s * end + self.p - self.first + 1
        y = F.conv2d(buf[None, :, lo:hi], self.w, self.b, stride=(self.s, self.fs), padding=(0, self.p))[0]
        self.next = end + 1
        # inputs before this are never needed again (a 1 x 1 stride-2 layer may skip one not yet seen)
        keep = min(self.s * self.next - self.p - self.first, buf.shape[1])
        self.buf, self.first = buf[:, keep:], self.first + keep
        return y


class _Block:
    """A basic block: ``relu(shortcut(x) + bn2(conv2(relu(bn1(conv1(x))))))`` column by column."""

    def __init__(self, block: Any) -> None:
        self.c1 = _Conv(*_fold(block.convs[0], block.norms[0]))
        self.c2 = _Conv(*_fold(block.convs[1], block.norms[1]))
        self.short = _Conv(*_fold(block.shortcut[0], block.shortcut[1])) if isinstance(block.shortcut,
                                                                                        nn.Sequential) else None
        self.s = int(block.convs[0].stride[0])
        self.pending: torch.Tensor | None = None               # shortcut columns waiting for conv2's

    def push(self, x: torch.Tensor) -> torch.Tensor:
        h = self.c2.push(torch.relu(self.c1.push(x)))
        sc = self.short.push(x) if self.short is not None else x
        queue = sc if self.pending is None else torch.cat([self.pending, sc], 1)
        n = h.shape[1]
        self.pending = queue[:, n:]
        return torch.relu(queue[:, :n] + h)


class ColumnStream:
    """Last-stage columns ``(n, C)`` (averaged over frequency) of a ResNet over pushed frames ``(t, F)``.

    Args:
        net: a :func:`supports`-ed :class:`~speechdl.nn.resnet.ResNet` in eval mode.
    """

    def __init__(self, net: Any) -> None:
        if not supports(net):
            raise ConfigError("kws model", "cannot run column by column",
                              "use a 2-D ResNet with basic post-activation blocks and average pooling")
        self.net = net
        self.stem = _Conv(*_fold(net.stem[0], net.stem[1]))
        self.blocks = [_Block(b) for b in net.blocks]
        self.stride = column_stride(net)
        look, rate = 1, 1                                      # the stem's one frame
        for b in self.blocks:       # output column j needs input column s j + s + 1 (conv1 then conv2)
            look, rate = look + (b.s + 1) * rate, rate * b.s
        self.lookahead = look

    @torch.no_grad()
    def push(self, frames: torch.Tensor) -> torch.Tensor:
        """Feature frames ``(t, F)`` -> the last-stage columns ``(n, C)`` they complete (frequency-averaged)."""
        h = torch.relu(self.stem.push(frames[None]))
        for b in self.blocks:
            h = b.push(h)
        return h.mean(2).T.contiguous()

    @torch.no_grad()
    def head(self, pooled: torch.Tensor) -> torch.Tensor:
        """Window means of columns ``(W, C)`` -> logits ``(W, classes)``."""
        return self.net.out(pooled)

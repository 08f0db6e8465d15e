"""Self-attention encoders: a pre-norm Transformer and the Conformer (Gulati et al., 2020).

Both take batch-first frames ``x`` (B, T, in_dim) with optional ``lengths`` (B,) (valid frames per
sequence) and return (B, T', D) where D is ``out_dim`` if an output head is configured, else
``d_model``. ``T' = T`` unless ``subsample`` (1, 2 or 4: strided convolutions in front) shrinks time;
:meth:`encode` returns the new lengths as well, so that a CTC head or an attention decoder can sit on
the encoder output. Padded frames are masked in attention (key padding mask) and zeroed before every
convolution, so the valid outputs of a sequence never depend on what its padding holds.

Example:
    >>> import torch
    >>> from speechdl.nn import build
    >>> net = build("conformer", in_dim=40, d_model=32, n_heads=4, n_layers=2, out_dim=10)
    >>> y, lens = net.encode(torch.randn(2, 50, 40), torch.tensor([50, 30]))
    >>> tuple(y.shape), lens.tolist()
    ((2, 50, 10), [50, 30])
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from speechdl.nn.registry import register


def lengths_to_mask(lengths: Tensor | None, max_len: int, batch: int, device: torch.device) -> Tensor:
    """Boolean validity mask (B, max_len): True on real frames, False on padding."""
    if lengths is None:
        return torch.ones(batch, max_len, dtype=torch.bool, device=device)
    return torch.arange(max_len, device=device)[None, :] < lengths.to(device)[:, None]


class PositionalEncoding(nn.Module):
    """Adds positions to (B, T, D) frames: fixed sinusoids (Vaswani et al.) or a learned table."""

    def __init__(self, d_model: int, kind: str = "sinusoidal", max_len: int = 5000) -> None:
        super().__init__()
        if kind not in ("sinusoidal", "learned"):
            raise ValueError(f"positions must be 'sinusoidal' or 'learned', not {kind!r}")
        self.kind = kind
        self.scale = math.sqrt(d_model)
        if kind == "learned":
            self.table = nn.Parameter(torch.randn(max_len, d_model) * 0.02)
        else:
            pos = torch.arange(max_len, dtype=torch.float32)[:, None]
            div = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float32) * (-math.log(10000.0) / d_model))
            pe = torch.zeros(max_len, d_model)
            pe[:, 0::2] = torch.sin(pos * div)
            pe[:, 1::2] = torch.cos(pos * div)[:, : d_model // 2]
            self.register_buffer("table", pe, persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        """(B, T, D) -> (B, T, D)."""
        if x.shape[1] > self.table.shape[0]:
            raise ValueError(f"sequence of {x.shape[1]} frames exceeds max_len={self.table.shape[0]}")
        return x * self.scale + self.table[: x.shape[1]].to(x.dtype)


class ConvSubsampling(nn.Module):
    """Time subsampling by 1, 2 or 4 with stride-2 1-D convolutions (kernel 3) + ReLU; (B,T,F)->(B,T',D)."""

    def __init__(self, in_dim: int, d_model: int, factor: int = 1) -> None:
        super().__init__()
        if factor not in (1, 2, 4):
            raise ValueError(f"subsample must be 1, 2 or 4, not {factor}")
        self.factor = factor
        self.proj = nn.Linear(in_dim, d_model)
        self.convs = nn.ModuleList(
            nn.Conv1d(d_model, d_model, 3, stride=2, padding=1) for _ in range(int(math.log2(factor)))
        )

    def forward(self, x: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        x = self.proj(x)
        for conv in self.convs:
            x = x * lengths_to_mask(lengths, x.shape[1], x.shape[0], x.device)[..., None]
            x = F.relu(conv(x.transpose(1, 2))).transpose(1, 2)
            lengths = (lengths - 1) // 2 + 1
        return x, lengths


class FeedForward(nn.Module):
    """Pre-norm position-wise FFN: LayerNorm -> Linear -> activation -> dropout -> Linear -> dropout."""

    def __init__(self, d_model: int, ff_dim: int, dropout: float, activation: str = "relu") -> None:
        super().__init__()
        act = nn.SiLU() if activation == "swish" else nn.ReLU()
        self.net = nn.Sequential(nn.LayerNorm(d_model), nn.Linear(d_model, ff_dim), act, nn.Dropout(dropout),
                                 nn.Linear(ff_dim, d_model), nn.Dropout(dropout))

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class SelfAttention(nn.Module):
    """Pre-norm multi-head self-attention with a key padding mask; (B,T,D) + mask (B,T) -> (B,T,D)."""

    def __init__(self, d_model: int, n_heads: int, dropout: float) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(d_model)
        self.attn = nn.MultiheadAttention(d_model, n_heads, dropout=dropout, batch_first=True)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        h = self.norm(x)
        h, _ = self.attn(h, h, h, key_padding_mask=~mask, need_weights=False)
        return self.drop(h)


class TransformerLayer(nn.Module):
    """Pre-norm Transformer encoder layer: x + MHSA(LN(x)), then x + FFN(LN(x))."""

    def __init__(self, d_model: int, n_heads: int, ff_dim: int, dropout: float) -> None:
        super().__init__()
        self.mhsa = SelfAttention(d_model, n_heads, dropout)
        self.ffn = FeedForward(d_model, ff_dim, dropout)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        x = x + self.mhsa(x, mask)
        return x + self.ffn(x)


class _Encoder(nn.Module):
    """Shared front (subsampling + positions), masking and output head of the two encoders."""

    def _setup(self, in_dim: int, d_model: int, n_heads: int, positions: str, max_len: int,
               out_dim: int | None, subsample: int, dropout: float) -> None:
        if d_model % n_heads:
            raise ValueError(f"d_model={d_model} must be divisible by n_heads={n_heads}")
        self.front = ConvSubsampling(in_dim, d_model, subsample)
        self.pos = PositionalEncoding(d_model, positions, max_len)
        self.drop = nn.Dropout(dropout)
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, out_dim) if out_dim else None
        self.out_dim = out_dim or d_model
        self.layers: nn.ModuleList

    def encode(self, x: Tensor, lengths: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """(B, T, in_dim), lengths (B,) -> ((B, T', out_dim), lengths' (B,)); padded outputs are zero."""
        if lengths is None:
            lengths = torch.full((x.shape[0],), x.shape[1], dtype=torch.long, device=x.device)
        lengths = lengths.to(x.device)
        mask = lengths_to_mask(lengths, x.shape[1], x.shape[0], x.device)
        x = x.masked_fill(~mask[..., None], 0.0)
        x, lengths = self.front(x, lengths)
        mask = lengths_to_mask(lengths, x.shape[1], x.shape[0], x.device)
        x = self.drop(self.pos(x))
        for layer in self.layers:
            x = layer(x, mask)
        x = self.norm(x)
        if self.head is not None:
            x = self.head(x)
        return x.masked_fill(~mask[..., None], 0.0), lengths

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        """(B, T, in_dim) -> (B, T', out_dim); see :meth:`encode` for the output lengths."""
        return self.encode(x, lengths)[0]

    def output_lengths(self, lengths: Tensor) -> Tensor:
        """Valid output frames for input ``lengths`` (B,) after subsampling."""
        for _ in self.front.convs:
            lengths = (lengths - 1) // 2 + 1
        return lengths


@register("transformer")
class TransformerEncoder(_Encoder):
    """Pre-norm Transformer encoder (Vaswani et al. 2017, pre-LN variant) over frames.

    Args:
        in_dim: input feature size F. d_model: model width. n_heads: attention heads.
        n_layers: encoder layers. ff_dim: FFN hidden size (default 4 * d_model). dropout: rate.
        positions: "sinusoidal" or "learned". max_len: longest sequence (after subsampling).
        out_dim: optional linear head size (e.g. vocabulary for CTC); None returns d_model features.
        subsample: time reduction 1, 2 or 4 by strided convolutions.

    Shapes: x (B, T, in_dim), lengths (B,) -> (B, T', out_dim or d_model).

    Example:
        >>> import torch
        >>> net = TransformerEncoder(in_dim=13, d_model=16, n_heads=2, n_layers=1, out_dim=3)
        >>> tuple(net(torch.randn(2, 7, 13), torch.tensor([7, 4])).shape)
        (2, 7, 3)
    """

    def __init__(self, in_dim: int, d_model: int = 256, n_heads: int = 4, n_layers: int = 6,
                 ff_dim: int | None = None, dropout: float = 0.1, positions: str = "sinusoidal",
                 max_len: int = 5000, out_dim: int | None = None, subsample: int = 1) -> None:
        super().__init__()
        self._setup(in_dim, d_model, n_heads, positions, max_len, out_dim, subsample, dropout)
        ff = ff_dim or 4 * d_model
        self.layers = nn.ModuleList(TransformerLayer(d_model, n_heads, ff, dropout) for _ in range(n_layers))


class MaskedBatchNorm1d(nn.BatchNorm1d):
    """BatchNorm over (B, C, T) whose training statistics use valid frames only (mask (B, T))."""

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:  # type: ignore[override]
        if not self.training or mask is None:
            return super().forward(x)
        m = mask[:, None, :].to(x.dtype)
        n = m.sum().clamp_min(1.0)
        mean = (x * m).sum((0, 2)) / n
        var = (((x - mean[None, :, None]) ** 2) * m).sum((0, 2)) / n
        if self.track_running_stats and self.running_mean is not None:
            with torch.no_grad():
                mom = self.momentum if self.momentum is not None else 0.1
                self.running_mean.mul_(1 - mom).add_(mom * mean)
                self.running_var.mul_(1 - mom).add_(mom * var * n / (n - 1).clamp_min(1.0))
                self.num_batches_tracked += 1
        y = (x - mean[None, :, None]) / torch.sqrt(var[None, :, None] + self.eps)
        if self.affine:
            y = y * self.weight[None, :, None] + self.bias[None, :, None]
        return y


class ConvModule(nn.Module):
    """Conformer convolution module: LN -> pointwise (2D) -> GLU -> depthwise conv -> BN/LN -> swish
    -> pointwise -> dropout. Padded frames are zeroed before the depthwise conv (padding-safe)."""

    def __init__(self, d_model: int, kernel_size: int, dropout: float, norm: str = "batch") -> None:
        super().__init__()
        if kernel_size % 2 == 0:
            raise ValueError(f"conv_kernel must be odd, not {kernel_size}")
        if norm not in ("batch", "layer"):
            raise ValueError(f"conv_norm must be 'batch' or 'layer', not {norm!r}")
        self.ln = nn.LayerNorm(d_model)
        self.pw1 = nn.Conv1d(d_model, 2 * d_model, 1)
        self.dw = nn.Conv1d(d_model, d_model, kernel_size, padding=kernel_size // 2, groups=d_model)
        self.norm_kind = norm
        self.norm = MaskedBatchNorm1d(d_model) if norm == "batch" else nn.LayerNorm(d_model)
        self.pw2 = nn.Conv1d(d_model, d_model, 1)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        h = F.glu(self.pw1(self.ln(x).transpose(1, 2)), dim=1)  # (B, D, T)
        h = self.dw(h.masked_fill(~mask[:, None, :], 0.0))
        if self.norm_kind == "batch":
            h = self.norm(h, mask)
        else:
            h = self.norm(h.transpose(1, 2)).transpose(1, 2)
        h = self.pw2(F.silu(h))
        return self.drop(h.transpose(1, 2))


class ConformerBlock(nn.Module):
    """x + FFN/2, x + MHSA, x + Conv, x + FFN/2, LayerNorm (macaron structure)."""

    def __init__(self, d_model: int, n_heads: int, ff_dim: int, conv_kernel: int, dropout: float,
                 conv_norm: str) -> None:
        super().__init__()
        self.ff1 = FeedForward(d_model, ff_dim, dropout, "swish")
        self.mhsa = SelfAttention(d_model, n_heads, dropout)
        self.conv = ConvModule(d_model, conv_kernel, dropout, conv_norm)
        self.ff2 = FeedForward(d_model, ff_dim, dropout, "swish")
        self.norm = nn.LayerNorm(d_model)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        x = x + 0.5 * self.ff1(x)
        x = x + self.mhsa(x, mask)
        x = x + self.conv(x, mask)
        x = x + 0.5 * self.ff2(x)
        return self.norm(x)


@register("conformer")
class ConformerEncoder(_Encoder):
    """Conformer encoder (Gulati et al. 2020) with absolute (sinusoidal or learned) positions.

    Args:
        in_dim, d_model, n_heads, n_layers, dropout, positions, max_len, out_dim, subsample: as
            :class:`TransformerEncoder`. ff_dim: macaron FFN hidden size (default 4 * d_model).
        conv_kernel: odd depthwise kernel size. conv_norm: "batch" (masked batch norm) or "layer".

    Shapes: x (B, T, in_dim), lengths (B,) -> (B, T', out_dim or d_model).

    Example:
        >>> import torch
        >>> net = ConformerEncoder(in_dim=13, d_model=16, n_heads=2, n_layers=1, conv_kernel=5)
        >>> tuple(net(torch.randn(2, 9, 13)).shape)
        (2, 9, 16)
    """

    def __init__(self, in_dim: int, d_model: int = 144, n_heads: int = 4, n_layers: int = 4,
                 ff_dim: int | None = None, conv_kernel: int = 15, conv_norm: str = "batch",
                 dropout: float = 0.1, positions: str = "sinusoidal", max_len: int = 5000,
                 out_dim: int | None = None, subsample: int = 1) -> None:
        super().__init__()
        self._setup(in_dim, d_model, n_heads, positions, max_len, out_dim, subsample, dropout)
        ff = ff_dim or 4 * d_model
        self.layers = nn.ModuleList(ConformerBlock(d_model, n_heads, ff, conv_kernel, dropout, conv_norm)
                                    for _ in range(n_layers))

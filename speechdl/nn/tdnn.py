"""Time-delay neural networks (dilated 1-D convolutions over frames), statistics pooling and the x-vector.

The x-vector (Snyder et al., 2018): five frame-level TDNN layers (contexts 5, 3, 3, 1, 1; dilations 1, 2, 3,
1, 1; widths 512, 512, 512, 512, 1500), mean + standard deviation pooling over time, two segment-level
layers (512), softmax over training speakers. The embedding is segment layer 6's affine output, before
its nonlinearity.

Example:
    >>> import torch
    >>> from speechdl.nn import build
    >>> xv = build("xvector", in_dim=30, num_classes=10, widths=[32, 32, 32, 32, 64], embed_dim=16)
    >>> x, n = torch.randn(2, 120, 30), torch.tensor([120, 80])
    >>> xv(x, n).shape, xv.embed(x, n).shape
    (torch.Size([2, 10]), torch.Size([2, 16]))
"""

from __future__ import annotations

import torch
from torch import nn

from speechdl.errors import ConfigError
from speechdl.nn._parts import check_choice, conv_out_length, length_mask, make_activation, make_norm, per_layer
from speechdl.nn.registry import register


class StatsPooling(nn.Module):
    """Mean and standard deviation over the valid frames: ``(B, T, C)`` [+ ``(B,)`` lengths] -> ``(B, 2C)``.

    Padded frames (index >= length) are ignored. ``std=False`` returns the mean only, ``(B, C)``.

    Example:
        >>> StatsPooling()(torch.randn(2, 10, 4), torch.tensor([10, 3])).shape
        torch.Size([2, 8])
    """

    def __init__(self, std: bool = True, eps: float = 1e-5) -> None:
        super().__init__()
        self.std, self.eps = std, eps

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        if lengths is None:
            mean = x.mean(1)
            var = (x - mean[:, None]).pow(2).mean(1)
        else:
            w = length_mask(lengths.to(x.device), x.shape[1])[..., None].to(x.dtype)
            n = w.sum(1).clamp_min(1.0)
            mean = (x * w).sum(1) / n
            var = ((x - mean[:, None]).pow(2) * w).sum(1) / n
        if not self.std:
            return mean
        return torch.cat([mean, var.clamp_min(self.eps).sqrt()], dim=-1)


class TDNNLayer(nn.Module):
    """One TDNN layer: dilated Conv1d over frames -> activation -> norm (Kaldi order) -> [dropout].

    ``context`` frames spaced ``dilation`` apart (context 5, dilation 1 = frames t-2..t+2). ``padding="same"``
    keeps T; ``"valid"`` (the paper) drops ``dilation * (context - 1)`` frames.

    Shapes: ``(B, T, F)`` -> ``(B, T', out_dim)``.

    Example:
        >>> TDNNLayer(40, 64, context=3, dilation=2, padding="valid")(torch.randn(2, 50, 40)).shape
        torch.Size([2, 46, 64])
    """

    def __init__(self, in_dim: int, out_dim: int, context: int = 5, dilation: int = 1, activation: str = "relu",
                 norm: str | None = "batch", dropout: float = 0.0, padding: str = "same") -> None:
        super().__init__()
        check_choice(padding, ["same", "valid"], "padding", "TDNNLayer")
        if padding == "same" and context % 2 == 0:
            raise ConfigError("TDNNLayer", f"context {context} is even", "use odd contexts with padding='same'")
        self.context, self.dilation = context, dilation
        self.pad = dilation * (context - 1) // 2 if padding == "same" else 0
        self.conv = nn.Conv1d(in_dim, out_dim, context, dilation=dilation, padding=self.pad)
        self.act = make_activation(activation, "TDNNLayer")
        self.norm = make_norm(norm, out_dim, 1, "TDNNLayer")
        self.drop: nn.Module = nn.Dropout(dropout) if dropout > 0 else nn.Identity()

    def output_lengths(self, lengths: torch.Tensor) -> torch.Tensor:
        return conv_out_length(lengths, self.context, 1, self.pad, self.dilation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.norm(self.act(self.conv(x.transpose(1, 2))))).transpose(1, 2)


@register("tdnn")
class TDNN(nn.Module):
    """Stack of :class:`TDNNLayer` (frame-level). Padded frames are zeroed after every layer.

    Args:
        in_dim: input features F.
        widths, contexts, dilations: one entry per layer (contexts/dilations may be one int for all).
        activation, norm, dropout, padding: of every layer (see :class:`TDNNLayer`).

    Shapes: ``x (B, T, F)``, ``lengths (B,)`` -> ``(y (B, T', widths[-1]), lengths' (B,))``.

    Example:
        >>> net = TDNN(40, widths=[64, 64], contexts=[5, 3], dilations=[1, 2], padding="valid")
        >>> y, n = net(torch.randn(2, 50, 40), torch.tensor([50, 30]))
        >>> y.shape, n.tolist()
        (torch.Size([2, 42, 64]), [42, 22])
    """

    def __init__(self, in_dim: int, widths: list[int] | None = None, contexts: int | list[int] | None = None,
                 dilations: int | list[int] | None = None, activation: str = "relu", norm: str | None = "batch",
                 dropout: float = 0.0, padding: str = "same") -> None:
        super().__init__()
        widths = list(widths or [512, 512, 512, 512, 1500])
        n = len(widths)
        cs = per_layer([5, 3, 3, 1, 1] if contexts is None else contexts, n, "contexts", "model 'tdnn'")
        ds = per_layer([1, 2, 3, 1, 1] if dilations is None else dilations, n, "dilations", "model 'tdnn'")
        self.layers = nn.ModuleList()
        d = in_dim
        for w, c, dl in zip(widths, cs, ds):
            self.layers.append(TDNNLayer(d, w, c, dl, activation, norm, dropout, padding))
            d = w
        self.output_size = d

    def output_lengths(self, lengths: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            lengths = layer.output_lengths(lengths)
        return lengths

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``(B, T, F)`` [+ ``(B,)`` lengths] -> ``((B, T', C), (B,) lengths')``."""
        if lengths is None:
            lengths = torch.full((x.shape[0],), x.shape[1], dtype=torch.long, device=x.device)
        n = lengths.to(x.device, torch.long)
        if int(self.output_lengths(n).min()) < 1:
            raise ConfigError("model 'tdnn'", "an input is shorter than the network's context",
                              "use longer segments or padding='same'")
        h = x * length_mask(n, x.shape[1])[..., None].to(x.dtype)
        for layer in self.layers:
            h, n = layer(h), layer.output_lengths(n)
            h = h * length_mask(n, h.shape[1])[..., None].to(h.dtype)
        return h, n


@register("xvector")
class XVector(nn.Module):
    """x-vector speaker network: TDNN frames -> statistics pooling -> segment layers -> logits.

    Args:
        in_dim: input features F.
        num_classes: training speakers (logits width).
        widths, contexts, dilations: frame-level TDNN (defaults: the paper's 512,512,512,512,1500 / 5,3,3,1,1 /
            1,2,3,1,1).
        embed_dim: width of each segment-level layer.
        num_segment_layers: segment-level layers (paper: 2).
        embed_layer: which segment layer gives the embedding (0 = the first, "x-vector a").
        embed_pre_activation: embedding is that layer's affine output before activation and norm (paper).
        activation, norm, dropout, padding: as in :class:`TDNN` (segment layers use the same activation/norm).

    Shapes: ``x (B, T, F)``, ``lengths (B,)`` -> logits ``(B, num_classes)``; :meth:`embed` -> ``(B, embed_dim)``.
    """

    def __init__(self, in_dim: int, num_classes: int, widths: list[int] | None = None,
                 contexts: int | list[int] | None = None, dilations: int | list[int] | None = None,
                 embed_dim: int = 512, num_segment_layers: int = 2, embed_layer: int = 0,
                 embed_pre_activation: bool = True, activation: str = "relu", norm: str | None = "batch",
                 dropout: float = 0.0, padding: str = "same") -> None:
        super().__init__()
        where = "model 'xvector'"
        if not 0 <= embed_layer < num_segment_layers:
            raise ConfigError(where, f"embed_layer={embed_layer} but there are {num_segment_layers} segment layers",
                              f"choose 0..{num_segment_layers - 1}")
        self.frames = TDNN(in_dim, widths, contexts, dilations, activation, norm, dropout, padding)
        self.pool = StatsPooling()
        self.segment = nn.ModuleList()
        self.segment_post = nn.ModuleList()
        d = 2 * self.frames.output_size
        for _ in range(num_segment_layers):
            self.segment.append(nn.Linear(d, embed_dim))
            parts = [make_activation(activation, where), make_norm(norm, embed_dim, 0, where)]
            if dropout > 0:
                parts.append(nn.Dropout(dropout))
            self.segment_post.append(nn.Sequential(*parts))
            d = embed_dim
        self.classifier = nn.Linear(d, num_classes)
        self.embed_layer, self.embed_pre_activation = embed_layer, embed_pre_activation
        self.embed_dim = embed_dim

    def _segment(self, x: torch.Tensor, lengths: torch.Tensor | None,
                 stop: int | None) -> tuple[torch.Tensor, torch.Tensor]:
        """``(embedding, last segment layer's output)``; with ``stop`` the layers after the embedding are skipped."""
        h, n = self.frames(x, lengths)
        h = self.pool(h, n)
        emb = h
        for i, (lin, post) in enumerate(zip(self.segment, self.segment_post)):
            pre = lin(h)
            h = post(pre)
            if i == self.embed_layer:
                emb = pre if self.embed_pre_activation else h
                if stop is not None:
                    break
        return emb, h

    def embed(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """Speaker embedding: ``(B, T, F)`` [+ ``(B,)`` lengths] -> ``(B, embed_dim)``."""
        return self._segment(x, lengths, self.embed_layer)[0]

    def embed_and_logits(self, x: torch.Tensor, lengths: torch.Tensor | None = None
                         ) -> tuple[torch.Tensor, torch.Tensor]:
        """Embedding ``(B, embed_dim)`` and logits ``(B, num_classes)`` in one pass."""
        emb, h = self._segment(x, lengths, None)
        return emb, self.classifier(h)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """``(B, T, F)`` [+ ``(B,)`` lengths] -> logits ``(B, num_classes)``."""
        return self.embed_and_logits(x, lengths)[1]

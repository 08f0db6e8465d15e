"""Recurrent networks: vanilla (tanh) RNN, GRU and LSTM; stacked, bidirectional, packed variable lengths.

Padded frames never influence valid outputs: sequences are packed by ``lengths`` before the recurrence,
so a padded batch gives exactly what each sequence gives alone. Frame-level outputs at padded positions
are zero.

Example:
    >>> import torch
    >>> from speechdl.nn import build
    >>> net = build("rnn", in_dim=39, hidden_size=32, cell="lstm", bidirectional=True, out_dim=2)
    >>> net(torch.randn(3, 50, 39), lengths=torch.tensor([50, 40, 7])).shape
    torch.Size([3, 50, 2])
    >>> clf = build("rnn", in_dim=39, hidden_size=32, cell="gru", pool="mean", out_dim=5)
    >>> clf(torch.randn(3, 50, 39), lengths=torch.tensor([50, 40, 7])).shape
    torch.Size([3, 5])
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from speechdl.errors import ConfigError
from speechdl.nn._parts import check_choice, length_mask, make_activation
from speechdl.nn.registry import register

_CELLS = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}
State = torch.Tensor | tuple[torch.Tensor, torch.Tensor] | None


@register("rnn")
class RecurrentNet(nn.Module):
    """[input projection] -> stacked (bi)RNN/GRU/LSTM -> [pooling over time] -> [Linear head].

    Args:
        in_dim: input features F.
        hidden_size: units per direction per layer.
        num_layers: stacked recurrent layers.
        cell: ``"rnn"`` (vanilla, tanh) | ``"gru"`` | ``"lstm"``.
        bidirectional: run a backward recurrence too (outputs concatenated: ``2 * hidden_size``).
        dropout: dropout between stacked layers (and before the head).
        proj_dim: if set, a Linear ``F -> proj_dim`` (then ``proj_activation``) before the recurrence.
        proj_activation: activation of the input projection (``None`` = linear).
        out_dim: if set, a Linear head to ``out_dim`` (per frame, or per sequence when pooled).
        pool: ``None`` (frame-level output) | ``"last"`` (final state; both directions when bidirectional)
            | ``"mean"`` | ``"max"`` over the valid frames.
        out_activation: activation after the head (``None`` = logits).

    Shapes: ``x (B, T, F)``, ``lengths (B,)`` -> ``(B, T, out)`` when ``pool is None`` else ``(B, out)``;
    ``out = out_dim`` or ``hidden_size * (2 if bidirectional else 1)``.
    """

    def __init__(
        self,
        in_dim: int,
        hidden_size: int = 128,
        num_layers: int = 1,
        cell: str = "lstm",
        bidirectional: bool = False,
        dropout: float = 0.0,
        proj_dim: int | None = None,
        proj_activation: str | None = None,
        out_dim: int | None = None,
        pool: str | None = None,
        out_activation: str | None = None,
    ) -> None:
        super().__init__()
        where = "model 'rnn'"
        check_choice(cell, list(_CELLS), "cell", where)
        check_choice(pool, [None, "last", "mean", "max"], "pool", where)
        self.cell, self.pool, self.bidirectional = cell, pool, bidirectional
        self.num_layers, self.hidden_size = num_layers, hidden_size
        if proj_dim:
            self.proj: nn.Module = nn.Sequential(nn.Linear(in_dim, proj_dim), make_activation(proj_activation, where))
        else:
            self.proj = nn.Identity()
        kw = {"nonlinearity": "tanh"} if cell == "rnn" else {}
        self.rnn = _CELLS[cell](proj_dim or in_dim, hidden_size, num_layers=num_layers, batch_first=True,
                                bidirectional=bidirectional, dropout=dropout if num_layers > 1 else 0.0, **kw)
        width = hidden_size * (2 if bidirectional else 1)
        self.drop = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.head: nn.Module = nn.Linear(width, out_dim) if out_dim else nn.Identity()
        self.out_act = make_activation(out_activation, where)
        self.output_size = out_dim or width

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """``(B, T, F)`` [+ ``(B,)`` lengths] -> ``(B, T, out)`` or, pooled, ``(B, out)``."""
        B, T, _ = x.shape
        h = self.proj(x)
        if lengths is None:
            y, h_n = self.rnn(h)
            mask = None
        else:
            lengths = lengths.to(x.device, torch.long)
            if int(lengths.min()) < 1 or int(lengths.max()) > T:
                raise ConfigError("model 'rnn'", f"lengths must lie in [1, {T}]", "check the collate function")
            packed = pack_padded_sequence(h, lengths.cpu(), batch_first=True, enforce_sorted=False)
            y, h_n = self.rnn(packed)
            y, _ = pad_packed_sequence(y, batch_first=True, total_length=T)
            mask = length_mask(lengths, T)
        if self.pool is None:
            out = self.out_act(self.head(self.drop(y)))
            return out if mask is None else out * mask[..., None].to(out.dtype)
        if self.pool == "last":
            hid = h_n[0] if isinstance(h_n, tuple) else h_n  # (layers * dirs, B, H), final valid states
            dirs = 2 if self.bidirectional else 1
            pooled = hid[-dirs:].transpose(0, 1).reshape(B, -1)
        elif self.pool == "mean":
            if mask is None:
                pooled = y.mean(dim=1)
            else:
                pooled = (y * mask[..., None]).sum(1) / lengths[:, None].to(y.dtype)
        else:
            pooled = (y if mask is None else y.masked_fill(~mask[..., None], float("-inf"))).amax(dim=1)
        return self.out_act(self.head(self.drop(pooled)))

    def init_state(self, batch_size: int = 1) -> State:
        """Initial streaming state (``None`` = zeros)."""
        return None

    def forward_chunk(self, x: torch.Tensor, state: State = None) -> tuple[torch.Tensor, State]:
        """Streaming, unidirectional frame-level nets only: ``(B, t, F)`` chunk -> ``((B, t, out), state)``.

        Feeding a sequence chunk by chunk (any chunk sizes) gives the same frames as :meth:`forward`.
        """
        if self.bidirectional or self.pool is not None:
            raise ConfigError("model 'rnn'", "streaming needs a unidirectional frame-level model",
                              "set bidirectional=False and pool=None")
        y, state = self.rnn(self.proj(x), state)
        return self.out_act(self.head(self.drop(y))), state

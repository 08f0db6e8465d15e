"""Feed-forward (dense / fully-connected / MLP) networks.

The lecture's voice activity detector is expressible exactly: 39 MFCCs -> Dense(12, relu) ->
Dropout(0.2) -> Dense(8, relu) -> Dropout(0.1) -> Dense(4, relu) -> Dense(1, sigmoid), 625 parameters.

Example:
    >>> import torch
    >>> from speechdl.nn import build
    >>> vad = build("dense", in_dim=39, hidden=[12, 8, 4], out_dim=1, dropout=[0.2, 0.1, 0.0],
    ...             out_activation="sigmoid")
    >>> sum(p.numel() for p in vad.parameters())
    625
    >>> vad(torch.randn(2, 50, 39)).shape
    torch.Size([2, 50, 1])
"""

from __future__ import annotations

import torch
from torch import nn

from speechdl.nn._parts import check_choice, make_activation, make_norm, per_layer
from speechdl.nn.registry import register


@register("dense")
class DenseNet(nn.Module):
    """Stack of Linear -> [norm] -> activation -> [dropout] hidden layers, then an optional output Linear.

    Args:
        in_dim: input features F.
        hidden: widths of the hidden layers (any depth, may be empty; an int is one hidden layer).
        out_dim: width of the output Linear; ``None`` ends the net at the last hidden layer.
        activation: hidden-layer activation by name (relu, tanh, sigmoid, gelu, leaky_relu, elu, selu, ...).
        out_activation: activation after the output Linear (``None`` = logits, ``"sigmoid"``, ``"softmax"``).
        dropout: after each hidden layer: one float or one per hidden layer.
        input_dropout: dropout on the input features.
        norm: ``None`` | ``"batch"`` | ``"layer"``, between each hidden Linear and its activation.
        bias: Linear layers have biases (never a hidden layer followed by BatchNorm, which would cancel it).
        l1, l2: weight penalty coefficients used by :meth:`penalty`.

    Shapes: ``(B, F)`` -> ``(B, out)`` or ``(B, T, F)`` -> ``(B, T, out)`` (frame-wise), with
    ``out = out_dim`` or the last hidden width.

    Attributes:
        layers: ``nn.ModuleList`` of every Linear in order; ``layers[i]`` (``i < len(hidden)``) is hidden layer
            i, ``layers[-1]`` the output layer when ``out_dim`` is set (for greedy layer-wise pretraining).
        post: ``nn.ModuleList``; ``post[i]`` is what follows ``layers[i]`` (norm, activation, dropout).
    """

    def __init__(
        self,
        in_dim: int,
        hidden: int | list[int] | None = None,
        out_dim: int | None = None,
        activation: str = "relu",
        out_activation: str | None = None,
        dropout: float | list[float] = 0.0,
        input_dropout: float = 0.0,
        norm: str | None = None,
        bias: bool = True,
        l1: float = 0.0,
        l2: float = 0.0,
    ) -> None:
        super().__init__()
        where = "model 'dense'"
        hidden = [hidden] if isinstance(hidden, int) else list(hidden or [])
        check_choice(norm, [None, "batch", "layer"], "norm", where)
        drops = per_layer(dropout, len(hidden), "dropout", where)
        self.in_dim, self.hidden, self.out_dim = in_dim, hidden, out_dim
        self.l1, self.l2 = float(l1), float(l2)
        self.input_dropout = nn.Dropout(input_dropout) if input_dropout > 0 else nn.Identity()
        self.layers = nn.ModuleList()
        self.post = nn.ModuleList()
        width = in_dim
        for h, p in zip(hidden, drops):
            self.layers.append(nn.Linear(width, h, bias=bias and norm != "batch"))  # BatchNorm cancels a bias
            parts = [make_norm(norm, h, 0, where), make_activation(activation, where)]
            if p > 0:
                parts.append(nn.Dropout(float(p)))
            self.post.append(nn.Sequential(*[m for m in parts if not isinstance(m, nn.Identity)]))
            width = h
        if out_dim is not None:
            self.layers.append(nn.Linear(width, out_dim, bias=bias))
            self.post.append(make_activation(out_activation, where))
            width = out_dim
        self.output_size = width

    def forward(self, x: torch.Tensor, upto: int | None = None) -> torch.Tensor:
        """``(..., F)`` -> ``(..., out)``; ``upto=k`` stops after the first ``k`` layers (hidden features)."""
        lead = x.shape[:-1]
        h = self.input_dropout(x.reshape(-1, x.shape[-1]))  # BatchNorm1d wants (N, C): flatten B and T
        n = len(self.layers) if upto is None else upto
        for lin, post in zip(self.layers[:n], self.post[:n]):
            h = post(lin(h))
        return h.reshape(*lead, h.shape[-1])

    def penalty(self) -> torch.Tensor:
        """``l1 * sum|W| + l2 * sum W^2`` over the Linear weight matrices (biases and norms excluded)."""
        total = self.layers[0].weight.new_zeros(()) if len(self.layers) else torch.zeros(())
        for lin in self.layers:
            if self.l1:
                total = total + self.l1 * lin.weight.abs().sum()
            if self.l2:
                total = total + self.l2 * lin.weight.pow(2).sum()
        return total

    def init_state(self, batch_size: int = 1) -> None:
        """Frame-wise model: no state to carry between chunks."""
        return None

    def forward_chunk(self, x: torch.Tensor, state: None = None) -> tuple[torch.Tensor, None]:
        """Streaming: ``(B, t, F)`` chunk -> ``((B, t, out), state)``; identical to :meth:`forward`."""
        return self.forward(x), state

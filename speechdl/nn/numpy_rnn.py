"""Stacked unidirectional RNN / GRU / LSTM layers in numpy: the recurrent core of the streaming twins.

A 10 ms streaming hop runs a handful of small matrix products; through torch each costs more call overhead
than arithmetic, so the VAD (:mod:`speechdl.tasks.vad.net`) and the causal enhancer
(:mod:`speechdl.tasks.enhance.twin`) run their recurrent layers with these numpy functions instead.

- :func:`pack_layers`: the weights of a ``torch.nn.RNN`` / ``GRU`` / ``LSTM`` (batch-first or not) as
  numpy arrays laid out for :func:`run_layers` (an optional ``fold`` rewrites layer one's input weights,
  e.g. to absorb an input normalisation).
- :func:`init_state` / :func:`run_layers`: ``(n, in)`` -> ``(n, hidden)`` over ``n`` frames, carrying state.

Example:
    >>> import torch
    >>> gru = torch.nn.GRU(5, 8, num_layers=2, batch_first=True).eval()
    >>> x = torch.randn(1, 12, 5)
    >>> layers = pack_layers(gru, "gru")
    >>> y, st = run_layers("gru", layers, x[0, :7].numpy(), init_state("gru", layers, 8), 8)
    >>> y2, _ = run_layers("gru", layers, x[0, 7:].numpy(), st, 8)
    >>> ref = gru(x)[0][0].detach().numpy()
    >>> import numpy as np
    >>> bool(np.abs(np.concatenate([y, y2]) - ref).max() < 1e-5)
    True
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from torch import nn

Layer = tuple[np.ndarray, Any, np.ndarray]


def _arr(t: Any) -> np.ndarray:
    return t.detach().double().cpu().numpy()


def pack_layers(rnn: nn.RNNBase, cell: str,
                fold: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]] | None = None) -> list[Layer]:
    """``rnn``'s layers as ``(w_ih (in, G H), w_hh, bias)`` float32 arrays for :func:`run_layers`.

    ``cell``: ``"rnn"``, ``"gru"`` or ``"lstm"`` (gate order as torch). ``fold(w_ih, b_ih)`` rewrites the
    first layer's input weights (float64, ``(in, G H)``). GRU keeps ``b_hn`` apart (it sits inside
    ``r * (W_hn h + b_hn)``); LSTM halves the i, f, o columns so one tanh gives every gate.
    """
    H = rnn.hidden_size
    layers: list[Layer] = []
    for layer in range(rnn.num_layers):
        w_ih, w_hh = _arr(getattr(rnn, f"weight_ih_l{layer}")).T, _arr(getattr(rnn, f"weight_hh_l{layer}")).T
        b_ih, b_hh = _arr(getattr(rnn, f"bias_ih_l{layer}")), _arr(getattr(rnn, f"bias_hh_l{layer}"))
        if layer == 0 and fold is not None:
            w_ih, b_ih = fold(w_ih, b_ih)
        if cell == "gru":
            b = np.concatenate([b_ih[: 2 * H] + b_hh[: 2 * H], b_ih[2 * H:]])
            layers.append((w_ih.astype(np.float32), (w_hh.astype(np.float32), b_hh[2 * H:].astype(np.float32)),
                           b.astype(np.float32)))
        elif cell == "rnn":   # h = tanh(x W_ih + b_ih + h W_hh + b_hh)
            layers.append((w_ih.astype(np.float32), w_hh.astype(np.float32), (b_ih + b_hh).astype(np.float32)))
        else:   # sigmoid(x) = 0.5 tanh(x / 2) + 0.5: the i, f, o columns are halved
            half = np.ones(4 * H)
            half[: 2 * H] = half[3 * H:] = 0.5
            layers.append(((w_ih * half).astype(np.float32), (w_hh * half).astype(np.float32),
                           ((b_ih + b_hh) * half).astype(np.float32)))
    return layers


def init_state(cell: str, layers: list[Layer], hidden: int) -> list[list[np.ndarray]]:
    """Zero state: per layer ``[h]`` (``[h, c]`` for LSTM), each ``(hidden,)`` float32."""
    n = 2 if cell == "lstm" else 1
    return [[np.zeros(hidden, np.float32) for _ in range(n)] for _ in layers]


def run_layers(cell: str, layers: list[Layer], x: np.ndarray, state: list[list[np.ndarray]],
               hidden: int) -> tuple[np.ndarray, list[list[np.ndarray]]]:
    """``x (n, in)`` through the stacked layers -> ``(outputs (n, hidden), new state)``; ``state`` is not changed."""
    h_seq = x
    new_state = []
    H = hidden
    for (w_ih, w_hh, b), st in zip(layers, state):
        xg = h_seq @ w_ih + b   # (n, gates * H): the input part of every step at once
        out = np.empty((len(xg), H), np.float32)
        if cell == "lstm":
            h, c = st
            for t in range(len(xg)):
                th = xg[t] + h @ w_hh
                np.tanh(th, out=th)
                s = th * 0.5
                s += 0.5
                c = s[H: 2 * H] * c + s[:H] * th[2 * H: 3 * H]
                h = s[3 * H:] * np.tanh(c)
                out[t] = h
            new_state.append([h, c])
        elif cell == "gru":
            (h,) = st
            w_hz, b_hn = w_hh
            for t in range(len(xg)):
                gh = h @ w_hz
                rz = 1.0 / (1.0 + np.exp(-(xg[t, : 2 * H] + gh[: 2 * H])))
                n = np.tanh(xg[t, 2 * H:] + rz[:H] * (gh[2 * H:] + b_hn))
                h = n + rz[H:] * (h - n)
                out[t] = h
            new_state.append([h])
        else:
            (h,) = st
            for t in range(len(xg)):
                h = np.tanh(xg[t] + h @ w_hh)
                out[t] = h
            new_state.append([h])
        h_seq = out
    return h_seq, new_state

"""What a VAD bundle holds: the frame model and its numpy twins for streaming (no Lightning import).

- :class:`FrameModel`: normalisation + network; ``(B, T, F)`` features -> ``(B, T)`` logits;
  ``init_state`` / ``forward_chunk`` for streaming.
- :class:`InputNorm`: per-feature mean / std buffers measured on training frames (global CMVN that streams).
- :func:`numpy_net`: the same network as numpy arrays (dense, or a unidirectional rnn/gru/lstm),
  with the normalisation folded into the first layer: no torch call per 10 ms hop.

The training module is :mod:`speechdl.tasks.vad.train`.

Example:
    >>> import torch
    >>> fm = FrameModel("dense", {"in_dim": 39, "hidden": [12, 8, 4], "out_dim": 1})
    >>> fm(torch.randn(2, 30, 39)).shape
    torch.Size([2, 30])
    >>> net = numpy_net(fm.eval())
    >>> logits, _ = net(torch.randn(30, 39).numpy(), net.init_state())
    >>> logits.shape
    (30,)
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np
import torch
from torch import nn

from speechdl.errors import ConfigError
from speechdl.nn._parts import InputNorm, main_output
from speechdl.nn.numpy_rnn import init_state, pack_layers, run_layers


class FrameModel(nn.Module):
    """Normalisation + registry network: features ``(B, T, F)`` -> frame logits ``(B, T)``.

    Args:
        name: registry name of the network (``dense``, ``rnn``, ``cnn1d``, ``vad_crnn``, ...).
        kwargs: its constructor arguments; ``in_dim`` is required.
    """

    def __init__(self, name: str, kwargs: dict[str, Any]) -> None:
        super().__init__()
        from speechdl.nn import build

        self.name, self.kwargs = name, dict(kwargs)
        self.net = build(name, **kwargs)
        params = inspect.signature(self.net.forward).parameters
        self.takes_lengths = "lengths" in params   # frame-wise nets (dense, crnn) need no lengths
        self.norm = InputNorm(int(kwargs["in_dim"]))

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """``(B, T, F)`` [+ ``(B,)`` lengths] -> ``(B, T)`` logits."""
        x = self.norm(x)
        out = self.net(x, lengths) if lengths is not None and self.takes_lengths else self.net(x)
        return _squeeze(main_output(out))

    @property
    def streams_exactly(self) -> bool:
        """True when :meth:`forward_chunk` reproduces :meth:`forward` (frame-wise or causal)."""
        return hasattr(self.net, "forward_chunk") and not getattr(self.net, "bidirectional", False)

    def init_state(self) -> Any:
        """Initial streaming state."""
        return self.net.init_state(1) if hasattr(self.net, "init_state") else None

    @torch.no_grad()
    def forward_chunk(self, x: torch.Tensor, state: Any = None) -> tuple[torch.Tensor, Any]:
        """Streaming: ``(1, t, F)`` -> ``((1, t) logits, state)``."""
        if not self.streams_exactly:
            raise ConfigError(f"model {self.name!r}", "cannot stream (no causal forward_chunk)",
                              "use dense, a unidirectional rnn or vad_crnn")
        out, state = self.net.forward_chunk(self.norm(x), state)
        return _squeeze(out), state


def _squeeze(out: torch.Tensor) -> torch.Tensor:
    if out.dim() == 3 and out.shape[-1] == 1:
        return out.squeeze(-1)
    if out.dim() != 2:
        raise ConfigError("vad model", f"output {tuple(out.shape)} is not one logit per frame",
                          "use out_dim: 1")
    return out




# ---------------------------------------------------------------- numpy twins (per-hop streaming)
class NumpyDense:
    """A ``dense`` FrameModel as numpy matrices: ``(n, F)`` -> ``(n,)`` logits (normalisation folded in)."""

    def __init__(self, layers: list[tuple[np.ndarray, np.ndarray, str]]) -> None:
        self.layers = layers  # (W (in, out), b (out,), activation)

    def init_state(self) -> None:
        return None

    def __call__(self, x: np.ndarray, state: None = None) -> tuple[np.ndarray, None]:
        w, b, _ = self.layers[0]
        return self.after_first(x @ w + b), None

    def after_first(self, h: np.ndarray) -> np.ndarray:
        """Logits ``(n,)`` from the first layer's pre-activations ``(n, hidden[0])`` (modified in place)."""
        for i, (w, b, act) in enumerate(self.layers):
            if i:
                h = h @ w
                h += b
            if act == "relu":
                np.maximum(h, 0.0, out=h)
            elif act == "tanh":
                np.tanh(h, out=h)
            elif act == "sigmoid":
                h = 1.0 / (1.0 + np.exp(-h))
        return h[:, 0]


class NumpyRNN:
    """A unidirectional ``rnn`` FrameModel (rnn/gru/lstm cells, stacked) in numpy: ``(n, F)`` -> ``(n,)``."""

    def __init__(self, cell: str, proj: tuple[np.ndarray, np.ndarray, str] | None,
                 layers: list[tuple[np.ndarray, np.ndarray, np.ndarray]], head: tuple[np.ndarray, np.ndarray],
                 hidden: int) -> None:
        self.cell, self.proj, self.layers, self.head, self.hidden = cell, proj, layers, head, hidden

    def init_state(self) -> list[list[np.ndarray]]:
        return init_state(self.cell, self.layers, self.hidden)

    def __call__(self, x: np.ndarray, state: list[list[np.ndarray]]) -> tuple[np.ndarray, list[list[np.ndarray]]]:
        h_seq = x
        if self.proj is not None:
            w, b, act = self.proj
            h_seq = h_seq @ w + b
            if act == "relu":
                h_seq = np.maximum(h_seq, 0.0)
            elif act == "tanh":
                h_seq = np.tanh(h_seq)
        h_seq, new_state = run_layers(self.cell, self.layers, h_seq, state, self.hidden)
        w, b = self.head
        return (h_seq @ w + b)[:, 0], new_state


class NumpyBandNorm:
    """A ``band_norm_rnn`` FrameModel in numpy: input norm, ``[x, x - band mean]``, then the rnn twin.

    The truncated exponential mean is updated recursively per frame on the raw features (``S_t = a S_{t-1} +
    x_t - a^K x_{t-K}``, a ring of the last ``K`` frames, pre-scaled by ``a^K``): O(F) per frame instead of the
    convolution's O(K F). float32 is enough: ``|a| < 1``, so a rounding error decays instead of accumulating.
    The normalised band mean is the band mean of the normalised input, so ``x - mean`` needs no second norm.
    """

    def __init__(self, inner: NumpyRNN, mean: np.ndarray, inv: np.ndarray, weights: np.ndarray) -> None:
        self.inner = inner
        self.mean, self.inv = mean.astype(np.float32), inv.astype(np.float32)
        self.taps = len(weights)
        w = weights.astype(np.float64)
        self.a = np.float32(w[1] / w[0] if len(w) > 1 else 0.0)
        self.a_k = np.float32(float(self.a) ** self.taps)
        self.inv_cumw = (1.0 / np.cumsum(w)).astype(np.float32)
        self.step_w, self.step_b = self._fold_step(inner)
        if self.step_w is not None:        # bound once: the per-hop path does no import lookup
            from speechdl.tasks.vad.step_kernel import band_lstm_step

            self.kernel = band_lstm_step

    def _fold_step(self, inner: NumpyRNN) -> tuple[np.ndarray | None, np.ndarray | None]:
        """One-frame fast path of a 1-layer LSTM: ``[x, band mean of x, h] @ W + b`` gives every gate input.

        With ``xn = (x - mean) inv`` and ``z = [xn, (x - m) inv]``: ``z @ [W1; W2] = x @ inv(W1 + W2) - m @ inv W2
        - (mean inv) @ W1``: one (2F + H, 4H) product per frame, the norm folded in.
        """
        if inner.cell != "lstm" or inner.proj is not None or len(inner.layers) != 1:
            return None, None
        w_ih, w_hh, b = (a.astype(np.float64) for a in inner.layers[0])
        dim = len(self.mean)
        inv = self.inv.astype(np.float64)[:, None]
        w = np.concatenate([inv * (w_ih[:dim] + w_ih[dim:]), -inv * w_ih[dim:], w_hh])
        b = b - (self.mean.astype(np.float64) * inv[:, 0]) @ w_ih[:dim]
        return np.ascontiguousarray(w, np.float32), b.astype(np.float32)

    def init_state(self) -> list[Any]:
        dim = len(self.mean)
        return [0, np.zeros((self.taps, dim), np.float32), np.zeros(dim, np.float32), self.inner.init_state()]

    def _step(self, x: np.ndarray, state: list[Any]) -> tuple[np.ndarray, list[Any]]:
        """:meth:`__call__` for one frame of a 1-layer LSTM (the streaming hop), equal to float32 rounding: one
        compiled call (:func:`speechdl.tasks.vad.step_kernel.band_lstm_step`) on copies of the state."""
        past, ring, acc, ((h, c),) = state
        ring, acc, h, c = ring.copy(), acc.copy(), h.copy(), c.copy()   # the caller's state stays valid (replay)
        w, b = self.inner.head
        logit = self.kernel(np.ascontiguousarray(x[0], np.float32), acc, ring, past % self.taps, self.a, self.a_k,
                               self.inv_cumw[min(past, self.taps - 1)], self.step_w, self.step_b, h, c, w, b)
        return np.array([logit], np.float32), [past + 1, ring, acc, [[h, c]]]

    def __call__(self, x: np.ndarray, state: list[Any]) -> tuple[np.ndarray, list[Any]]:
        if len(x) == 1 and self.step_w is not None:
            return self._step(x, state)
        past, ring, acc, inner = state
        ring = ring.copy()
        dim = x.shape[1]
        z = np.empty((len(x), 2 * dim), np.float32)
        np.multiply(x - self.mean, self.inv, out=z[:, :dim])
        for t in range(len(x)):
            slot = past + t
            slot %= self.taps
            acc = acc * self.a
            acc += x[t]
            acc -= ring[slot]
            np.multiply(x[t], self.a_k, out=ring[slot])
            z[t, dim:] = x[t] - acc * self.inv_cumw[min(past + t, self.taps - 1)]
        z[:, dim:] *= self.inv
        logits, inner = self.inner(z, inner)
        return logits, [past + len(x), ring, acc, inner]

def numpy_net(model: FrameModel) -> NumpyDense | NumpyRNN:
    """numpy twin of a ``dense`` or unidirectional frame-level ``rnn`` FrameModel (eval mode)."""
    mean = model.norm.mean.detach().double().numpy()
    inv = 1.0 / model.norm.std.detach().double().numpy()

    def fold(w: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Linear ``x @ w + b`` applied to ``(x - mean) * inv``, as one ``x @ w' + b'``."""
        w2 = w * inv[:, None]
        return w2.astype(np.float32), (b - mean @ w2).astype(np.float32)

    def arr(t: torch.Tensor) -> np.ndarray:
        return t.detach().double().numpy()

    net = model.net
    if model.name == "dense":
        if getattr(net, "out_dim", None) != 1 or any(isinstance(m, nn.BatchNorm1d | nn.LayerNorm)
                                                    for m in net.modules()):
            raise ConfigError("vad model", "numpy streaming needs a dense net without norms and out_dim 1",
                              "use the torch path")
        layers = []
        for i, (lin, post) in enumerate(zip(net.layers, net.post)):
            w = arr(lin.weight).T
            b = arr(lin.bias) if lin.bias is not None else np.zeros(w.shape[1])
            if i == 0:
                w, b = fold(w, b)
            acts = [m for m in (post if isinstance(post, nn.Sequential) else [post])
                    if not isinstance(m, nn.Dropout | nn.Identity)]
            act = type(acts[0]).__name__.lower() if acts else "linear"
            if act not in ("relu", "tanh", "sigmoid", "linear"):
                raise ConfigError("vad model", f"activation {act} has no numpy twin", "use relu or tanh")
            layers.append((w.astype(np.float32), b.astype(np.float32), act))
        return NumpyDense(layers)
    if model.name == "band_norm_rnn":
        inner = _numpy_rnn(net.inner, lambda w, b: (w.astype(np.float32), b.astype(np.float32)), arr)
        return NumpyBandNorm(inner, mean.astype(np.float32), inv.astype(np.float32),
                             net.band.weights.numpy().astype(np.float32))
    if model.name == "rnn" and not net.bidirectional and net.pool is None:
        return _numpy_rnn(net, fold, arr)
    raise ConfigError(f"model {model.name!r}", "has no numpy twin", "the torch forward_chunk path is used instead")


def _numpy_rnn(net: nn.Module, fold: Any, arr: Any) -> NumpyRNN:
    """numpy twin of a unidirectional frame-level ``rnn`` net; ``fold`` folds the input norm into layer one."""
    rnn = net.rnn
    H = net.hidden_size
    proj = None
    first_done = False
    if isinstance(net.proj, nn.Sequential):
        lin = net.proj[0]
        w, b = fold(arr(lin.weight).T, arr(lin.bias))
        act = type(net.proj[1]).__name__.lower() if not isinstance(net.proj[1], nn.Identity) else "linear"
        proj, first_done = (w, b, act), True
    layers = pack_layers(rnn, net.cell, None if first_done else fold)
    head = net.head
    if not isinstance(head, nn.Linear) or head.out_features != 1:
        raise ConfigError("vad model", "numpy streaming needs out_dim: 1", "set model.out_dim=1")
    return NumpyRNN(net.cell, proj, layers, (arr(head.weight).T.astype(np.float32),
                                              arr(head.bias).astype(np.float32)), H)


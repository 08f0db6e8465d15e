"""The ``vad`` training task, the frame model that a bundle holds, and its numpy twins for streaming.

- :class:`VadTask` (``task: {name: vad}``): frame-level binary cross-entropy with logits over padded
  ``(B, T, F)`` batches; padded frames (beyond ``lengths``) are excluded from loss and metrics.
  Metrics: ``acc`` and ``f1`` at probability 0.5, and ``auc`` (ROC-AUC) on validation.
  Before a fresh fit it measures the training features' mean / std (``input_norm``) and keeps them
  as buffers, so the normalisation travels with the weights (global CMVN that can stream).
- :class:`FrameModel`: normalisation + network; ``(B, T, F)`` features -> ``(B, T)`` logits;
  ``init_state`` / ``forward_chunk`` for streaming.
- :func:`numpy_net`: the same network as numpy arrays (dense, or a unidirectional rnn/gru/lstm),
  with the normalisation folded into the first layer: no torch call per 10 ms hop.

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

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from speechdl.errors import ConfigError
from speechdl.nn.registry import register
from speechdl.train.tasks import TaskModule, frame_mask, main_output, register_task


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
        """Set mean / std from ``(N, F)`` frames."""
        frames = frames.double()
        self.mean.copy_(frames.mean(0).float())
        self.std.copy_(frames.std(0, unbiased=False).clamp_min(eps).float())


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
        self.norm = InputNorm(int(kwargs["in_dim"]))

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """``(B, T, F)`` [+ ``(B,)`` lengths] -> ``(B, T)`` logits."""
        x = self.norm(x)
        try:
            out = self.net(x, lengths) if lengths is not None else self.net(x)
        except TypeError:
            out = self.net(x)
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


class CausalCRNN(nn.Module):
    """Causal 1-D convolutions over time, then a unidirectional GRU, then one logit per frame.

    Convolutions are padded on the left only, so the net streams exactly (``forward_chunk`` keeps
    the last ``kernel_size - 1`` frames of every conv input and the GRU state).

    Args:
        in_dim: features F. channels: conv widths. kernel_size: odd or even, >= 1.
        hidden_size: GRU units. out_dim: logits per frame (1 for VAD). dropout: before the head.

    Shapes: ``(B, T, F)`` -> ``(B, T, out_dim)``.
    """

    def __init__(self, in_dim: int, channels: list[int] | None = None, kernel_size: int = 5,
                 hidden_size: int = 32, out_dim: int = 1, dropout: float = 0.0) -> None:
        super().__init__()
        chans = [in_dim, *(channels or [32, 32])]
        self.k = int(kernel_size)
        self.convs = nn.ModuleList(nn.Conv1d(a, b, self.k) for a, b in zip(chans[:-1], chans[1:]))
        self.gru = nn.GRU(chans[-1], hidden_size, batch_first=True)
        self.drop = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.head = nn.Linear(hidden_size, out_dim)

    def _convs(self, h: torch.Tensor, ctx: list[torch.Tensor] | None) -> tuple[torch.Tensor, list[torch.Tensor]]:
        h = h.transpose(1, 2)  # (B, C, T)
        new = []
        for i, conv in enumerate(self.convs):
            left = h.new_zeros(h.shape[0], h.shape[1], self.k - 1) if ctx is None else ctx[i]
            h = torch.cat([left, h], dim=2)
            new.append(h[:, :, h.shape[2] - (self.k - 1):])
            h = F.relu(conv(h))
        return h.transpose(1, 2), new

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, T, F) -> (B, T, out_dim)``."""
        h, _ = self._convs(x, None)
        y, _ = self.gru(h)
        return self.head(self.drop(y))

    def init_state(self, batch_size: int = 1) -> None:
        """Zero state (built lazily by :meth:`forward_chunk`)."""
        return None

    def forward_chunk(self, x: torch.Tensor, state: Any = None) -> tuple[torch.Tensor, Any]:
        """``(B, t, F)`` chunk -> ``((B, t, out_dim), state)``; any chunk sizes give :meth:`forward`'s frames."""
        ctx, hid = (None, None) if state is None else state
        h, ctx = self._convs(x, ctx)
        y, hid = self.gru(h, hid)
        return self.head(y), (ctx, hid)


register("vad_crnn")(CausalCRNN)


@register_task("vad")
class VadTask(TaskModule):
    """Frame-level speech / non-speech: BCE with logits over the valid frames of a padded batch.

    Batch: ``x`` ``(B, T, F)``, ``y`` ``(B, T)`` 0/1 (padding ignored), ``lengths`` ``(B,)``.
    The model returns ``(B, T, 1)`` or ``(B, T)`` logits. Task keys: ``pos_weight`` (weight of speech
    frames in the loss), ``input_norm`` (measure feature mean / std on up to ``norm_frames``
    training frames before fitting; they are buffers of the checkpoint and of the exported bundle).
    The front-end is the dataset's (``data.frontend``); ``speechdl vad export`` copies it into the bundle.
    """

    def __init__(self, model, optim=None, scheduler=None, monitor="val_loss", mode="min", *,
                 pos_weight: float | None = None, input_norm: bool = True, norm_frames: int = 200_000) -> None:
        super().__init__(model, optim, scheduler, monitor, mode)
        self.pos_weight, self.input_norm, self.norm_frames = pos_weight, input_norm, norm_frames
        self.norm = InputNorm(int(model.get("in_dim", 0)))
        self._val_scores: list[torch.Tensor] = []
        self._val_labels: list[torch.Tensor] = []

    def on_fit_start(self) -> None:
        super().on_fit_start()
        if not self.input_norm or self.trainer.ckpt_path is not None:
            return
        dm = getattr(self.trainer, "datamodule", None)
        data = getattr(dm, "train_set", None)
        if data is None:
            return
        frames, count = [], 0
        for i in range(len(data)):
            x = torch.as_tensor(data[i]["x"]).float()
            frames.append(x.reshape(-1, x.shape[-1]))
            count += len(frames[-1])
            if count >= self.norm_frames:
                break
        if frames:
            self.norm.fit(torch.cat(frames))

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """``(B, T, F)`` -> ``(B, T)`` logits."""
        return _squeeze(super().forward(self.norm(x), lengths))

    def compute(self, batch: dict[str, torch.Tensor], stage: str) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        x, y = batch["x"], batch["y"]
        lengths = batch.get("lengths", batch.get("length"))
        logits = self(x, lengths)
        if x.dim() == 2:  # single frames (B, F): one logit each
            logits = logits.reshape(y.shape)
        mask = frame_mask(lengths, y.shape[1], y.device) if (lengths is not None and y.dim() == 2) else None
        valid = (y >= 0) if mask is None else (mask & (y >= 0))
        z, t = logits[valid], y[valid].float()
        pw = None if self.pos_weight is None else torch.tensor(float(self.pos_weight), device=z.device)
        loss = F.binary_cross_entropy_with_logits(z, t, pos_weight=pw)
        pred = (z > 0).float()
        tp = (pred * t).sum()
        f1 = 2 * tp / (pred.sum() + t.sum()).clamp_min(1.0)
        metrics = {"acc": (pred == t).float().mean(), "f1": f1}
        if stage == "val":
            self._val_scores.append(z.detach().cpu())
            self._val_labels.append(t.detach().cpu())
        return loss, metrics

    def on_validation_epoch_end(self) -> None:
        if not self._val_scores:
            return
        s, t = torch.cat(self._val_scores), torch.cat(self._val_labels)
        self._val_scores, self._val_labels = [], []
        self.log("val_auc", roc_auc(s, t), sync_dist=True)


def roc_auc(scores: torch.Tensor, labels: torch.Tensor) -> float:
    """ROC-AUC of ``scores`` ``(N,)`` against 0/1 ``labels`` ``(N,)`` (Mann-Whitney, tied ranks); 0.5 if one class."""
    n_pos = float(labels.sum())
    n_neg = float(len(labels) - n_pos)
    if n_pos == 0 or n_neg == 0:
        return 0.5
    s = scores.double().numpy()
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(len(s))
    sorted_s = s[order]
    _, first, counts = np.unique(sorted_s, return_index=True, return_counts=True)
    avg = first + (counts + 1) / 2.0  # average 1-based rank of each tie group
    ranks[order] = np.repeat(avg, counts)
    return float((ranks[labels.numpy() > 0.5].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


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
        n = 2 if self.cell == "lstm" else 1
        return [[np.zeros(self.hidden, np.float32) for _ in range(n)] for _ in self.layers]

    def __call__(self, x: np.ndarray, state: list[list[np.ndarray]]) -> tuple[np.ndarray, list[list[np.ndarray]]]:
        h_seq = x
        if self.proj is not None:
            w, b, act = self.proj
            h_seq = h_seq @ w + b
            if act == "relu":
                h_seq = np.maximum(h_seq, 0.0)
            elif act == "tanh":
                h_seq = np.tanh(h_seq)
        new_state = []
        H = self.hidden
        for (w_ih, w_hh, b), st in zip(self.layers, state):
            xg = h_seq @ w_ih + b  # (n, gates * H), input part of every step at once
            out = np.empty((len(xg), H), np.float32)
            if self.cell == "lstm":  # i, f, o columns were halved (numpy_net): one tanh gives all gates
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
            elif self.cell == "gru":
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
        w, b = self.head
        return (h_seq @ w + b)[:, 0], new_state


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
    if model.name == "rnn" and not net.bidirectional and net.pool is None:
        rnn = net.rnn
        H = net.hidden_size
        proj = None
        first_done = False
        if isinstance(net.proj, nn.Sequential):
            lin = net.proj[0]
            w, b = fold(arr(lin.weight).T, arr(lin.bias))
            act = type(net.proj[1]).__name__.lower() if not isinstance(net.proj[1], nn.Identity) else "linear"
            proj, first_done = (w, b, act), True
        layers = []
        for layer in range(net.num_layers):
            w_ih = arr(getattr(rnn, f"weight_ih_l{layer}")).T
            w_hh = arr(getattr(rnn, f"weight_hh_l{layer}")).T
            b_ih, b_hh = arr(getattr(rnn, f"bias_ih_l{layer}")), arr(getattr(rnn, f"bias_hh_l{layer}"))
            if layer == 0 and not first_done:
                w_ih, b_ih = fold(w_ih, b_ih)
            w_ih = w_ih.astype(np.float32)
            if net.cell == "gru":  # b_hn stays inside r * (W_hn h + b_hn)
                b = np.concatenate([b_ih[: 2 * H] + b_hh[: 2 * H], b_ih[2 * H:]]).astype(np.float32)
                layers.append((w_ih, (w_hh.astype(np.float32), b_hh[2 * H:].astype(np.float32)), b))
            else:  # i, f, o gate columns halved: sigmoid(x) = 0.5 tanh(x / 2) + 0.5, one tanh per step
                half = np.ones(4 * H)
                half[: 2 * H] = half[3 * H:] = 0.5
                layers.append(((w_ih * half).astype(np.float32), (w_hh * half).astype(np.float32),
                               ((b_ih + b_hh) * half).astype(np.float32)))
        head = net.head
        if not isinstance(head, nn.Linear) or head.out_features != 1:
            raise ConfigError("vad model", "numpy streaming needs out_dim: 1", "set model.out_dim=1")
        return NumpyRNN(net.cell, proj, layers, (arr(head.weight).T.astype(np.float32),
                                                  arr(head.bias).astype(np.float32)), H)
    raise ConfigError(f"model {model.name!r}", "has no numpy twin", "the torch forward_chunk path is used instead")

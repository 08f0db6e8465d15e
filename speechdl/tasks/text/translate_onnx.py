"""The translator as two ONNX graphs: the encoder, and one decoder step (decoding loops outside the graph).

``OUT.encoder.onnx``: ``ids (1, T) int64 -> enc (1, T, K), keys (1, T, A)``;
``OUT``: ``prev (1,) int64, h (L, 1, H), c (L, 1, H), ctx (1, K), w (1, T), enc, keys -> logits (1, V), h, c,
ctx, w``. Greedy decoding with onnxruntime is checked against the torch network on a few sentences: the
step logits along the torch path must agree within 1e-4 and the output tokens must be the same.

Example:
    >>> import tempfile, torch
    >>> from speechdl.nn import build
    >>> from speechdl.tasks.text.translation import Translator
    >>> from speechdl.text.tokenizers import BPETokenizer
    >>> tok = BPETokenizer.train(["the cat sat on the mat"] * 20, vocab_size=24, norm="none")
    >>> torch.manual_seed(0); net = build("seq2seq", in_dim=24, vocab_size=24, encoder="token_encoder",
    ...     encoder_kwargs={"emb_dim": 8, "hidden": 8, "layers": 1}, dec_hidden=8, emb_dim=8, attention="additive",
    ...     attn_dim=8, sos_id=1, eos_id=1, pad_id=0)  # doctest: +ELLIPSIS
    <...>
    >>> info = export_translator(Translator(net, tok, tok), tempfile.mkdtemp() + "/mt.onnx")
    >>> info["max_abs_diff"] < 1e-4, info["same_tokens"]
    (True, True)
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from speechdl.errors import ConfigError
from speechdl.onnx.export import OPSET, TOLERANCE, graph_bytes, write_atomic
from speechdl.onnx.session import session

CHECK_TEXTS = ("In the beginning was the word.", "Love is patient and kind.")


class EncoderGraph(nn.Module):
    """One sentence, no padding: the bidirectional LSTMs run without packing (the same numbers)."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, ids: Tensor) -> tuple[Tensor, Tensor]:
        enc = self.net.encoder
        x = enc.embed(ids)
        for rnn in enc.rnn.rnns:
            x = rnn(x)[0]
        return x, self.net.attn.process_keys(x)


class StepGraph(nn.Module):
    """One decoder step of :class:`~speechdl.nn.seq2seq.Seq2Seq` with its state as tensors."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, prev: Tensor, h: Tensor, c: Tensor, ctx: Tensor, w: Tensor, enc: Tensor, keys: Tensor
                ) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
        mask = torch.ones_like(w, dtype=torch.bool)
        state = {"h": list(h.unbind(0)), "c": list(c.unbind(0)), "ctx": ctx, "w": w}
        logits, state = self.net._step(prev, state, enc, mask, keys)
        return logits, torch.stack(state["h"]), torch.stack(state["c"]), state["ctx"], state["w"]


def _greedy_ort(enc_sess: Any, step_sess: Any, ids: list[int], net: nn.Module, max_len: int,
                forced: list[int] | None = None) -> tuple[list[int], list[np.ndarray]]:
    """Greedy decoding with the two graphs (``forced``: feed these tokens instead, to compare logits)."""
    enc, keys = enc_sess.run(None, {"ids": np.asarray([ids], np.int64)})
    layers, hidden = len(net.cells), net.cells[0].hidden_size
    h = np.zeros((layers, 1, hidden), np.float32)
    c = np.zeros_like(h)
    ctx = np.zeros((1, enc.shape[2]), np.float32)
    w = np.full((1, enc.shape[1]), 1.0 / enc.shape[1], np.float32)
    prev, out, all_logits = net.sos_id, [], []
    for u in range(max_len if forced is None else len(forced)):
        logits, h, c, ctx, w = step_sess.run(None, {"prev": np.asarray([prev], np.int64), "h": h, "c": c, "ctx": ctx,
                                                    "w": w, "enc": enc, "keys": keys})
        all_logits.append(logits[0])
        tok = int(logits[0].argmax()) if forced is None else forced[u]
        if forced is None and tok == net.eos_id:
            break
        out.append(tok)
        prev = tok
    return out, all_logits


def export_translator(translator: Any, out: str | os.PathLike) -> dict[str, Any]:
    """Write ``out`` (decoder step) and ``out`` ``.encoder.onnx`` after checking them against torch."""
    t0 = time.perf_counter()
    net = translator.model.eval()
    if getattr(net.encoder, "embed", None) is None:
        raise ConfigError("translate export", "the network has no token encoder", "export a translate bundle")
    out = Path(out)
    enc_out = out.with_name(out.stem + ".encoder.onnx")
    ids0 = translator.src_tok.encode(CHECK_TEXTS[0]) or [1]
    example_ids = torch.tensor([ids0])
    with torch.no_grad():
        enc, keys = EncoderGraph(net)(example_ids)
    hidden, layers = net.cells[0].hidden_size, len(net.cells)
    state = (torch.zeros(layers, 1, hidden), torch.zeros(layers, 1, hidden), torch.zeros(1, enc.shape[2]),
             torch.full((1, enc.shape[1]), 1.0 / enc.shape[1]))
    enc_bytes = graph_bytes(EncoderGraph(net), example_ids, ["ids"], ["enc", "keys"],
                            {"ids": {1: "tokens"}, "enc": {1: "tokens"}, "keys": {1: "tokens"}})
    step_bytes = graph_bytes(StepGraph(net), (torch.tensor([net.sos_id]), *state, enc, keys),
                             ["prev", "h", "c", "ctx", "w", "enc", "keys"], ["logits", "h_out", "c_out", "ctx_out",
                                                                               "w_out"],
                             {"w": {1: "tokens"}, "enc": {1: "tokens"}, "keys": {1: "tokens"}, "w_out": {1: "tokens"}})
    enc_sess, step_sess = session(enc_bytes, 1), session(step_bytes, 1)
    worst, same = 0.0, True
    for text in CHECK_TEXTS:
        ids = translator.src_tok.encode(text) or [1]
        x, lengths = torch.tensor([ids]), torch.tensor([len(ids)])
        want = net.greedy_decode(x, lengths, max_len=2 * len(ids) + 10)[0]
        got, _ = _greedy_ort(enc_sess, step_sess, ids, net, 2 * len(ids) + 10)
        same &= got == want
        forced = [*want, net.eos_id]
        _, ort_logits = _greedy_ort(enc_sess, step_sess, ids, net, 0, forced=forced)
        with torch.no_grad():
            ref = net(x, lengths, torch.tensor([forced]), teacher_forcing=1.0)[0].numpy()
        worst = max(worst, float(np.abs(np.stack(ort_logits) - ref).max()))
    if worst > TOLERANCE:
        raise ConfigError(out, f"ONNX logits differ from torch by {worst:.2g}", "report this as a bug")
    write_atomic(enc_bytes, enc_out)
    path = write_atomic(step_bytes, out)
    return {"path": str(path), "encoder": str(enc_out), "max_abs_diff": worst, "tolerance": TOLERANCE,
            "same_tokens": bool(same), "opset": OPSET, "bytes": len(enc_bytes) + len(step_bytes),
            "export_seconds": round(time.perf_counter() - t0, 3)}

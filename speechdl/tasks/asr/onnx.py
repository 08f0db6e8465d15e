"""The CTC recogniser as one ONNX graph: waveform ``(1, samples)`` -> CTC log-probabilities ``(1, frames', vocab)``.

:class:`ASRGraph` chains :class:`~speechdl.onnx.frontend.GraphFrontend` (the bundle's front-end) and the
``deepspeech2`` network: global CMVN -> conv subsampling -> (bi)LSTM/GRU -> Linear -> log-softmax. A single
utterance has no padding, so the length masks and packed sequences of the batched torch path drop out
(the parity check proves the outputs equal). ``frames' = ceil(frames / subsample)``. Decoding (greedy or
beam search with the bundle's LM) stays in Python: :class:`~speechdl.tasks.asr.decode.CTCDecoder` takes
these log-probabilities.

Example:
    >>> from speechdl.nn import build
    >>> from speechdl.features import FrontendConfig
    >>> net = build("deepspeech2", in_dim=40, vocab_size=30, hidden_size=16, num_layers=1, conv_dim=32)
    >>> info = export_asr(net, FrontendConfig.logmel(), None)
    >>> info["outputs"], info["max_abs_diff"] < 1e-4, len(info["onnx"]) > 0
    (['log_probs'], True, True)
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from speechdl.errors import ConfigError
from speechdl.features import Frontend, FrontendConfig
from speechdl.onnx.export import export_waveform_graph
from speechdl.onnx.frontend import GraphFrontend

OUTPUTS = ["log_probs"]
AXES = {"log_probs": {1: "frames"}}


class ASRGraph(nn.Module):
    """Front-end + CTC network of one utterance: ``waveform (1, samples)`` -> ``(1, frames', vocab)``.

    Args:
        model: a ``deepspeech2`` module (eval mode). cfg: its front-end.
    """

    def __init__(self, model: nn.Module, cfg: FrontendConfig) -> None:
        super().__init__()
        if not (hasattr(model, "encoder") and hasattr(model, "head") and hasattr(model.encoder, "sub")):
            raise ConfigError(f"asr model {type(model).__name__}", "has no ONNX export (CTC deepspeech2 only)",
                              "export a deepspeech2 bundle; attention decoding runs in torch")
        self.frontend = GraphFrontend(cfg)
        self.model = model.eval()

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        """``(1, samples)`` float32 at the model rate -> CTC log-probabilities ``(1, frames', vocab)``."""
        enc = self.model.encoder
        x = self.frontend(waveform)
        if enc.cmvn is not None:
            x = enc.cmvn(x)
        sub = enc.sub
        h = x.unsqueeze(1)  # (1, 1, T, F); one utterance: no padded frames to mask
        for conv in sub.convs:
            h = sub.act(conv(h))
        h = sub.out(h.permute(0, 2, 1, 3).flatten(2))
        h = enc.rnn(h)  # no lengths: the plain (un-packed) recurrence
        return F.log_softmax(self.model.head(h), dim=-1)


def export_asr(model: nn.Module, cfg: FrontendConfig, out: str | os.PathLike | None, **kw: Any) -> dict[str, Any]:
    """Export a CTC model and its front-end as :class:`ASRGraph` to ``out``, checked against torch.

    The reference is the recogniser's torch path: :class:`~speechdl.features.Frontend` features and
    ``model(features, lengths)`` (packed recurrence). Returns
    :func:`~speechdl.onnx.export.export_waveform_graph`'s dict plus ``vocab_size``.
    """
    graph = ASRGraph(model, cfg)
    frontend = Frontend(cfg).eval()

    def reference(wave: np.ndarray) -> dict[str, np.ndarray]:
        with torch.no_grad():
            x = frontend(torch.from_numpy(wave)[None])
            logp, _ = model(x, torch.tensor([x.shape[1]]))
        return {"log_probs": logp.numpy()}

    info = export_waveform_graph(graph, out, cfg.sample_rate, OUTPUTS, AXES, reference, **kw)
    return {**info, "vocab_size": int(getattr(model, "vocab_size", 0))}

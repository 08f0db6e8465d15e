"""The speaker encoder as one ONNX graph: waveform ``(1, samples)`` -> embedding ``(1, dim)``.

:class:`SpeakerGraph` chains :class:`~speechdl.onnx.frontend.GraphFrontend` (the bundle's front-end, its
utterance CMVN included) and ``speaker_net``'s embedding: the utterance mean subtracted, then the x-vector
(TDNN layers -> mean + std pooling -> the embedding layer) or, for other encoders, ``embed(x)`` itself.
One utterance has no padding, so the length masks of the batched torch path drop out. The embedding is
the raw one (not length-normalised); scoring (cosine, PLDA, AS-norm) stays in Python, and files longer
than the pipeline's block length are embedded block by block there.

Example:
    >>> from speechdl.nn import build
    >>> from speechdl.features import FrontendConfig
    >>> import speechdl.tasks.speaker  # registers speaker_net
    >>> net = build("speaker_net", in_dim=40, num_speakers=4, embed_dim=8, head="aam",
    ...             encoder={"name": "xvector", "widths": [16, 16, 16, 16, 32], "num_segment_layers": 1})
    >>> info = export_speaker(net.eval(), FrontendConfig.logmel(cmvn="utterance"), None)
    >>> info["outputs"], info["dim"], info["max_abs_diff"] < 1e-4
    (['embedding'], 8, True)
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch
from torch import nn

from speechdl.features import Frontend, FrontendConfig
from speechdl.onnx.export import export_waveform_graph
from speechdl.onnx.frontend import GraphFrontend

OUTPUTS = ["embedding"]


class SpeakerGraph(nn.Module):
    """Front-end + embedding of one utterance: ``waveform (1, samples)`` -> ``(1, embed_dim)``.

    Args:
        model: a ``speaker_net`` module (eval mode). cfg: its front-end.
    """

    def __init__(self, model: nn.Module, cfg: FrontendConfig) -> None:
        super().__init__()
        self.frontend = GraphFrontend(cfg)
        self.model = model.eval()

    def _xvector(self, x: torch.Tensor) -> torch.Tensor:
        enc = self.model.encoder
        for layer in enc.frames.layers:
            x = layer(x)
        h = enc.pool(x)
        for i, (lin, post) in enumerate(zip(enc.segment, enc.segment_post)):
            pre = lin(h)
            h = post(pre)
            if i == enc.embed_layer:
                return pre if enc.embed_pre_activation else h
        return h

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        """``(1, samples)`` float32 at the model rate -> embedding ``(1, embed_dim)``."""
        x = self.frontend(waveform)
        if getattr(self.model, "mean_norm", None) is not None:
            x = x - x.mean(dim=1, keepdim=True)
            if hasattr(self.model.encoder, "frames"):
                return self._xvector(x)
            return self.model.encoder.embed(x)
        return self._xvector(x) if hasattr(self.model.encoder, "frames") else self.model.encoder.embed(x)


def export_speaker(model: nn.Module, cfg: FrontendConfig, out: str | os.PathLike | None,
                   **kw: Any) -> dict[str, Any]:
    """Export ``speaker_net`` and its front-end as :class:`SpeakerGraph` to ``out``, checked against torch.

    The reference is the batched torch path: :class:`~speechdl.features.Frontend` features and
    ``model.embed(features, lengths)``. Returns :func:`~speechdl.onnx.export.export_waveform_graph`'s dict
    plus ``dim``.
    """
    frontend = Frontend(cfg).eval()

    def reference(wave: np.ndarray) -> dict[str, np.ndarray]:
        with torch.no_grad():
            x = frontend(torch.from_numpy(wave)[None])
            return {"embedding": model.embed(x, torch.tensor([x.shape[1]])).numpy()}

    info = export_waveform_graph(SpeakerGraph(model, cfg), out, cfg.sample_rate, OUTPUTS, {}, reference, **kw)
    return {**info, "dim": int(model.embed_dim)}

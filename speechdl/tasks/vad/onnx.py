"""The VAD as one ONNX graph: waveform ``(1, samples)`` -> speech probability and logit per frame ``(1, frames)``.

:class:`VADGraph` chains :class:`~speechdl.onnx.frontend.GraphFrontend` (the bundle's exact front-end) and
the bundle's :class:`~speechdl.tasks.vad.net.FrameModel` (input normalisation + network). Frame ``t``
covers ``[t * hop, (t + 1) * hop)`` s as in :meth:`VAD.probabilities`; post-processing (thresholds,
smoothing, segments) stays in Python (:mod:`speechdl.tasks.vad.post`).

A recurrent VAD sees the whole signal in one call here, while :class:`~speechdl.tasks.vad.infer.VAD` runs
10 s blocks carrying the state: the frames are the same (the parity check compares the two).

Example:
    >>> import tempfile
    >>> from speechdl.tasks.vad.infer import load_vad
    >>> info = export_vad(load_vad("vad-lecture"), tempfile.mkdtemp() + "/vad.onnx")
    >>> info["outputs"], info["max_abs_diff"] < 1e-4
    (['probabilities', 'logits'], True)
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
from speechdl.tasks.vad.net import FrameModel

OUTPUTS = ["probabilities", "logits"]
AXES = {name: {1: "frames"} for name in OUTPUTS}


class VADGraph(nn.Module):
    """Front-end + frame model: ``waveform (1, samples)`` -> ``(probabilities (1, T), logits (1, T))``.

    Args:
        model: the bundle's frame model (eval mode). cfg: its front-end.
    """

    def __init__(self, model: FrameModel, cfg: FrontendConfig) -> None:
        super().__init__()
        self.frontend = GraphFrontend(cfg)
        self.model = model.eval()

    def forward(self, waveform: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(1, samples)`` float32 at the model rate -> ``(probabilities, logits)``, each ``(1, frames)``."""
        logits = self.model(self.frontend(waveform))
        return torch.sigmoid(logits), logits


def export_vad(vad: Any, out: str | os.PathLike | None, **kw: Any) -> dict[str, Any]:
    """Export a :class:`~speechdl.tasks.vad.infer.VAD` as :class:`VADGraph` to ``out``, checked against torch.

    The reference is what the pipeline computes: :meth:`VAD.probabilities` (blockwise, state carried)
    for ``probabilities`` and the frame model on :class:`~speechdl.features.Frontend` features for
    ``logits``. Returns :func:`~speechdl.onnx.export.export_waveform_graph`'s dict.
    """
    frontend = Frontend(vad.frontend).eval()

    def reference(wave: np.ndarray) -> dict[str, np.ndarray]:
        with torch.no_grad():
            logits = vad.model(frontend(torch.from_numpy(wave)[None])).numpy()
        return {"probabilities": vad.probabilities(wave)[None], "logits": logits}

    return export_waveform_graph(VADGraph(vad.model, vad.frontend), out, vad.frontend.sample_rate, OUTPUTS, AXES,
                                 reference, **kw)

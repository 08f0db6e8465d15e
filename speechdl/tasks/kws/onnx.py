"""The keyword classifier as one ONNX graph: waveform ``(1, samples)`` -> ``logits (1, classes)``.

:class:`KwsGraph` chains :class:`~speechdl.onnx.frontend.GraphFrontend` (the bundle's log-Mel) and the
classifier; it takes exactly one window (1 s at 16 kHz: 16,000 samples give the 101 frames the model was
trained on). Detection over long audio (windows every 100 ms, smoothing, events) stays in Python.

Example:
    >>> from speechdl.nn import build
    >>> from speechdl.features import FrontendConfig
    >>> net = build("cnn_fc", in_dim=40, out_dim=22, channels=[4, 4], fc=[8], num_frames=101).eval()
    >>> info = export_kws(net, FrontendConfig.logmel(), None)
    >>> info["outputs"], info["max_abs_diff"] < 1e-4
    (['logits'], True)
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

OUTPUTS = ["logits"]
WINDOW_SECONDS = 1.0


class KwsGraph(nn.Module):
    """Front-end + classifier of one window: ``waveform (1, samples)`` -> ``(1, classes)``."""

    def __init__(self, model: nn.Module, cfg: FrontendConfig) -> None:
        super().__init__()
        self.frontend = GraphFrontend(cfg)
        self.model = model.eval()

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        return self.model(self.frontend(waveform))


def export_kws(model: nn.Module, cfg: FrontendConfig, out: str | os.PathLike | None, **kw: Any) -> dict[str, Any]:
    """Export the classifier with its front-end to ``out``, checked against the torch path on 1 s windows."""
    frontend = Frontend(cfg).eval()

    def reference(wave: np.ndarray) -> dict[str, np.ndarray]:
        with torch.no_grad():
            return {"logits": model(frontend(torch.from_numpy(wave)[None])).numpy()}

    from speechdl.tasks.kws.columns import window_seconds

    kw.setdefault("seconds", (window_seconds(model, cfg.hop_length / cfg.sample_rate, WINDOW_SECONDS),))
    return export_waveform_graph(KwsGraph(model, cfg), out, cfg.sample_rate, OUTPUTS, {}, reference, **kw)

"""The enhancer as one ONNX graph: ``waveform (1, samples)`` -> ``enhanced (1, samples)``, STFT included.

The graph is the bundle's network on the whole signal (:meth:`SpectralMasker.forward`: framing, DFT as
matrix products, mask, inverse DFT, overlap-add); the reference is what the pipeline computes
(:meth:`~speechdl.tasks.enhance.infer.Enhancer.enhance`: 10 s blocks through the streaming engine, state
carried), so the parity check also proves that the blocks change nothing.

Example:
    >>> import tempfile
    >>> from speechdl.tasks.enhance.infer import load_enhancer
    >>> info = export_enhancer(load_enhancer("enhance"), tempfile.mkdtemp() + "/enhance.onnx")
    >>> info["outputs"], info["max_abs_diff"] < 1e-4
    (['enhanced'], True)
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch
from torch import nn

from speechdl.onnx.export import export_waveform_graph

OUTPUTS = ["enhanced"]
AXES = {"enhanced": {1: "samples"}}


class EnhanceGraph(nn.Module):
    """``waveform (1, samples)`` float32 at the model rate -> ``enhanced (1, samples)``."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model.eval()

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        """The network on the whole signal."""
        return self.model(waveform)


def export_enhancer(enhancer: Any, out: str | os.PathLike | None, **kw: Any) -> dict[str, Any]:
    """Export an :class:`~speechdl.tasks.enhance.infer.Enhancer` to ``out``, checked against its blockwise path.

    Returns :func:`~speechdl.onnx.export.export_waveform_graph`'s dict.
    """
    def reference(wave: np.ndarray) -> dict[str, np.ndarray]:
        return {"enhanced": enhancer.enhance(wave)[None]}

    return export_waveform_graph(EnhanceGraph(enhancer.model), out, enhancer.sample_rate, OUTPUTS, AXES,
                                 reference, **kw)

"""The parallel vocoders as ONNX graphs: ``mel (1, frames, 80)`` [+ ``z (1, samples)``] -> ``waveform (1, samples)``.

- ``hifigan``: input ``mel``; weight norm is folded first (a bundle exported from a run already has it folded).
- ``iaf_student``: inputs ``mel`` and the noise ``z`` (``samples = frames * hop``): the graph is deterministic;
  the caller draws ``z ~ N(0, 1)`` and scales it by the temperature (what the engine does with its ``seed``).
- ``wavenet`` (the autoregressive teacher) has no graph: it runs sample by sample; a one-line ConfigError.

The graph is the network on the whole input (the frames axis dynamic, TorchScript exporter ``dynamo=False``,
opset 17); the check runs it in onnxruntime (1 thread) on the log-Mel of two lengths of the package's speech
sample and compares with the bundle's network in torch as loaded (weight norm unfolded, the student's chunked
flows: the engine's path for inputs under its 10 s block). The file is
written atomically only when ``max |onnxruntime - torch|`` is within the tolerance (:data:`TOLERANCE`).

Example:
    >>> import tempfile
    >>> from speechdl.nn import build
    >>> from speechdl.tasks.vocoder.engine import NeuralVocoder
    >>> net = build("hifigan", upsample_rates=[8, 8, 4], upsample_kernel_sizes=[16, 16, 8],
    ...             upsample_initial_channel=16, resblock_kernel_sizes=[3], resblock_dilation_sizes=[[1]])
    >>> info = export_vocoder(NeuralVocoder(net), tempfile.mkdtemp() + "/voc.onnx")
    >>> info["inputs"], info["outputs"], info["max_abs_diff"] < TOLERANCE
    (['mel'], ['waveform'], True)
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from speechdl.errors import ConfigError
from speechdl.onnx.export import CHECK_SECONDS, OPSET, check_signal, finish_export, graph_bytes, max_diff
from speechdl.onnx.session import OrtRunner
from speechdl.tasks.vocoder.frontend import wave_to_mel

TOLERANCE = 1e-4   # max |onnxruntime - torch| of the waveform (in [-1, 1] for HiFi-GAN)
OUTPUTS = ["waveform"]


class HiFiGANGraph(nn.Module):
    """``mel (1, frames, n_mels)`` -> ``waveform (1, frames * hop)``: the generator, its weight norm folded in
    place (the same outputs; a copy would share the parametrized classes with the original)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model.eval()
        if hasattr(self.model, "remove_weight_norm"):
            self.model.remove_weight_norm()

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        """The generator on all frames at once."""
        return self.model(mel)


class StudentGraph(nn.Module):
    """``mel (1, frames, n_mels)``, ``z (1, frames * hop)`` -> ``waveform (1, frames * hop)``: every flow on the
    whole signal (the module's no-gradient chunking is a CPU cache trick with the same numbers; left out here)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model.eval()

    def forward(self, mel: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """``x⁽ᵏ⁾ = x⁽ᵏ⁻¹⁾ · σ⁽ᵏ⁾ + μ⁽ᵏ⁾`` from ``x⁽⁰⁾ = z``."""
        c = self.model.conditioning(mel)
        x = z
        for flow in self.model.flows:
            mu, log_sigma = flow(x, c)
            x = x * torch.exp(log_sigma) + mu
        return x


def graph_module(kind: str, model: nn.Module) -> tuple[nn.Module, list[str]]:
    """``(exportable module, input names)`` of a vocoder network ``kind``; WaveNet is a one-line ConfigError."""
    if kind == "hifigan":
        return HiFiGANGraph(model), ["mel"]
    if kind == "iaf_student":
        return StudentGraph(model), ["mel", "z"]
    if kind == "wavenet":
        raise ConfigError("vocoder onnx", "the WaveNet teacher is autoregressive (one sample at a time through its "
                          "cached queues): no ONNX graph", "use the bundle itself (speechdl vocode --model BUNDLE)")
    raise ConfigError("vocoder onnx", f"no ONNX graph for model {kind!r}", "export a hifigan or iaf_student bundle")


def check_inputs(vocoder: Any, seconds: tuple[float, ...] = CHECK_SECONDS) -> list[dict[str, np.ndarray]]:
    """One feed per length: the log-Mel ``(1, frames, n_mels)`` of the speech sample and seeded noise
    ``z (1, frames * hop)``."""
    feeds = []
    for i, s in enumerate(seconds):
        mel = wave_to_mel(check_signal(vocoder.cfg.sample_rate, s, seed=i), vocoder.cfg)[None]
        z = np.random.default_rng(i).standard_normal((1, mel.shape[1] * vocoder.cfg.hop_length)).astype(np.float32)
        feeds.append({"mel": mel, "z": z})
    return feeds


def export_vocoder(vocoder: Any, out: str | os.PathLike | None, seconds: tuple[float, ...] = CHECK_SECONDS,
                   tolerance: float = TOLERANCE, opset: int = OPSET) -> dict[str, Any]:
    """Export a :class:`~speechdl.tasks.vocoder.engine.NeuralVocoder`'s network to ``out``, checked against torch.

    Args:
        vocoder: the engine (``kind``, ``model``, ``cfg``).
        out: the ``.onnx`` file (None: nothing written; the bytes are in the result under ``"onnx"``).
        seconds: lengths of the check inputs (the first is the tracing example).
        tolerance: largest allowed ``|onnxruntime - torch|``; above it nothing is written.

    Returns:
        ``{"path", "kind", "max_abs_diff", "tolerance", "checked_frames", "checked_samples", "opset", "inputs",
        "outputs", "bytes", "export_seconds"}`` (+ ``"onnx"`` when ``out`` is None).
    """
    t0 = time.perf_counter()
    graph_module(vocoder.kind, nn.Identity())   # WaveNet or an unknown kind: fail before the work
    names = ["mel", "z"] if vocoder.kind == "iaf_student" else ["mel"]
    if out is not None and Path(out).is_dir():
        raise ConfigError(out, "is a directory", "pass a file name such as vocoder.onnx")
    feeds = [{k: f[k] for k in names} for f in check_inputs(vocoder, seconds)]
    with torch.inference_mode():   # the reference: the network as loaded, before any folding
        wants = [vocoder.model(*(torch.from_numpy(f[k]) for k in names)).numpy() for f in feeds]
    module, _ = graph_module(vocoder.kind, vocoder.model)
    axes = {"mel": {1: "frames"}, "z": {1: "samples"}, "waveform": {1: "samples"}}
    example = tuple(torch.from_numpy(feeds[0][k]) for k in names)
    data = graph_bytes(module, example, names, OUTPUTS, {k: axes[k] for k in [*names, *OUTPUTS]}, opset)
    runner = OrtRunner(data, threads=1)
    diff = 0.0
    for feed, want in zip(feeds, wants):
        diff = max(diff, max_diff(runner(**feed), {"waveform": want}))
    return finish_export(data, out, diff, tolerance, t0, kind=vocoder.kind,
                         checked_frames=[f["mel"].shape[1] for f in feeds],
                         checked_samples=[f["mel"].shape[1] * vocoder.cfg.hop_length for f in feeds],
                         opset=opset, inputs=names, outputs=list(OUTPUTS))

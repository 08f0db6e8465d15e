"""onnxruntime sessions for speechdl graphs: one place that sets threads, providers and optimisation.

Example:
    >>> import torch
    >>> from speechdl.onnx.export import graph_bytes
    >>> data = graph_bytes(torch.nn.Linear(3, 2), torch.zeros(1, 3), ["x"], ["y"], {})
    >>> run = OrtRunner(data)
    >>> run(x=np.zeros((1, 3), np.float32))["y"].shape
    (1, 2)
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from speechdl.errors import ConfigError


def _ort() -> Any:
    try:
        import onnxruntime
    except ImportError:
        raise ConfigError("onnxruntime", "is not installed", "pip install onnxruntime") from None
    return onnxruntime


def session(model: str | os.PathLike | bytes, threads: int = 1) -> Any:
    """An ``onnxruntime.InferenceSession`` on the CPU with ``threads`` intra-op threads (1: one core).

    ``model`` is a ``.onnx`` path or the serialised graph (bytes). A missing or unreadable file is a
    one-line :class:`~speechdl.errors.ConfigError`.
    """
    ort = _ort()
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = int(threads)
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3
    if not isinstance(model, bytes | bytearray):
        path = Path(model)
        if not path.is_file():
            raise ConfigError(path, "ONNX file not found", "export one with 'speechdl <task> export --onnx OUT.onnx'")
        model = str(path)
    try:
        return ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])
    except Exception as err:  # onnxruntime raises its own exception types (InvalidGraph, Fail, ...)
        where = "<bytes>" if isinstance(model, bytes | bytearray) else model
        raise ConfigError(where, f"not a loadable ONNX graph ({str(err).splitlines()[0][:160]})",
                          "export it again") from None


class OrtRunner:
    """A session called with keyword arrays, returning ``{output name: array}``.

    Args:
        model: ``.onnx`` path or serialised graph.
        threads: intra-op threads.
    """

    def __init__(self, model: str | os.PathLike | bytes, threads: int = 1) -> None:
        self.session = session(model, threads)
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.output_names = [o.name for o in self.session.get_outputs()]

    def __call__(self, **inputs: np.ndarray) -> dict[str, np.ndarray]:
        """Run on ``inputs`` (names as exported; float32 arrays) -> every output by name."""
        missing = sorted(set(self.input_names) - set(inputs))
        if missing:
            raise ConfigError("onnx graph", f"missing input(s) {', '.join(missing)}",
                              f"pass {', '.join(self.input_names)}")
        feed = {k: np.ascontiguousarray(inputs[k], np.float32) for k in self.input_names}
        return dict(zip(self.output_names, self.session.run(None, feed)))

"""ONNX export of every shipped model, front-end included, and onnxruntime sessions.

- :mod:`speechdl.onnx.frontend`: :class:`GraphFrontend`, the feature front-end from exportable operators;
- :mod:`speechdl.onnx.export`: export a waveform graph, check it against torch, write it atomically;
- :mod:`speechdl.onnx.session`: single-threaded onnxruntime sessions (from a file or bytes).

The per-task graphs live in ``speechdl/tasks/<task>/onnx.py``; ``Pipeline.export_onnx(out)`` and
``speechdl <task> export --onnx OUT.onnx`` call them.
"""

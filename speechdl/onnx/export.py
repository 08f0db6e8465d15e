"""Export a waveform graph, check it against the torch path on two lengths, write it atomically.

Every task's ``onnx.py`` builds a torch module ``waveform (1, samples) -> outputs`` (front-end included,
:class:`~speechdl.onnx.frontend.GraphFrontend`) and a reference function (the torch path its pipeline
runs) and calls :func:`export_waveform_graph`. The graph is traced with the TorchScript exporter
(``dynamo=False``: the dynamo exporter needs onnxscript and re-specialises the dynamic length of
recurrent layers), opset 17, the samples axis dynamic.

Weights that a bundle stores as float16 are loaded as float32 by torch and exported as those same
float32 values, so the parity bound is the same as for float32 bundles.

Example:
    >>> import tempfile, torch
    >>> net = torch.nn.Sequential(torch.nn.Unflatten(1, (1, -1)), torch.nn.AvgPool1d(160))
    >>> out = tempfile.mkdtemp() + "/pool.onnx"
    >>> info = export_waveform_graph(net, out, 16000, ["frames"], {"frames": {2: "frames"}},
    ...                              reference=lambda w: {"frames": net(torch.from_numpy(w)[None]).numpy()})
    >>> info["max_abs_diff"] < 1e-6, info["outputs"], len(info["checked_samples"])
    (True, ['frames'], 2)
"""

from __future__ import annotations

import io
import os
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from speechdl.errors import AudioError, ConfigError, write_fault
from speechdl.onnx.session import OrtRunner

OPSET = 17
TOLERANCE = 1e-4
CHECK_SECONDS = (1.37, 4.11)  # two lengths, neither a whole number of hops
SAMPLE = Path(__file__).resolve().parent.parent / "assets" / "sample.flac"


def graph_bytes(module: torch.nn.Module, example: torch.Tensor | tuple[torch.Tensor, ...], input_names: list[str],
                output_names: list[str], dynamic_axes: dict[str, dict[int, str]], opset: int = OPSET) -> bytes:
    """The serialised ONNX graph of ``module`` traced on ``example`` (one tensor, or a tuple: one per input;
    TorchScript exporter, no file)."""
    buf = io.BytesIO()
    module = module.eval()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer notes on shape arithmetic that stays symbolic in the graph
        args = example if isinstance(example, tuple) else (example,)
        torch.onnx.export(module, args, buf, input_names=input_names, output_names=output_names,
                          dynamic_axes=dynamic_axes, opset_version=opset, dynamo=False, do_constant_folding=True)
    return buf.getvalue()


def check_signal(sample_rate: int, seconds: float, seed: int = 0) -> np.ndarray:
    """A mono float32 test signal of ``seconds`` at ``sample_rate``: the package's speech sample (looped) when
    it can be read, else seeded noise with a speech-like loudness envelope."""
    n = max(1, int(round(seconds * sample_rate)))
    try:
        from speechdl import audio

        wave, _ = audio.load(SAMPLE, sample_rate=sample_rate)
        start = int(seed * 0.7 * sample_rate) % max(1, len(wave) - n) if len(wave) > n else 0
        return np.resize(wave[start:], n).astype(np.float32)
    except (AudioError, OSError, ImportError):
        rng = np.random.default_rng(seed)
        envelope = 0.05 + 0.3 * np.abs(np.sin(np.arange(n) * 3.0 / sample_rate))
        return (rng.standard_normal(n) * envelope).astype(np.float32)


def max_diff(got: dict[str, np.ndarray], ref: dict[str, np.ndarray]) -> float:
    """Largest ``|got - ref|`` over the outputs that ``ref`` names (a shape mismatch is infinite)."""
    worst = 0.0
    for name, want in ref.items():
        have = np.asarray(got[name])
        want = np.asarray(want)
        if have.shape != want.shape:
            return float("inf")
        if want.size:
            worst = max(worst, float(np.abs(have.astype(np.float64) - want).max()))
    return worst


def write_atomic(data: bytes, out: str | os.PathLike) -> Path:
    """Write ``data`` to ``out`` through a temporary sibling file and a rename (never half a file)."""
    out = Path(out)
    if out.is_dir():
        raise ConfigError(out, "is a directory", "pass a file name such as model.onnx")
    tmp = None
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=out.name + ".", suffix=".tmp", dir=out.parent)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, out)
    except OSError as err:
        fault = write_fault(err, out)   # a full disk: its own message; no half-written temporary file left
        raise fault or ConfigError(out, f"cannot write ({err.strerror or err})", "choose a writable path") from None
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
    return out


def export_waveform_graph(
    module: torch.nn.Module,
    out: str | os.PathLike | None,
    sample_rate: int,
    output_names: list[str],
    dynamic_axes: dict[str, dict[int, str]],
    reference: Callable[[np.ndarray], dict[str, np.ndarray]],
    seconds: tuple[float, ...] = CHECK_SECONDS,
    tolerance: float = TOLERANCE,
    opset: int = OPSET,
) -> dict[str, Any]:
    """Export ``module`` (``waveform (1, samples)`` -> ``output_names``), check it, write it to ``out``.

    Args:
        module: the torch graph; its input is named ``waveform``, samples axis dynamic.
        out: the ``.onnx`` file (None: nothing written; the bytes are in the result under ``"onnx"``).
        sample_rate: the model rate (Hz) of the check signals.
        output_names, dynamic_axes: the graph's outputs and their dynamic axes.
        reference: the torch path ``(samples,) float32 -> {output name: array}`` to compare with (the
            outputs it returns are compared; shapes must agree).
        seconds: lengths of the check signals (the first is the tracing example).
        tolerance: largest allowed ``|onnxruntime - torch|``; above it nothing is written.

    Returns:
        ``{"path", "max_abs_diff", "tolerance", "checked_samples", "opset", "inputs", "outputs", "bytes",
        "export_seconds"}`` (+ ``"onnx"``: the bytes, when ``out`` is None).
    """
    t0 = time.perf_counter()
    if out is not None and Path(out).is_dir():  # fail before the work, not after
        raise ConfigError(out, "is a directory", "pass a file name such as model.onnx")
    waves = [check_signal(sample_rate, s, seed=i) for i, s in enumerate(seconds)]
    axes = {"waveform": {1: "samples"}, **dynamic_axes}
    data = graph_bytes(module, torch.from_numpy(waves[0])[None], ["waveform"], output_names, axes, opset)
    runner = OrtRunner(data, threads=1)
    diff = 0.0
    for wave in waves:
        got = runner(waveform=wave[None])
        diff = max(diff, max_diff(got, reference(wave)))
    return finish_export(data, out, diff, tolerance, t0, checked_samples=[len(w) for w in waves], opset=opset,
                         inputs=["waveform"], outputs=list(output_names))


def finish_export(data: bytes, out: str | os.PathLike | None, diff: float, tolerance: float, t0: float,
                  **info: Any) -> dict[str, Any]:
    """The end of every checked export: refuse a graph ``diff`` above ``tolerance`` (nothing written), write
    ``data`` to ``out`` atomically (None: return it under ``"onnx"``), and report ``{"path", **info,
    "max_abs_diff", "tolerance", "bytes", "export_seconds"}`` (seconds since ``t0``)."""
    if not diff <= tolerance:
        raise ConfigError(out or "onnx export", f"onnxruntime differs from torch by {diff:.2e} (> {tolerance:g})",
                          "report this model architecture; nothing was written")
    result: dict[str, Any] = {"path": None if out is None else str(out), **info, "max_abs_diff": diff,
                              "tolerance": tolerance, "bytes": len(data)}
    if out is None:
        result["onnx"] = data
    else:
        write_atomic(data, out)
    result["export_seconds"] = round(time.perf_counter() - t0, 3)
    return result


def export_bundle(name_or_path: str | os.PathLike, task: str, out: str | os.PathLike) -> dict[str, Any]:
    """``Pipeline.export_onnx(out)`` of a bundle that must be of ``task`` (the ``export --onnx`` verbs).

    Another task's bundle is a one-line :class:`~speechdl.errors.ConfigError`.
    """
    from speechdl.api import pipeline_class, read_meta

    path, meta = read_meta(name_or_path)
    if meta["task"] != task:
        def an(word: str) -> str:
            return "an" if word[:1] in "aeiou" else "a"

        raise ConfigError(path, f"is {an(meta['task'])} {meta['task']!r} bundle, not {an(task)} {task} one",
                          f"pass {an(task)} {task} bundle")
    return pipeline_class(task).from_bundle(path, meta).export_onnx(out)


def summary_line(info: dict[str, Any]) -> str:
    """One line for the CLI: ``onnx: PATH (max |onnxruntime - torch| = D on N and M samples)``."""
    lengths = " and ".join(str(n) for n in info.get("checked_samples", []))
    return (f"onnx: {info['path']} (max |onnxruntime - torch| = {info['max_abs_diff']:.2e} on {lengths} samples; "
            f"inputs {', '.join(info.get('inputs', []))} -> outputs {', '.join(info.get('outputs', []))})")

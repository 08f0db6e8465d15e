"""Public VAD API: load a bundle, frame probabilities and speech segments, offline or streaming.

Offline processing is blockwise (``frontend.chunk_seconds``, 10 s): the file is read with
:func:`speechdl.audio.stream`, features come from the torch front-end block by block with the
sequence stages (deltas, stacking) carried across blocks, and the network runs once per block (a
dense net on all frames of the block in one batch; a recurrent net carries its state), so an
hour-long file needs memory for one block plus its probabilities (4 bytes per 10 ms).

**Long files.** Block boundaries change nothing: the probabilities equal those of the whole signal as one
tensor (within 1.1e-6 on an hour; ``tests/unit/test_long_files.py``), so the decisions are the whole signal's.
Those can still differ from a file cut into pieces, for two reasons of the signal, not of the blocks:
frames lie on one grid from the start of the file (a piece whose length is not a multiple of the hop is
sampled at other instants; edges move by up to 2 hops), and a recurrent model (the ``vad`` LSTM) carries
its state from what came before (from the initial state at the start of a file only). The issue-13 file
(copies of the sample each padded to 18 s with quiet noise: 799 segments instead of 600) is the second
case: after seconds of quieter noise, the LSTM scores the rise of the noise floor at a copy's start as
0.33 s of speech; the dense ``vad-lecture`` (+-4 frames of context) gives 600.

Example:
    >>> vad = load_vad()                         # the shipped bundle "vad", or load_vad("path/to/bundle")
    >>> p = vad.probabilities("speechdl/assets/sample.flac")   # (frames,) float32, one per vad.frame_hop s
    >>> p.dtype, round(len(p) * vad.frame_hop)
    (dtype('float32'), 14)
    >>> vad.segments("speechdl/assets/sample.flac")[0]          # doctest: +ELLIPSIS
    {'start': ..., 'end': ...}
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from speechdl import audio
from speechdl.errors import AudioError, ConfigError
from speechdl.features import FrontendConfig
from speechdl.features.incremental import FeaturePipeline
from speechdl.pretrained import load_bundle
from speechdl.tasks.vad.net import FrameModel
from speechdl.tasks.vad.post import PostConfig, segments
from speechdl.tasks.vad.stream import VADStream

AudioInput = str | os.PathLike | np.ndarray


class VAD:
    """A voice activity detector: front-end + frame model + post-processing defaults.

    Args:
        model: :class:`FrameModel` (put in eval mode).
        frontend: the exact :class:`FrontendConfig` the model was trained with.
        post: default :class:`PostConfig` (thresholds, min durations, smoothing, padding).
        meta: the bundle's ``bundle.json`` (metrics, data, ...), if any.
    """

    def __init__(self, model: FrameModel, frontend: FrontendConfig, post: PostConfig | None = None,
                 meta: dict[str, Any] | None = None) -> None:
        self.model = model.eval()
        self.frontend, self.post = frontend, post or PostConfig()
        self.meta = meta or {}

    @classmethod
    def from_bundle(cls, name_or_path: str | os.PathLike = "vad") -> VAD:
        """Load a bundle directory or a shipped bundle name."""
        b = load_bundle(name_or_path)
        if b.meta.get("task") != "vad":
            raise ConfigError(b.path, f"is a {b.meta.get('task')!r} bundle, not a vad one", "pass a VAD bundle")
        model = FrameModel(b.meta["model"]["name"], b.meta["model"]["kwargs"])
        model.load_state_dict(b.state_dict)
        post = {**b.meta.get("post", {}), **b.meta.get("thresholds", {})}
        return cls(model, FrontendConfig.from_dict(b.meta["frontend"]), PostConfig.from_dict(post), b.meta)

    @property
    def frame_hop(self) -> float:
        """Seconds between frames."""
        return self.frontend.frame_shift

    def _blocks(self, source: AudioInput, sample_rate: int | None) -> Iterator[np.ndarray]:
        sr = self.frontend.sample_rate
        if isinstance(source, np.ndarray | torch.Tensor):
            x = np.asarray(source, np.float32)
            if x.ndim == 2:
                x = audio.to_mono(x)
            if x.ndim != 1:
                raise AudioError("waveform", f"expected (samples,) or (samples, channels), got {x.shape}",
                                 "pass mono audio")
            if sample_rate is not None and sample_rate != sr:
                x = audio.resample(x, sample_rate, sr)
            step = int(self.frontend.chunk_seconds * sr)
            return (x[i:i + step] for i in range(0, len(x), step))
        return audio.stream(source, block_seconds=self.frontend.chunk_seconds, sample_rate=sr)

    @torch.no_grad()
    def iter_probabilities(self, blocks: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        """Probabilities ``(n,)`` per block of mono audio at the model's rate (bounded memory)."""
        pipe = FeaturePipeline(self.frontend, engine="torch")
        stream = self.model.streams_exactly and self.model.name != "dense"  # carry rnn/crnn state
        state = self.model.init_state() if stream else None
        whole: list[np.ndarray] = []
        dense = self._numpy_dense()

        def run(feats: np.ndarray) -> np.ndarray:
            nonlocal state
            if dense is not None:  # a few tiny matmuls: numpy has less per-call overhead than nn.Module
                return 0.5 + 0.5 * np.tanh(0.5 * dense(np.ascontiguousarray(feats, np.float32))[0])
            x = torch.from_numpy(np.ascontiguousarray(feats))[None]
            if stream:
                logits, state = self.model.forward_chunk(x, state)
            else:
                logits = self.model(x)
            # a numpy copy: kept torch-allocated pieces fragmented the heap (+27 MB over 3 h; numpy copies: +6 MB)
            return torch.sigmoid(logits[0]).numpy().copy()

        for block in blocks:
            feats = pipe.push(block)
            if not self.model.streams_exactly:  # non-causal sequence models see the whole sequence
                whole.append(feats)
            elif len(feats):
                yield run(feats)
        feats = pipe.flush()
        if not self.model.streams_exactly:
            feats = np.concatenate([*whole, feats])
        if len(feats):
            yield run(feats)

    def _numpy_dense(self) -> Any:
        """The numpy twin of a dense model (None for other models or dense nets with norms)."""
        if self.model.name != "dense":
            return None
        from speechdl.tasks.vad.net import numpy_net

        try:
            return numpy_net(self.model)
        except ConfigError:
            return None

    def probabilities(self, source: AudioInput, sample_rate: int | None = None) -> np.ndarray:
        """Speech probability per frame ``(frames,)`` float32 of a file (any format/rate) or a waveform.

        ``sample_rate`` is the rate of a waveform (default: the model's); files are resampled.
        Frame ``t`` covers ``[t * frame_hop, (t + 1) * frame_hop)`` s.
        """
        parts = list(self.iter_probabilities(self._blocks(source, sample_rate)))
        return np.concatenate(parts).astype(np.float32, copy=False) if parts else np.zeros(0, np.float32)

    def segments(self, source: AudioInput | None = None, sample_rate: int | None = None,
                 post: PostConfig | None = None, probs: np.ndarray | None = None) -> list[dict[str, float]]:
        """Speech segments ``[{start, end}]`` (s) of ``source`` (or of precomputed ``probs``)."""
        duration = None
        if probs is None:
            probs = self.probabilities(source, sample_rate)
            if isinstance(source, np.ndarray | torch.Tensor):
                duration = len(source) / (sample_rate or self.frontend.sample_rate)
            else:
                duration = audio.info(source).duration
        return segments(probs, self.frame_hop, post or self.post, duration)

    def stream(self, post: PostConfig | None = None, engine: str = "numpy") -> VADStream:
        """A fresh :class:`VADStream` (numpy per-hop engine for dense/rnn nets)."""
        return VADStream(self.model, self.frontend, post or self.post, engine=engine)


def load_vad(name_or_path: str | os.PathLike = "vad") -> VAD:
    """:meth:`VAD.from_bundle` (default: the shipped bundle ``vad``)."""
    return VAD.from_bundle(name_or_path)


def export_onnx(vad: VAD, out: str | os.PathLike, frames: int = 64, check: bool = True) -> float:
    """Write the frame model as ONNX (features ``(1, T, F)`` -> logits ``(1, T)``, T dynamic).

    Returns the max |onnxruntime - torch| difference of the logits on random features (checked < 1e-4).
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    dim = vad.frontend.feature_dim
    x = torch.randn(1, frames, dim) * 3.0
    tmp = out.with_name(out.name + ".tmp")
    model = vad.model.eval()
    import warnings

    from speechdl.errors import writing

    try:
        with warnings.catch_warnings(), writing(out):
            warnings.simplefilter("ignore")  # tracer notes on shape checks that are constant for this model
            torch.onnx.export(model, (x,), str(tmp), input_names=["features"], output_names=["logits"],
                              dynamic_axes={"features": {1: "frames"}, "logits": {1: "frames"}},
                              opset_version=17, dynamo=False)
            os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    if not check:
        return 0.0
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    sess = ort.InferenceSession(str(out), opts, providers=["CPUExecutionProvider"])
    diff = 0.0
    for t in (frames, frames * 3 + 1):
        xt = torch.randn(1, t, dim) * 3.0
        with torch.no_grad():
            ref = model(xt).numpy()
        got = sess.run(None, {"features": xt.numpy()})[0]
        diff = max(diff, float(np.abs(got - ref).max()))
    if diff > 1e-4:
        raise ConfigError(out, f"ONNX output differs from torch by {diff:.2e}", "report this model architecture")
    return diff

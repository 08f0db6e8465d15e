"""The VAD on the application contract: ``speechdl.load("vad").run(audio) -> VADResult``; ``stream()``.

The engine underneath is :class:`speechdl.tasks.vad.infer.VAD` (blockwise offline inference) and
:class:`speechdl.tasks.vad.stream.VADStream` (per-hop numpy streaming); this module only declares the
options, checks them once and shapes the result that the CLI, HTTP and the web page all show.

Example:
    >>> import speechdl
    >>> vad = speechdl.load("vad")
    >>> r = vad.run("speechdl/assets/sample.flac", min_silence=0.3)
    >>> r.segments[0]["start"] < r.segments[0]["end"] <= r.duration
    True
    >>> s = vad.stream(); st = s.init_state()
    >>> out, st = s.forward_chunk(np.zeros(1600, np.float32), st)
    >>> sorted(out)
    ['events', 'first_frame', 'probabilities']
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from speechdl.api import Option, Pipeline, Result, Stream
from speechdl.errors import AudioError

OPTIONS = (
    Option("threshold", "float", None, "onset threshold: speech starts above it (default: the bundle's)",
           minimum=0.001, maximum=0.999),
    Option("offset", "float", None, "offset threshold <= onset: speech ends below it (hysteresis)",
           minimum=0.0, maximum=0.999),
    Option("min_speech", "float", None, "drop speech shorter than this (s)", minimum=0.0, maximum=3600.0),
    Option("min_silence", "float", None, "fill silences shorter than this (s)", minimum=0.0, maximum=3600.0),
    Option("pad", "float", None, "widen each segment by this on both sides (s)", minimum=0.0, maximum=60.0),
    Option("probabilities", "bool", False, "include one speech probability per frame"),
)


@dataclass
class VADResult(Result):
    """Speech segments of one input.

    Fields: ``file`` (path or ``"<waveform>"``), ``duration`` (s), ``frame_hop`` (s between frames),
    ``speech_fraction`` (share of the duration inside segments), ``segments`` ``[{start, end}]`` (s),
    ``probabilities`` (one per frame, only when asked for), ``thresholds`` (onset/offset used).
    """

    task = "vad"
    file: str
    duration: float
    frame_hop: float
    segments: list[dict[str, float]]
    speech_fraction: float
    thresholds: dict[str, float]
    probabilities: list[float] | None = None
    _probs: Any = field(default=None, repr=False, compare=False)   # the float32 array (not in the JSON)

    def to_text(self) -> str:
        """A ``file start end duration`` table (``(no speech)`` when empty)."""
        rows = [f"{self.file}\t{s['start']:.3f}\t{s['end']:.3f}\t{s['end'] - s['start']:.3f}" for s in self.segments]
        return "\n".join(rows) if rows else f"{self.file}\t(no speech)"


class VADStreamAdapter(Stream):
    """:class:`VADStream` on the streaming contract; the state is the stream object itself."""

    def __init__(self, pipeline: VADPipeline, post: Any) -> None:
        self.pipeline, self.post = pipeline, post

    def init_state(self) -> Any:
        """A fresh :class:`~speechdl.tasks.vad.stream.VADStream`."""
        return self.pipeline.engine.stream(self.post)

    @staticmethod
    def _out(o: Any) -> dict[str, Any]:
        return {"first_frame": int(o.first_frame), "probabilities": [round(float(p), 4) for p in o.probabilities],
                "events": list(o.events)}

    def forward_chunk(self, samples: Any, state: Any) -> tuple[dict[str, Any], Any]:
        """``samples`` (mono float32, model rate, any length) -> (new probabilities + events, state)."""
        return self._out(state.push(np.asarray(samples, np.float32).reshape(-1))), state

    def finish(self, state: Any) -> dict[str, Any]:
        """The last probabilities and the closing events."""
        return self._out(state.flush())


class VADPipeline(Pipeline):
    """Voice activity detection: audio -> speech segments; streams per 10 ms hop."""

    task = "vad"
    inputs = "audio"
    options = OPTIONS
    streaming = True
    stream_field = "probabilities"
    description = "Voice activity detection: speech segments of an audio file (any format, rate, length)."

    def __init__(self, engine: Any, path: Path | None = None, meta: dict[str, Any] | None = None) -> None:
        super().__init__(path, meta or {}, engine.frontend.sample_rate)
        self.engine = engine

    @classmethod
    def from_bundle(cls, path: Path, meta: dict[str, Any]) -> VADPipeline:
        """Load a ``vad`` bundle directory."""
        from speechdl.tasks.vad.infer import VAD

        return cls(VAD.from_bundle(path), path, meta)

    @property
    def frame_hop(self) -> float:
        """Seconds between frames."""
        return self.engine.frame_hop

    def post_config(self, threshold: float | None = None, offset: float | None = None,
                    min_speech: float | None = None, min_silence: float | None = None,
                    pad: float | None = None) -> Any:
        """The bundle's post-processing with the given changes (a lower onset pulls the offset with it)."""
        from speechdl.tasks.vad.post import PostConfig

        base = self.engine.post.to_dict()
        if threshold is not None and offset is None and base.get("offset") is not None:
            base["offset"] = min(base["offset"], threshold)
        changes = {"onset": threshold, "offset": offset, "min_speech": min_speech,
                   "min_silence": min_silence, "pad": pad}
        return PostConfig.from_dict({**base, **{k: v for k, v in changes.items() if v is not None}})

    def _run(self, inputs: Any, probabilities: bool = False, **post: Any) -> VADResult:
        from speechdl import audio
        from speechdl.tasks.vad.post import segments

        cfg = self.post_config(**post)
        if isinstance(inputs, str | os.PathLike):
            name, duration = str(inputs), audio.info(inputs).duration
        else:
            inputs = np.asarray(inputs, np.float32)
            if inputs.ndim != 1:
                raise AudioError("waveform", f"expected mono (samples,), got shape {inputs.shape}", "pass mono audio")
            name, duration = "<waveform>", len(inputs) / self.sample_rate
        probs = self.engine.probabilities(inputs)
        segs = segments(probs, self.frame_hop, cfg, duration)
        speech = sum(s["end"] - s["start"] for s in segs)
        return VADResult(file=name, duration=round(duration, 6), frame_hop=self.frame_hop, segments=segs,
                         speech_fraction=round(speech / duration, 4) if duration > 0 else 0.0,
                         thresholds={"onset": cfg.onset, "offset": round(cfg.offset_threshold, 6)},
                         probabilities=[round(float(p), 4) for p in probs] if probabilities else None,
                         _probs=probs)

    def stream(self, **options: Any) -> VADStreamAdapter:
        """A streaming VAD (``forward_chunk``); ``options``: the post-processing options of :meth:`run`."""
        opts = self.check_options(options)
        opts.pop("probabilities")
        return VADStreamAdapter(self, self.post_config(**opts))

    def export_onnx(self, out: str | os.PathLike) -> dict[str, Any]:
        """The VAD as one ONNX graph, front-end included: ``waveform (1, samples)`` -> ``probabilities`` and
        ``logits`` ``(1, frames)``, checked against this pipeline's torch path (:mod:`speechdl.tasks.vad.onnx`)."""
        from speechdl.tasks.vad.onnx import export_vad

        return export_vad(self.engine, out)


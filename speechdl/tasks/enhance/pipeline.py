"""Speech enhancement on the application contract: ``speechdl.load("enhance").run(audio) -> EnhanceResult``.

The engine is :class:`~speechdl.tasks.enhance.infer.Enhancer` (10 s blocks, state carried). The result
carries the before / after audio as ``data:audio/wav;base64`` URLs (option ``audio``, on by default: the
web page draws an audio player for each), levels in dBFS and, with ``samples``, the enhanced samples as
numbers (what the stream gives chunk by chunk). ``stream()`` enhances chunk by chunk with 20 ms latency
for the causal model.

Example:
    >>> import speechdl, numpy as np
    >>> enh = speechdl.load("enhance")
    >>> r = enh.run("speechdl/assets/sample.flac", audio=False)
    >>> r.sample_rate, r.enhanced_audio, r.duration > 10
    (16000, None, True)
    >>> s = enh.stream(); st = s.init_state()
    >>> out, st = s.forward_chunk(np.zeros(1000, np.float32), st)
    >>> sorted(out), len(out["samples"]) + len(s.finish(st)["samples"])
    (['samples'], 1000)
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from speechdl.api import Option, Pipeline, Result, Stream
from speechdl.audio import wav_data_url
from speechdl.errors import AudioError

OPTIONS = (
    Option("audio", "bool", True, "include the noisy and enhanced audio as data:audio/wav;base64 URLs"),
    Option("samples", "bool", False, "include the enhanced samples as numbers (model rate)"),
)
MAX_AUDIO_SECONDS = 600.0   # longer inputs: no audio URLs in the JSON (write a file with `speechdl enhance`)


def level_db(wave: np.ndarray) -> float | None:
    """RMS level in dBFS (None for silence)."""
    if not len(wave):
        return None
    rms = float(np.sqrt(np.mean(np.square(wave, dtype=np.float64))))
    return round(20 * np.log10(rms), 2) if rms > 0 else None


@dataclass
class EnhanceResult(Result):
    """One enhanced input.

    Fields: ``file`` (path or ``"<waveform>"``), ``duration`` (s), ``sample_rate`` (Hz of the audio below),
    ``model`` (bundle), ``causal`` and ``latency_ms`` (algorithmic), ``input_level_db`` /
    ``output_level_db`` (RMS dBFS), ``noisy_audio`` / ``enhanced_audio`` (WAV data URLs, or None),
    ``samples`` (enhanced samples, only when asked for).
    """

    task = "enhance"
    file: str
    duration: float
    sample_rate: int
    model: str
    causal: bool
    latency_ms: float
    input_level_db: float | None
    output_level_db: float | None
    noisy_audio: str | None = None
    enhanced_audio: str | None = None
    samples: list[float] | None = None
    _wave: Any = field(default=None, repr=False, compare=False)   # the float32 array (not in the JSON)

    def to_text(self) -> str:
        """``file  duration  input -> output level``."""
        lv = f"{self.input_level_db} -> {self.output_level_db} dBFS"
        return f"{self.file}\t{self.duration:.2f} s\t{lv}"


class EnhanceStreamAdapter(Stream):
    """:class:`~speechdl.tasks.enhance.stream.EnhanceStream` on the streaming contract (the state is the stream)."""

    def __init__(self, pipeline: EnhancePipeline) -> None:
        self.pipeline = pipeline

    def init_state(self) -> Any:
        """A fresh engine stream."""
        return self.pipeline.engine.stream()

    def forward_chunk(self, samples: Any, state: Any) -> tuple[dict[str, Any], Any]:
        """``samples`` (mono float32, model rate, any length) -> ``{"samples": enhanced ready now}``, state."""
        return {"samples": state.push(np.asarray(samples, np.float32).reshape(-1)).tolist()}, state

    def finish(self, state: Any) -> dict[str, Any]:
        """The last enhanced samples."""
        return {"samples": state.flush().tolist()}


class EnhancePipeline(Pipeline):
    """Speech enhancement: noisy audio -> denoised audio (same length, model rate); streams."""

    task = "enhance"
    inputs = "audio"
    options = OPTIONS
    streaming = True
    stream_field = "samples"
    description = "Speech enhancement: remove noise from speech (any format, rate, length); before/after audio."

    def __init__(self, engine: Any, path: Path | None = None, meta: dict[str, Any] | None = None) -> None:
        super().__init__(path, meta or {}, engine.sample_rate)
        self.engine = engine

    @classmethod
    def from_bundle(cls, path: Path, meta: dict[str, Any]) -> EnhancePipeline:
        """Load an ``enhance`` bundle directory."""
        from speechdl.tasks.enhance.infer import Enhancer

        return cls(Enhancer.from_bundle(path), path, meta)

    def _run(self, inputs: Any, audio: bool = True, samples: bool = False) -> EnhanceResult:
        from speechdl import audio as audio_io

        if isinstance(inputs, str | os.PathLike):
            name = str(inputs)
            wave, _ = audio_io.load(inputs, sample_rate=self.sample_rate)   # the result holds it all anyway
        else:
            wave = np.asarray(inputs, np.float32)
            if wave.ndim != 1:
                raise AudioError("waveform", f"expected mono (samples,), got shape {wave.shape}", "pass mono audio")
            name = "<waveform>"
        out = self.engine.enhance(wave)
        duration = len(wave) / self.sample_rate
        embed = audio and duration <= MAX_AUDIO_SECONDS
        return EnhanceResult(file=name, duration=round(duration, 6), sample_rate=self.sample_rate, model=self.name,
                             causal=self.engine.causal, latency_ms=round(self.engine.latency_ms, 2),
                             input_level_db=level_db(wave), output_level_db=level_db(out),
                             noisy_audio=wav_data_url(wave, self.sample_rate) if embed else None,
                             enhanced_audio=wav_data_url(out, self.sample_rate) if embed else None,
                             samples=out.tolist() if samples else None, _wave=out)

    def stream(self, **options: Any) -> EnhanceStreamAdapter:
        """A chunk-by-chunk enhancer (``forward_chunk``); the options of :meth:`run` do not apply."""
        self.check_options(options)
        return EnhanceStreamAdapter(self)

    def export_onnx(self, out: str | os.PathLike) -> dict[str, Any]:
        """The enhancer as one ONNX graph ``waveform (1, samples)`` -> ``enhanced (1, samples)``, checked
        against this pipeline's blockwise torch path (:mod:`speechdl.tasks.enhance.onnx`)."""
        from speechdl.tasks.enhance.onnx import export_enhancer

        return export_enhancer(self.engine, out)

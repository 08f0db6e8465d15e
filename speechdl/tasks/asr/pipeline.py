"""Speech recognition on the application contract: ``speechdl.load("asr").run(audio) -> ASRResult``.

The engine underneath is :class:`speechdl.tasks.asr.infer.ASR` (waveforms -> text); this module
declares the options, checks them once, cuts long inputs and shapes the result that the CLI, HTTP and
the web page all show.

Composition is declared in the bundle: an input longer than ``max_seconds`` is cut at its pauses by
the bundle's ``segmenter`` component (``bundle.json`` ``"components": {"segmenter": "vad"}``, the VAD
pipeline resolved through the registry); its segments are packed into pieces of at most
``max_seconds`` (:func:`speechdl.pretrained.segment.pack_segments`) and each piece is read and
decoded on its own, so memory stays bounded. The pieces come back with their times (for SRT).

Example:
    >>> import speechdl
    >>> asr = speechdl.load("asr")
    >>> asr.task, asr.sample_rate, asr.component("segmenter").task
    ('asr', 16000, 'vad')
    >>> r = asr.run("speechdl/assets/sample.flac", beam=1, lm="none")      # greedy, no LM
    >>> r.text.split()[-3:], r.segments[0]["end"] == r.duration
    (['then', 'steache', 'again'], True)
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from speechdl.api import Option, Pipeline, Result
from speechdl.errors import AudioError, ConfigError

LM_CHOICES = ("bundle", "none")
SEGMENTER_TASKS = ("vad",)
PAD = 0.1   # s added on both sides of a packed speech segment

OPTIONS = (
    Option("beam", "int", None, "beam width (default: the bundle's; 1 = greedy)", minimum=1, maximum=256),
    Option("lm", "str", "bundle", "word n-gram LM of CTC beam search: bundle (the bundle's own, if any) or none",
           choices=LM_CHOICES),
    Option("alpha", "float", None, "LM weight (default: the bundle's)", minimum=0.0, maximum=10.0),
    Option("beta", "float", None, "word insertion bonus with an LM (default: the bundle's)",
           minimum=-10.0, maximum=10.0),
    Option("ctc_weight", "float", None, "joint CTC + attention models: CTC share of the rescoring (default: "
           "the bundle's)", minimum=0.0, maximum=1.0),
    Option("max_seconds", "float", 30.0, "inputs longer than this are cut at pauses by the bundle's segmenter "
           "(VAD) into pieces of at most this many seconds", minimum=1.0, maximum=600.0),
)


@dataclass
class ASRResult(Result):
    """The transcript of one input.

    Fields: ``file`` (path or ``"<waveform>"``), ``duration`` (s), ``text`` (normalised: lower case,
    words joined by single spaces), ``segments`` ``[{start, end, text}]`` (s; one piece for a short
    input, the segmenter's pieces for a long one).
    """

    task = "asr"
    file: str
    duration: float
    text: str
    segments: list[dict[str, Any]]

    def to_text(self) -> str:
        """``file<TAB>transcript``."""
        return f"{self.file}\t{self.text}"


class ASRPipeline(Pipeline):
    """Speech recognition: audio -> transcript with segment times; long inputs cut by the segmenter."""

    task = "asr"
    inputs = "audio"
    options = OPTIONS
    streaming = False
    description = ("Speech recognition: the transcript of an audio file (any format, rate, length) with "
                   "segment times; long files are cut at pauses by the voice activity detector.")

    def __init__(self, engine: Any, path: Path | None = None, meta: dict[str, Any] | None = None) -> None:
        super().__init__(path, meta if meta is not None else engine.meta, engine.sample_rate)
        self.engine = engine

    @classmethod
    def from_bundle(cls, path: Path, meta: dict[str, Any]) -> ASRPipeline:
        """Load an ``asr`` bundle directory."""
        from speechdl.tasks.asr.infer import ASR

        return cls(ASR.from_bundle(path), path, meta)

    # --- Python / CLI affordances (never reachable over HTTP: they take server-side names and paths)
    def set_lm(self, path: str | os.PathLike | None) -> None:
        """Use the ARPA file ``path`` as the LM that ``lm="bundle"`` means (None: no LM)."""
        self.engine.set_lm(path)

    def set_segmenter(self, name_or_path: str | os.PathLike | Pipeline) -> None:
        """Cut long inputs with this VAD (a bundle name, a bundle directory or a loaded pipeline) instead of
        the bundle's declared ``segmenter``."""
        from speechdl.api import load

        seg = name_or_path if isinstance(name_or_path, Pipeline) else load(name_or_path)
        self._components["segmenter"] = self._check_segmenter(seg)

    def _check_segmenter(self, seg: Pipeline) -> Pipeline:
        if seg.task not in SEGMENTER_TASKS:
            raise ConfigError(seg.path or seg.name, f"is a {seg.task!r} model, not a segmenter",
                              f"name a {' or '.join(SEGMENTER_TASKS)} bundle as the segmenter")
        return seg

    @property
    def segmenter(self) -> Pipeline:
        """The pipeline that cuts long inputs (the bundle's ``segmenter`` component), loaded once."""
        return self._check_segmenter(self.component("segmenter"))

    # --- running
    def pieces(self, inputs: str | os.PathLike | np.ndarray, duration: float,
               max_seconds: float) -> list[tuple[float, float]]:
        """``[(start, end)]`` (s): the whole input when it lasts at most ``max_seconds``, else the
        segmenter's speech segments packed into pieces of at most ``max_seconds`` (widened by 0.1 s)."""
        from speechdl.pretrained.segment import pack_segments

        if duration <= max_seconds:
            return [(0.0, round(duration, 3))]
        seg = self.segmenter
        if not isinstance(inputs, str | os.PathLike) and seg.sample_rate != self.sample_rate:
            from speechdl.audio import resample

            inputs = resample(inputs, self.sample_rate, seg.sample_rate)
        found = seg.run(inputs).segments
        return pack_segments([(s["start"], s["end"]) for s in found], max_seconds, PAD, duration)

    def _run(self, inputs: Any, max_seconds: float = 30.0, **decoding: Any) -> ASRResult:
        from speechdl import audio

        if isinstance(inputs, str | os.PathLike):
            name, duration = str(inputs), audio.info(inputs).duration

            def read(a: float, b: float) -> np.ndarray:
                return audio.load(inputs, sample_rate=self.sample_rate, offset=a, duration=b - a)[0]
        else:
            wave = np.asarray(inputs, np.float32)
            if wave.ndim != 1 or not len(wave):
                raise AudioError("waveform", f"expected mono samples (n,), n > 0, got shape {wave.shape}",
                                 f"pass mono float32 audio at {self.sample_rate} Hz")
            if not np.isfinite(wave).all():
                raise AudioError("waveform", "holds NaN or Inf samples", "pass finite audio")
            name, duration, inputs = "<waveform>", len(wave) / self.sample_rate, wave

            def read(a: float, b: float) -> np.ndarray:
                return wave[int(round(a * self.sample_rate)):int(round(b * self.sample_rate))]
        out = []
        for a, b in self.pieces(inputs, duration, max_seconds):
            text = self.engine.transcribe_waves([read(a, b)], **decoding)[0]
            out.append({"start": round(a, 3), "end": round(b, 3), "text": text})
        return ASRResult(file=name, duration=round(duration, 3), text=" ".join(s["text"] for s in out if s["text"]),
                         segments=out)

    def export_onnx(self, out: str | os.PathLike) -> dict[str, Any]:
        """The recogniser as one ONNX graph, front-end included: ``waveform (1, samples)`` -> CTC
        ``log_probs (1, frames', vocab)``, checked against torch (:mod:`speechdl.tasks.asr.onnx`); decoding
        (greedy, beam search, the LM) and the segmenter stay in Python."""
        from speechdl.tasks.asr.onnx import export_asr

        return export_asr(self.engine.model, self.engine.cfg, out)

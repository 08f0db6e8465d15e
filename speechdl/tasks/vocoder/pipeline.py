"""Vocoders on the application contract: ``speechdl.load(BUNDLE).run(audio or mel) -> VocodeResult``.

Input: an audio file or a mono waveform (copy-synthesis: wave -> the bundle's mel -> wave), or log-Mel frames of
the vocoder front-end, as a ``.npy`` file or a ``(T, 80)`` array. The result carries the output as a
``data:audio/wav;base64`` URL (option ``audio``, on by default) and, with ``samples``, as numbers.

Example:
    >>> import tempfile, numpy as np, speechdl
    >>> from speechdl.nn import build
    >>> from speechdl.pretrained.bundle import save_bundle
    >>> from speechdl.tasks.vocoder.frontend import VOCODER_FRONTEND
    >>> kw = dict(upsample_initial_channel=16, resblock_kernel_sizes=[3], resblock_dilation_sizes=[[1]],
    ...           weight_norm=False)
    >>> d = save_bundle(tempfile.mkdtemp() + "/voc", task="vocoder", model={"name": "hifigan", "kwargs": kw},
    ...                 state_dict=build("hifigan", **kw).state_dict(), frontend=VOCODER_FRONTEND.to_dict())
    >>> p = speechdl.load(d)
    >>> r = p.run(np.zeros(4000, np.float32), audio=False)
    >>> r.input, r.frames, r.duration
    ('waveform', 16, 0.25)
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from speechdl.api import Option, Pipeline, Result
from speechdl.audio import wav_data_url
from speechdl.errors import AudioError

OPTIONS = (
    Option("audio", "bool", True, "include the synthesized audio as a data:audio/wav;base64 URL"),
    Option("samples", "bool", False, "include the synthesized samples as numbers"),
)
MAX_AUDIO_SECONDS = 600.0


@dataclass
class VocodeResult(Result):
    """One synthesized input. ``input``: ``waveform`` / ``audio`` (copy-synthesis) or ``features``; ``frames``:
    mel frames vocoded; ``duration`` (s) and ``sample_rate`` of the output; ``model``; ``kind`` (``hifigan``,
    ``iaf_student``, ``wavenet``); ``audio`` (WAV data URL or None); ``samples`` (when asked for)."""

    task = "vocoder"
    file: str
    input: str
    frames: int
    duration: float
    sample_rate: int
    model: str
    kind: str
    audio: str | None = None
    samples: list[float] | None = None
    _wave: Any = field(default=None, repr=False, compare=False)

    def to_text(self) -> str:
        return f"{self.file}\t{self.input}\t{self.frames} frames\t{self.duration:.2f} s"


def read_input(inputs: Any, vocoder: Any) -> tuple[str, str, np.ndarray, int | None]:
    """``(name, kind, mel, length)`` of a path (audio or ``.npy``) or an array (waveform ``(N,)`` or mel ``(T, F)``)."""
    from speechdl import audio as audio_io
    from speechdl.tasks.vocoder.frontend import check_mel

    if isinstance(inputs, str | os.PathLike):
        name = str(inputs)
        if Path(name).suffix.lower() == ".npy":
            try:
                arr = np.load(name, allow_pickle=False)
            except (OSError, ValueError) as err:
                raise AudioError(name, f"unreadable features ({err})", "pass a .npy array (T, 80)") from None
            return name, "features", check_mel(arr, vocoder.cfg, name), None
        wave, _ = audio_io.load(name, sample_rate=vocoder.sample_rate)
        return name, "audio", vocoder.mel(wave), len(wave)
    arr = np.asarray(inputs, np.float32)
    if arr.ndim == 2:
        return "<features>", "features", check_mel(arr, vocoder.cfg), None
    if arr.ndim != 1:
        raise AudioError("waveform", f"expected mono (samples,) or mel (T, F), got shape {arr.shape}",
                         "pass mono audio")
    return "<waveform>", "waveform", vocoder.mel(arr), len(arr)


class VocoderPipeline(Pipeline):
    """Vocoder: mel frames -> waveform; audio in means copy-synthesis (wave -> mel -> wave)."""

    task = "vocoder"
    inputs = "audio"
    options = OPTIONS
    description = "Vocoder: log-Mel frames (.npy) or audio (copy-synthesis) -> waveform; hear what a vocoder keeps."

    def __init__(self, engine: Any, path: Path | None = None, meta: dict[str, Any] | None = None) -> None:
        super().__init__(path, meta or {}, engine.sample_rate)
        self.engine = engine

    @classmethod
    def from_bundle(cls, path: Path, meta: dict[str, Any]) -> VocoderPipeline:
        """Load a ``vocoder`` bundle directory."""
        from speechdl.tasks.vocoder.engine import NeuralVocoder

        return cls(NeuralVocoder.from_bundle(path), path, meta)

    def _run(self, inputs: Any, audio: bool = True, samples: bool = False) -> VocodeResult:
        name, kind, mel, length = read_input(inputs, self.engine)
        out = self.engine.synthesize(mel, length)
        duration = len(out) / self.sample_rate
        embed = audio and duration <= MAX_AUDIO_SECONDS
        return VocodeResult(file=name, input=kind, frames=int(mel.shape[0]), duration=round(duration, 6),
                            sample_rate=self.sample_rate, model=self.name, kind=self.engine.kind,
                            audio=wav_data_url(out, self.sample_rate) if embed else None,
                            samples=out.tolist() if samples else None, _wave=out)

    def export_onnx(self, out: str | os.PathLike) -> dict[str, Any]:
        """The bundle's network as ONNX: ``mel (1, frames, 80)`` [+ ``z (1, samples)`` for the student] ->
        ``waveform (1, samples)``, checked against torch (:mod:`speechdl.tasks.vocoder.onnx`; WaveNet: an error)."""
        from speechdl.tasks.vocoder.onnx import export_vocoder

        return export_vocoder(self.engine, out)

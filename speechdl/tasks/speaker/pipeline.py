"""Speaker verification on the application contract: ``speechdl.load("speaker").run((a, b)) -> VerifyResult``.

The engine underneath is :class:`speechdl.tasks.speaker.infer.SpeakerModel` (embeddings, the bundle's
back-end, calibrated thresholds); this module declares the options, checks them once and shapes the
result that the CLI (``speechdl speaker verify``, ``speechdl run speaker``), HTTP and the web page all show.
:meth:`SpeakerPipeline.embed` gives the embedding of one recording.

Example:
    >>> import speechdl
    >>> spk = speechdl.load("speaker")
    >>> spk.task, spk.inputs, spk.sample_rate
    ('speaker', 'audio_pair', 16000)
    >>> r = spk.run(("speechdl/assets/sample.flac", "speechdl/assets/sample.flac"), backend="plda")
    >>> r.decision, r.backend, r.norm, r.score >= r.threshold
    ('same', 'plda', 'asnorm', True)
    >>> spk.embed("speechdl/assets/sample.flac").shape
    (192,)
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from speechdl.api import Option, Pipeline, Result
from speechdl.errors import AudioError, ConfigError

BACKENDS = ("cosine", "plda")       # as speechdl.tasks.speaker.scoring.BACKENDS / NORMS (kept import-free here)
NORMS = ("asnorm", "none")
MAX_SECONDS = 30.0                  # longer recordings are embedded in blocks of this length

OPTIONS = (
    Option("backend", "str", None, "scoring back-end (default: the bundle's); plda needs a bundle exported with it",
           choices=BACKENDS),
    Option("norm", "str", None, "score normalisation against the bundle's cohort (default: the bundle's)",
           choices=NORMS),
    Option("threshold", "float", None, "decision threshold on the back-end's score, any finite number "
           "(default: the bundle's calibrated one)"),
)


@dataclass
class VerifyResult(Result):
    """Same speaker in two recordings?

    Fields: ``enroll``, ``test`` (the inputs: paths, or ``"<waveform>"``); ``score`` (the back-end's score:
    cosine in [-1, 1], PLDA log-likelihood ratio, or AS-normalised units); ``threshold`` (accept when
    ``score >= threshold``); ``decision`` (``"same"`` / ``"different"``); ``backend``, ``norm``; and, when
    the bundle is calibrated for that back-end and normalisation, ``llr`` (calibrated log-likelihood ratio)
    and ``probability`` (of the same speaker at a 50 % prior, ``1 / (1 + e^-llr)``, from the rounded ``llr``).
    """

    task = "speaker"
    enroll: str
    test: str
    score: float
    threshold: float
    decision: str
    backend: str
    norm: str
    llr: float | None = None
    probability: float | None = None

    @property
    def same(self) -> bool:
        """``decision == "same"``."""
        return self.decision == "same"

    def to_text(self) -> str:
        """A one-row table: enroll, test, score, threshold, decision, backend, norm (and llr when calibrated)."""
        from speechdl.console import format_table

        row = {k: v for k, v in self.to_dict().items() if k not in ("task", "probability")}
        if row.get("llr") is None:
            row.pop("llr")
        return format_table([row])


def _name(x: Any) -> str:
    return str(x) if isinstance(x, str | os.PathLike) else "<waveform>"


class SpeakerPipeline(Pipeline):
    """Speaker verification: a pair of recordings -> score and same / different decision (no streaming)."""

    task = "speaker"
    inputs = "audio_pair"
    options = OPTIONS
    description = ("Speaker verification: is the same person speaking in two recordings? Score, calibrated "
                   "threshold and decision (any format, rate, length).")

    def __init__(self, engine: Any, path: Path | None = None, meta: dict[str, Any] | None = None) -> None:
        super().__init__(path, meta or engine.meta, engine.cfg.sample_rate)
        self.engine = engine

    @classmethod
    def from_bundle(cls, path: Path, meta: dict[str, Any]) -> SpeakerPipeline:
        """Load a ``speaker`` bundle directory (with its back-end files when it has them)."""
        from speechdl.tasks.speaker.infer import SpeakerModel

        return cls(SpeakerModel.from_bundle(path), Path(path), meta)

    @property
    def dim(self) -> int:
        """Embedding size D."""
        return self.engine.dim

    # ------------------------------------------------------------------ inputs
    def _check(self, x: Any) -> Any:
        """A file path (checked: exists, is audio) or a mono float32 waveform ``(n,)``."""
        from speechdl import audio

        if isinstance(x, str | os.PathLike):
            audio.info(x)
            return x
        try:
            wave = np.asarray(x, np.float32)
        except (TypeError, ValueError):
            raise AudioError("speaker input", f"not audio ({type(x).__name__})",
                             "pass a file path or a mono float32 waveform") from None
        if wave.ndim != 1 or len(wave) == 0:
            raise AudioError("waveform", f"expected mono (samples,), got shape {wave.shape}", "pass mono audio")
        if not np.isfinite(wave).all():
            raise AudioError("waveform", "holds NaN or infinite samples", "pass finite samples")
        return wave

    def embed(self, audio: Any) -> np.ndarray:
        """Speaker embedding ``(D,)`` float32 of one recording: a file path (any format, rate, length) or a
        mono float32 waveform ``(n,)`` at :attr:`sample_rate`; past 30 s in blocks, averaged."""
        return self._embed(self._check(audio))

    def _embed(self, x: Any) -> np.ndarray:
        if isinstance(x, np.ndarray):
            return self.engine.embed_wave(x, MAX_SECONDS)
        return self.engine.embed_file(x, MAX_SECONDS)

    # ------------------------------------------------------------------ running
    def _run(self, inputs: Any, backend: str | None = None, norm: str | None = None,
             threshold: float | None = None) -> VerifyResult:
        if isinstance(inputs, str | bytes | os.PathLike) or not isinstance(inputs, tuple | list) or len(inputs) != 2:
            raise ConfigError("speaker input", f"expected a pair (a, b), got {type(inputs).__name__}",
                              "pass run((a, b)) with two files or two waveforms")
        backend, norm = self.engine.scorer.check(backend, norm)     # no such back-end: fail before any audio
        t = self.engine.threshold(threshold, backend, norm)
        a, b = (self._check(x) for x in inputs)                    # both checked before either is embedded
        ea, eb = self._embed(a), self._embed(b)
        d = self.engine.decide(float(self.engine.score(ea, eb, backend, norm)[0]), t, backend, norm)
        llr = d.get("llr")
        return VerifyResult(enroll=_name(inputs[0]), test=_name(inputs[1]), score=d["score"], threshold=d["threshold"],
                            decision="same" if d["same"] else "different", backend=backend, norm=norm, llr=llr,
                            probability=None if llr is None else round(0.5 + 0.5 * math.tanh(llr / 2), 6))

    def export_onnx(self, out: str | os.PathLike) -> dict[str, Any]:
        """The speaker encoder as one ONNX graph, front-end included: ``waveform (1, samples)`` ->
        ``embedding (1, dim)``, checked against torch (:mod:`speechdl.tasks.speaker.onnx`); scoring (cosine,
        PLDA, AS-norm, calibration) and the blocks of long files stay in Python."""
        from speechdl.tasks.speaker.onnx import export_speaker

        return export_speaker(self.engine.model, self.engine.cfg, out)


def load_pipeline(name_or_path: str | os.PathLike = "speaker") -> SpeakerPipeline:
    """The :class:`SpeakerPipeline` of a shipped bundle name or bundle directory (another task's bundle:
    a one-line ConfigError)."""
    from speechdl.api import read_meta

    path, meta = read_meta(name_or_path)
    return SpeakerPipeline.from_bundle(path, meta)

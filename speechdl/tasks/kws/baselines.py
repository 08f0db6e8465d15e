"""Anchors for keyword spotting: PocketSphinx (a command grammar and its keyword-spotting mode) and Whisper
tiny.en (the upper reference), each mapped onto the 22 labels. Benchmark only, never a runtime dependency.

A transcript is mapped by :func:`label_of_text`: empty -> ``_silence_``; exactly one word that is a keyword
(digits written as numbers count: "7" is "seven") -> that keyword; anything else -> ``_unknown_``.

Example:
    >>> label_of_text(" Seven."), label_of_text(""), label_of_text("go home"), label_of_text("4")
    ('seven', '_silence_', '_unknown_', 'four')
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Sequence

import numpy as np

from speechdl.audio import to_int16
from speechdl.errors import ConfigError
from speechdl.tasks.kws.vocab import DIGITS, KEYWORDS, SILENCE, UNKNOWN

SR = 16000
_NUM = {str(i): w for i, w in enumerate(DIGITS)}
_SPELL = {"oh": "zero", "know": "no", "to": "two", "too": "two", "for": "four", "won": "one", "ate": "eight"}


def label_of_text(text: str | None, homophones: bool = False) -> str:
    """The label a transcript stands for (``homophones``: also map "to" -> "two", "know" -> "no", ...)."""
    words = [_NUM.get(w, w) for w in re.findall(r"[a-z0-9']+", (text or "").lower())]
    if homophones:
        words = [_SPELL.get(w, w) for w in words]
    if not words:
        return SILENCE
    return words[0] if len(words) == 1 and words[0] in KEYWORDS else UNKNOWN


class SphinxCommands:
    """PocketSphinx 5 (its en-us acoustic model and dictionary) on 1 s clips.

    ``mode="grammar"``: a JSGF grammar of the twenty keywords, one per utterance (it cannot answer
    "unknown"; no hypothesis is ``_silence_``). ``mode="kws"``: keyword-spotting mode with every keyword as a
    keyphrase at ``threshold``; the last detection is the answer, none is ``_unknown_``.
    """

    def __init__(self, mode: str = "grammar", threshold: float = 1e-20) -> None:
        try:
            import pocketsphinx
        except ImportError:
            raise ConfigError("pocketsphinx", "is not installed", "pip install pocketsphinx") from None
        if mode not in ("grammar", "kws"):
            raise ConfigError("SphinxCommands", f"mode={mode!r}", "use grammar or kws")
        self.mode = mode
        self._dir = tempfile.mkdtemp(prefix="kws_sphinx_")
        if mode == "grammar":
            path = os.path.join(self._dir, "commands.gram")
            with open(path, "w") as f:
                f.write("#JSGF V1.0;\ngrammar commands;\npublic <command> = " + " | ".join(KEYWORDS) + " ;\n")
            self.decoder = pocketsphinx.Decoder(samprate=SR, loglevel="FATAL", jsgf=path)
        else:
            path = os.path.join(self._dir, "keywords.list")
            with open(path, "w") as f:
                f.write("".join(f"{w} /{threshold:g}/\n" for w in KEYWORDS))
            self.decoder = pocketsphinx.Decoder(samprate=SR, loglevel="FATAL", kws=path)
        self.name = f"pocketsphinx-{mode}"

    def classify(self, wave: np.ndarray) -> str:
        """One clip ``(n,)`` float32, 16 kHz -> label."""
        d = self.decoder
        d.reinit_feat()
        d.start_utt()
        d.process_raw(to_int16(np.asarray(wave, np.float32).reshape(-1)).tobytes(), False, True)
        d.end_utt()
        hyp = d.hyp()
        text = hyp.hypstr.strip() if hyp is not None else ""
        if self.mode == "kws":
            words = text.split()
            return words[-1] if words else UNKNOWN
        return label_of_text(text) if text else SILENCE

    def __call__(self, waves: Sequence[np.ndarray]) -> list[str]:
        return [self.classify(w) for w in waves]


class WhisperCommands:
    """Whisper tiny.en (``speechdl.data.whisper``; beam 5, English, no timestamps) on 1 s clips."""

    def __init__(self, threads: int = 1) -> None:
        from speechdl.data.whisper import load_whisper

        self.model = load_whisper(threads)
        self.name = "whisper-tiny.en"

    def classify(self, wave: np.ndarray) -> str:
        segments, _ = self.model.transcribe(np.asarray(wave, np.float32).reshape(-1), language="en", beam_size=5,
                                            vad_filter=False, without_timestamps=True,
                                            condition_on_previous_text=False)
        return label_of_text(" ".join(s.text for s in segments))

    def __call__(self, waves: Sequence[np.ndarray]) -> list[str]:
        return [self.classify(w) for w in waves]


class MicroWakeWordAnchor:
    """One of ``pymicro-wakeword``'s four shipped wake-word models (okay nabu, hey jarvis, hey mycroft, alexa):
    its own features and streaming probabilities (10 ms chunks), detections where the probability passes the
    model's own cutoff, at most one per ``refractory`` s. ``scores(wave) -> [(time s, probability)]``."""

    PHRASES = {"okay nabu": "OKAY_NABU", "hey jarvis": "HEY_JARVIS", "hey mycroft": "HEY_MYCROFT", "alexa": "ALEXA"}

    def __init__(self, phrase: str, refractory: float = 1.0) -> None:
        try:
            from pymicro_wakeword import MicroWakeWord, Model
        except ImportError:
            raise ConfigError("pymicro-wakeword", "is not installed", "pip install pymicro-wakeword") from None
        if phrase not in self.PHRASES:
            raise ConfigError("microWakeWord", f"no shipped model for {phrase!r}", f"use one of {list(self.PHRASES)}")
        self._model_cls, self._model = MicroWakeWord, getattr(Model, self.PHRASES[phrase])
        self.phrase, self.refractory = phrase, refractory
        self.cutoff = float(MicroWakeWord.from_builtin(self._model).probability_cutoff)

    def scores(self, wave: np.ndarray) -> list[tuple[float, float]]:
        from pymicro_wakeword import MicroWakeWordFeatures

        mww, feats = self._model_cls.from_builtin(self._model), MicroWakeWordFeatures()
        pcm = to_int16(np.asarray(wave, np.float32).reshape(-1))
        out: list[tuple[float, float]] = []
        for i in range(0, len(pcm) - 159, 160):
            for f in feats.process_streaming(pcm[i:i + 160].tobytes()):
                p = mww.process_streaming_prob(f)
                if p is not None:
                    out.append(((i + 160) / SR, float(p)))
        mww.close()
        return out

    def detections(self, wave: np.ndarray) -> list[tuple[float, float]]:
        """``[(time, probability)]`` where the probability passes the cutoff (refractory applied)."""
        dets: list[tuple[float, float]] = []
        for t, p in self.scores(wave):
            if p > self.cutoff and (not dets or t - dets[-1][0] >= self.refractory):
                dets.append((t, p))
        return dets

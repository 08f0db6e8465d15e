"""Spoken words from synthetic voices: the keyword-spotting training set and its held-out-voice test set.

Every voice of a split says every keyword and ``unknown_per_voice`` words of the split's unknown pool
(:mod:`speechdl.tasks.kws.vocab`). Voices: espeak-ng English accents x variants x pitch/rate, Flite and
Festival voices with rate, pitch and vocal-tract warps, and (training only) the Piper voice at several
rates and warps. The ``eval`` split uses only voices no training clip has: the held-out espeak-ng variants
and the held-out Flite / Festival speakers (:data:`speechdl.data.synth.voices.EVAL_VARIANTS`,
``flite:rms``, ``festival:ked_diphone``).

Each clip is the word trimmed to its speech (plus 30 ms each side), 16 kHz mono FLAC, under
``<out>/clips/<label>/``; ``<out>/manifest.jsonl`` has one row per clip: ``audio`` (relative path),
``label``, ``word``, ``speaker``, ``engine``, ``split``, ``duration``. A rerun skips clips already written.

Example (one espeak-ng voice, two words; the real build runs ``speechdl kws synth``):
    >>> import tempfile
    >>> out = tempfile.mkdtemp()
    >>> rows = build_words(out, "eval", seed=0, espeak_voices=1, engine_voices=0, piper_voices=0,
    ...                    unknown_per_voice=1, keywords=("yes",))
    >>> sorted(r["label"] for r in rows)
    ['_unknown_', 'yes']
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from speechdl import audio
from speechdl.tasks.kws.vocab import KEYWORDS, UNKNOWN, unknown_words

SR = 16000
MARGIN = 0.03  # s of the original audio kept before and after the word
MAX_SECONDS = 1.2


def trim_word(x: np.ndarray, sample_rate: int, rel_db: float = -40.0) -> np.ndarray:
    """The span of ``x`` from its first to its last 10 ms frame within ``rel_db`` of the loudest frame,
    plus :data:`MARGIN`; ``(n,)`` -> ``(m,)`` (empty when ``x`` is silent)."""
    hop = max(1, sample_rate // 100)
    n = len(x) // hop
    if n == 0:
        return np.zeros(0, np.float32)
    power = np.mean(np.asarray(x[: n * hop], np.float64).reshape(n, hop) ** 2, 1)
    if power.max() <= 1e-12:
        return np.zeros(0, np.float32)
    on = np.flatnonzero(power >= power.max() * 10 ** (rel_db / 10))
    pad = int(MARGIN * sample_rate)
    a, b = max(0, on[0] * hop - pad), min(len(x), (on[-1] + 1) * hop + pad)
    return np.asarray(x[a:b], np.float32)


def split_voices(split: str, seed: int, espeak_voices: int, engine_voices: int, piper_voices: int) -> list[Any]:
    """The synthetic talkers of ``split``: espeak-ng, Flite/Festival pseudo-talkers (``engine_voices`` per
    base voice) and, for ``"train"`` only, ``piper_voices`` rate/warp variants of the Piper voice."""
    from speechdl.data.synth import engines as E
    from speechdl.data.synth import voices as V

    pool: list[Any] = list(V.voice_pool(["en"], seed, per_language=espeak_voices, split=split)["en"]) \
        if espeak_voices else []
    if engine_voices:
        pool += E.engine_pool(["flite", "festival"], seed, split=split, per_voice=engine_voices)
    if piper_voices and split == "train" and V.piper_available():
        rng = np.random.default_rng([seed, 19])
        for _ in range(piper_voices):
            pool.append(V.Voice("piper", "en", "en_US-joe-medium", "", "M", 50, int(rng.integers(140, 211)),
                                round(float(rng.uniform(0.88, 1.12)), 2)))
    return pool


def _say(job: tuple[Any, str, str]) -> tuple[str, float]:
    """Synthesize one word to ``path``; returns ``(path, seconds)`` (0 when the engine gave silence)."""
    from speechdl.data.synth.engines import synthesize

    voice, word, path = job
    if os.path.isfile(path):
        return path, audio.info(path).duration
    x, sr = synthesize(word, voice)
    x = trim_word(x, sr)
    if sr != SR and len(x):
        x = audio.resample(x, sr, SR)
    x = x[: int(MAX_SECONDS * SR)]
    if not len(x):
        return path, 0.0
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    audio.save(path, 0.7 * x / max(1e-6, float(np.abs(x).max())), SR)
    return path, len(x) / SR


def build_words(out: str | os.PathLike, split: str, seed: int = 0, espeak_voices: int = 120,
                engine_voices: int = 12, piper_voices: int = 12, unknown_per_voice: int = 20,
                unknown_pool: int = 400, keywords: Sequence[str] = KEYWORDS, workers: int = 1,
                progress: bool = False) -> list[dict[str, Any]]:
    """Write the word clips of ``split`` under ``out`` and its ``manifest.jsonl``; returns the rows."""
    out = Path(out)
    voices = split_voices(split, seed, espeak_voices, engine_voices, piper_voices)
    pool = unknown_words(split, unknown_pool)
    jobs, meta = [], []
    for i, v in enumerate(voices):
        rng = np.random.default_rng([seed, 23, i])
        unk = [pool[j] for j in rng.choice(len(pool), min(unknown_per_voice, len(pool)), replace=False)]
        for word in [*keywords, *unk]:
            label = word if word in keywords else UNKNOWN
            path = out / "clips" / label / f"{i:04d}_{word}.flac"
            jobs.append((v, word, str(path)))
            meta.append({"label": label, "word": word, "speaker": v.id, "engine": v.engine, "split": split})
    rows = []
    done = 0
    mapper = ProcessPoolExecutor(workers).map if workers > 1 else map
    for (path, seconds), m in zip(mapper(_say, jobs), meta):
        done += 1
        if progress and done % 100 == 0:
            print(f"{split}: {done}/{len(jobs)} words", end="\r", flush=True)
        if seconds > 0:
            rows.append({"audio": os.path.relpath(path, out), **m, "duration": round(seconds, 3)})
    tmp = out / "manifest.jsonl.tmp"
    out.mkdir(parents=True, exist_ok=True)
    tmp.write_text("".join(json.dumps(r) + "\n" for r in rows))
    os.replace(tmp, out / "manifest.jsonl")
    return rows

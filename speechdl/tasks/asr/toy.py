"""A toy recogniser problem that trains in seconds: text "spoken" as tones, one pitch per character.

Every letter is a short tone of its own frequency (``a`` 300 Hz, each next letter 250 Hz higher),
an apostrophe a click, a space a pause; a little noise and per-utterance jitter keep
it from being trivial. A model has to learn the CTC alignment of a real task without the cost of
speech. ``asr_tones`` (recipe dataset) renders such utterances in memory; :func:`write_tone_corpus`
writes them as wav files + lhotse manifests (for the manifest / CLI paths).

Example:
    >>> render("ab").shape
    (4789,)
    >>> ds = asr_tones(texts=["ab", "ba"], repeats=2, val=False)
    >>> len(ds), tuple(ds[0]["x"].shape), ds[0]["y"].tolist()
    (4, (30, 80), [4, 5])
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from speechdl.tasks.asr.data import ASRUtterances
from speechdl.train.datasets import register_dataset

SR = 16000
CHAR_S, GAP_S, SPACE_S = 0.11, 0.03, 0.10
DEFAULT_TEXTS = ["abc", "cab", "bad cab", "a dab", "cd", "dab ba"]


def letter_hz(ch: str) -> float:
    """Tone frequency of a letter: 300 Hz for ``a``, 250 Hz more per letter (``z``: 6550 Hz)."""
    return 300.0 + 250.0 * (ord(ch) - ord("a"))


def render(text: str, sample_rate: int = SR, seed: int = 0, rate: float = 1.0) -> np.ndarray:
    """Mono float32 audio of ``text`` (lower-case letters, apostrophes, spaces); ``rate`` > 1 speaks faster."""
    rng = np.random.default_rng(seed)
    parts = [np.zeros(int(GAP_S * sample_rate))]
    for ch in text:
        if ch == " ":
            parts.append(np.zeros(int(SPACE_S / rate * sample_rate)))
            continue
        n = int(CHAR_S / rate * sample_rate * rng.uniform(0.85, 1.15))
        t = np.arange(n) / sample_rate
        if ch == "'":
            tone = np.sign(np.sin(2 * np.pi * 2000 * t)) * np.exp(-t * 80)
        else:
            tone = np.sin(2 * np.pi * letter_hz(ch) * rng.uniform(0.99, 1.01) * t) * np.hanning(n)
        parts += [0.3 * tone, np.zeros(int(GAP_S / rate * sample_rate))]
    x = np.concatenate(parts)
    return (x + 0.003 * rng.standard_normal(len(x))).astype(np.float32)


class ToneUtterances(ASRUtterances):
    """:class:`~speechdl.tasks.asr.data.ASRUtterances` whose audio is rendered by :func:`render`."""

    def wave(self, i: int) -> np.ndarray:
        r = self.rows[i]
        return render(r["text"], self.cfg.sample_rate, seed=r["seed"])


def tone_rows(texts: list[str], repeats: int, seed: int = 0) -> list[dict[str, Any]]:
    """Rows (``read_utterances`` layout) of ``repeats`` renderings of every text."""
    rows = []
    for k in range(repeats):
        for j, text in enumerate(texts):
            s = seed * 100_003 + k * 1000 + j
            rows.append({"id": f"tone-{k}-{j}", "path": "", "offset": 0.0, "text": text, "seed": s,
                         "duration": len(render(text, SR, s)) / SR})
    return rows


@register_dataset("asr_tones")
def asr_tones(texts: list[str] | None = None, repeats: int = 4, val: bool = True, tokenizer: Any = "char",
              frontend: Any = None, speed_perturb: list[float] | None = None, n: int | None = None, seed: int = 0
              ) -> ToneUtterances | tuple[ToneUtterances, ToneUtterances]:
    """Recipe dataset ``asr_tones``: ``repeats`` renderings of each text for training (or ``n`` training
    utterances in all, when given); with ``val`` a ``(train, val)`` pair whose validation set is one
    fresh rendering of each text."""
    texts = list(texts or DEFAULT_TEXTS)
    rows = tone_rows(texts, repeats if n is None else -(-int(n) // len(texts)), seed)
    rows = rows if n is None else rows[: int(n)]
    train = ToneUtterances(rows, tokenizer, frontend, 0.0, float("inf"), speed_perturb, None, True, seed)
    if not val:
        return train
    return train, ToneUtterances(tone_rows(texts, 1, seed + 1), train.tokenizer, train.cfg, 0.0, float("inf"),
                                 None, None, False, seed)


def write_tone_corpus(out: str | os.PathLike, texts: list[str], seed: int = 0) -> Path:
    """Render ``texts`` to ``out/audio/*.wav`` and write the manifest directory ``out/manifest``."""
    from lhotse import Recording, RecordingSet, SupervisionSegment, SupervisionSet
    from lhotse.audio import AudioSource

    from speechdl import audio
    from speechdl.data.manifests import save_manifests

    out = Path(out)
    recs, sups = [], []
    for i, text in enumerate(texts):
        rid = f"utt{i:03d}"
        x = render(text, SR, seed * 1000 + i)
        path = out / "audio" / f"{rid}.wav"
        audio.save(path, x, SR)
        recs.append(Recording(rid, [AudioSource("file", [0], str(path.resolve()))], SR, len(x), len(x) / SR))
        sups.append(SupervisionSegment(rid, rid, 0.0, len(x) / SR, channel=0, text=text, language="en"))
    return save_manifests(out / "manifest", RecordingSet.from_recordings(recs), SupervisionSet.from_segments(sups))

"""Evaluation of recognisers on transcribed manifests: ``speechdl asr eval`` and ``benchmarks/asr.py``.

* :func:`batch_order`: utterances sorted by duration and grouped into batches of at most
  ``batch_seconds`` of padded audio (few padded frames, bounded memory).
* :func:`transcribe_all`: any ``waves -> texts`` function over those batches; hypotheses come back in
  item order.
* :func:`evaluate`: a bundle on manifests (audio read batch by batch), WER / CER and the worst
  utterances (:func:`speechdl.metrics.wer.report`) on :func:`~speechdl.tasks.asr.tokens.normalize_text`
  references.
* :class:`EvalSet` / :func:`load_eval_set`: a manifest's utterances with their audio in memory, so a
  benchmark times decoding only.

Example:
    >>> batch_order([3.0, 1.0, 2.0, 1.5], batch_seconds=4.0)
    [[1, 3], [2], [0]]
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from speechdl.console import progress
from speechdl.tasks.asr.tokens import normalize_text

Transcriber = Callable[[list[np.ndarray]], list[str]]


def batch_order(durations: Sequence[float], batch_seconds: float = 120.0) -> list[list[int]]:
    """Item indices sorted by duration, cut into batches whose padded length ``n * longest`` stays
    within ``batch_seconds`` (an item longer than that is a batch of its own)."""
    batches: list[list[int]] = []
    batch: list[int] = []
    for i in sorted(range(len(durations)), key=lambda k: (durations[k], k)):
        if batch and (len(batch) + 1) * durations[i] > batch_seconds:
            batches.append(batch)
            batch = []
        batch.append(i)
    if batch:
        batches.append(batch)
    return batches


def transcribe_all(transcribe: Transcriber, wave: Callable[[int], np.ndarray], durations: Sequence[float],
                   batch_seconds: float = 120.0, desc: str | None = None) -> list[str]:
    """``transcribe`` (a list of mono waveforms -> their texts) over every item, in duration-sorted
    batches (:func:`batch_order`); ``wave(i)`` gives item ``i``'s audio. Returns texts in item order.
    ``desc``: show a progress bar (utterances) under that name."""
    hyps = [""] * len(durations)
    bar = progress(None, total=len(durations), desc=desc or "", unit="utt", enabled=desc is not None)
    for batch in batch_order(durations, batch_seconds):
        for i, text in zip(batch, transcribe([wave(i) for i in batch])):
            hyps[i] = text
        bar.update(len(batch))
    bar.close()
    return hyps


def evaluate(asr: Any, manifests: str | os.PathLike | Sequence[str | os.PathLike], batch_seconds: float = 120.0,
             worst: int = 10, desc: str | None = "asr eval", **options: Any) -> dict[str, Any]:
    """WER / CER of an :class:`~speechdl.tasks.asr.infer.ASR` on transcribed manifests.

    ``options`` go to :meth:`~speechdl.tasks.asr.infer.ASR.transcribe_waves` (``beam``, ``lm``, ``alpha``,
    ``beta``, ``ctc_weight``). Utterances whose text has no unit of the bundle's tokenizer are left out.
    Returns :func:`speechdl.metrics.wer.report` (``utterances``, ``words``, ``wer``, ``cer``, ``worst``, ...).
    """
    from speechdl.metrics.wer import report
    from speechdl.tasks.asr.data import ASRUtterances

    data = ASRUtterances(manifests, asr.tokenizer, asr.cfg, 0.0, float("inf"), training=False)
    hyps = transcribe_all(lambda waves: asr.transcribe_waves(waves, **options), data.wave, data.durations,
                          batch_seconds, desc)
    return report(data.texts(), hyps, [r["id"] for r in data.rows], worst=worst)


@dataclass
class EvalSet:
    """Utterances of one evaluation set with their audio in memory.

    ``ids``; ``refs`` (normalised transcripts); ``waves`` (mono float32 at ``sample_rate``);
    ``durations`` (s).
    """

    name: str
    ids: list[str] = field(default_factory=list)
    refs: list[str] = field(default_factory=list)
    waves: list[np.ndarray] = field(default_factory=list)
    durations: list[float] = field(default_factory=list)
    sample_rate: int = 16000

    @property
    def seconds(self) -> float:
        """Total audio, seconds."""
        return float(sum(self.durations))

    def __len__(self) -> int:
        return len(self.ids)


def spread(n: int, k: int | None) -> list[int]:
    """``k`` indices spread evenly over ``range(n)`` (all of them when ``k`` is None or >= n).

    Example:
        >>> spread(10, 3), spread(2, 5)
        ([0, 4, 9], [0, 1])
    """
    if k is None or k >= n:
        return list(range(n))
    return sorted({int(round(x)) for x in np.linspace(0, n - 1, max(k, 1))})


def load_eval_set(manifests: str | os.PathLike | Sequence[str | os.PathLike], sample_rate: int = 16000,
                  max_utts: int | None = None, name: str | None = None) -> EvalSet:
    """The transcribed utterances of manifest directories (those whose normalised text is not empty), at
    most ``max_utts`` of them spread evenly over the set, with their audio loaded at ``sample_rate``."""
    from speechdl import audio
    from speechdl.tasks.asr.data import read_utterances

    rows = [r for r in read_utterances(manifests) if normalize_text(r["text"])]
    paths = [manifests] if isinstance(manifests, str | os.PathLike) else list(manifests)
    out = EvalSet(name or "+".join(Path(p).name for p in paths), sample_rate=sample_rate)
    for i in spread(len(rows), max_utts):
        r = rows[i]
        wave = audio.load(r["path"], sample_rate=sample_rate, offset=r["offset"], duration=r["duration"])[0]
        out.ids.append(r["id"])
        out.refs.append(normalize_text(r["text"]))
        out.waves.append(wave)
        out.durations.append(len(wave) / sample_rate)
    return out

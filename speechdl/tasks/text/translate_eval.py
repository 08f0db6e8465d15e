"""BLEU and chrF of a translation bundle on a parallel ``.tsv`` (``reference<TAB>source<TAB>target``), with sacrebleu.

Scores are sacrebleu's defaults (BLEU: 13a tokenisation, corpus level; chrF2), so they compare with published
figures; the source copied unchanged is the floor row (names and numbers that pass through).

Example:
    >>> copy_baseline(["Dios es amor."], ["Dios es amor."])["bleu"]
    100.0
"""

from __future__ import annotations

import os
import time
from typing import Any

from speechdl.errors import ConfigError


def scores(hyps: list[str], refs: list[str]) -> dict[str, float]:
    """Corpus BLEU and chrF of ``hyps`` against one reference each."""
    try:
        import sacrebleu
    except ImportError:
        raise ConfigError("sacrebleu", "not installed (BLEU needs it)", "pip install sacrebleu") from None
    return {"bleu": round(sacrebleu.corpus_bleu(hyps, [refs]).score, 2),
            "chrf": round(sacrebleu.corpus_chrf(hyps, [refs]).score, 2)}


def copy_baseline(sources: list[str], refs: list[str]) -> dict[str, float]:
    """The scores of leaving the source untranslated."""
    return scores(sources, refs)


def evaluate_bundle(model: str | os.PathLike, tsv: str | os.PathLike, beams: tuple[int, ...] = (1, 4),
                    limit: int | None = None) -> dict[str, Any]:
    """BLEU / chrF / sentences per second of ``model`` on ``tsv`` for each beam width, and the copy floor."""
    import speechdl
    from speechdl.tasks.text.translation import read_tsv

    rows = read_tsv(tsv)[:limit] if limit else read_tsv(tsv)
    pipe = speechdl.load(model)
    if pipe.task != "translate":
        raise ConfigError(model, f"is a {pipe.task!r} model, not a translate one", "pass a translate bundle")
    src, refs = [r[1] for r in rows], [r[2] for r in rows]
    out: dict[str, Any] = {"model": str(model), "tsv": str(tsv), "sentences": len(rows),
                           "copy_source": copy_baseline(src, refs), "beams": {}}
    for beam in beams:
        t0 = time.perf_counter()
        hyps = pipe.translator.translate(src, beam=beam)
        seconds = time.perf_counter() - t0
        out["beams"][str(beam)] = {**scores(hyps, refs), "sentences_per_second": round(len(rows) / seconds, 2),
                                   "examples": [{"source": s, "reference": r, "translation": h}
                                                for s, r, h in list(zip(src, refs, hyps))[:3]]}
    return out

"""Word and character error rates (with jiwer), corpus-level and per utterance.

Error rates are corpus-level: the summed edit operations of all utterances over the summed
reference length (not a mean of per-utterance rates). Texts are compared as given: normalise both
sides first (ASR uses :func:`speechdl.tasks.asr.tokens.normalize_text`). Characters include spaces.

Example:
    >>> round(wer(["the cat sat", "a dog"], ["the cat sat down", "a log"]), 4)
    0.4
    >>> round(cer(["abc"], ["abd"]), 4)
    0.3333
    >>> errors("the cat", "a cat", unit="word")
    {'substitutions': 1, 'deletions': 0, 'insertions': 0, 'hits': 1, 'errors': 1, 'ref_len': 2}
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def errors(ref: str, hyp: str, unit: str = "word") -> dict[str, int]:
    """Edit operations of one utterance: ``substitutions``, ``deletions``, ``insertions``, ``hits``,
    ``errors`` (their sum) and ``ref_len`` (reference words or characters); ``unit``: ``word`` | ``char``."""
    import jiwer

    if unit not in ("word", "char"):
        raise ValueError(f"unit must be word or char, not {unit!r}")
    ref_len = len(ref.split()) if unit == "word" else len(ref)
    if ref_len == 0:  # jiwer refuses empty references: everything in the hypothesis is an insertion
        ins = len(hyp.split()) if unit == "word" else len(hyp)
        return {"substitutions": 0, "deletions": 0, "insertions": ins, "hits": 0, "errors": ins, "ref_len": 0}
    if (len(hyp.split()) if unit == "word" else len(hyp)) == 0:
        return {"substitutions": 0, "deletions": ref_len, "insertions": 0, "hits": 0, "errors": ref_len,
                "ref_len": ref_len}
    out = jiwer.process_words(ref, hyp) if unit == "word" else jiwer.process_characters(ref, hyp)
    s, d, i, h = out.substitutions, out.deletions, out.insertions, out.hits
    return {"substitutions": s, "deletions": d, "insertions": i, "hits": h, "errors": s + d + i, "ref_len": ref_len}


def _rate(refs: Sequence[str], hyps: Sequence[str], unit: str) -> float:
    if len(refs) != len(hyps):
        raise ValueError(f"{len(refs)} references but {len(hyps)} hypotheses")
    e = n = 0
    for r, h in zip(refs, hyps):
        c = errors(r, h, unit)
        e, n = e + c["errors"], n + c["ref_len"]
    return e / n if n else float(e > 0)


def wer(refs: Sequence[str], hyps: Sequence[str]) -> float:
    """Corpus word error rate of hypotheses against references (lists of the same length)."""
    return _rate(refs, hyps, "word")


def cer(refs: Sequence[str], hyps: Sequence[str]) -> float:
    """Corpus character error rate (spaces count as characters)."""
    return _rate(refs, hyps, "char")


def report(refs: Sequence[str], hyps: Sequence[str], ids: Sequence[str] | None = None,
           worst: int = 10) -> dict[str, Any]:
    """WER, CER, operation counts and the ``worst`` utterances (most word errors, then highest WER).

    Returns ``{"utterances", "words", "chars", "wer", "cer", "substitutions", "deletions",
    "insertions", "worst": [{"id", "ref", "hyp", "errors", "wer"}, ...]}``.
    """
    if len(refs) != len(hyps):
        raise ValueError(f"{len(refs)} references but {len(hyps)} hypotheses")
    ids = list(ids) if ids is not None else [str(i) for i in range(len(refs))]
    tot = {"substitutions": 0, "deletions": 0, "insertions": 0, "errors": 0, "ref_len": 0}
    chars = [0, 0]
    rows = []
    for uid, r, h in zip(ids, refs, hyps):
        w = errors(r, h, "word")
        c = errors(r, h, "char")
        for k in tot:
            tot[k] += w[k]
        chars[0] += c["errors"]
        chars[1] += c["ref_len"]
        rows.append({"id": uid, "ref": r, "hyp": h, "errors": w["errors"],
                     "wer": round(w["errors"] / w["ref_len"], 4) if w["ref_len"] else float(w["errors"] > 0)})
    rows.sort(key=lambda x: (-x["errors"], -x["wer"], x["id"]))
    return {"utterances": len(refs), "words": tot["ref_len"], "chars": chars[1],
            "wer": tot["errors"] / tot["ref_len"] if tot["ref_len"] else float(tot["errors"] > 0),
            "cer": chars[0] / chars[1] if chars[1] else float(chars[0] > 0),
            "substitutions": tot["substitutions"], "deletions": tot["deletions"], "insertions": tot["insertions"],
            "worst": [r for r in rows[:worst] if r["errors"] > 0]}

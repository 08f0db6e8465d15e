"""Intrinsic evaluation of word vectors: word-pair similarity (Spearman) and analogies (accuracy).

The protocol is gensim's (``KeyedVectors.evaluate_word_pairs`` / ``evaluate_word_analogies``), so the
numbers compare with everything reported with it: words are matched case-insensitively among the
``restrict`` most frequent; a pair or question with a word outside them is skipped and counted as
out-of-vocabulary; an analogy ``a b c d`` is right when the word nearest to ``b - a + c`` (3CosAdd on
unit vectors, the three question words excluded) is ``d``.

Data sets: WordSim-353 (353 pairs, relatedness), SimLex-999 (999 pairs, similarity proper) and the
Google analogy set (19,544 questions, 14 sections) in the files gensim's wheel ships
(:func:`gensim_test_file`); any file in the same formats works.

Example:
    >>> import numpy as np, tempfile, os
    >>> from speechdl.tasks.text.vectors import WordVectors
    >>> v = WordVectors(["a", "b", "c", "d"], np.array([[1, 0], [1, .1], [0, 1], [-1, .2]], np.float32))
    >>> pairs = os.path.join(tempfile.mkdtemp(), "p.tsv")
    >>> _ = open(pairs, "w").write("# word1 word2 score\\na\\tb\\t9\\na\\tc\\t5\\na\\td\\t1\\na\\tzz\\t3\\n")
    >>> r = word_pairs(v, pairs); r["spearman"], r["pairs"], r["oov_pairs"]
    (1.0, 3, 1)
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from speechdl.errors import DataError
from speechdl.tasks.text.vectors import WordVectors

SETS = {"wordsim353": "wordsim353.tsv", "simlex999": "simlex999.txt", "analogy": "questions-words.txt"}


def gensim_test_file(name: str) -> Path:
    """Path of an evaluation set that gensim's wheel ships (``wordsim353``, ``simlex999``, ``analogy``)."""
    try:
        from gensim.test.utils import datapath
    except ImportError:
        raise DataError(name, "evaluation set not found (it ships in gensim's wheel)",
                        "pip install gensim, or pass the file's path") from None
    return Path(datapath(SETS.get(name, name)))


def _case_index(vectors: WordVectors, restrict: int) -> dict[str, int]:
    """Upper-cased word -> index among the first ``restrict`` words (the more frequent wins a clash)."""
    out: dict[str, int] = {}
    for i, w in enumerate(vectors.words[:restrict]):
        out.setdefault(w.upper(), i)
    return out


def _read(path: str | os.PathLike) -> list[str]:
    from speechdl.validate import read_text

    return read_text(path, "evaluation file", DataError, "pass a word-pair (.tsv) or analogy (.txt) file").splitlines()


def word_pairs(vectors: WordVectors, path: str | os.PathLike, restrict: int = 300000) -> dict[str, Any]:
    """Spearman and Pearson correlation between cosine similarity and human scores of the pairs in ``path``
    (tab-separated ``word1 word2 score``, ``#`` comments); pairs with unknown words are skipped."""
    from scipy import stats

    index = _case_index(vectors, restrict)
    gold, model, oov = [], [], 0
    for n, line in enumerate(_read(path), 1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t")
        try:
            a, b, score = parts[0].upper(), parts[1].upper(), float(parts[2])
        except (IndexError, ValueError):
            raise DataError(path, f"line {n} is not 'word1<TAB>word2<TAB>score'", "fix or remove the line") from None
        if a not in index or b not in index:
            oov += 1
            continue
        gold.append(score)
        model.append(float(vectors.unit[index[a]] @ vectors.unit[index[b]]))
    if len(gold) < 3:
        raise DataError(path, f"only {len(gold)} pair(s) with both words in the vocabulary ({oov} out of it)",
                        "pass a word-pair file (word1<TAB>word2<TAB>score) of words the model knows")
    return {"spearman": round(float(stats.spearmanr(gold, model)[0]), 4),
            "pearson": round(float(stats.pearsonr(gold, model)[0]), 4), "pairs": len(gold), "oov_pairs": oov,
            "oov_pct": round(100 * oov / (oov + len(gold)), 2)}


def analogies(vectors: WordVectors, path: str | os.PathLike, restrict: int = 300000,
              batch: int = 512) -> dict[str, Any]:
    """Accuracy on analogy questions (``: section`` headers, then ``a b c d`` lines): overall, and
    per section, over the questions whose four words are known."""
    index = _case_index(vectors, restrict)
    unit = vectors.unit[: max(index.values()) + 1] if index else vectors.unit[:0]
    upper = [w.upper() for w in vectors.words[: len(unit)]]
    sections: dict[str, list[int]] = {}
    section, questions, skipped = "", [], 0
    for n, line in enumerate(_read(path), 1):
        if line.startswith(":"):
            section = line[1:].strip()
            sections.setdefault(section, [0, 0])
            continue
        if not line.strip():
            continue
        words = line.upper().split()
        if len(words) != 4:
            raise DataError(path, f"line {n} is not four words", "fix or remove the line")
        if not section:
            raise DataError(path, f"line {n} comes before any ': section' header", "add a header")
        if all(w in index for w in words):
            questions.append((section, *(index[w] for w in words)))
        else:
            skipped += 1
    for lo in range(0, len(questions), batch):
        part = questions[lo:lo + batch]
        ids = np.array([q[1:] for q in part], dtype=np.int64)
        query = unit[ids[:, 1]] - unit[ids[:, 0]] + unit[ids[:, 2]]
        query /= np.maximum(np.linalg.norm(query, axis=1, keepdims=True), 1e-12)
        scores = query @ unit.T
        rows = np.arange(len(part))
        for col in range(3):
            scores[rows, ids[:, col]] = -np.inf
        best = scores.argmax(axis=1)
        for q, b, want in zip(part, best, ids[:, 3]):
            sections[q[0]][1] += 1
            sections[q[0]][0] += int(upper[b] == upper[want])
    correct = sum(c for c, _ in sections.values())
    total = sum(t for _, t in sections.values())
    if not total:
        raise DataError(path, f"no analogy question with all four words in the vocabulary ({skipped} skipped)",
                        "pass ': section' headers and 'a b c d' lines of words the model knows")
    return {"accuracy": round(correct / total, 4) if total else float("nan"), "questions": total,
            "skipped": skipped, "sections": {k: {"correct": c, "total": t} for k, (c, t) in sections.items() if t}}


def evaluate(vectors: WordVectors, restrict: int = 300000, sets: dict[str, str | os.PathLike] | None = None
             ) -> dict[str, Any]:
    """WordSim-353, SimLex-999 (Spearman) and Google analogy (accuracy) in one dict; ``sets`` maps
    ``wordsim353`` / ``simlex999`` / ``analogy`` to files (default: gensim's copies)."""
    sets = dict(sets or {})
    out: dict[str, Any] = {}
    for name in ("wordsim353", "simlex999"):
        out[name] = word_pairs(vectors, sets.get(name) or gensim_test_file(name), restrict)
    out["analogy"] = analogies(vectors, sets.get("analogy") or gensim_test_file("analogy"), restrict)
    return out

"""Word n-gram language models: build an ARPA file from text (interpolated modified Kneser-Ney) and score.

:func:`build_arpa` reads text files (one sentence per line, normalised with
:func:`~speechdl.tasks.asr.tokens.normalize_text` like the transcripts), counts n-grams of
``<s> w1 ... wn </s>`` and writes an ARPA file (log10, written atomically) whose probabilities are
interpolated modified Kneser-Ney (Chen & Goodman 1998, as KenLM's ``lmplz``):

* adjusted counts: raw counts for the highest order and for n-grams starting with ``<s>``; for lower
  orders the number of distinct words seen to the left (continuation counts);
* three discounts per order from the counts of counts (``n_c``: n-grams with adjusted count exactly ``c``),
  ``D_c = c - (c + 1) Y n_{c+1} / n_c`` with
  ``Y = n_1 / (n_1 + 2 n_2)``, falling back to 0.5 / 1.0 / 1.5 when the corpus is too small for them;
* ``p(w | h) = (a(h w) - D(a)) / a(h) + gamma(h) p(w | h')`` with ``gamma(h)`` the discounted mass; unigrams
  interpolate with the uniform distribution over the vocabulary (``</s>`` and ``<unk>`` included, ``<s>``
  never predicted), so ``<unk>`` gets ``gamma / |V|``;
* the ARPA back-off weight of a context is ``gamma(h)`` (an interpolated model written as a back-off model).

So for every context the probabilities over the vocabulary sum to one. :class:`ArpaLM` reads any ARPA
file (ours or KenLM's) and scores words with back-off, as KenLM does.

Example:
    >>> import tempfile, os
    >>> d = tempfile.mkdtemp(); txt = os.path.join(d, "t.txt")
    >>> _ = open(txt, "w").write("the cat sat\\nthe cat ran\\nthe dog sat\\n")
    >>> info = build_arpa([txt], order=3, out=os.path.join(d, "lm.arpa"))
    >>> info["ngrams"]
    [8, 8, 8]
    >>> lm = ArpaLM(os.path.join(d, "lm.arpa"))
    >>> lm.log10_prob("cat", ("<s>", "the")) > lm.log10_prob("dog", ("<s>", "the"))
    True
"""

from __future__ import annotations

import gzip
import math
import os
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from speechdl.errors import ConfigError, DataError
from speechdl.tasks.asr.tokens import normalize_text

BOS, EOS, UNK = "<s>", "</s>", "<unk>"
FALLBACK = (0.5, 1.0, 1.5)
Ngram = tuple[str, ...]


def read_sentences(paths: Sequence[str | os.PathLike]) -> list[list[str]]:
    """Normalised word lists, one per non-empty line of the text files."""
    from speechdl.validate import text_lines

    out = []
    for p in paths:   # a binary or non-UTF-8 file is refused at its first bad line, never read as U+FFFD
        for _, line in text_lines(p, "text", DataError, "save it as UTF-8 text, one sentence per line"):
            words = normalize_text(line).split()
            if words:
                out.append(words)
    if not out:
        raise DataError(", ".join(map(str, paths)), "no words in the text", "pass text files with sentences")
    return out


def count_ngrams(sentences: Iterable[Sequence[str]], order: int) -> list[Counter]:
    """Raw counts ``counts[k]`` (k = 1..order; index 0 unused) of ``<s> words </s>``; ``<s>`` is never predicted."""
    counts: list[Counter] = [Counter() for _ in range(order + 1)]
    for words in sentences:
        seq = [BOS, *words, EOS]
        for i in range(1, len(seq)):
            for k in range(1, min(order, i + 1) + 1):
                counts[k][tuple(seq[i - k + 1: i + 1])] += 1
    return counts


def adjusted_counts(counts: list[Counter], order: int) -> list[dict[Ngram, int]]:
    """Kneser-Ney counts: raw for the top order and ``<s>``-initial n-grams, else left continuations."""
    adj: list[dict[Ngram, int]] = [{} for _ in range(order + 1)]
    adj[order] = dict(counts[order])
    for k in range(order - 1, 0, -1):
        left: Counter = Counter(g[1:] for g in counts[k + 1])
        adj[k] = {g: (c if g[0] == BOS else left[g]) for g, c in counts[k].items()}
    return adj


def discounts(adj: dict[Ngram, int]) -> tuple[float, float, float]:
    """Modified Kneser-Ney discounts ``(D1, D2, D3+)`` of one order from its counts of counts."""
    n = Counter(c for c in adj.values() if c <= 4)   # n_c: n-grams seen exactly c times
    n1, n2, n3, n4 = (n[i] for i in (1, 2, 3, 4))
    if min(n1, n2, n3, n4) == 0:
        return FALLBACK
    y = n1 / (n1 + 2 * n2)
    d = (1 - 2 * y * n2 / n1, 2 - 3 * y * n3 / n2, 3 - 4 * y * n4 / n3)
    return d if all(0 < x < i + 1 for i, x in enumerate(d)) else FALLBACK


def kneser_ney(sentences: Iterable[Sequence[str]], order: int = 3) -> dict[str, Any]:
    """Interpolated modified Kneser-Ney model: ``{"order", "probs": [{ngram: p}], "backoffs": [{ctx: gamma}],
    "vocab": [...], "discounts": [...]}`` (natural probabilities, ``probs[k]`` for k = 1..order)."""
    if order < 1:
        raise ConfigError("--order", f"must be >= 1, got {order}", "e.g. --order 3")
    counts = count_ngrams(sentences, order)
    adj = adjusted_counts(counts, order)
    vocab = sorted({g[0] for g in adj[1]} | {UNK})
    probs: list[dict[Ngram, float]] = [{} for _ in range(order + 1)]
    backoffs: list[dict[Ngram, float]] = [{} for _ in range(order + 1)]
    ds = [FALLBACK] + [discounts(adj[k]) for k in range(1, order + 1)]
    for k in range(1, order + 1):
        d = ds[k]
        stats: dict[Ngram, list[float]] = defaultdict(lambda: [0.0, 0.0])   # context -> [total, discounted mass]
        for g, a in adj[k].items():
            s = stats[g[:-1]]
            s[0] += a
            s[1] += d[min(a, 3) - 1]
        for h, (total, mass) in stats.items():
            backoffs[k - 1][h] = mass / total
        for g, a in adj[k].items():
            total, mass = stats[g[:-1]]
            lower = probs[k - 1][g[1:]] if k > 1 else 1.0 / len(vocab)
            probs[k][g] = (a - d[min(a, 3) - 1]) / total + (mass / total) * lower
    unigram_gamma = backoffs[0].get((), 0.0)
    probs[1][(UNK,)] = unigram_gamma / len(vocab)
    return {"order": order, "probs": probs, "backoffs": backoffs, "vocab": vocab, "discounts": ds[1:]}


def write_arpa(model: dict[str, Any], out: str | os.PathLike) -> Path:
    """Write a :func:`kneser_ney` model as an ARPA file (log10), atomically."""
    from speechdl.audio import atomic_write

    order, probs, backoffs = model["order"], model["probs"], model["backoffs"]
    with atomic_write(out, suffix=".arpa") as tmp:
        with open(tmp, "w", encoding="utf-8") as f:
            uni = dict(probs[1])
            f.write("\\data\\\n")
            f.write(f"ngram 1={len(uni) + 1}\n")
            for k in range(2, order + 1):
                f.write(f"ngram {k}={len(probs[k])}\n")
            for k in range(1, order + 1):
                f.write(f"\n\\{k}-grams:\n")
                rows = sorted(probs[k].items())
                if k == 1:
                    rows = [((BOS,), None), *rows]
                for g, p in rows:
                    logp = -99.0 if p is None else math.log10(p)
                    line = f"{logp:.7f}\t{' '.join(g)}"
                    if k < order:
                        gamma = backoffs[k].get(g)
                        if gamma is not None and gamma > 0:
                            line += f"\t{math.log10(gamma):.7f}"
                    f.write(line + "\n")
            f.write("\n\\end\\\n")
    return Path(out)


def build_arpa(texts: Sequence[str | os.PathLike], order: int = 3,
               out: str | os.PathLike = "lm.arpa") -> dict[str, Any]:
    """Build a word n-gram ARPA file from text files; returns ``{"out", "order", "sentences", "words",
    "vocab", "ngrams": [count per order], "discounts": [[D1, D2, D3+] per order]}``."""
    sentences = read_sentences(texts)
    model = kneser_ney(sentences, order)
    path = write_arpa(model, out)
    return {"out": str(path), "order": order, "sentences": len(sentences), "words": sum(map(len, sentences)),
            "vocab": len(model["vocab"]), "ngrams": [len(model["probs"][1]) + 1] +
            [len(model["probs"][k]) for k in range(2, order + 1)],
            "discounts": [[round(x, 4) for x in d] for d in model["discounts"]]}


class ArpaLM:
    """A back-off word n-gram model read from an ARPA file (``.arpa`` or gzipped ``.arpa.gz``; log10
    probabilities, as KenLM scores).

    ``log10_prob(word, context)``: ``p(word | context)`` with back-off; words outside the vocabulary
    are ``<unk>``. ``score(words)``: the sentence's log10 probability with ``<s>`` / ``</s>``.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self.ngrams: list[dict[Ngram, tuple[float, float]]] = [{}]
        try:
            self._read()
        except (OSError, ValueError, IndexError) as err:
            raise ConfigError(path, f"not a readable ARPA file ({err.__class__.__name__})",
                              "build one with 'speechdl asr lm build'") from None
        if len(self.ngrams) < 2 or not self.ngrams[1]:
            raise ConfigError(path, "ARPA file without unigrams", "build one with 'speechdl asr lm build'")
        self.order = len(self.ngrams) - 1
        self.vocab = {g[0] for g in self.ngrams[1]}
        self._cache: dict[tuple[str, Ngram], float] = {}

    def _read(self) -> None:
        """Parse the whole file at once (a 560k-line LM: ~2 s; line-by-line validated reading took ~15 s)."""
        import sys

        from speechdl.validate import read_text

        lines = read_text(self.path, "ARPA file", ConfigError, "build one with 'speechdl asr lm build'",
                          opener=gzip.open if self.path.suffix == ".gz" else None).split("\n")
        intern = sys.intern   # one str object per word (memory)
        k = 0
        table: dict[Ngram, tuple[float, float]] = {}
        for line in lines:
            parts = line.split()
            if not parts:
                continue
            if k and (len(parts) == k + 1 or len(parts) == k + 2):   # the bulk: an n-gram line of the section
                bow = float(parts[k + 1]) if len(parts) == k + 2 else 0.0
                table[tuple(map(intern, parts[1:k + 1]))] = (float(parts[0]), bow)
                continue
            head = parts[0]
            if head == "\\end\\":
                break
            if head.startswith("\\") and head.endswith("-grams:"):
                k = int(head[1:head.index("-")])
                while len(self.ngrams) <= k:
                    self.ngrams.append({})
                table = self.ngrams[k]
                continue
            if head == "ngram" or head == "\\data\\":
                continue
            raise ValueError(line)

    def log10_prob(self, word: str, context: Sequence[str] = ()) -> float:
        """``log10 p(word | context)`` (the last ``order - 1`` context words are used)."""
        vocab = self.vocab
        word = word if word in vocab else UNK
        ctx = tuple(w if w in vocab else UNK for w in context)[-(self.order - 1):] if self.order > 1 else ()
        key = (word, ctx)
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        bow = 0.0
        while True:
            g = ctx + (word,)
            entry = self.ngrams[len(g)].get(g)
            if entry is not None:
                value = bow + entry[0]
                break
            if not ctx:
                value = bow - 99.0   # no <unk> in this file
                break
            bow += self.ngrams[len(ctx)].get(ctx, (0.0, 0.0))[1]
            ctx = ctx[1:]
        self._cache[key] = value
        return value

    def score(self, words: Sequence[str], bos: bool = True, eos: bool = True) -> float:
        """log10 probability of a word sequence (``<s>`` context first, ``</s>`` last when asked)."""
        ctx: list[str] = [BOS] if bos else []
        total = 0.0
        for w in [*words, EOS] if eos else list(words):
            total += self.log10_prob(w, ctx)
            ctx.append(w)
        return total


def perplexity(lm: ArpaLM, sentences: Sequence[Sequence[str]]) -> dict[str, Any]:
    """``{"sentences", "words", "oov", "oov_rate", "log10_prob", "perplexity"}`` of normalised sentences; every
    word and each ``</s>`` is predicted (out-of-vocabulary words as ``<unk>``, as the decoder scores them).

    Example:
        >>> import tempfile, os
        >>> d = tempfile.mkdtemp(); txt = os.path.join(d, "t.txt")
        >>> _ = open(txt, "w").write("the cat sat\\nthe dog sat\\n")
        >>> _ = build_arpa([txt], order=2, out=os.path.join(d, "lm.arpa"))
        >>> rep = perplexity(ArpaLM(os.path.join(d, "lm.arpa")), [["the", "cat", "sat"], ["a", "cat"]])
        >>> rep["words"], rep["oov"], rep["perplexity"] > 1
        (5, 1, True)
    """
    total, n_words, oov = 0.0, 0, 0
    for words in sentences:
        total += lm.score(words)
        n_words += len(words)
        oov += sum(w not in lm.vocab for w in words)
    n = n_words + len(sentences)
    return {"sentences": len(sentences), "words": n_words, "oov": oov, "oov_rate": round(oov / max(n_words, 1), 4),
            "log10_prob": round(total, 3), "perplexity": round(10 ** (-total / max(n, 1)), 2)}

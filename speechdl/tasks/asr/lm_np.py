"""Word n-gram LMs for corpora of millions of words: the Kneser-Ney of :mod:`~speechdl.tasks.asr.lm` counted
with numpy, plus count pruning.

Same model as :func:`speechdl.tasks.asr.lm.kneser_ney` (interpolated modified Kneser-Ney, three discounts per
order, uniform base over the vocabulary with ``<unk>``); unpruned, it writes the same probabilities and
back-off weights. N-grams are integer arrays: the k-gram ending at each token is numbered by
``np.unique(id of its (k-1)-gram prefix * V + last word)``, so counting, continuation counts (``bincount``
of each k-gram's suffix) and the per-context sums are vectorised. Memory: a few dozen bytes per token.

Pruning (``prune=(0, 0, 1, 1)``, as ``lmplz --prune``): a k-gram is dropped when its raw count is at most
``prune[k-1]`` (unigrams are always kept); the prefixes and suffixes of every kept n-gram are kept. Kept
n-grams keep their interpolated probabilities and each context's back-off weight is recomputed so that its
distribution still sums to one (``bow(h) = (1 - sum_kept p(w|h)) / (1 - sum_kept p(w|h'))``, as SRILM does).

Example:
    >>> import tempfile, os
    >>> d = tempfile.mkdtemp(); txt = os.path.join(d, "t.txt")
    >>> _ = open(txt, "w").write("the cat sat\\nthe cat ran\\nthe dog sat\\n")
    >>> build_arpa_np([txt], order=3, out=os.path.join(d, "lm.arpa"))["ngrams"]
    [8, 8, 8]
    >>> build_arpa_np([txt], order=3, prune=(0, 1, 1), out=os.path.join(d, "p.arpa"))["ngrams"]
    [8, 3, 1]
"""

from __future__ import annotations

import gzip
import math
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from speechdl.errors import ConfigError, DataError
from speechdl.tasks.asr.lm import BOS, EOS, FALLBACK, UNK

Corpus = tuple[np.ndarray, np.ndarray, list[str]]   # tokens, position in sentence, words by id


def encode(sentences: Iterable[Sequence[str]]) -> Corpus:
    """``(tokens int32, positions int32, words)`` of ``<s> w1 .. wn </s>`` per sentence; ids 0, 1, 2 are
    ``<s>``, ``</s>``, ``<unk>``, the others in order of first use."""
    ids: dict[str, int] = {BOS: 0, EOS: 1, UNK: 2}
    toks: list[int] = []
    poss: list[int] = []
    for words in sentences:
        toks.append(0)
        toks.extend(ids.setdefault(w, len(ids)) for w in words)
        toks.append(1)
        poss.extend(range(len(words) + 2))
    if not toks:
        raise DataError("corpus", "no words in the text", "pass text files with sentences")
    return np.asarray(toks, np.int32), np.asarray(poss, np.int32), list(ids)


def limit_vocab(corpus: Corpus, size: int) -> Corpus:
    """The corpus with every word outside the ``size`` most frequent ones (ties: first used) removed: such a word
    becomes a break (``<s>`` inside the sentence) that no n-gram crosses, so the words after it are counted as
    after a sentence start and ``<unk>`` keeps only its uniform share (a rare spelling stays costly for the
    decoder, as in a small-vocabulary model).

    Example:
        >>> tok, pos, words = limit_vocab(encode([["a", "b", "a", "c"]]), 1)
        >>> [words[t] for t in tok]
        ['<s>', 'a', '<s>', 'a', '<s>', '</s>']
    """
    if size < 1:
        raise ConfigError("--vocab", f"must be >= 1, got {size}", "e.g. --vocab 30000")
    tok, pos, words = corpus
    counts = np.bincount(tok, minlength=len(words))
    counts[:3] = 0
    ranked = np.argsort(-counts, kind="stable")[:size]
    keep = np.zeros(len(words), bool)
    keep[[0, 1, 2]] = True
    keep[ranked[counts[ranked] > 0]] = True
    tok = np.where(keep[tok], tok, 0).astype(np.int32)
    return tok, pos, words


def _discounts(a: np.ndarray) -> tuple[float, float, float]:
    n = np.bincount(np.minimum(a, 5), minlength=6)   # n[c]: n-grams seen exactly c times (c <= 4)
    n1, n2, n3, n4 = (int(x) for x in n[1:5])
    if min(n1, n2, n3, n4) == 0:
        return FALLBACK
    y = n1 / (n1 + 2 * n2)
    d = (1 - 2 * y * n2 / n1, 2 - 3 * y * n3 / n2, 3 - 4 * y * n4 / n3)
    return d if all(0 < x < i + 1 for i, x in enumerate(d)) else FALLBACK


def kneser_ney_np(corpus: Corpus, order: int = 4, prune: Sequence[int] = ()) -> dict[str, Any]:
    """Pruned modified Kneser-Ney over an :func:`encode` d corpus: ``{"order", "words", "prefix", "last",
    "logp", "bow", "keep", "discounts"}`` with per-order arrays (index k = 1..order; log10 values)."""
    if order < 1:
        raise ConfigError("--order", f"must be >= 1, got {order}", "e.g. --order 4")
    prune = list(prune) + [0] * (order - len(prune))
    if len(prune) != order or any(p < 0 for p in prune):
        raise ConfigError("--prune", f"needs {order} counts >= 0, got {list(prune)}", "e.g. --prune 0,0,1,1")
    tok, pos, words = corpus
    v = len(words)
    g = [np.empty(0, np.int64), tok.astype(np.int64)]      # g[k][i]: id of the k-gram ending at token i (-1: none)
    raw = [np.empty(0), np.bincount(tok[(pos >= 1) & (tok != 0)], minlength=v)]   # <s> (also a break) never predicted
    prefix = [np.empty(0, np.int64), np.zeros(v, np.int64)]
    last = [np.empty(0, np.int64), np.arange(v, dtype=np.int64)]
    suffix = [np.empty(0, np.int64), np.zeros(v, np.int64)]
    first = [np.empty(0, np.int64), np.arange(v, dtype=np.int64)]
    for k in range(2, order + 1):
        at = np.flatnonzero((pos >= k - 1) & (tok != 0))
        at = at[g[k - 1][at - 1] >= 0]                     # no n-gram across a break
        key = g[k - 1][at - 1] * v + tok[at]
        uniq, inv = np.unique(key, return_inverse=True)
        gk = np.full(len(tok), -1, np.int64)
        gk[at] = inv
        g.append(gk)
        raw.append(np.bincount(inv, minlength=len(uniq)))
        prefix.append(uniq // v)
        last.append(uniq % v)
        suf = np.empty(len(uniq), np.int64)
        suf[inv] = g[k - 1][at]
        suffix.append(suf)
        first.append(first[k - 1][prefix[k]])
    del g
    live1 = raw[1] > 0                                  # predicted words (never <s>)
    adj = [np.empty(0)] * (order + 1)
    adj[order] = raw[order]
    for k in range(order - 1, 0, -1):
        cont = np.bincount(suffix[k + 1], minlength=len(raw[k]))
        adj[k] = np.where(first[k] == 0, raw[k], cont)
    nvocab = int(live1.sum()) + (0 if live1[2] else 1)     # seen words + <unk>
    probs = [np.empty(0)] * (order + 1)
    gamma = [np.empty(0)] * (order + 1)                # gamma[k-1][h]: discounted mass of context h (a (k-1)-gram)
    ds = []
    for k in range(1, order + 1):
        a = adj[k] if k > 1 else np.where(live1, adj[1], 0)
        d = _discounts(a[a > 0] if k == 1 else a)
        ds.append(d)
        dd = np.where(a > 0, np.asarray((0.0, *d))[np.minimum(a, 3)], 0.0)
        nctx = 1 if k == 1 else len(raw[k - 1])
        total = np.bincount(prefix[k], weights=a, minlength=nctx)
        mass = np.bincount(prefix[k], weights=dd, minlength=nctx)
        with np.errstate(divide="ignore", invalid="ignore"):
            gamma[k - 1] = np.where(total > 0, mass / total, 0.0)
        lower = probs[k - 1][suffix[k]] if k > 1 else 1.0 / nvocab
        probs[k] = (a - dd) / total[prefix[k]] + gamma[k - 1][prefix[k]] * lower
    if not live1[2]:                                    # <unk> unseen: the uniform share only
        probs[1][2] = gamma[0][0] / nvocab
    keep = [np.empty(0, bool), live1.copy()]
    keep[1][[0, 2]] = True
    for k in range(2, order + 1):
        keep.append(raw[k] > prune[k - 1])
    for k in range(order, 1, -1):                       # prefixes and suffixes of kept n-grams stay
        keep[k - 1][prefix[k][keep[k]]] = True
        keep[k - 1][suffix[k][keep[k]]] = True
    bow = [np.zeros(len(raw[k])) for k in range(order + 1)] if order > 1 else [np.empty(0), np.zeros(v)]
    for k in range(2, order + 1):
        nctx = len(raw[k - 1])
        kept = keep[k]
        lower = probs[k - 1][suffix[k]]
        num = 1.0 - np.bincount(prefix[k][kept], weights=probs[k][kept], minlength=nctx)
        den = 1.0 - np.bincount(prefix[k][kept], weights=lower[kept], minlength=nctx)
        pruned_any = np.bincount(prefix[k][~kept], minlength=nctx) > 0
        with np.errstate(divide="ignore", invalid="ignore"):
            bow[k - 1] = np.where(pruned_any, np.clip(num, 0, None) / np.where(den > 0, den, np.nan), gamma[k - 1])
        bow[k - 1] = np.where(np.isfinite(bow[k - 1]) & (bow[k - 1] > 0), bow[k - 1], 0.0)
    with np.errstate(divide="ignore"):
        logp = [np.empty(0)] + [np.log10(probs[k]) for k in range(1, order + 1)]
        logb = [np.where(b > 0, np.log10(np.where(b > 0, b, 1.0)), np.nan) for b in bow]
    logp[1][0] = -99.0
    return {"order": order, "words": words, "prefix": prefix, "last": last, "logp": logp, "bow": logb,
            "keep": keep, "discounts": ds}


def write_arpa_np(model: dict[str, Any], out: str | os.PathLike) -> list[int]:
    """Write a :func:`kneser_ney_np` model as ARPA (gzipped when ``out`` ends in ``.gz``), atomically;
    returns the n-gram count per order."""
    from speechdl.audio import atomic_write

    order, words, keep = model["order"], model["words"], model["keep"]
    counts = [int(keep[k].sum()) for k in range(1, order + 1)]
    names: list[Any] = [None, np.asarray(words, dtype=object)]
    out = Path(out)
    opener = gzip.open if out.suffix == ".gz" else open
    with atomic_write(out, suffix="".join(out.suffixes)) as tmp:
        with opener(tmp, "wt", encoding="utf-8") as f:
            f.write("\\data\\\n" + "".join(f"ngram {k}={n}\n" for k, n in enumerate(counts, 1)))
            for k in range(1, order + 1):
                idx = np.flatnonzero(keep[k])
                if k > 1:
                    name = np.empty(len(keep[k]), dtype=object)
                    name[idx] = [f"{a} {b}" for a, b in zip(names[k - 1][model["prefix"][k][idx]],
                                                          np.asarray(words, dtype=object)[model["last"][k][idx]])]
                    names.append(name)
                f.write(f"\n\\{k}-grams:\n")
                lp, lb = model["logp"][k][idx], (model["bow"][k][idx] if k < order else None)
                rows = []
                for j, i in enumerate(idx):
                    line = f"{lp[j]:.7f}\t{names[k][i]}"
                    if lb is not None and not math.isnan(lb[j]):
                        line += f"\t{lb[j]:.7f}"
                    rows.append(line)
                    if len(rows) >= 100_000:
                        f.write("\n".join(rows) + "\n")
                        rows = []
                if rows:
                    f.write("\n".join(rows) + "\n")
            f.write("\n\\end\\\n")
    return counts


def build_arpa_np(texts: Sequence[str | os.PathLike], order: int = 4, out: str | os.PathLike = "lm.arpa",
                  prune: Sequence[int] = (), vocab: int | None = None) -> dict[str, Any]:
    """Build a (pruned) ARPA file from text files (normalised like the transcripts); ``vocab``: keep only the
    most frequent words (:func:`limit_vocab`). Returns ``{"out", "order", "sentences", "words", "vocab",
    "ngrams", "discounts", "prune"}``."""
    from speechdl.tasks.asr.lm import read_sentences

    sentences = read_sentences(texts)
    n_sent, n_words = len(sentences), sum(map(len, sentences))
    corpus = encode(sentences)
    del sentences
    if vocab is not None:
        corpus = limit_vocab(corpus, vocab)
    model = kneser_ney_np(corpus, order, prune)
    counts = write_arpa_np(model, out)
    return {"out": str(out), "order": order, "sentences": n_sent, "words": n_words,
            "vocab": int(model["keep"][1].sum()) - 1, "ngrams": counts, "prune": list(prune),
            "discounts": [[round(x, 4) for x in d] for d in model["discounts"]]}

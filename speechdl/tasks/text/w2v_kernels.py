"""word2vec's inner loops, compiled with numba: skip-gram and CBOW, negative sampling and hierarchical softmax.

The algorithm is word2vec.c's (and gensim's): per sentence, drop frequent words by subsampling, draw a
reduced window ``b`` per centre word (dynamic window), and for every (centre, context) pair take one
SGD step on the pair's logistic losses, the learning rate falling linearly with the share of the
corpus processed. Threads share the weight matrices without locks ("Hogwild", as both reference
implementations do); each chunk of sentences draws from its own linear congruential generator seeded
by ``(seed, epoch, chunk)``, so a run on one thread is exactly reproducible.

Shapes: ``syn0`` (V, D) input vectors (the embeddings), ``syn1neg`` (V, D) output vectors for negative
sampling, ``syn1`` (V - 1, D) Huffman inner-node vectors; all float32 and updated in place.

Example:
    >>> import numpy as np
    >>> from speechdl.tasks.text.vocab import Vocab
    >>> v = Vocab.from_counts({"a": 4, "b": 4, "c": 4}, min_count=1, sample=0)
    >>> tokens, starts = v.encode(["a b c a b c"] * 2)
    >>> syn0 = np.full((3, 4), 0.1, np.float32); syn1neg = np.zeros((3, 4), np.float32)
    >>> syn1 = np.zeros((2, 4), np.float32); codes, points, offsets = v.hs_arrays()
    >>> chunks = np.array([0, 2], np.int64); progress = np.zeros(1, np.int64)
    >>> kept = train_chunks(syn0, syn1neg, syn1, tokens, starts, chunks, progress, v.keep, v.cum_table,
    ...                     codes, points, offsets, True, False, 2, 2, True, 0.025, 0.0001, 12, 1, 0)
    >>> int(kept), bool(np.abs(syn1neg).sum() > 0)
    (12, True)
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

_MASK48 = np.uint64(0xFFFFFFFFFFFF)


@njit(inline="always")
def _next(r: np.uint64) -> np.uint64:
    """word2vec.c's linear congruential step (48-bit state)."""
    return (r * np.uint64(25214903917) + np.uint64(11)) & _MASK48


@njit(inline="always")
def _uniform(r: np.uint64) -> float:
    """A uniform number in [0, 1) from the generator state ``r``."""
    return ((r >> np.uint64(16)) & np.uint64(0xFFFFFF)) / 16777216.0


@njit(inline="always")
def _draw(cum_table: np.ndarray, r: np.uint64) -> int:
    """Index of the negative word for state ``r``: bisection in the cumulative unigram^0.75 table."""
    x = np.int64((r >> np.uint64(16)) % np.uint64(cum_table[-1]))
    lo, hi = 0, cum_table.shape[0] - 1
    while lo < hi:
        mid = (lo + hi) // 2
        if cum_table[mid] >= x:
            hi = mid
        else:
            lo = mid + 1
    return lo


MAX_EXP = 6.0
EXP_TABLE_SIZE = 1000
_SIGMOID = (1.0 / (1.0 + np.exp(-(np.arange(EXP_TABLE_SIZE) / EXP_TABLE_SIZE * 2 - 1) * MAX_EXP))).astype(np.float32)


@njit(inline="always")
def _sigmoid(f):
    """The logistic function from word2vec.c's 1000-entry table over [-6, 6], saturated outside it."""
    if f >= MAX_EXP:
        return np.float32(1.0)
    if f <= -MAX_EXP:
        return np.float32(0.0)
    return _SIGMOID[int((f + MAX_EXP) * (EXP_TABLE_SIZE / MAX_EXP / 2))]


@njit(fastmath=True, inline="always")
def _negative_step(l1, syn1neg, cum_table, word, negative, alpha, work, r):
    """Logistic steps for ``word`` (label 1) and ``negative`` drawn words (label 0) from input ``l1``
    (D,); gradients for ``l1`` accumulate in ``work``; returns the generator state. Rows are indexed,
    never sliced: a row view would count references on the shared matrix from every thread."""
    dim = l1.shape[0]
    for d in range(negative + 1):
        if d == 0:
            target, label = word, np.float32(1.0)
        else:
            r = _next(r)
            target = _draw(cum_table, r)
            if target == word:
                continue
            label = np.float32(0.0)
        f = np.float32(0.0)
        for k in range(dim):
            f += l1[k] * syn1neg[target, k]
        g = (label - _sigmoid(f)) * alpha
        for k in range(dim):
            work[k] += g * syn1neg[target, k]
            syn1neg[target, k] += g * l1[k]
    return r


@njit(fastmath=True, inline="always")
def _hs_step(l1, syn1, codes, points, start, stop, alpha, work):
    """Hierarchical-softmax steps along one word's Huffman path ``[start, stop)``. As in word2vec.c (and gensim),
    a node whose score is outside [-6, 6] is left alone (unlike negative sampling, which saturates)."""
    dim = l1.shape[0]
    for n in range(start, stop):
        node = points[n]
        f = np.float32(0.0)
        for k in range(dim):
            f += l1[k] * syn1[node, k]
        if f <= -MAX_EXP or f >= MAX_EXP:
            continue
        g = (np.float32(1 - codes[n]) - _sigmoid(f)) * alpha
        for k in range(dim):
            work[k] += g * syn1[node, k]
            syn1[node, k] += g * l1[k]


@njit(parallel=True, fastmath=True, cache=True)
def train_chunks(syn0, syn1neg, syn1, tokens, starts, chunks, progress, keep, cum_table, codes, points,
                 offsets, sg, hs, negative, window, cbow_mean, alpha0, min_alpha, total_words, seed, epoch):
    """Train on the sentences of ``len(chunks) - 1`` chunks, in parallel.

    Args:
        tokens (N,) int32, starts (S + 1,): the encoded corpus (see :meth:`Vocab.encode`).
        chunks (C + 1,) int64: sentence indices where chunks begin and the last one ends.
        progress (C,) int64: corpus words processed (over all epochs) before each chunk: sets the rate.
        keep (V,): subsampling keep probabilities. cum_table (V,): negative table.
        codes, points, offsets: Huffman paths (:meth:`Vocab.hs_arrays`).
        sg: skip-gram (else CBOW). hs: hierarchical softmax. negative: noise words per pair (0: none).
        window: maximal window. cbow_mean: CBOW averages (else sums) the context.
        alpha0, min_alpha: learning rate at the start and the end of training.
        total_words: corpus words over all epochs (the rate's schedule).
        seed, epoch: the generators' seeds.

    Returns:
        the number of words kept after subsampling (the "effective" words trained on).
    """
    n_chunks = chunks.shape[0] - 1
    dim = syn0.shape[1]
    kept_total = 0
    for c in prange(n_chunks):
        r = np.uint64(seed) * np.uint64(1000003) + np.uint64(epoch) * np.uint64(7919) + np.uint64(c) * np.uint64(
            104729) + np.uint64(1)
        r = _next(_next(r & _MASK48))
        work = np.empty(dim, np.float32)
        neu1 = np.empty(dim, np.float32)
        done = progress[c]
        kept_chunk = 0
        s_lo, s_hi = chunks[c], chunks[c + 1]
        longest = 0
        for s in range(s_lo, s_hi):
            longest = max(longest, starts[s + 1] - starts[s])
        sent = np.empty(max(longest, 1), np.int32)
        for s in range(s_lo, s_hi):
            a, b = starts[s], starts[s + 1]
            alpha = alpha0 - (alpha0 - min_alpha) * done / total_words
            alpha = np.float32(max(alpha, min_alpha))
            done += b - a
            n = 0
            for t in range(a, b):            # frequent-word subsampling
                w = tokens[t]
                if keep[w] < 1.0:
                    r = _next(r)
                    if keep[w] < _uniform(r):
                        continue
                sent[n] = w
                n += 1
            kept_chunk += n
            for i in range(n):
                r = _next(r)
                red = np.int64(r % np.uint64(window))   # dynamic window: b in [0, window)
                j0 = max(0, i - window + red)
                j1 = min(n, i + window + 1 - red)
                word = sent[i]
                if sg:
                    for j in range(j0, j1):
                        if j == i:
                            continue
                        ctx = sent[j]
                        for k in range(dim):
                            neu1[k] = syn0[ctx, k]
                            work[k] = 0.0
                        if hs:
                            _hs_step(neu1, syn1, codes, points, offsets[word], offsets[word + 1], alpha, work)
                        if negative > 0:
                            r = _negative_step(neu1, syn1neg, cum_table, word, negative, alpha, work, r)
                        for k in range(dim):
                            syn0[ctx, k] += work[k]
                else:
                    neu1[:] = 0.0
                    count = 0
                    for j in range(j0, j1):
                        if j != i:
                            ctx = sent[j]
                            for k in range(dim):
                                neu1[k] += syn0[ctx, k]
                            count += 1
                    if count == 0:
                        continue
                    if cbow_mean:
                        for k in range(dim):
                            neu1[k] /= count
                    work[:] = 0.0
                    if hs:
                        _hs_step(neu1, syn1, codes, points, offsets[word], offsets[word + 1], alpha, work)
                    if negative > 0:
                        r = _negative_step(neu1, syn1neg, cum_table, word, negative, alpha, work, r)
                    if not cbow_mean:
                        for k in range(dim):
                            work[k] /= count
                    for j in range(j0, j1):
                        if j != i:
                            ctx = sent[j]
                            for k in range(dim):
                                syn0[ctx, k] += work[k]
        kept_total += kept_chunk
    return kept_total

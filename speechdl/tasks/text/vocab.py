"""The word2vec vocabulary: counts, frequent-word subsampling, the negative-sampling table, the Huffman tree.

A corpus is a text file with one sentence per line and tokens separated by white space (what
``python -m speechdl.text.corpora`` writes). :func:`scan` counts it once; :class:`Vocab` keeps the words
seen at least ``min_count`` times, most frequent first, with everything training needs per word:

- ``keep``: the probability of keeping one occurrence under frequent-word subsampling (Mikolov et al.
  2013, in the form word2vec.c and gensim use: ``(sqrt(c / (s N)) + 1) (s N / c)``, capped at 1);
- ``cum_table``: the cumulative unigram^0.75 table negative samples are drawn from (bisection);
- ``codes`` / ``points``: each word's Huffman code and inner-node path (hierarchical softmax).

Example:
    >>> v = Vocab.from_counts({"the": 50, "cat": 5, "sat": 5, "rare": 1}, min_count=2, sample=1e-3)
    >>> v.words, v.index["cat"], len(v)
    (['the', 'cat', 'sat'], 1, 3)
    >>> [round(float(p), 3) for p in v.keep]      # "the" is kept less often than the rare words
    [0.036, 0.122, 0.122]
    >>> v.codes[0], v.points[0]                  # the most frequent word has the shortest code
    ([1], [1])
    >>> v.encode_line("the cat barked")          # words out of the vocabulary are dropped
    [0, 1]
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from speechdl.errors import DataError

CUM_TABLE_DOMAIN = 2**31 - 1     # word2vec.c / gensim: the negative table's integer range


def read_lines(path: str | Path) -> Iterator[str]:
    """Lines of the corpus file ``path`` (UTF-8; ``.gz`` read through gzip). A missing file, or a line that
    is not UTF-8 text, is a one-line :class:`DataError` naming ``FILE:LINE``."""
    import gzip

    from speechdl.validate import text_lines

    opener = gzip.open if str(path).endswith(".gz") else open
    for _, line in text_lines(path, "corpus", DataError, "pass a UTF-8 text file with one sentence per line",
                              opener=opener):
        yield line


def scan(lines: Iterable[str]) -> tuple[Counter, int, int]:
    """``(word counts, tokens, sentences)`` of white-space tokenised ``lines`` (one pass)."""
    counts: Counter = Counter()
    tokens = sentences = 0
    for line in lines:
        words = line.split()
        if words:
            counts.update(words)
            tokens += len(words)
            sentences += 1
    return counts, tokens, sentences


@dataclass
class Vocab:
    """Words seen at least ``min_count`` times, most frequent first (ties: alphabetical)."""

    words: list[str]
    counts: np.ndarray                      # (V,) int64
    sample: float = 1e-3
    ns_exponent: float = 0.75
    index: dict[str, int] = field(init=False)
    keep: np.ndarray = field(init=False)       # (V,) float64 subsampling keep probability
    cum_table: np.ndarray = field(init=False)  # (V,) int64 cumulative unigram^0.75 table
    codes: list[list[int]] = field(init=False, repr=False)
    points: list[list[int]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.counts = np.asarray(self.counts, dtype=np.int64)
        if not self.words:
            raise DataError(None, "the vocabulary is empty (no word reaches min_count)",
                            "use a larger corpus or a smaller --min-count")
        self.index = {w: i for i, w in enumerate(self.words)}
        self.keep = keep_probabilities(self.counts, self.sample)
        self.cum_table = cumulative_table(self.counts, self.ns_exponent)
        self.codes, self.points = huffman(self.counts)

    @classmethod
    def from_counts(cls, counts: dict[str, int] | Counter, min_count: int = 5, sample: float = 1e-3,
                    max_words: int | None = None, ns_exponent: float = 0.75) -> Vocab:
        """The vocabulary of ``counts``: words with count >= ``min_count``, at most ``max_words`` of them."""
        kept = sorted(((w, c) for w, c in counts.items() if c >= min_count), key=lambda wc: (-wc[1], wc[0]))
        if max_words:
            kept = kept[:max_words]
        return cls([w for w, _ in kept], np.array([c for _, c in kept], dtype=np.int64), sample, ns_exponent)

    def __len__(self) -> int:
        return len(self.words)

    def encode_line(self, line: str) -> list[int]:
        """Indices of the in-vocabulary tokens of ``line``."""
        index = self.index
        return [index[w] for w in line.split() if w in index]

    def encode(self, lines: Iterable[str], max_sentence: int = 10000) -> tuple[np.ndarray, np.ndarray]:
        """``(tokens (N,) int32, sentence starts (S + 1,) int64)`` of ``lines``; sentences longer than
        ``max_sentence`` words are cut into pieces (as gensim does), empty ones dropped."""
        ids: list[int] = []
        starts = [0]
        for line in lines:
            row = self.encode_line(line)
            for a in range(0, len(row), max_sentence):
                piece = row[a:a + max_sentence]
                ids.extend(piece)
                starts.append(starts[-1] + len(piece))
        return np.asarray(ids, dtype=np.int32), np.asarray(starts, dtype=np.int64)

    def hs_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Huffman paths as flat arrays for the kernels: ``(codes (L,) uint8, points (L,) int32,
        offsets (V + 1,) int64)``; word ``w``'s path is ``[offsets[w], offsets[w + 1])``."""
        lengths = np.array([len(c) for c in self.codes], dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(lengths)])
        codes = np.fromiter((b for c in self.codes for b in c), dtype=np.uint8, count=int(offsets[-1]))
        points = np.fromiter((p for ps in self.points for p in ps), dtype=np.int32, count=int(offsets[-1]))
        return codes, points, offsets


def keep_probabilities(counts: np.ndarray, sample: float) -> np.ndarray:
    """Probability of keeping one occurrence of each word (1 for all when ``sample`` is 0).

    Example:
        >>> keep_probabilities(np.array([1000, 10]), 1e-2).round(3).tolist()
        [0.111, 1.0]
    """
    counts = np.asarray(counts, dtype=np.float64)
    if not sample:
        return np.ones_like(counts)
    total = counts.sum()
    threshold = sample * total if sample < 1.0 else float(sample)   # gensim: sample >= 1 is an absolute count
    p = (np.sqrt(counts / threshold) + 1.0) * (threshold / counts)
    return np.minimum(p, 1.0)


def cumulative_table(counts: np.ndarray, exponent: float = 0.75) -> np.ndarray:
    """Cumulative table over ``[0, 2^31 - 1]`` with one step per word, proportional to count^exponent."""
    power = np.asarray(counts, dtype=np.float64) ** exponent
    cum = np.cumsum(power) / power.sum()
    return np.round(cum * CUM_TABLE_DOMAIN).astype(np.int64)


def huffman(counts: np.ndarray) -> tuple[list[list[int]], list[list[int]]]:
    """Huffman codes and inner-node paths of a frequency list (inner nodes numbered 0..V-2, root last).

    Example:
        >>> huffman(np.array([4, 2, 1, 1]))
        ([[0], [1, 0], [1, 1, 0], [1, 1, 1]], [[2], [2, 1], [2, 1, 0], [2, 1, 0]])
    """
    n = len(counts)
    if n == 1:
        return [[0]], [[0]]
    heap = [(int(c), i) for i, c in enumerate(counts)]
    heapq.heapify(heap)
    parent = np.zeros(2 * n - 1, dtype=np.int64)
    bit = np.zeros(2 * n - 1, dtype=np.uint8)
    for inner in range(n - 1):
        c1, a = heapq.heappop(heap)
        c2, b = heapq.heappop(heap)
        node = n + inner
        parent[a], parent[b], bit[b] = node, node, 1
        heapq.heappush(heap, (c1 + c2, node))
    root = 2 * n - 2
    codes, points = [], []
    for w in range(n):
        code, path, node = [], [], w
        while node != root:
            code.append(int(bit[node]))
            node = int(parent[node])
            path.append(node - n)
        codes.append(code[::-1])
        points.append(path[::-1])
    return codes, points

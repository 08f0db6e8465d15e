"""Word vectors: nearest neighbours, analogies, and word2vec's text and binary file formats.

:class:`WordVectors` is what a trained word2vec run, a bundle or a ``.bin``/``.txt`` file in the
standard word2vec format (the one word2vec.c writes and gensim, fastText and others read) loads into.
Similarity is the cosine; an analogy ``a : b :: c : ?`` is the word nearest to ``b - a + c`` among
the others (3CosAdd, as in Mikolov et al. 2013 and gensim's ``most_similar``).

Example:
    >>> import numpy as np, tempfile, os
    >>> v = WordVectors(["king", "queen", "man", "woman"],
    ...                 np.array([[1, 1, 0], [1, 0, 1], [0, 1, 0], [0, 0, 1]], np.float32))
    >>> v.analogy("man", "king", "woman")[0][0]
    'queen'
    >>> path = os.path.join(tempfile.mkdtemp(), "v.bin")
    >>> v.save_word2vec(path, binary=True); WordVectors.load(path).words == v.words
    True
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from speechdl.audio import atomic_write
from speechdl.errors import ConfigError, DataError


class WordVectors:
    """``words`` (V,) and their ``vectors`` (V, D) float32; optional ``counts`` (V,) from the corpus."""

    def __init__(self, words: Sequence[str], vectors: np.ndarray, counts: np.ndarray | None = None) -> None:
        self.words = list(words)
        self.vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if self.vectors.ndim != 2 or len(self.words) != len(self.vectors):
            raise DataError(None, f"{len(self.words)} words for vectors of shape {self.vectors.shape}",
                            "pass one vector row per word")
        self.counts = None if counts is None else np.asarray(counts, dtype=np.int64)
        self.index = {w: i for i, w in enumerate(self.words)}
        self._unit: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: object) -> bool:
        return word in self.index

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    @property
    def unit(self) -> np.ndarray:
        """Vectors scaled to unit length (V, D) (zero rows stay zero)."""
        if self._unit is None:
            norm = np.linalg.norm(self.vectors, axis=1, keepdims=True)
            self._unit = self.vectors / np.maximum(norm, 1e-12)
        return self._unit

    def lookup(self, word: str) -> int:
        """Index of ``word``; a one-line error naming close spellings if it is not in the vocabulary."""
        if word in self.index:
            return self.index[word]
        if word.lower() in self.index:
            return self.index[word.lower()]
        import difflib

        near = difflib.get_close_matches(word.lower(), self.words[:50000], n=3)
        raise ConfigError(f"word {word!r}", "not in the vocabulary",
                          f"try {', '.join(near)}" if near else "try another word")

    def vector(self, word: str) -> np.ndarray:
        """The vector of ``word`` (D,)."""
        return self.vectors[self.lookup(word)]

    def similarity(self, a: str, b: str) -> float:
        """Cosine similarity of two words."""
        return float(self.unit[self.lookup(a)] @ self.unit[self.lookup(b)])

    def query(self, positive: Sequence[str] = (), negative: Sequence[str] = ()) -> np.ndarray:
        """The unit-length sum of the unit vectors of ``positive`` minus those of ``negative`` (D,)."""
        if not positive and not negative:
            raise ConfigError("most_similar", "no query words", "give at least one word")
        q = np.sum([self.unit[self.lookup(w)] for w in positive] + [-self.unit[self.lookup(w)] for w in negative],
                   axis=0)
        return q / max(float(np.linalg.norm(q)), 1e-12)

    def most_similar(self, positive: Sequence[str] = (), negative: Sequence[str] = (), topn: int = 10,
                     restrict: int | None = None) -> list[tuple[str, float]]:
        """Words nearest (cosine) to the mean of the unit vectors of ``positive`` minus ``negative``;
        the query words themselves are left out. ``restrict``: search only the first (most frequent) words."""
        query = self.query(positive, negative)
        ids = [self.lookup(w) for w in (*positive, *negative)]
        unit = self.unit[:restrict] if restrict else self.unit
        scores = unit @ query
        scores[[i for i in ids if i < len(scores)]] = -np.inf
        k = min(topn, len(scores) - len(set(ids)))
        if k <= 0:
            return []
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(self.words[i], float(scores[i])) for i in top]

    def analogy(self, a: str, b: str, c: str, topn: int = 1) -> list[tuple[str, float]]:
        """``a : b :: c : ?`` by 3CosAdd: the words nearest to ``b - a + c``."""
        return self.most_similar(positive=[b, c], negative=[a], topn=topn)

    # ------------------------------------------------------------------ files
    def save_word2vec(self, path: str | os.PathLike, binary: bool = True) -> None:
        """Write word2vec's format (atomic): header ``"V D"``, then per word its token and ``D`` float32
        (binary) or decimal numbers (text), one word per line."""
        with atomic_write(path, suffix=".bin" if binary else ".txt") as tmp, open(tmp, "wb") as fh:
            fh.write(f"{len(self)} {self.dim}\n".encode())
            for word, row in zip(self.words, self.vectors):
                if binary:
                    fh.write(word.encode("utf-8") + b" " + row.astype("<f4").tobytes() + b"\n")
                else:
                    fh.write((word + " " + " ".join(f"{x:.6g}" for x in row) + "\n").encode("utf-8"))

    @classmethod
    def load(cls, path: str | os.PathLike) -> WordVectors:
        """Vectors from a word2vec ``.bin``/``.txt`` file (binary or text is detected) or a run/bundle directory."""
        p = Path(path)
        if p.is_dir():
            if (p / "vectors.bin").is_file():
                return cls.load(p / "vectors.bin")
            raise DataError(p, "holds no vectors.bin", "pass a word2vec run directory, a bundle or a vectors file")
        if not p.is_file():
            raise DataError(p, "vectors file not found", "pass a word2vec .bin or .txt file")
        data = p.read_bytes()
        try:
            head, _, body = data.partition(b"\n")
            n, dim = (int(x) for x in head.split())
        except ValueError:
            raise DataError(p, "not in word2vec format (first line must be 'WORDS DIM')",
                            "pass a file written by word2vec, gensim or speechdl") from None
        if n < 1 or dim < 1 or n * dim > len(body):   # every number takes a byte at least: a header that lies
            raise DataError(p, f"corrupt word2vec file (header says {n} x {dim}, the file holds {len(body)} bytes)",
                            "re-export the vectors")
        try:
            return cls(*_parse_binary(body, n, dim)) if _looks_binary(body, dim) else cls(*_parse_text(body, n, dim))
        except (ValueError, UnicodeDecodeError) as err:
            raise DataError(p, f"corrupt word2vec file ({err})", "re-export the vectors") from None


def _looks_binary(body: bytes, dim: int) -> bool:
    """True if the first record is a token, a space and ``4 dim`` bytes that are not one text line."""
    first = body[: body.find(b" ") + 1 + 4 * dim]
    line = body.split(b"\n", 1)[0]
    return len(line.split()) != dim + 1 or b"\x00" in first


def _parse_binary(body: bytes, n: int, dim: int) -> tuple[list[str], np.ndarray]:
    words, rows, pos, width = [], np.empty((n, dim), np.float32), 0, 4 * dim
    for i in range(n):
        while pos < len(body) and body[pos:pos + 1] in (b"\n", b"\r"):
            pos += 1
        space = body.find(b" ", pos)
        if space < 0 or space + 1 + width > len(body):
            raise ValueError(f"ends after {i} of {n} words")
        words.append(body[pos:space].decode("utf-8"))
        rows[i] = np.frombuffer(body, dtype="<f4", count=dim, offset=space + 1)
        pos = space + 1 + width
    return words, rows


def _parse_text(body: bytes, n: int, dim: int) -> tuple[list[str], np.ndarray]:
    lines = body.decode("utf-8").splitlines()
    if len(lines) < n:
        raise ValueError(f"{len(lines)} lines for {n} words")
    words, rows = [], np.empty((n, dim), np.float32)
    for i, line in enumerate(lines[:n]):
        parts = line.rstrip().split(" ")
        if len(parts) != dim + 1:
            raise ValueError(f"line {i + 2} has {len(parts) - 1} numbers, expected {dim}")
        words.append(parts[0])
        rows[i] = np.asarray(parts[1:], dtype=np.float32)
    return words, rows

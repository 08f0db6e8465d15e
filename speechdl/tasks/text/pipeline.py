"""The word2vec application: ``speechdl.load("word2vec").run("king - man + woman")`` -> nearest words.

A query is words joined by ``+`` and ``-``: one word gives its neighbours, ``a - b + c`` the analogy
"b is to a as c is to ?" (3CosAdd), a phrase the words nearest to the mean of its words. Words are
normalised the way the training corpus was (:func:`speechdl.text.corpora.normalize_for_embeddings`);
words the vocabulary lacks are reported in ``unknown`` and left out. The bundle holds ``words.txt`` and
``vectors.npy`` (float16: the model is a table, and half precision keeps its neighbours) or a
``vectors.bin`` in word2vec's format.

Example:
    >>> import speechdl
    >>> w2v = speechdl.load("word2vec")
    >>> w2v.task, w2v.inputs
    ('word2vec', 'text')
    >>> r = w2v.run("water", top=3)
    >>> len(r.neighbours), r.positive
    (3, ['water'])
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from speechdl.api import Option, Pipeline, Result
from speechdl.errors import DataError
from speechdl.tasks.text.vectors import WordVectors

OPTIONS = (
    Option("top", "int", 10, "how many nearest words to return", minimum=1, maximum=200),
    Option("vector", "bool", False, "also return the query's vector (unit length)"),
)


@dataclass
class NeighboursResult(Result):
    """The words nearest to a query: ``neighbours`` ``[{"word", "score"}]`` (cosine, best first)."""

    task: ClassVar[str] = "word2vec"
    query: str
    positive: list[str]
    negative: list[str]
    unknown: list[str]
    neighbours: list[dict[str, Any]]
    vector: list[float] | None = field(default=None)

    def to_text(self) -> str:
        terms = " ".join([*(f"+{w}" for w in self.positive), *(f"-{w}" for w in self.negative)])
        lines = [f"query: {terms.lstrip('+')}" + (f"  (unknown: {', '.join(self.unknown)})" if self.unknown else "")]
        lines += [f"{n['word']:<20} {n['score']:.3f}" for n in self.neighbours]
        return "\n".join(lines)


def parse_query(text: str) -> tuple[list[str], list[str]]:
    """``(positive, negative)`` words of ``"a - b + c"`` (words without a sign are positive), normalised.

    Example:
        >>> parse_query("King - Man + woman")
        (['king', 'woman'], ['man'])
        >>> parse_query("Deep learning in speech.")
        (['deep', 'learning', 'in', 'speech'], [])
    """
    from speechdl.text.corpora import normalize_for_embeddings

    positive: list[str] = []
    negative: list[str] = []
    sign = 1
    for piece in re.split(r"(?:(?<=\s)|^)([+-])(?=\s|\w)", text):
        if piece in ("+", "-"):
            sign = 1 if piece == "+" else -1
            continue
        words = [w for w in normalize_for_embeddings(piece) if any(ch.isalnum() for ch in w)]
        if words:
            (positive if sign > 0 else negative).append(words[0])
            positive.extend(words[1:])
            sign = 1
    return positive, negative


class Word2VecPipeline(Pipeline):
    """Nearest words, analogies and query vectors from a word2vec bundle."""

    task: ClassVar[str] = "word2vec"
    inputs: ClassVar[str] = "text"
    options = OPTIONS
    description: ClassVar[str] = "word embeddings: nearest words, analogies (a - b + c), query vectors"

    def __init__(self, path: Path | None, meta: dict[str, Any], vectors: WordVectors) -> None:
        super().__init__(path, meta, sample_rate=0)
        self.vectors = vectors

    @classmethod
    def from_bundle(cls, path: Path, meta: dict[str, Any]) -> Word2VecPipeline:
        return cls(path, meta, load_bundle_vectors(path))

    def _run(self, inputs: Any, top: int = 10, vector: bool = False) -> NeighboursResult:
        if not isinstance(inputs, str) or not inputs.strip():
            raise DataError("word2vec input", "expected a non-empty text", 'pass words, e.g. "king - man + woman"')
        positive, negative = parse_query(inputs)
        vocab = self.vectors
        unknown = [w for w in positive + negative if w not in vocab]
        pos = [w for w in positive if w in vocab]
        neg = [w for w in negative if w in vocab]
        if not pos and not neg:
            words = ", ".join(unknown) or repr(inputs[:40])
            raise DataError(f"word2vec query {inputs[:60]!r}", f"no word of it is in the vocabulary ({words})",
                              "try common English words, e.g. water, king - man + woman")
        near = vocab.most_similar(pos, neg, topn=top)
        vec = vocab.query(pos, neg).tolist() if vector else None
        return NeighboursResult(query=inputs, positive=pos, negative=neg, unknown=unknown,
                                neighbours=[{"word": w, "score": s} for w, s in near], vector=vec)

    def export_onnx(self, out: str | os.PathLike) -> dict[str, Any]:
        """The neighbour search as ONNX: ``ids (K,) int64, signs (K,) float32 -> scores (V,), top (k,)``."""
        from speechdl.tasks.text.onnx import export_neighbours

        return export_neighbours(self.vectors, out)


def load_bundle_vectors(path: str | os.PathLike) -> WordVectors:
    """The vectors of a word2vec bundle directory: ``weights.pt`` (``{"vectors": (V, D)}``, float16) with
    ``words.txt`` (one word per line), or a ``vectors.bin`` in word2vec's format."""
    p = Path(path)
    if (p / "weights.pt").is_file():
        from speechdl.pretrained.bundle import load_bundle

        words_file = p / "words.txt"
        if not words_file.is_file():
            raise DataError(words_file, "missing from the word2vec bundle", "re-export the bundle")
        words = words_file.read_text(encoding="utf-8").split("\n")[:-1]
        table = load_bundle(p).state_dict.get("vectors")
        if table is None or table.ndim != 2:
            raise DataError(p / "weights.pt", "holds no (words, dim) 'vectors' table", "re-export the bundle")
        return WordVectors(words, table.numpy())
    return WordVectors.load(p)

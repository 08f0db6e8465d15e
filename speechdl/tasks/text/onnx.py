"""word2vec's neighbour search as one ONNX graph: ``ids (K,) int64, signs (K,) float32 -> scores (V,), top (k,)``.

The graph holds the unit-length table; it sums the signed query rows, normalises, scores every word
by cosine and returns the best ``k`` indices, the query words excluded (their scores set to -2). It is
checked against :meth:`WordVectors.most_similar` on a few queries before it is written.

Example:
    >>> import numpy as np, tempfile
    >>> from speechdl.tasks.text.vectors import WordVectors
    >>> v = WordVectors(list("abcdefgh"), np.random.default_rng(0).standard_normal((8, 4)).astype(np.float32))
    >>> info = export_neighbours(v, tempfile.mkdtemp() + "/w2v.onnx", k=3)
    >>> info["max_abs_diff"] < 1e-5, info["same_neighbours"]
    (True, True)
"""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np
import torch

from speechdl.onnx.export import OPSET, TOLERANCE, graph_bytes, write_atomic
from speechdl.onnx.session import session
from speechdl.tasks.text.vectors import WordVectors


class NeighbourGraph(torch.nn.Module):
    """``ids (K,), signs (K,) -> (scores (V,), top (k,))`` over a fixed unit-length table (V, D)."""

    def __init__(self, unit: np.ndarray, k: int) -> None:
        super().__init__()
        self.register_buffer("unit", torch.from_numpy(np.ascontiguousarray(unit, np.float32)))
        self.k = int(k)

    def forward(self, ids: torch.Tensor, signs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        q = (self.unit[ids] * signs[:, None]).sum(0)
        q = q / q.norm().clamp_min(1e-12)
        scores = self.unit @ q
        masked = scores.index_fill(0, ids, -2.0)
        return scores, masked.topk(self.k).indices


def export_neighbours(vectors: WordVectors, out: str | os.PathLike, k: int = 10) -> dict[str, Any]:
    """Write the neighbour graph of ``vectors`` to ``out`` after checking it against numpy on a few queries."""
    t0 = time.perf_counter()
    k = max(1, min(k, len(vectors) - 3))
    net = NeighbourGraph(vectors.unit, k).eval()
    example = (torch.tensor([0, 1], dtype=torch.int64), torch.tensor([1.0, -1.0]))
    data = graph_bytes(net, example, ["ids", "signs"], ["scores", "top"],
                       {"ids": {0: "query_words"}, "signs": {0: "query_words"}})
    sess = session(data, 1)
    n = len(vectors)
    queries = [([0], [1.0]), ([min(1, n - 1), min(2, n - 1), 0], [1.0, 1.0, -1.0]), ([n - 1], [1.0])]
    worst, same = 0.0, True
    for ids, signs in queries:
        scores, top = sess.run(None, {"ids": np.asarray(ids, np.int64), "signs": np.asarray(signs, np.float32)})
        pos = [vectors.words[i] for i, s in zip(ids, signs) if s > 0]
        neg = [vectors.words[i] for i, s in zip(ids, signs) if s < 0]
        want = vectors.most_similar(pos, neg, topn=k)
        ref = vectors.unit @ vectors.query(pos, neg)
        worst = max(worst, float(np.abs(scores - ref).max()))
        same &= [vectors.words[i] for i in top[:len(want)]] == [w for w, _ in want]
    if worst > TOLERANCE:
        from speechdl.errors import ConfigError

        raise ConfigError(out, f"ONNX scores differ from numpy by {worst:.2g}", "report this as a bug")
    path = write_atomic(data, out)
    return {"path": str(path), "max_abs_diff": worst, "tolerance": TOLERANCE, "same_neighbours": bool(same),
            "opset": OPSET, "inputs": ["ids", "signs"], "outputs": ["scores", "top"], "bytes": len(data),
            "export_seconds": round(time.perf_counter() - t0, 3)}

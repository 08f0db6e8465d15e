"""Train word2vec (the lecture's embedding slide): skip-gram or CBOW, negative sampling or hierarchical softmax.

A one-hot word goes in, a ``dim``-wide bottleneck comes out, and the network learns to predict the
words around it (skip-gram) or the word from the words around it (CBOW); the bottleneck weights are
the embeddings. :func:`train` reads a corpus file (one sentence per line), builds the vocabulary
(:mod:`.vocab`) and runs the compiled inner loops (:mod:`.w2v_kernels`) on ``threads`` threads, epoch by
epoch, with a progress bar. The run directory holds ``config.json``, ``vocab.tsv``, a checkpoint after
every epoch (an interrupted run resumes from it) and, at the end, ``vectors.bin`` in word2vec's binary
format (gensim's ``KeyedVectors.load_word2vec_format(path, binary=True)`` reads it).

Example:
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "c.txt").write_text("the cat sat on the mat\\nthe dog sat on the log\\n" * 50)
    >>> vec = train(d / "c.txt", d / "run", Word2VecConfig(dim=8, min_count=1, epochs=2, threads=1), quiet=True)
    >>> vec.vectors.shape, sorted(p.name for p in (d / "run").iterdir())
    ((7, 8), ['checkpoint.npz', 'config.json', 'report.json', 'vectors.bin', 'vocab.tsv'])
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from speechdl.audio import atomic_write
from speechdl.errors import ConfigError, DataError
from speechdl.tasks.text.vectors import WordVectors
from speechdl.tasks.text.vocab import Vocab, read_lines, scan


@dataclass
class Word2VecConfig:
    """word2vec settings; the defaults are gensim's (so the benchmark compares like with like).

    Args:
        sg: skip-gram (True) or CBOW (False). hs: hierarchical softmax. negative: noise words per pair (0: off).
        dim: embedding size. window: maximal window (each centre word draws a smaller one: dynamic window).
        min_count: drop rarer words. max_words: keep at most this many (most frequent) words (0: all).
        sample: subsampling threshold (0: off). alpha, min_alpha: linear learning-rate schedule.
        cbow_mean: CBOW averages the context (else sums). epochs: passes over the corpus.
        threads: training threads. seed: vectors' initialisation and the samplers. chunk_words: words per
        parallel work item.
    """

    sg: bool = False
    hs: bool = False
    negative: int = 5
    dim: int = 100
    window: int = 5
    min_count: int = 5
    max_words: int = 0
    sample: float = 1e-3
    alpha: float = 0.025
    min_alpha: float = 0.0001
    cbow_mean: bool = True
    epochs: int = 5
    threads: int = 2
    seed: int = 1
    chunk_words: int = 10000

    def check(self) -> Word2VecConfig:
        """Raise a one-line :class:`ConfigError` for a setting that cannot train."""
        rules = [(self.dim >= 1, "dim", "at least 1"), (self.window >= 1, "window", "at least 1"),
                 (self.min_count >= 1, "min_count", "at least 1"), (self.epochs >= 1, "epochs", "at least 1"),
                 (self.threads >= 1, "threads", "at least 1"), (self.negative >= 0, "negative", "0 or more"),
                 (self.hs or self.negative > 0, "negative", "above 0 unless hs is on"),
                 (0 < self.alpha <= 1, "alpha", "in (0, 1]"), (0 <= self.min_alpha <= self.alpha, "min_alpha",
                                                               "in [0, alpha]"),
                 (self.sample >= 0, "sample", "0 or more"), (self.chunk_words >= 100, "chunk_words", ">= 100"),
                 (0 <= self.seed < 2**32, "seed", "in [0, 2^32)")]
        for ok, name, rule in rules:
            if not ok:
                raise ConfigError(f"word2vec {name}", f"must be {rule}, got {getattr(self, name)!r}",
                                  f"pass a {name} that is {rule}")
        return self


def _chunk_bounds(starts: np.ndarray, chunk_words: int) -> np.ndarray:
    """Sentence indices that cut the corpus into chunks of about ``chunk_words`` words."""
    cuts = np.searchsorted(starts, np.arange(chunk_words, starts[-1], chunk_words), side="left")
    return np.unique(np.concatenate([[0], cuts, [len(starts) - 1]])).astype(np.int64)


def _init_weights(n: int, cfg: Word2VecConfig) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(cfg.seed)
    syn0 = ((rng.random((n, cfg.dim), dtype=np.float32) - 0.5) / cfg.dim).astype(np.float32)
    return {"syn0": syn0, "syn1neg": np.zeros((n if cfg.negative else 1, cfg.dim), np.float32),
            "syn1": np.zeros((max(n - 1, 1) if cfg.hs else 1, cfg.dim), np.float32)}


def _save_checkpoint(path: Path, weights: dict[str, np.ndarray], epoch: int, stats: dict[str, Any]) -> None:
    with atomic_write(path, suffix=".npz") as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, epoch=np.int64(epoch), stats=json.dumps(stats), **weights)


def _load_vocab(path: Path, cfg: Word2VecConfig) -> Vocab:
    words, counts = [], []
    for line in path.read_text(encoding="utf-8").splitlines():
        w, _, c = line.rpartition("\t")
        words.append(w)
        counts.append(int(c))
    return Vocab(words, np.asarray(counts, np.int64), cfg.sample)


class _OpenMPThreads:
    """The OpenMP thread count of torch (when it is loaded), to put back after numba's parallel loops changed it."""

    def __init__(self) -> None:
        import sys

        self.torch = sys.modules.get("torch")
        self.threads = self.torch.get_num_threads() if self.torch is not None else None

    def restore(self) -> None:
        if self.torch is not None:
            self.torch.set_num_threads(self.threads)


def train(corpus: str | os.PathLike, out: str | os.PathLike, cfg: Word2VecConfig | None = None,
          quiet: bool = False) -> WordVectors:
    """Train word2vec on ``corpus`` into run directory ``out`` (resuming a run that was interrupted there).

    Returns the trained :class:`WordVectors` (the input vectors ``syn0``, (V, dim)). ``out/report.json``
    holds the vocabulary size, corpus words, training time and words per second.
    """
    from numba import config as numba_config
    from numba import set_num_threads

    from speechdl.console import interruptible, progress
    from speechdl.tasks.text import w2v_kernels as K

    cfg = (cfg or Word2VecConfig()).check()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    ckpt_path, config_path, vocab_path = out / "checkpoint.npz", out / "config.json", out / "vocab.tsv"
    resolved = {**dataclasses.asdict(cfg), "corpus": str(corpus)}
    if ckpt_path.is_file() and config_path.is_file():
        before = json.loads(config_path.read_text())
        changed = sorted(k for k in resolved if k != "threads" and before.get(k) != resolved[k])  # threads: free
        if changed:
            raise ConfigError(out, f"holds a run with other settings ({', '.join(changed)})",
                              "use another --out, or delete the directory to start over")
    t0 = time.perf_counter()
    if vocab_path.is_file() and ckpt_path.is_file():
        vocab = _load_vocab(vocab_path, cfg)
        raw_tokens = None
    else:
        counts, raw_tokens, _ = scan(read_lines(corpus))
        vocab = Vocab.from_counts(counts, cfg.min_count, cfg.sample, cfg.max_words or None)
    tokens, starts = vocab.encode(read_lines(corpus))
    if len(tokens) == 0:
        raise DataError(corpus, "no in-vocabulary words", "check the corpus: one sentence per line")
    vocab_seconds = time.perf_counter() - t0
    with atomic_write(config_path, suffix=".json") as tmp:
        Path(tmp).write_text(json.dumps(resolved, indent=1))
    with atomic_write(vocab_path, suffix=".tsv") as tmp:
        Path(tmp).write_text("".join(f"{w}\t{c}\n" for w, c in zip(vocab.words, vocab.counts.tolist())),
                             encoding="utf-8")

    start_epoch, stats = 0, {"train_seconds": 0.0, "kept_words": 0}
    weights = _init_weights(len(vocab), cfg)
    if ckpt_path.is_file():
        with np.load(ckpt_path) as z:
            start_epoch, stats = int(z["epoch"]), json.loads(str(z["stats"]))
            weights = {k: np.array(z[k]) for k in weights}
    codes, points, offsets = vocab.hs_arrays()
    chunks = _chunk_bounds(starts, cfg.chunk_words)
    words_per_chunk = np.diff(starts[chunks])
    n_chunks = len(chunks) - 1
    n_words = int(starts[-1])
    total = n_words * cfg.epochs

    def run(bounds: np.ndarray, done_before: np.ndarray, epoch: int) -> int:
        """The compiled loops on the chunks cut at ``bounds``; returns the words kept by subsampling."""
        return int(K.train_chunks(weights["syn0"], weights["syn1neg"], weights["syn1"], tokens, starts, bounds,
                                  done_before, vocab.keep, vocab.cum_table, codes, points, offsets, cfg.sg, cfg.hs,
                                  cfg.negative, cfg.window, cfg.cbow_mean, cfg.alpha, cfg.min_alpha, total, cfg.seed,
                                  epoch))

    omp = _OpenMPThreads()   # numba's OpenMP layer sets the process's OpenMP threads (torch's too): restored after
    try:
        set_num_threads(min(cfg.threads, numba_config.NUMBA_NUM_THREADS))   # numba's pool has one thread per core
        run(chunks[:1], chunks[:0], 0)   # no chunk: compiles (or loads the cached build) untimed
        block = max(4 * cfg.threads, 1)
        with interruptible(f"word2vec train into {out}", "epochs"):
            for epoch in range(start_epoch, cfg.epochs):
                bar = progress(None, total=n_words, desc=f"epoch {epoch + 1}/{cfg.epochs}", unit="word",
                               enabled=not quiet)
                t_epoch = time.perf_counter()
                before = epoch * n_words + np.concatenate([[0], np.cumsum(words_per_chunk)[:-1]])
                for b in range(0, n_chunks, block):
                    e = min(b + block, n_chunks)
                    stats["kept_words"] += run(chunks[b:e + 1], before[b:e], epoch)
                    bar.update(int(words_per_chunk[b:e].sum()))
                bar.close()
                stats["train_seconds"] += time.perf_counter() - t_epoch
                _save_checkpoint(ckpt_path, weights, epoch + 1, stats)
    finally:
        omp.restore()
    vec = WordVectors(vocab.words, weights["syn0"], counts=vocab.counts)
    vec.save_word2vec(out / "vectors.bin", binary=True)
    report = {"vocab": len(vocab), "corpus_words": n_words, "raw_tokens": raw_tokens, "epochs": cfg.epochs,
              "threads": cfg.threads, "vocab_seconds": round(vocab_seconds, 3),
              "train_seconds": round(stats["train_seconds"], 3),
              "words_per_second": round(n_words * cfg.epochs / max(stats["train_seconds"], 1e-9)),
              "effective_words": stats["kept_words"]}
    with atomic_write(out / "report.json", suffix=".json") as tmp:
        Path(tmp).write_text(json.dumps(report, indent=1))
    return vec

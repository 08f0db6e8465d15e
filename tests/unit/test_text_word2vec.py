"""word2vec: vocabulary, learning on a corpus with known structure, exact resume, file formats, evaluation parity."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from speechdl.errors import ConfigError, DataError
from speechdl.tasks.text import w2v_kernels
from speechdl.tasks.text.evaluate import analogies, word_pairs
from speechdl.tasks.text.vectors import WordVectors
from speechdl.tasks.text.vocab import Vocab, huffman
from speechdl.tasks.text.word2vec import Word2VecConfig, train

TOPICS = {"animal": "cat dog horse cow sheep goat pig duck".split(),
          "vehicle": "car bus train truck bike tram van boat".split(),
          "food": "bread cheese apple rice soup pasta cake salad".split()}
GLUE = "the a of and with on".split()


def topic_corpus(path: Path, sentences: int = 2400, seed: int = 0) -> Path:
    """Sentences of 8 words, each from one topic plus glue words: topic words share contexts only within a topic."""
    rng = np.random.default_rng(seed)
    names = list(TOPICS)
    lines = []
    for _ in range(sentences):
        words = TOPICS[names[rng.integers(len(names))]]
        lines.append(" ".join(str(rng.choice(words)) if rng.random() < 0.75 else str(rng.choice(GLUE))
                              for _ in range(8)))
    path.write_text("\n".join(lines) + "\n")
    return path


def topic_purity(vec: WordVectors, k: int = 3) -> float:
    """Share of each topic word's k nearest topic words that are of its own topic."""
    topic_of = {w: t for t, ws in TOPICS.items() for w in ws}
    hits = total = 0
    for w, t in topic_of.items():
        near = [n for n, _ in vec.most_similar([w], topn=len(vec)) if n in topic_of][:k]
        hits += sum(topic_of[n] == t for n in near)
        total += k
    return hits / total


def small(**kw) -> Word2VecConfig:
    return Word2VecConfig(**{"dim": 16, "min_count": 1, "epochs": 4, "threads": 1, "sample": 0, **kw})


@pytest.mark.parametrize("mode", [dict(sg=True), dict(sg=False), dict(sg=True, hs=True, negative=0),
                                  dict(sg=False, hs=True, negative=0)], ids=["sg-ns", "cbow-ns", "sg-hs", "cbow-hs"])
def test_learns_which_words_share_contexts(tmp_path, mode):
    corpus = topic_corpus(tmp_path / "c.txt")
    untrained = train(corpus, tmp_path / "r0", small(epochs=1, alpha=1e-6, min_alpha=1e-6, **mode), quiet=True)
    vec = train(corpus, tmp_path / "r", small(**mode), quiet=True)
    assert topic_purity(untrained) < 0.6
    assert topic_purity(vec) > 0.9


def test_training_leaves_the_process_openmp_threads_alone(tmp_path):
    """numba's OpenMP layer sets the process-wide OpenMP threads; torch's count must come back as it was."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        train(topic_corpus(tmp_path / "c.txt", 100), tmp_path / "r", small(epochs=1, threads=2), quiet=True)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_one_thread_is_reproducible_and_the_seed_matters(tmp_path):
    corpus = topic_corpus(tmp_path / "c.txt", 600)
    a = train(corpus, tmp_path / "a", small(seed=3), quiet=True).vectors
    b = train(corpus, tmp_path / "b", small(seed=3), quiet=True).vectors
    c = train(corpus, tmp_path / "c", small(seed=4), quiet=True).vectors
    assert np.array_equal(a, b) and not np.allclose(a, c)


def test_interrupted_run_resumes_to_the_same_vectors(tmp_path, monkeypatch):
    corpus = topic_corpus(tmp_path / "c.txt", 600)
    whole = train(corpus, tmp_path / "whole", small(epochs=3), quiet=True).vectors
    real, calls = w2v_kernels.train_chunks, []

    def stop_in_epoch_two(*args):
        if args[-1] == 1 and len(args[6]):     # epoch index 1, a real block (not the compile call)
            raise KeyboardInterrupt
        calls.append(args[-1])
        return real(*args)

    monkeypatch.setattr(w2v_kernels, "train_chunks", stop_in_epoch_two)
    with pytest.raises(KeyboardInterrupt):
        train(corpus, tmp_path / "cut", small(epochs=3), quiet=True)
    monkeypatch.setattr(w2v_kernels, "train_chunks", real)
    assert not (tmp_path / "cut" / "vectors.bin").exists()
    resumed = train(corpus, tmp_path / "cut", small(epochs=3), quiet=True).vectors
    assert np.array_equal(whole, resumed)
    report = json.loads((tmp_path / "cut" / "report.json").read_text())
    assert report["epochs"] == 3 and report["vocab"] == len(GLUE) + 24


def test_a_run_directory_refuses_other_settings(tmp_path):
    corpus = topic_corpus(tmp_path / "c.txt", 100)
    train(corpus, tmp_path / "r", small(epochs=1), quiet=True)
    with pytest.raises(ConfigError, match="other settings \\(dim\\)"):
        train(corpus, tmp_path / "r", small(epochs=1, dim=8), quiet=True)
    train(corpus, tmp_path / "r", small(epochs=1, threads=2), quiet=True)    # threads may change on resume


def test_bad_corpora_and_settings_are_one_line_errors(tmp_path):
    (tmp_path / "empty.txt").write_text("\n\n")
    (tmp_path / "bin.txt").write_bytes(b"abc\x00\xff\xfe" * 10)
    with pytest.raises(DataError, match="vocabulary is empty"):
        train(tmp_path / "empty.txt", tmp_path / "r1", small(), quiet=True)
    with pytest.raises(DataError, match="bin.txt:1: the corpus is not UTF-8"):
        train(tmp_path / "bin.txt", tmp_path / "r2", small(), quiet=True)
    with pytest.raises(DataError, match="not found"):
        train(tmp_path / "missing.txt", tmp_path / "r3", small(), quiet=True)
    with pytest.raises(ConfigError, match="negative"):
        small(negative=0).check()


def test_vocabulary_tables_follow_word2vec():
    counts = {"a": 1000, "b": 300, "c": 100, "d": 10, "e": 2}
    v = Vocab.from_counts(counts, min_count=2, sample=1e-3)
    total = sum(counts.values())
    want = [min(1.0, (np.sqrt(c / (1e-3 * total)) + 1) * (1e-3 * total) / c) for c in counts.values()]
    np.testing.assert_allclose(v.keep, want)
    power = np.array(list(counts.values()), float) ** 0.75
    np.testing.assert_allclose(np.diff(np.concatenate([[0], v.cum_table])) / v.cum_table[-1], power / power.sum(),
                               atol=1e-8)
    codes, points = huffman(np.array([50, 20, 10, 10, 5, 5]))
    words = ["".join(map(str, c)) for c in codes]
    assert not any(a != b and b.startswith(a) for a in words for b in words)   # prefix-free
    assert sum(2.0 ** -len(c) for c in codes) == 1.0                         # a full binary tree
    assert [len(c) for c in codes] == sorted(len(c) for c in codes)           # frequent words: shorter codes
    assert all(p[0] == 4 for p in points)                                     # every path starts at the root


def test_word2vec_files_round_trip_and_gensim_reads_them(tmp_path):
    rng = np.random.default_rng(0)
    v = WordVectors(["naïve", "b", "c"], rng.standard_normal((3, 5)).astype(np.float32))
    for binary, name in ((True, "v.bin"), (False, "v.txt")):
        v.save_word2vec(tmp_path / name, binary=binary)
        back = WordVectors.load(tmp_path / name)
        assert back.words == v.words
        np.testing.assert_allclose(back.vectors, v.vectors, rtol=1e-5)
    gensim = pytest.importorskip("gensim")
    kv = gensim.models.KeyedVectors.load_word2vec_format(str(tmp_path / "v.bin"), binary=True)
    np.testing.assert_array_equal(kv["naïve"], v.vectors[0])
    kv.save_word2vec_format(str(tmp_path / "g.bin"), binary=True)
    np.testing.assert_array_equal(WordVectors.load(tmp_path / "g.bin").vectors, v.vectors)
    for content in (b"3 5\nab" + b"x" * 20, b"999999999999 100\nab", b"2 2\na 1 2\nb 3\n"):
        (tmp_path / "bad.bin").write_bytes(content)
        with pytest.raises(DataError, match="corrupt word2vec file"):
            WordVectors.load(tmp_path / "bad.bin")


def test_evaluation_equals_gensims(tmp_path):
    gensim = pytest.importorskip("gensim")
    from gensim.test.utils import datapath

    pairs, questions = Path(datapath("wordsim353.tsv")), Path(datapath("questions-words.txt"))
    words = sorted({w.lower() for line in pairs.read_text().splitlines()[2:] for w in line.split("\t")[:2]})
    words += sorted({w.lower() for line in questions.read_text().splitlines()[:3000] if not line.startswith(":")
                     for w in line.split()} - set(words))
    rng = np.random.default_rng(1)
    table = rng.standard_normal((len(words), 8)).astype(np.float32)
    table[len(words) // 2:] += table[: len(words) - len(words) // 2] * 2      # some structure for analogies
    ours = WordVectors(words, table)
    kv = gensim.models.KeyedVectors(8)
    kv.add_vectors(words, table)
    short = tmp_path / "q.txt"
    short.write_text("\n".join(questions.read_text().splitlines()[:3000]) + "\n")
    want = kv.evaluate_word_pairs(str(pairs))
    got = word_pairs(ours, pairs)
    assert got["spearman"] == pytest.approx(want[1][0], abs=1e-4) and got["oov_pct"] == pytest.approx(want[2], abs=0.01)
    acc, sections = kv.evaluate_word_analogies(str(short))
    got = analogies(ours, short)
    assert got["accuracy"] == pytest.approx(acc, abs=1e-4)
    assert got["questions"] == len(sections[-1]["correct"]) + len(sections[-1]["incorrect"])

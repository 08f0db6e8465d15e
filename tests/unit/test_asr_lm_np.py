"""numpy Kneser-Ney (asr lm build): same model as the pure-Python builder, count pruning that keeps every
context normalised, a 4-gram ARPA read back by the decoder, the discount formula, and the CLI."""

from __future__ import annotations

import gzip
import importlib.util
import itertools
import random

import numpy as np
import pytest

from speechdl.cli import main
from speechdl.tasks.asr.decode import prefix_beam_search
from speechdl.tasks.asr.lm import ArpaLM, build_arpa, discounts
from speechdl.tasks.asr.lm_np import build_arpa_np

W = ["".join(p) for p in itertools.product("bdfgklmnpr", "aeiou", "lmnrst")]   # 300 words (no digits)


@pytest.fixture(scope="module")
def zipf(tmp_path_factory):
    """1500 sentences over 300 Zipf-distributed words: enough counts of counts for real (not fallback) discounts."""
    rng = random.Random(1)
    words = W
    weights = [1 / (i + 1) for i in range(300)]
    d = tmp_path_factory.mktemp("np")
    lines = [" ".join(rng.choices(words, weights, k=rng.randint(1, 10))) for _ in range(1500)]
    (d / "c.txt").write_text("\n".join(lines) + "\n")
    return d / "c.txt"


def read(path):
    """``{ngram: (logp, bow)}`` of an ARPA file."""
    out, k = {}, 0
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt") as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("\\") and line.endswith("-grams:"):
                k = int(line[1])
            elif k and line and not line.startswith("\\"):
                p = line.split("\t")
                out[p[1]] = (float(p[0]), float(p[2]) if len(p) > 2 else 0.0)
    return out


def test_discounts_use_counts_of_exactly_c():
    # n1 4, n2 2, n3 1, n4 1 (+ higher counts that must not count as n4): Y = 0.5
    adj = {(str(i),): c for i, c in enumerate([1, 1, 1, 1, 2, 2, 3, 4, 5, 9, 17])}
    assert discounts(adj) == pytest.approx((0.5, 1.25, 1.0))


@pytest.mark.parametrize("order", [2, 4])
def test_same_model_as_the_pure_python_builder(zipf, tmp_path, order):
    py = build_arpa([zipf], order=order, out=tmp_path / "py.arpa")
    fast = build_arpa_np([zipf], order=order, out=tmp_path / "np.arpa.gz")
    assert fast["ngrams"] == py["ngrams"] and fast["vocab"] == py["vocab"]
    assert fast["discounts"] == py["discounts"] and fast["discounts"][-1] != [0.5, 1.0, 1.5]
    a, b = read(tmp_path / "py.arpa"), read(tmp_path / "np.arpa.gz")
    assert a.keys() == b.keys()
    assert max(abs(a[g][0] - b[g][0]) + abs(a[g][1] - b[g][1]) for g in a) < 1e-6


def test_pruned_4gram_is_normalised_and_read_by_the_decoder(zipf, tmp_path):
    full = build_arpa_np([zipf], order=4, out=tmp_path / "full.arpa")
    info = build_arpa_np([zipf], order=4, prune=(0, 1, 1, 2), out=tmp_path / "lm.arpa.gz")
    assert info["ngrams"][0] == full["ngrams"][0] and all(
        p < f for p, f in zip(info["ngrams"][1:], full["ngrams"][1:]))
    lm = ArpaLM(tmp_path / "lm.arpa.gz")
    assert lm.order == 4
    arpa = read(tmp_path / "lm.arpa.gz")
    four = next(g for g in arpa if len(g.split()) == 4)
    *ctx, w = four.split()
    assert lm.log10_prob(w, ctx) == pytest.approx(arpa[four][0])    # a stored 4-gram is read back as written
    for g in arpa:                                                    # ARPA: every context of a kept n-gram is there
        if len(g.split()) > 1:
            assert " ".join(g.split()[:-1]) in arpa and " ".join(g.split()[1:]) in arpa
    vocab = [v for v in lm.vocab if v != "<s>"]
    for ctx in [(), ("<s>",), (W[0],), (W[0], W[1]), (W[0], W[0], W[1]), (W[3], W[9], W[0]), (W[99], "zz", W[2])]:
        assert sum(10 ** lm.log10_prob(v, ctx) for v in vocab) == pytest.approx(1.0, abs=1e-6), ctx
    labels = ["", "<eos>", " ", "b", "a", "l", "m"]                   # the decoder scores words with it
    frames = [3, 4, 5, 2, 3, 4, 6]                                     # "bal bam"
    lp = np.log(np.full((len(frames), len(labels)), 0.01) + np.eye(len(labels))[frames] * 0.9)
    assert prefix_beam_search(lp, labels, beam=4, lm=lm, alpha=0.5, beta=1.0) == frames


def test_kenlm_agrees_on_the_pruned_file(zipf, tmp_path):
    if importlib.util.find_spec("kenlm") is None:
        pytest.skip("kenlm not installed")
    import kenlm

    build_arpa_np([zipf], order=4, prune=(0, 0, 1, 1), out=tmp_path / "lm.arpa")
    ours, theirs = ArpaLM(tmp_path / "lm.arpa"), kenlm.Model(str(tmp_path / "lm.arpa"))
    for s in [" ".join(W[:3]), " ".join(W[:1] * 5), f"{W[5]} zz {W[1]} {W[0]}", W[299]]:
        assert ours.score(s.split()) == pytest.approx(theirs.score(s, bos=True, eos=True), abs=1e-4)


def test_cli_build_prune_and_perplexity(zipf, tmp_path, capsys):
    out = tmp_path / "lm.arpa.gz"
    assert main(["asr", "lm", "build", str(zipf), "--order", "4", "--prune", "0,0,1,1", "--out", str(out),
                 "--format", "json"]) == 0
    assert '"prune": [0, 0, 1, 1]' in capsys.readouterr().out and out.is_file()
    (tmp_path / "dev.txt").write_text(f"{W[0].upper()} {W[1]} {W[2]}\n{W[3]} zebra\n")
    assert main(["asr", "lm", "perplexity", str(tmp_path / "dev.txt"), "--lm", str(out), "--format", "json"]) == 0
    text = capsys.readouterr().out
    assert '"words": 5' in text and '"oov": 1' in text
    assert main(["asr", "lm", "build", str(zipf), "--prune", "0,x", "--out", str(tmp_path / "x.arpa")]) == 2
    err = capsys.readouterr().err
    assert "--prune" in err and len(err.strip().splitlines()) == 1


def test_limited_vocabulary_breaks_ngrams_at_dropped_words(zipf, tmp_path):
    info = build_arpa_np([zipf], order=3, out=tmp_path / "v.arpa", vocab=50)
    assert info["vocab"] == 52                                         # 50 words + </s> + <unk>
    lm = ArpaLM(tmp_path / "v.arpa")
    assert len(lm.vocab - {"<s>", "</s>", "<unk>"}) == 50 and W[0] in lm.vocab and W[299] not in lm.vocab
    assert W[10] in lm.vocab and lm.log10_prob("<unk>") < lm.log10_prob(W[10]) - 1   # <unk>: the uniform share only
    (tmp_path / "t.txt").write_text("a b zz c d\nc d a b\n")
    build_arpa_np([tmp_path / "t.txt"], order=3, out=tmp_path / "t.arpa", vocab=4)
    grams = read(tmp_path / "t.arpa")
    assert "b <s>" not in grams and "b c" not in grams and "a b c" not in grams and "d a b" in grams
    assert grams["<s> c"][0] > grams["<s> a"][0]                   # after the break: as after a sentence start
    vocab = [v for v in lm.vocab if v != "<s>"]
    for ctx in [(), (W[0],), ("<unk>", W[0]), (W[299], W[298])]:
        assert sum(10 ** lm.log10_prob(v, ctx) for v in vocab) == pytest.approx(1.0, abs=1e-6), ctx

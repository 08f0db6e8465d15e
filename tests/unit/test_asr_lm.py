"""Word n-gram LM builder (interpolated modified Kneser-Ney -> ARPA) and the ARPA scorer; golden checks."""

from __future__ import annotations

import importlib.util
import random

import pytest

from speechdl.errors import ConfigError, DataError
from speechdl.tasks.asr.lm import ArpaLM, build_arpa

WORDS = "the a cat dog sat ran on mat big small red house".split()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    rng = random.Random(0)
    d = tmp_path_factory.mktemp("lm")
    lines = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 9))) for _ in range(300)]
    (d / "a.txt").write_text("\n".join(lines[:150]) + "\n\n")
    (d / "b.txt").write_text("\n".join(lines[150:]).upper() + "\n")      # normalised like transcripts
    return d


def test_unigram_probabilities_by_hand(tmp_path):
    (tmp_path / "t.txt").write_text("a a b\n")
    info = build_arpa([tmp_path / "t.txt"], order=1, out=tmp_path / "u.arpa")
    assert info["ngrams"] == [5] and info["vocab"] == 4                 # <s> a b </s> <unk>
    lm = ArpaLM(tmp_path / "u.arpa")
    # counts a 2, b 1, </s> 1; fallback discounts 0.5/1/1.5 -> gamma = (1 + 0.5 + 0.5) / 4, uniform over 4 words
    for w, p in {"a": 0.375, "b": 0.25, "</s>": 0.25, "<unk>": 0.125, "zebra": 0.125}.items():
        assert 10 ** lm.log10_prob(w) == pytest.approx(p, abs=1e-6)


@pytest.mark.parametrize("order", [2, 3, 4])
def test_probabilities_sum_to_one_for_every_kind_of_context(corpus, tmp_path, order):
    info = build_arpa([corpus / "a.txt", corpus / "b.txt"], order=order, out=tmp_path / "lm.arpa")
    assert info["sentences"] == 300 and info["vocab"] == len(WORDS) + 2 and len(info["ngrams"]) == order
    lm = ArpaLM(tmp_path / "lm.arpa")
    vocab = [w for w in lm.vocab if w != "<s>"]
    contexts = [(), ("<s>",), ("the",), ("<s>", "the"), ("cat", "sat"), ("zebra", "qq"), ("mat", "red", "house"),
                ("house", "<unk>")]
    for ctx in contexts:
        total = sum(10 ** lm.log10_prob(w, ctx) for w in vocab)
        assert total == pytest.approx(1.0, abs=1e-4), ctx
    assert lm.log10_prob("cat", ("the",)) > lm.log10_prob("zebra", ("the",))
    assert not list(tmp_path.glob(".*"))                                 # written atomically, no temp left


def test_kenlm_reads_the_file_and_agrees_with_our_scorer(corpus, tmp_path):
    if importlib.util.find_spec("kenlm") is None:
        pytest.skip("kenlm not installed")
    import kenlm

    build_arpa([corpus / "a.txt", corpus / "b.txt"], order=3, out=tmp_path / "lm.arpa")
    ours, theirs = ArpaLM(tmp_path / "lm.arpa"), kenlm.Model(str(tmp_path / "lm.arpa"))
    for sentence in ["the cat sat on the mat", "big red zebra house", "a", "house house house the"]:
        assert ours.score(sentence.split()) == pytest.approx(theirs.score(sentence, bos=True, eos=True), abs=1e-4)


def test_gzipped_arpa_reads_the_same_model(corpus, tmp_path):
    import gzip
    import shutil

    build_arpa([corpus / "a.txt"], order=3, out=tmp_path / "lm.arpa")
    with open(tmp_path / "lm.arpa", "rb") as src, gzip.open(tmp_path / "lm.arpa.gz", "wb") as dst:
        shutil.copyfileobj(src, dst)
    plain, packed = ArpaLM(tmp_path / "lm.arpa"), ArpaLM(tmp_path / "lm.arpa.gz")
    assert packed.ngrams == plain.ngrams and packed.order == 3
    assert packed.score("the big cat sat".split()) == plain.score("the big cat sat".split())


def test_lm_errors(tmp_path):
    with pytest.raises(DataError, match="text not found"):
        build_arpa([tmp_path / "missing.txt"], out=tmp_path / "x.arpa")
    (tmp_path / "empty.txt").write_text("!!\n\n")
    with pytest.raises(DataError, match="no words"):
        build_arpa([tmp_path / "empty.txt"], out=tmp_path / "x.arpa")
    (tmp_path / "t.txt").write_text("a b\n")
    with pytest.raises(ConfigError, match="order"):
        build_arpa([tmp_path / "t.txt"], order=0, out=tmp_path / "x.arpa")
    (tmp_path / "bad.arpa").write_text("\\data\\\nngram 1=1\n\n\\1-grams:\nnot-a-number w\n")
    with pytest.raises(ConfigError, match="ARPA"):
        ArpaLM(tmp_path / "bad.arpa")

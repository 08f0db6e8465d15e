"""ASR output units: the shared normalisation, character and BPE tokenizers, their round trips."""

from __future__ import annotations

import pytest

from speechdl.errors import ConfigError
from speechdl.tasks.asr.tokens import (
    BPETokenizer,
    CharTokenizer,
    Tokenizer,
    load_tokenizer,
    normalize_text,
    save_tokenizer,
    spell_number,
    tokenizer_from_dict,
)

TEXTS = ["The quick brown fox jumps over the lazy dog.", "She said: \u201cdon't stop!\u201d",
         "It costs 1,250 dollars, 3.5% more than in 1999.", "Les \u00e9l\u00e8ves -- caf\u00e9 au lait."]


def test_normalisation_choices():
    assert normalize_text("  Hello,   WORLD!! ") == "hello world"
    assert normalize_text("rock-n-roll") == "rock n roll"
    assert normalize_text("'quoted' students' don\u2019t") == "quoted students don't"
    assert normalize_text("1,250 and 3.5%") == "one thousand two hundred fifty and three point five percent"
    assert normalize_text("Caf\u00e9 NA\u00cfVE") == "cafe naive"
    assert normalize_text("\u4f60\u597d ok") == "ok"
    assert spell_number(0) == "zero" and spell_number(101) == "one hundred one"
    assert spell_number(2_000_013) == "two million thirteen"
    for t in TEXTS:  # idempotent: references normalised twice stay the same
        assert normalize_text(normalize_text(t)) == normalize_text(t)


def test_char_tokenizer_round_trip_and_ids():
    tok = CharTokenizer()
    assert isinstance(tok, Tokenizer)
    assert tok.vocab_size == 30 and tok.blank_id == 0 and tok.eos_id == 1 and tok.labels[:3] == ["", "<eos>", " "]
    for t in TEXTS:
        ids = tok.encode(t)
        assert min(ids) >= 2 and tok.decode(ids) == normalize_text(t)
    assert tok.decode([0, 8, 0, 1, 9]) == "ef"          # specials are dropped
    again = tokenizer_from_dict(tok.to_dict())
    assert again.encode(TEXTS[0]) == tok.encode(TEXTS[0])


def test_bpe_train_save_load_round_trip(tmp_path):
    corpus = TEXTS * 10 + ["the cat sat on the mat", "a dog and a cat", "the lazy fox"] * 10
    tok = BPETokenizer.train(corpus, vocab_size=60, out=tmp_path / "bpe")
    assert isinstance(tok, Tokenizer) and tok.vocab_size <= 60 and tok.labels[0] == "" and tok.labels[1] == "<eos>"
    assert any(lab.startswith("\u2581") for lab in tok.labels)
    for t in TEXTS:
        ids = tok.encode(t)
        assert min(ids) >= 2 and tok.decode(ids) == normalize_text(t)
    assert len(tok.encode("the lazy dog")) < len(normalize_text("the lazy dog"))   # pieces, not characters
    loaded = load_tokenizer(tmp_path / "bpe")
    assert loaded.encode(TEXTS[2]) == tok.encode(TEXTS[2]) and loaded.labels == tok.labels
    assert tokenizer_from_dict(tok.to_dict()).labels == tok.labels                 # travels as a dict
    save_tokenizer(CharTokenizer(), tmp_path / "c")
    assert load_tokenizer(tmp_path / "c").kind == "char"


def test_tokenizer_errors():
    with pytest.raises(ConfigError, match="no training text"):
        BPETokenizer.train(["", "!!"], vocab_size=10)
    with pytest.raises(ConfigError, match="unknown kind"):
        tokenizer_from_dict({"kind": "phones"})
    with pytest.raises(ConfigError, match="cannot read tokenizer"):
        load_tokenizer("/nonexistent/tok")

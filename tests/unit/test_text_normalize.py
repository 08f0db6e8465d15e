"""speechdl.text.normalize: the frozen ASR preset, numbers read aloud, abbreviations, kept punctuation."""

from __future__ import annotations

import pytest

from speechdl.errors import ConfigError
from speechdl.text import numbers as nw
from speechdl.text.normalize import ASR, PRESETS, TTS, TextNorm, expand_abbreviations, normalize, normalize_text

# outputs of the ASR normalisation before it moved to speechdl.text (commit ed4f1c6): ASR's training
# transcripts, LM text and WER references depend on them, so they must never change
ASR_GOLDEN = {
    "In 1999 the 2nd Dr. paid $1.50 for 3,000,000 apples (7%).":
        "in one thousand nine hundred ninety nine the two nd dr paid one point five zero for three million "
        "apples seven percent",
    "rock'n'roll -- 'tis the students' 80s": "rock'n'roll tis the students eighty s",
    "a''b ''c d''": "a b c d",
    "10000000000000000 and 0.05 and 1.2.3":
        "one zero zero zero zero zero zero zero zero zero zero zero zero zero zero zero zero and zero point zero "
        "five and one point two three",
    "Naïve façade, ÆON; 東京 Tokyo!": "naive facade on tokyo",
    "x1y2 3:05pm": "x one y two three five pm",
    "Don't panic: it's 42 o'clock -- \"Café\"!": "don't panic it's forty two o'clock cafe",
}

SPOKEN_GOLDEN = {
    "Mr. and Mrs. Smith live at 221B Baker St. in London.":
        "mister and missus smith live at two hundred twenty one b baker street in london",
    "It's $5m, or $0.99, or ¥300, £1, 5 €, $1.50": "it's five million dollars or ninety nine cents or three hundred "
                                                   "yen one pound five euros one dollar fifty cents",
    "The 1st, 2nd, 3rd, 12th, 22nd, 40th, 100th and 1,000th":
        "the first second third twelfth twenty second fortieth one hundredth and one thousandth",
    "In 1900, 2000, 2008, 2010 and 1999; 1,999 people": "in nineteen hundred two thousand two thousand eight "
                                                        "twenty ten and nineteen ninety nine one thousand nine "
                                                        "hundred ninety nine people",
    "Call me at 10:30 a.m. or 9pm, not 7:00": "call me at ten thirty a m or nine p m not seven o'clock",
    "-5 degrees, 25°C, 50% off, AT&T + you = #1":
        "minus five degrees twenty five degrees c fifty percent off at and t plus you equals number one",
    "e.g. apples, i.e. fruit vs. veg etc.": "for example apples that is fruit versus veg et cetera",
    "007 and 0.5 and .25, the 80s and 1990s, No. 5":
        "zero zero seven and zero point five and point two five the eighties and nineteen nineties number five",
    "Dr Who and St Louis; Main St. is long": "doctor who and saint louis main street is long",
}

TTS_GOLDEN = {
    "He said \"Hello!!!\" -- then left...": "he said hello! then left.",
    "Wait... what?! It's 3:05 -- on St. John St.": "wait. what? it's three oh five, on saint john street.",
    "Jean-Luc's café — très bon; ok: fine": "jean luc's cafe, tres bon, ok, fine",
    ",, leading marks. And 3.5% more": "leading marks. and three point five percent more",
}


@pytest.mark.parametrize("text", list(ASR_GOLDEN))
def test_asr_preset_is_frozen(text):
    assert normalize_text(text) == ASR_GOLDEN[text] == normalize(text) == normalize(text, "asr")


@pytest.mark.parametrize("preset,golden", [("spoken", SPOKEN_GOLDEN), ("tts", TTS_GOLDEN)])
def test_presets_golden(preset, golden):
    for text, want in golden.items():
        assert normalize(text, preset) == want, text


@pytest.mark.parametrize("preset", list(PRESETS))
def test_presets_are_idempotent(preset):
    for text in [*ASR_GOLDEN, *SPOKEN_GOLDEN, *TTS_GOLDEN]:
        once = normalize(text, preset)
        assert normalize(once, preset) == once, (preset, text)


def test_tts_keeps_punctuation_of_spoken():
    for text in SPOKEN_GOLDEN:
        words = normalize(text, "tts")
        assert "".join(c for c in words if c not in ",.?!").split() == normalize(text, "spoken").split()


def test_number_words():
    assert [nw.ordinal(n) for n in (1, 2, 3, 5, 8, 9, 12, 20, 21, 101, 1000)] == [
        "first", "second", "third", "fifth", "eighth", "ninth", "twelfth", "twentieth", "twenty first",
        "one hundred first", "one thousandth"]
    assert [nw.year(y) for y in (1066, 1100, 1905, 1999, 2000, 2007, 2010, 2099, 3000)] == [
        "ten sixty six", "eleven hundred", "nineteen oh five", "nineteen ninety nine", "two thousand",
        "two thousand seven", "twenty ten", "twenty ninety nine", "three thousand"]
    assert nw.money("0.01", "$") == "one cent" and nw.money("2.00", "£") == "two pounds"
    assert nw.money("2.5", "€") == "two point five euros" and nw.money("1.5", "¥") == "one point five yen"
    assert nw.money("3", "$", "billion") == "three billion dollars" and nw.money("0.01", "£") == "one penny"
    assert nw.clock("12", "00") == "twelve o'clock" and nw.clock("9", "07") == "nine oh seven"
    assert nw.plural("twenty") == "twenties" and nw.plural("six") == "sixes" and nw.cardinal("0042") == (
        "zero zero four two")
    assert nw.spell_number(2_000_013) == "two million thirteen" and nw.decimal("10.50") == "ten point five zero"


def test_abbreviations_keep_a_final_full_stop_and_case_decides_saint():
    assert expand_abbreviations("Dr. Who met Mr Smith on St. John St.") == (
        "doctor Who met mister Smith on Saint John street.")
    assert expand_abbreviations("the st. is busy") == "the street is busy"
    assert expand_abbreviations("dr who") == "dr who"  # a bare lower-case 'dr' is not a title


def test_options_unicode_case_and_kept_digits():
    assert normalize("Ça coûte 5 €, Ærø 東京", {"ascii": False, "numbers": "read", "punct": ","}) == (
        "ça coûte five euros, ærø 東京")
    assert normalize("Version 3.5, costs 1,000 dollars. OK", {"numbers": "keep", "punct": ",."}) == (
        "version 3.5, costs 1000 dollars. ok")
    assert normalize("Version 3.5 costs OK", {"numbers": "keep", "lowercase": False}) == "Version 3.5 costs OK"
    assert normalize("in 1999", {"numbers": "read", "years": False}) == (
        "in one thousand nine hundred ninety nine")


def test_textnorm_config():
    assert TextNorm.of("tts") is TTS and TextNorm.of(TTS.to_dict()) == TTS and TTS.name() == "tts"
    assert TextNorm.of({}) == ASR and TextNorm(punct=",").name() is None
    with pytest.raises(ConfigError, match="unknown preset 'loud'"):
        normalize("x", "loud")
    with pytest.raises(ConfigError, match="unknown key"):
        TextNorm.of({"numbrs": "read"})
    with pytest.raises(ConfigError, match="numbers='roman'"):
        TextNorm(numbers="roman")
    with pytest.raises(ConfigError, match="punct cannot keep"):
        TextNorm(punct="-")

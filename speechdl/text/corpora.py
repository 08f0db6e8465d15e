"""Text corpora built only from Debian packages: English sentences and an English–Spanish Bible.

The English corpus (word2vec, a small BERT) joins WordNet glosses (``wordnet-base``), the World English
Bible (``sword-text-web`` read with ``diatheke``), the fortune cookie files (``fortunes``,
``fortunes-min``; Shakespeare and sonnets left out) and the Jargon File (``jargon-text``). The parallel
corpus (LSTM seq2seq translation) pairs WEB with the Reina-Valera 1909 (``sword-text-sparv``) verse by
verse and splits by whole books. ``make text-data`` installs the packages and runs :func:`main`.

Readers take ``root`` (``/``: the installed packages; tests pass fake trees); a missing package raises
:class:`~speechdl.errors.ConfigError` naming the ``apt-get install`` that fixes it.

Example:
    >>> normalize_for_embeddings("Don't pay 1,500 dollars; it’s a ‘bargain’!")
    ["don't", 'pay', '1', '5', '0', '0', 'dollars', ';', "it's", 'a', 'bargain', '!']
    >>> list(split_sentences("Mr. Smith left. He came back!  Did he?"))
    ['Mr. Smith left.', 'He came back!', 'Did he?']
    >>> parse_diatheke('Genesis 1:1: <w savlm="x">In</w> <w>the</w> <w>beginning</w>, <w>God</w><w>made</w> it.')
    [('Genesis 1:1', 'In the beginning, God made it.')]
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import NamedTuple

from speechdl.audio import atomic_write
from speechdl.errors import ConfigError

PathLike = str | os.PathLike

#: SWORD Bible modules: our name -> (SWORD module, Debian package, licence)
BIBLES = {
    "WEB": ("engWEB2015eb", "sword-text-web", "public domain (World English Bible; the name is a trademark)"),
    "SpaRV": ("spaRV1909eb", "sword-text-sparv", "public domain (Reina-Valera 1909)"),
}
#: books held out of the parallel corpus's training split (whole books: no verse of them is trained on)
DEV_BOOKS = ("Ruth", "Ephesians")
TEST_BOOKS = ("Esther", "Lamentations", "James")
#: why a verse pair is left out of the parallel corpus (:func:`align_verses`)
DROP_REASONS = {
    "empty": "the verse is empty in either text",
    "count": "its chapter has different verse counts in the two versifications",
    "run_on": "its chapter ends in a verse empty in either text (run on into the next), or follows one",
    "shift": "its chapter has two consecutive pairs of length ratio > 2 (verses paired off by one)",
    "ratio": "the pair's length ratio (characters) is > 3",
}
#: fortune records mentioning these are left out (no Shakespeare, no sonnets), as are these files
EXCLUDE = re.compile(r"shakespeare|sonnet|compare thee to a summer", re.IGNORECASE)
FORTUNE_SKIP = {"ascii-art"}  # pictures, not text
_REF = re.compile(r"(?:^|(?<=[\s>]))((?:I{1,3}V? )?[A-Z][a-z]+(?: (?:of|and|the|[A-Z][a-z]+))* \d+:\d+): ")


def _need(path: Path, package: str) -> Path:
    """``path`` if it exists, else the one-line error telling which Debian package to install."""
    if not path.exists():
        raise ConfigError(path, f"not found: Debian package {package} is not installed", f"apt-get install {package}")
    return path


def wordnet_glosses(root: PathLike = "/") -> Iterator[str]:
    """The definitions and quoted examples of WordNet 3.0 (``/usr/share/wordnet/data.*``, after ``' | '``)."""
    folder = _need(Path(root) / "usr/share/wordnet", "wordnet-base")
    for pos in ("noun", "verb", "adj", "adv"):
        with open(_need(folder / f"data.{pos}", "wordnet-base"), encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith(" ") or " | " not in line:  # the licence header lines start with spaces
                    continue
                for part in line.split(" | ", 1)[1].strip().split(";"):
                    part = part.strip().strip('"').strip()
                    if part:
                        yield part


def fortune_records(root: PathLike = "/") -> Iterator[str]:
    """The fortune cookies (records between ``%`` lines), overstrikes and ``-- author`` lines removed; the
    ``off`` folder, ``.dat`` indexes, ``.u8`` links, ``ascii-art``, records matching :data:`EXCLUDE` and
    records shaped as sonnets (14 lines of 5-13 words: songs-poems holds Sonnet 116 unattributed) skipped."""
    folder = _need(Path(root) / "usr/share/games/fortunes", "fortunes fortunes-min")
    for path in sorted(folder.iterdir()):
        if not path.is_file() or path.is_symlink() or path.suffix or path.name in FORTUNE_SKIP:
            continue
        text = re.sub(r".\x08", "", path.read_text(encoding="utf-8", errors="replace"))  # X^H overstrike
        for record in re.split(r"^%\s*$", text, flags=re.MULTILINE):
            if EXCLUDE.search(record):
                continue
            lines = [ln.strip() for ln in record.splitlines() if ln.strip() and not ln.strip().startswith("--")]
            if lines and not (len(lines) == 14 and all(5 <= len(ln.split()) <= 13 for ln in lines)):
                yield " ".join(lines)


def jargon_paragraphs(root: PathLike = "/") -> Iterator[str]:
    """The paragraphs of the Jargon File 4.4.7 (``jargon.txt.gz``): table of contents, headword lines and
    headings (short, unpunctuated) left out, ``{cross references}`` unbraced."""
    path = _need(Path(root) / "usr/share/doc/jargon-text/jargon.txt.gz", "jargon-text")
    with gzip.open(path, "rt", encoding="utf-8", errors="replace") as f:
        text = f.read()
    starts = [m.start() for m in re.finditer(r"^\s*Welcome to the Jargon File\s*$", text, re.MULTILINE)]
    text = text[starts[1] if len(starts) > 1 else 0 :]  # the first is the table of contents
    for para in re.split(r"\n\s*\n", text):
        para = " ".join(para.split())
        para = re.sub(r"^:[^:]+:\s*(/[^/]*/)?[,\s]*(\w+\.\s*)*", "", para)  # headword, pronunciation, n./v.
        para = re.sub(r"[{}]", "", para)
        if len(para.split()) >= 10 or (len(para.split()) >= 3 and para[-1] in ".!?\"”)"):  # not a heading
            yield para


def run_diatheke(module: str, key: str = "Gen-Rev", root: PathLike = "/") -> str:
    """The raw (``-f internal``: OSIS kept) output of ``diatheke -b MODULE -k KEY``, one line per verse.
    ``module``: a name of :data:`BIBLES` or a SWORD module; ``Gen-Rev`` dumps the whole Bible in one call."""
    sword, package, _ = BIBLES.get(module, (module, f"the package holding SWORD module {module}", ""))
    library = Path(root) / "usr/share/sword"
    confs = [library / "mods.d" / f"{name}.conf" for name in (sword, sword.lower())]
    _need(next((c for c in confs if c.exists()), confs[0]), package)
    if (exe := shutil.which("diatheke")) is None:
        raise ConfigError("diatheke", "not found: Debian package diatheke is not installed", "apt-get install diatheke")
    env = dict(os.environ, SWORD_PATH=str(library), LANG="C.UTF-8")
    out = subprocess.run([exe, "-b", sword, "-f", "internal", "-k", key], capture_output=True, env=env, check=True)
    return out.stdout.decode("utf-8", errors="replace")


def _clean_verse(body: str) -> str:
    """A verse's OSIS markup to plain text: titles, notes, speakers and lists (the glossary) dropped."""
    body = re.split(r'<div\b[^>]*\btype="(?:book|glossary)"', body, maxsplit=1)[0]  # the end of a book
    body = re.sub(r"<(title|note|speaker|list)\b[^>]*>.*?</\1>", " ", body)
    body = re.sub(r"</w>(?=<)", "</w> ", body)  # <w>God</w><w>created</w>: the words had no space between
    body = re.sub(r"<[^>]*>", "", body)
    body = re.sub(r"\s+([,.;:!?])", r"\1", " ".join(re.sub(r"—{3,}", " ", body).split()))
    # the RV1909 prints a chapter's first word in capitals: "EN el", "Y ACONTECIÓ en", "¿POR qué"
    m = re.match(r"(\W*(?:\w\s)?)([^\W\d_a-zß-ÿ]{2,})(?=\W+[a-zß-ÿ])", body)
    word = m and (m[2].lower() if re.search(r"\w", m[1]) else m[2].capitalize())
    return body[: m.end(1)] + word + body[m.end(2) :] if m else body


def parse_diatheke(text: str) -> list[tuple[str, str]]:
    """``(reference, plain verse)`` for each verse in ``diatheke -f internal`` output. What stands before a
    reference is dropped, except a canonical title met for the first time (a psalm's superscription,
    kept at the start of its verse as the KJV-versified RV1909 has it): diatheke repeats the last title in
    front of every later verse, so a title already seen (same text, same ``sID`` after it) is stale.
    Verses that clean to nothing come back as ``''``; the trailing ``(module)`` line is skipped."""
    verses, last = [], None
    for line in text.splitlines():
        m = _REF.search(line)
        if m is None:
            continue
        title = re.search(r'<title\b[^>]*canonical="true"[^>]*>(.*?)</title>\s*(<[^>]*sID="[^"]*")?', line[: m.start()])
        fresh = title is not None and title.group(0) != last
        last = title.group(0) if title else None
        verse = _clean_verse(line[m.end() :])
        verses.append((m.group(1), f"{_clean_verse(title.group(1))} {verse}".strip() if fresh else verse))
    return verses


def bible_verses(module: str = "WEB", root: PathLike = "/") -> Iterator[str]:
    """The non-empty verses of a SWORD Bible module, in canonical order (text only)."""
    yield from (verse for _, verse in parse_diatheke(run_diatheke(module, root=root)) if verse)


class Source(NamedTuple):
    """An English source: the Debian packages it comes from, its licence, its reader ``read(root)``."""

    packages: tuple[str, ...]
    licence: str
    read: Callable[[PathLike], Iterable[str]]


#: the English sources, in corpus order (licences as the packages' /usr/share/doc/*/copyright state them)
SOURCES: dict[str, Source] = {
    "wordnet": Source(("wordnet-base",), "WordNet 3.0 license (Princeton; permissive, keep notice)", wordnet_glosses),
    "web": Source(("sword-text-web", "diatheke"), BIBLES["WEB"][2], lambda root: bible_verses("WEB", root)),
    "fortunes": Source(("fortunes", "fortunes-min"), "BSD (fortune-mod, (c) 1991 UC Regents)", fortune_records),
    "jargon": Source(("jargon-text",), "public domain (Jargon File 4.4.7, Eric S. Raymond)", jargon_paragraphs),
}

_ABBREV = {"mr", "mrs", "ms", "dr", "st", "vs", "etc", "e.g", "i.e", "jr", "sr", "prof", "no", "cf", "v"}
_BREAK = re.compile(r"([.!?][\"”’')\]]*)\s+(?=[\"“‘'(\[]?[A-Z0-9])")


def split_sentences(text: str) -> Iterator[str]:
    """Split a paragraph after ``.``/``!``/``?`` followed by a capital (not after Mr., Dr., e.g., ...)."""
    start = 0
    for m in _BREAK.finditer(text):
        word = text[start : m.start() + 1].split()[-1].lower().rstrip(".") if m.group(1)[0] == "." else ""
        if word in _ABBREV or (len(word) == 1 and word.isalpha()):
            continue
        yield text[start : m.end(1)].strip()
        start = m.end()
    if text[start:].strip():
        yield text[start:].strip()


def english_sentences(sources: Iterable[str] = tuple(SOURCES), root: PathLike = "/") -> Iterator[str]:
    """Plain English sentences from the installed packages, source after source, in a fixed order."""
    for name in sources:
        if name not in SOURCES:
            raise ConfigError(name, "unknown English text source", f"choose from {', '.join(SOURCES)}")
        for paragraph in SOURCES[name].read(root):
            yield from split_sentences(paragraph)


_TOKEN = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)*|\d|[^\w\s']")
_QUOTES = str.maketrans({"’": "'", "‘": "'", "ʼ": "'", "`": "'", "“": '"', "”": '"', "_": " "})


def normalize_for_embeddings(line: str) -> list[str]:
    """Tokens for word embeddings: NFKC, lowercase; words are letters with inner apostrophes (``don't``);
    a number becomes its digits, one token each (``1,500`` -> ``1 5 0 0``: a bounded vocabulary); every
    other punctuation mark is its own token; stray apostrophes and underscores are dropped."""
    text = unicodedata.normalize("NFKC", line).translate(_QUOTES).lower()
    text = re.sub(r"(?<=\d)[,](?=\d{3})", "", text)  # thousands separators
    return _TOKEN.findall(text)


def package_version(package: str) -> str | None:
    """The installed version of a Debian package (``dpkg-query``), or None when it is not installed."""
    cmd = ["dpkg-query", "-W", "-f=${Version}", package]
    out = subprocess.run(cmd, capture_output=True, text=True) if shutil.which(cmd[0]) else None
    return (out.stdout.strip() or None) if out is not None and out.returncode == 0 else None


def _write_json(path: Path, data: dict) -> None:
    with atomic_write(path) as tmp:
        Path(tmp).write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def build_english_corpus(
    out_path: PathLike, sources: Iterable[str] = tuple(SOURCES), dedupe: bool = True, root: PathLike = "/"
) -> dict[str, dict[str, int]]:
    """Write one normalised sentence per line (tokens joined by spaces), exact duplicates dropped, and
    its data card ``<out>.card.json``. Returns ``{source: {"lines", "tokens", "duplicates"}}``."""
    out_path, sources = Path(out_path), list(sources)
    seen: set[bytes] = set()
    stats: dict[str, dict[str, int]] = {}
    with atomic_write(out_path) as tmp, open(tmp, "w", encoding="utf-8") as f:
        for name in sources:
            counts = stats[name] = {"lines": 0, "tokens": 0, "duplicates": 0}
            for sentence in english_sentences([name], root):
                tokens = normalize_for_embeddings(sentence)
                if not tokens:
                    continue
                line = " ".join(tokens)
                key = hashlib.blake2b(line.encode(), digest_size=12).digest()
                if dedupe and key in seen:
                    counts["duplicates"] += 1
                    continue
                seen.add(key)
                f.write(line + "\n")
                counts["lines"] += 1
                counts["tokens"] += len(tokens)
    card = {
        "corpus": out_path.name,
        "format": "one sentence per line, tokens of speechdl.text.corpora.normalize_for_embeddings, space-separated",
        "dedupe": dedupe,
        "excluded": "fortune records mentioning Shakespeare or a sonnet; fortunes ascii-art; no CMU ARCTIC prompts",
        "sources": {n: {"packages": {p: package_version(p) for p in SOURCES[n].packages},
                        "licence": SOURCES[n].licence, **stats[n]} for n in sources},
        "total": {k: sum(s[k] for s in stats.values()) for k in ("lines", "tokens")},
    }
    _write_json(out_path.with_suffix(".card.json"), card)
    return stats


def bible_parallel(lang_a: str = "WEB", lang_b: str = "SpaRV", root: PathLike = "/",
                   dropped: dict[str, int] | None = None) -> list[tuple[str, str, str]]:
    """``(reference, verse in a, verse in b)`` of two SWORD Bibles paired by reference (:func:`align_verses`)."""
    a, b = parse_diatheke(run_diatheke(lang_a, root=root)), parse_diatheke(run_diatheke(lang_b, root=root))
    return align_verses(a, b, dropped)


def _ratio(x: str, y: str) -> float:
    return max(len(x), len(y)) / max(1, min(len(x), len(y)))


def align_verses(
    a: list[tuple[str, str]], b: list[tuple[str, str]], dropped: dict[str, int] | None = None
) -> list[tuple[str, str, str]]:
    """Pair two ``(reference, verse)`` lists by reference, in ``a``'s order. Verse numbers pair unlike verses
    where the two numberings differ (the RV1909 keeps Spanish numbering inside a KJV versification, WEB uses
    NRSVA); such pairs are left out and counted in ``dropped`` by reason (see :data:`DROP_REASONS`)."""

    ch_a: dict[str, list[str]] = {}
    ch_b: dict[str, list[str]] = {}
    for verses, chapters in ((a, ch_a), (b, ch_b)):
        for ref, verse in verses:
            chapters.setdefault(ref.rsplit(":", 1)[0], []).append(verse)
    text_b = dict(b)
    bad: dict[str, str] = {}
    order = list(ch_a)
    for i, ch in enumerate(order):
        if ch not in ch_b:
            continue  # a book of a's canon only (WEB's deuterocanon): its verses are "empty" in b
        if len(ch_a[ch]) != len(ch_b[ch]):
            bad.setdefault(ch, "count")
        elif not (ch_a[ch][-1] and ch_b[ch][-1]):
            bad.setdefault(ch, "run_on")
            if i + 1 < len(order) and order[i + 1].rsplit(" ", 1)[0] == ch.rsplit(" ", 1)[0]:
                bad.setdefault(order[i + 1], "run_on")
        else:
            long = [bool(x and y and _ratio(x, y) > 2) for x, y in zip(ch_a[ch], ch_b[ch])]
            if any(p and q for p, q in zip(long, long[1:])):
                bad.setdefault(ch, "shift")
    pairs, counts = [], dropped if dropped is not None else {}
    for ref, verse in a:
        other, why = text_b.get(ref, ""), bad.get(ref.rsplit(":", 1)[0])
        why = why or ("empty" if not (verse and other) else "ratio" if _ratio(verse, other) > 3 else None)
        if why:
            counts[why] = counts.get(why, 0) + 1
        else:
            pairs.append((ref, verse, other))
    return pairs


def build_parallel_corpus(
    out_dir: PathLike, lang_a: str = "WEB", lang_b: str = "SpaRV", dev_books: tuple[str, ...] = DEV_BOOKS,
    test_books: tuple[str, ...] = TEST_BOOKS, root: PathLike = "/", pairs: list[tuple[str, str, str]] | None = None,
) -> dict[str, int]:
    """Write ``train.tsv``/``dev.tsv``/``test.tsv`` (``ref<TAB>a<TAB>b``, no header) split by whole books,
    and ``card.json``. ``pairs`` defaults to :func:`bible_parallel`. Returns the pairs per split."""
    out = Path(out_dir)
    dropped: dict[str, int] = {}
    pairs = bible_parallel(lang_a, lang_b, root, dropped) if pairs is None else pairs
    split_of = {**dict.fromkeys(dev_books, "dev"), **dict.fromkeys(test_books, "test")}
    splits: dict[str, list[tuple[str, str, str]]] = {"train": [], "dev": [], "test": []}
    for pair in pairs:
        splits[split_of.get(pair[0].rsplit(" ", 1)[0], "train")].append(pair)
    for name, rows in splits.items():
        with atomic_write(out / f"{name}.tsv") as tmp, open(tmp, "w", encoding="utf-8") as f:
            for row in rows:
                f.write("\t".join(" ".join(cell.split()) for cell in row) + "\n")
    counts = {name: len(rows) for name, rows in splits.items()}
    card = {
        "corpus": "Bible verse pairs, split by whole books",
        "columns": ["reference", lang_a, lang_b],
        "modules": {lang: dict(zip(("sword", "package", "licence"), BIBLES[lang]), version=package_version(
            BIBLES[lang][1])) for lang in (lang_a, lang_b) if lang in BIBLES},
        "diatheke": package_version("diatheke"),
        "split_books": {"dev": list(dev_books), "test": list(test_books), "train": "every other book"},
        "pairs": counts,
        "dropped": {why: {"pairs": n, "why": DROP_REASONS[why]} for why, n in sorted(dropped.items())},
    }
    _write_json(out / "card.json", card)
    return counts


def main(argv: list[str] | None = None) -> int:
    """``python -m speechdl.text.corpora --out data/text``: build both corpora and print their counts."""
    p = argparse.ArgumentParser(prog="python -m speechdl.text.corpora", description=__doc__.split("\n")[0])
    p.add_argument("--out", default="data/text", help="output folder (default data/text)")
    p.add_argument("--sources", default=",".join(SOURCES), help="English sources, comma-separated")
    p.add_argument("--root", default="/", help="file system root holding the Debian packages")
    p.add_argument("--skip-parallel", action="store_true", help="build only the English corpus")
    args = p.parse_args(argv)
    out = Path(args.out)
    try:
        t0 = time.perf_counter()
        stats = build_english_corpus(out / "en_corpus.txt", args.sources.split(","), root=args.root)
        t1 = time.perf_counter()
        print(f"{'source':<10} {'lines':>9} {'tokens':>11} {'dups':>8}", *(
            f"{k:<10} {v['lines']:>9} {v['tokens']:>11} {v['duplicates']:>8}" for k, v in stats.items()), sep="\n")
        print(f"{out / 'en_corpus.txt'} in {t1 - t0:.1f} s")
        if not args.skip_parallel:
            counts = build_parallel_corpus(out / "bible_en_es", root=args.root)
            print(" ".join(f"{k}={v}" for k, v in counts.items()), f"pairs in {time.perf_counter() - t1:.1f} s")
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return err.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())

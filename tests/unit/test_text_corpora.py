"""Text corpora from Debian packages (speechdl.text.corpora): the readers on small fakes of each format
(WordNet data files, fortune files, the Jargon File, diatheke output), normalisation, verse alignment, the
atomic builders and their data cards; one slow test builds from the real packages when they are installed."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import stat
from pathlib import Path

import pytest

from speechdl.errors import ConfigError
from speechdl.text import corpora
from speechdl.text.corpora import (
    SOURCES,
    align_verses,
    build_english_corpus,
    build_parallel_corpus,
    english_sentences,
    fortune_records,
    jargon_paragraphs,
    normalize_for_embeddings,
    parse_diatheke,
    split_sentences,
    wordnet_glosses,
)

WORDNET = """  1 This software and database is being provided to you, the LICENSEE, by  \n\
00001740 03 n 01 entity 0 003 ~ 00001930 n 0000 | that which is perceived or known to exist  \n\
00002137 03 n 02 abstraction 0 | a general concept; "the abstraction of the idea"; "he said so"  \n"""

DIATHEKE = """\
Genesis 1:1: <w savlm="strong:H0430">In</w> <w>the</w> <w>beginning</w>, <w>God</w><w>created</w> it.
Genesis 1:2: <w>The</w> <w>earth</w><note placement="foot">Or, land</note> <w>was</w> empty.
<title canonical="true" type="psalm">A Psalm by David.</title> <lg sID="gen1"/>Psalms 3:1: <w>Yahweh</w>, help!
<title canonical="true" type="psalm">A Psalm by David.</title> <lg sID="gen1"/>Psalms 3:2: <w>Many</w> say so.
<title canonical="true" type="psalm">A Psalm by David.</title> <lg sID="gen1"/>Psalms 4:1: <w>Answer</w> me.
I Samuel 1:1: <speaker>Narrator</speaker>Y ACONTECIÓ en los días.
Revelation of John 22:21: Amen. <div canonical="true" eID="g2" osisID="Rev" type="book"/> <list><item>x</item></list> \
Glossary words.
Acts 8:37: <l sID="x"/>
(engWEB2015eb)
"""


def tree(root: Path, files: dict[str, str | bytes]) -> Path:
    """Write ``files`` (relative path -> text or bytes) under ``root``."""
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return root


def test_normalize_for_embeddings_is_simple_and_deterministic():
    assert normalize_for_embeddings("“Don’t” PANIC: it's 3.5 o'clock, 1,000 times—'really'!") == [
        '"', "don't", '"', "panic", ":", "it's", "3", ".", "5", "o'clock", ",", "1", "0", "0", "0", "times", "—",
        "really", "!"]
    assert normalize_for_embeddings("snake_case  café") == ["snake", "case", "café"]
    assert normalize_for_embeddings("") == [] and normalize_for_embeddings(" ' ") == []
    line = "The quick (brown) fox; jumps... over 2 dogs' tails?"
    assert normalize_for_embeddings(line) == normalize_for_embeddings(line)


def test_split_sentences_keeps_abbreviations_and_quotes():
    text = 'Dr. Who met J. R. Smith. "Hello!" he said. Then e.g. Tom left? Yes.'
    assert list(split_sentences(text)) == ["Dr. Who met J. R. Smith.", '"Hello!" he said.', "Then e.g. Tom left?",
                                           "Yes."]
    assert list(split_sentences("no capital after. this stays")) == ["no capital after. this stays"]


def test_wordnet_glosses_from_fake_data_files(tmp_path):
    root = tree(tmp_path, {f"usr/share/wordnet/data.{pos}": WORDNET if pos == "noun" else "" for pos in
                           ("noun", "verb", "adj", "adv")})
    assert list(wordnet_glosses(root)) == ["that which is perceived or known to exist", "a general concept",
                                           "the abstraction of the idea", "he said so"]


def test_fortune_records_skip_dat_links_off_art_and_shakespeare(tmp_path):
    folder = tmp_path / "usr/share/games/fortunes"
    tree(folder, {
        "computers": "Real _\bprogrammers\n  don't comment.\n\t\t-- Anon\n%\nA second one.\n%\n",
        "literature": "To be or not to be.\n\t\t-- Shakespeare, Hamlet\n%\nShall I compare thee\n-- Sonnet 18\n%\n"
                      "Call me Ishmael.\n%\n",
        "computers.dat": b"\x00\x00\x00\x02binary",
        "ascii-art": "  /\\_/\\\n ( o.o )\n%\n",
        "off/rude": "Offensive text.\n%\n",
    })
    os.symlink("computers", folder / "computers.u8")
    assert list(fortune_records(tmp_path)) == ["Real programmers don't comment.", "A second one.",
                                              "Call me Ishmael."]
    sonnet = "\n".join(f"Let me not to the marriage of line {i}" for i in range(14))   # 14 verse lines, unsigned
    tree(folder, {"songs-poems": f"{sonnet}\n%\nShall I compare thee to a summer day?\nNo.\n%\nShort poem\n%\n"})
    assert list(fortune_records(tmp_path))[-1] == "Short poem"


def test_jargon_paragraphs_skip_contents_and_headwords(tmp_path):
    text = ("   Table of Contents\n\n   Welcome to the Jargon File\n\n   cruft\n\n"
            "                 Welcome to the Jargon File\n\n"
            "   This is the Jargon File, a comprehensive compendium of hacker slang.\n\n"
            "   :cruft: /kruhft/, n.\n\n   1. An unpleasant substance. See {kluge} and\n   {crock} for more.\n\n"
            "   Glossary\n")
    path = tmp_path / "usr/share/doc/jargon-text/jargon.txt.gz"
    path.parent.mkdir(parents=True)
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.write(text)
    assert list(jargon_paragraphs(tmp_path)) == [
        "This is the Jargon File, a comprehensive compendium of hacker slang.",
        "1. An unpleasant substance. See kluge and crock for more."]


def test_parse_diatheke_strips_markup_and_stale_titles():
    verses = parse_diatheke(DIATHEKE)
    assert verses == [
        ("Genesis 1:1", "In the beginning, God created it."),                # </w><w>: a space between words
        ("Genesis 1:2", "The earth was empty."),                            # footnote dropped
        ("Psalms 3:1", "A Psalm by David. Yahweh, help!"),                  # the title, first met: kept
        ("Psalms 3:2", "Many say so."),                                     # the same title repeated: stale
        ("Psalms 4:1", "Answer me."),                                       # same text, same sID: stale
        ("I Samuel 1:1", "Y aconteció en los días."),                       # speaker dropped, small caps undone
        ("Revelation of John 22:21", "Amen."),                              # the glossary after the book: cut
        ("Acts 8:37", ""),                                                  # an omitted verse: empty
    ]


def test_run_diatheke_and_the_web_source_with_a_fake_diatheke(tmp_path, monkeypatch):
    tree(tmp_path, {"usr/share/sword/mods.d/engWEB2015eb.conf": "[engWEB2015eb]\n", "dump.txt": DIATHEKE})
    fake = tmp_path / "bin/diatheke"
    fake.parent.mkdir()
    fake.write_text(f'#!/bin/sh\n[ "$2" = engWEB2015eb ] && [ "$4" = internal ] && cat "{tmp_path}/dump.txt"\n')
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ['PATH']}")
    sentences = list(english_sentences(["web"], root=tmp_path))
    assert sentences[:3] == ["In the beginning, God created it.", "The earth was empty.", "A Psalm by David."]
    assert "" not in sentences and len(sentences) == 8


def test_missing_packages_name_the_apt_package(tmp_path, monkeypatch):
    with pytest.raises(ConfigError, match="apt-get install wordnet-base"):
        list(wordnet_glosses(tmp_path))
    with pytest.raises(ConfigError, match="apt-get install jargon-text"):
        list(jargon_paragraphs(tmp_path))
    with pytest.raises(ConfigError, match="apt-get install fortunes fortunes-min"):
        list(fortune_records(tmp_path))
    with pytest.raises(ConfigError, match="apt-get install sword-text-sparv"):
        corpora.run_diatheke("SpaRV", root=tmp_path)
    tree(tmp_path, {"usr/share/sword/mods.d/spaRV1909eb.conf": "[spaRV1909eb]\n"})
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(ConfigError, match="apt-get install diatheke"):
        corpora.run_diatheke("SpaRV", root=tmp_path)
    with pytest.raises(ConfigError, match="choose from wordnet"):
        list(english_sentences(["nope"]))


def verses(book: str, chapter: int, texts: list[str]) -> list[tuple[str, str]]:
    return [(f"{book} {chapter}:{i}", t) for i, t in enumerate(texts, 1)]


def test_align_verses_drops_what_the_numberings_cannot_pair():
    en = (verses("Ruth", 1, ["One verse here.", "", "Three verse here."])      # an omitted verse: empty
          + verses("Ruth", 2, ["Ends early.", "Moved away."])                  # its last verse is empty in b
          + verses("Ruth", 3, ["Shifted one.", "Shifted two."])                # follows a run-on chapter
          + verses("Jude", 1, ["a", "b", "c"])                                 # 3 verses here, 2 in b
          + verses("Mark", 1, ["Short.", "Tiny.", "Fine verse text."])          # two long ratios in a row
          + verses("Luke", 1, ["Fine verse.", "x", "Also fine."])              # one pair of ratio > 3
          + verses("Tobit", 1, ["Only in a."]))                                # a book b does not hold
    es = (verses("Ruth", 1, ["Un verso aquí.", "Dos.", "Tres verso aquí."]) + verses("Ruth", 2, ["Acaba.", ""])
          + verses("Ruth", 3, ["Movido.", "Uno."]) + verses("Jude", 1, ["a", "b"])
          + verses("Mark", 1, ["Un verso muy largo aquí.", "Otro verso muy largo.", "Un verso bien."])
          + verses("Luke", 1, ["Verso bien.", "un verso larguísimo", "También bien."]))
    dropped: dict[str, int] = {}
    pairs = align_verses(en, es, dropped)
    assert pairs == [("Ruth 1:1", "One verse here.", "Un verso aquí."), ("Ruth 1:3", "Three verse here.",
                     "Tres verso aquí."), ("Luke 1:1", "Fine verse.", "Verso bien."),
                     ("Luke 1:3", "Also fine.", "También bien.")]
    assert dropped == {"empty": 2, "run_on": 4, "count": 3, "shift": 3, "ratio": 1}


def fake_sources(monkeypatch):
    read = {"alpha": lambda root: ["Hello there. Hello there.", "It's 42!"], "beta": lambda root: ["Hello there."]}
    for name, fn in read.items():
        monkeypatch.setitem(SOURCES, name, corpora.Source((f"pkg-{name}",), "public domain", fn))
    monkeypatch.setattr(corpora, "package_version", lambda package: "1.0")


def test_build_english_corpus_dedupes_counts_and_writes_a_card(tmp_path, monkeypatch):
    fake_sources(monkeypatch)
    out = tmp_path / "text/en.txt"
    stats = build_english_corpus(out, ["alpha", "beta"])
    assert out.read_text() == "hello there .\nit's 4 2 !\n"
    assert stats == {"alpha": {"lines": 2, "tokens": 7, "duplicates": 1},
                     "beta": {"lines": 0, "tokens": 0, "duplicates": 1}}
    card = json.loads((tmp_path / "text/en.card.json").read_text())
    assert card["sources"]["alpha"] == {"packages": {"pkg-alpha": "1.0"}, "licence": "public domain", **stats["alpha"]}
    assert card["total"] == {"lines": 2, "tokens": 7}
    assert sorted(os.listdir(tmp_path / "text")) == ["en.card.json", "en.txt"]   # no temporary file left
    build_english_corpus(out, ["alpha", "beta"], dedupe=False)
    assert out.read_text().count("hello there .") == 3


def test_a_failed_build_leaves_the_old_corpus_whole(tmp_path, monkeypatch):
    fake_sources(monkeypatch)
    out = tmp_path / "en.txt"
    out.write_text("old\n")

    def broken(root):
        yield "A sentence."
        raise RuntimeError("reader died")

    monkeypatch.setitem(SOURCES, "alpha", corpora.Source(("p",), "pd", broken))
    with pytest.raises(RuntimeError):
        build_english_corpus(out, ["alpha"])
    assert out.read_text() == "old\n" and os.listdir(tmp_path) == ["en.txt"]


def test_build_parallel_corpus_splits_by_whole_books(tmp_path, monkeypatch):
    monkeypatch.setattr(corpora, "package_version", lambda package: None)
    pairs = [("Genesis 1:1", "In the beginning.", "En el principio."), ("Ruth 1:1", "In the days.", "En los días."),
             ("James 1:1", "James, a servant.", "Jacobo, siervo."), ("Revelation of John 1:1", "The revelation.",
                                                                     "La revelación.")]
    counts = build_parallel_corpus(tmp_path / "par", pairs=pairs)
    assert counts == {"train": 2, "dev": 1, "test": 1}
    train = (tmp_path / "par/train.tsv").read_text().splitlines()
    assert train == ["Genesis 1:1\tIn the beginning.\tEn el principio.",
                     "Revelation of John 1:1\tThe revelation.\tLa revelación."]
    assert (tmp_path / "par/test.tsv").read_text() == "James 1:1\tJames, a servant.\tJacobo, siervo.\n"
    card = json.loads((tmp_path / "par/card.json").read_text())
    assert card["split_books"]["test"] == ["Esther", "Lamentations", "James"] and card["pairs"] == counts


def test_main_builds_from_a_fake_root(tmp_path, capsys):
    tree(tmp_path, {f"usr/share/wordnet/data.{pos}": WORDNET for pos in ("noun", "verb", "adj", "adv")})
    tree(tmp_path, {"usr/share/games/fortunes/fortunes": "A fortune cookie.\n%\n"})
    argv = ["--out", str(tmp_path / "out"), "--root", str(tmp_path), "--sources", "wordnet,fortunes",
            "--skip-parallel"]
    assert corpora.main(argv) == 0
    assert (tmp_path / "out/en_corpus.txt").read_text().splitlines()[-1] == "a fortune cookie ."
    assert "wordnet" in capsys.readouterr().out
    assert corpora.main([*argv[:4], "--sources", "jargon"]) == 2                  # not installed: exit 2
    assert "apt-get install jargon-text" in capsys.readouterr().err


INSTALLED = (all(Path(p).exists() for p in ("/usr/share/wordnet/data.noun", "/usr/share/games/fortunes/fortunes",
                                            "/usr/share/doc/jargon-text/jargon.txt.gz",
                                            "/usr/share/sword/mods.d/engWEB2015eb.conf",
                                            "/usr/share/sword/mods.d/spaRV1909eb.conf"))
             and shutil.which("diatheke") is not None)


@pytest.mark.slow
@pytest.mark.skipif(not INSTALLED, reason="needs wordnet-base fortunes fortunes-min jargon-text diatheke "
                                          "sword-text-web sword-text-sparv (make text-data)")
def test_real_packages_give_plausible_corpora(tmp_path):
    stats = build_english_corpus(tmp_path / "en.txt")
    assert stats["wordnet"]["lines"] > 150_000 and stats["web"]["tokens"] > 900_000
    assert stats["fortunes"]["lines"] > 20_000 and stats["jargon"]["tokens"] > 250_000
    assert not any(corpora.EXCLUDE.search(r) for r in fortune_records())
    counts = build_parallel_corpus(tmp_path / "par")
    assert counts["train"] > 28_000 and 150 < counts["dev"] < 1_000 and 300 < counts["test"] < 1_000
    first = (tmp_path / "par/train.tsv").read_text(encoding="utf-8").split("\n", 1)[0]
    assert first == "Genesis 1:1\tIn the beginning, God created the heavens and the earth.\t" \
                    "En el principio crió Dios los cielos y la tierra."

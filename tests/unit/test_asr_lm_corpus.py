"""LM corpus builder (asr lm corpus): normalisation, the filter of eval/dev transcripts, sonnets and ARCTIC
prompts, the source readers on small fakes of their formats, resumability and the CLI's one-line errors."""

from __future__ import annotations

import json
import struct
import zlib

import pytest

from speechdl.cli import main
from speechdl.tasks.asr import lm_corpus, lm_sources
from speechdl.tasks.asr.lm_corpus import Blocklist, blocklist_for, build_corpus, read_exclude, sentences_of
from speechdl.tasks.asr.lm_sources import TextSource, fortunes, zText_books

SONNET = ("Shall I compare thee to a summer's day?\nThou art more lovely and more temperate:\n"
          "  -- Shakespeare, Sonnet 18")
ARCTIC = '( arctic_a0003 "For the twentieth time that evening the two men shook hands." )\n'


def manifest(folder):
    rows = [("drascula", "drascula:x", "I am the Count, 1 of 2!"),             # eval source
            ("warzone2100-data", "wz:x", "Mission objectives updated."),          # eval source
            ("flight-of-the-amazon-queen", "fotaq:bob", "What can I do for you?"),  # dev speaker
            ("flight-of-the-amazon-queen", "fotaq:joe", "Hello there, old friend."),  # train
            ("beneath-a-steel-sky", "bass:x", "Not a chance.")]                    # train, too short? 3 words: kept
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "manifest.jsonl", "w") as f:
        for src, spk, text in rows:
            f.write(json.dumps({"source": src, "speaker": spk, "language": "en", "text": text,
                                "text_quality": "exact"}) + "\n")
    return folder


def test_normalisation_spells_numbers_and_drops_templates():
    assert sentences_of("He paid $5 in 1999. Then 3 more came!", "prose") == [
        "he paid five in one thousand nine hundred ninety nine", "then three more came"]   # as the scorer does
    assert sentences_of("You see <npc_name> here.", "line") == []           # game template, not text
    assert sentences_of("too short", "line") == []
    assert sentences_of("an official at a baseball game", "line") == ["an official at a baseball game"]


def test_blocklist_drops_eval_and_dev_transcripts_and_excluded_lines(tmp_path):
    (tmp_path / "arctic.data").write_text(ARCTIC)
    (tmp_path / "sonnets.txt").write_text("Shall I compare thee to a summer's day?\n")
    assert read_exclude(tmp_path / "arctic.data") == ["For the twentieth time that evening the two men shook hands."]
    bl = blocklist_for(manifest(tmp_path / "rd"), [tmp_path / "arctic.data", tmp_path / "sonnets.txt"])
    assert bl.blocked("i am the count one of two") and bl.blocked("mission objectives updated")
    assert bl.blocked("what can i do for you")                              # dev speaker
    assert not bl.blocked("hello there old friend")                         # a train transcript stays
    assert bl.blocked("for the twentieth time that evening the two men shook hands")
    assert bl.blocked("and he said shall i compare thee to a summer's day my love")   # contained, 8 words
    assert not bl.blocked("shall i compare thee")                           # a short part of it is ordinary text
    assert Blocklist(["What can I do for you?"]).blocked("what can i do for you")


def test_fortune_reader_drops_shakespeare_and_attributions():
    text = f"Nature, to be commanded, must be obeyed.\n\t\t-- Francis Bacon\n%\n{SONNET}\n%\nWe must be cautious.\n"
    assert list(fortunes(text)) == ["Nature, to be commanded, must be obeyed.", "We must be cautious."]


def test_zText_reader_and_osis_markup(tmp_path):
    books = ['<title type="main">Genesis</title><w lemma="x">In</w> <w>the</w> beginning, God created the '
             'heavens and the earth.<note placement="foot">Or, sky</note> The earth was formless.',
             "Jesus wept. Then he said 12 words."]
    index, data = b"", b""
    for b in books:
        z = zlib.compress(b.encode())
        index += struct.pack("<III", len(data), len(z), len(b))
        data += z
    (tmp_path / "nt.bzs").write_bytes(index)
    (tmp_path / "nt.bzz").write_bytes(data)
    got = [sentences_of(lm_sources.strip_osis(b), "prose") for b in zText_books(tmp_path)]
    assert got == [["in the beginning god created the heavens and the earth", "the earth was formless"],
                   ["then he said twelve words"]]                             # "jesus wept": 2 words, too short


def test_build_is_filtered_deduplicated_and_resumable(tmp_path, monkeypatch):
    calls = []

    def read(roots):
        calls.append(1)
        yield "I am the Count, 1 of 2! The dog barked at the mailman. The dog barked at the mailman.", "prose"
        yield "For the twentieth time that evening the two men shook hands.", "line"
        yield "Hello there, old friend.", "line"

    fake = TextSource("fake", (), "CC0", "a test source", read)
    monkeypatch.setitem(lm_sources.SOURCES, "fake", fake)
    monkeypatch.setattr(lm_corpus, "ORDER", ("real_train", "fake"))
    (tmp_path / "arctic.data").write_text(ARCTIC)
    rd = manifest(tmp_path / "rd")
    card = build_corpus(tmp_path / "out", rd, exclude=[tmp_path / "arctic.data"], show_progress=False)
    lines = (tmp_path / "out" / "corpus.txt").read_text().splitlines()
    assert lines == ["hello there old friend", "not a chance", "the dog barked at the mailman"]
    by_name = {s["name"]: s for s in card["sources"]}
    assert by_name["fake"]["dropped_blocked"] == 2 and by_name["fake"]["sentences"] == 2
    assert card["words"] == 13 and card["sentences"] == 3
    build_corpus(tmp_path / "out", rd, exclude=[tmp_path / "arctic.data"], show_progress=False)
    assert len(calls) == 1                                                    # the finished source was not re-read
    with pytest.raises(Exception, match="unknown source"):
        build_corpus(tmp_path / "out", rd, sources=["nope"], show_progress=False)


def test_cli_errors_are_one_line(tmp_path, capsys):
    assert main(["asr", "lm", "corpus", "--out", str(tmp_path / "o"), "--real-dev", str(tmp_path / "none")]) == 2
    err = capsys.readouterr().err.strip()
    assert "real_dev" in err and len(err.splitlines()) == 1
    rd = manifest(tmp_path / "rd")
    assert main(["asr", "lm", "corpus", "--out", str(tmp_path / "o"), "--real-dev", str(rd), "--sources", "zz"]) == 2
    assert "unknown source" in capsys.readouterr().err


def test_game_readers_take_english_dialogue_only(tmp_path):
    base = tmp_path / "usr/share/freedroidrpg/data/base"
    (base / "titles" / "de").mkdir(parents=True)
    (base / "dialogs").mkdir(parents=True)
    (base / "dialogs" / "Bender.lua").write_text('Npc:says(_"Hey, man! I\'m Bender, the dead man of this town.")\n'
                                                 'Tux:says(_"I\'m %s. I\'m fine, thank you.", name)\n')
    (base / "titles" / "de" / "intro.lua").write_text('text = _"Es war einmal ein kleiner Pinguin."\n')
    got = [s for t, k in lm_sources.SOURCES["freedroid"].read([tmp_path]) for s in sentences_of(t, k)]
    # "hey man": too short; "I'm %s.": a template; the German title file: a translation
    assert got == ["i'm bender the dead man of this town", "i'm fine thank you"]
    assert list(lm_sources.wml_texts('message= _ "He said ""go"" <i>now</i>."\nstory= _ "Long ago."')) == [
        'He said "go" now.', "Long ago."]

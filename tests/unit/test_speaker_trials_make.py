"""Making trial lists: all same-speaker pairs, uniform non-targets, determinism, aliases, writing and the verb."""

from __future__ import annotations

import argparse
import doctest
import json
import random
from collections import Counter

import pytest

from speechdl.errors import DataError
from speechdl.tasks.speaker import trials as T
from speechdl.tasks.speaker.trials_cli import add_trials_verb


def _rows(sizes: dict[str, int], root: str = "/d") -> list[dict]:
    return [{"id": f"{s}-{k}", "path": f"{root}/{s}/{k}.wav", "offset": 0.0, "duration": 2.0, "speaker": s}
            for s, n in sizes.items() for k in range(n)]


def _pairs(ts: list[T.Trial]) -> list[tuple[str, str, bool]]:
    return [(str(t.enroll), str(t.test), t.target) for t in ts]


def test_doctest():
    assert doctest.testmod(T).failed == 0


def test_all_target_pairs_and_uniformly_drawn_cross_speaker_nontargets():
    rows = _rows({"a": 30, "b": 4, "c": 1, "d": 6})
    ts = T.make_trials(rows, max_per_speaker=5, nontargets_per_target=3, seed=1)
    spk = {r["path"]: r["speaker"] for r in rows}
    chosen = Counter(spk[str(f)] for f in T.trial_files(ts))
    assert chosen == {"a": 5, "b": 4, "c": 1, "d": 5}                         # capped at 5, all of the smaller
    targets = [t for t in ts if t.target]
    assert len(targets) == 10 + 6 + 0 + 10                                     # every pair of the chosen ones
    assert all(spk[str(t.enroll)] == spk[str(t.test)] for t in targets)
    non = [t for t in ts if not t.target]
    assert len(non) == 3 * len(targets)
    assert all(spk[str(t.enroll)] != spk[str(t.test)] for t in non)
    assert len({frozenset((t.enroll, t.test)) for t in ts}) == len(ts)        # no pair twice, no self pair
    assert [t.line for t in ts] == list(range(1, len(ts) + 1))
    assert T.make_trials(rows, 5, nontargets=7, seed=1).__len__() == len(targets) + 7   # a total instead


def test_deterministic_whatever_the_row_order_and_seed_dependent():
    rows = _rows({"a": 25, "b": 22, "c": 3})
    shuffled = rows[:]
    random.Random(5).shuffle(shuffled)
    assert _pairs(T.make_trials(rows, seed=3)) == _pairs(T.make_trials(shuffled, seed=3))
    assert _pairs(T.make_trials(rows, seed=3)) != _pairs(T.make_trials(rows, seed=4))
    assert sum(t.target for t in T.make_trials(rows)) == 190 + 190 + 3         # max_per_speaker 20 by default


@pytest.mark.parametrize("wanted", [3, 9])          # rejection sampling / choice among all cross pairs
def test_nontargets_are_uniform_over_cross_speaker_pairs(wanted):
    rows = _rows({"a": 2, "b": 2, "c": 2})           # 12 cross-speaker pairs
    counts: Counter = Counter()
    runs = 1200
    for seed in range(runs):
        counts.update((str(t.enroll), str(t.test)) for t in T.make_trials(rows, nontargets=wanted, seed=seed)
                      if not t.target)
    assert len(counts) == 12
    expected = runs * wanted / 12
    assert all(abs(c - expected) < 0.2 * expected for c in counts.values()), counts


def test_capped_at_the_number_of_cross_pairs():
    ts = T.make_trials(_rows({"a": 2, "b": 2}), nontargets_per_target=100)
    assert sum(not t.target for t in ts) == 4 and sum(t.target for t in ts) == 2


def test_aliases_make_two_labels_one_speaker():
    rows = _rows({"asterisk-en:allison": 2, "asterisk-es:allison": 2, "other": 2})
    ts = T.make_trials(rows, nontargets_per_target=100, aliases={"asterisk-es:allison": "asterisk-en:allison"})
    assert sum(t.target for t in ts) == 6 + 1                                   # C(4, 2) + C(2, 2)
    plain = T.make_trials(rows, nontargets_per_target=100)
    assert sum(t.target for t in plain) == 3
    cross = [t for t in ts if "allison" in str(t.enroll) and "allison" in str(t.test)]
    assert cross and all(t.target for t in cross)


@pytest.mark.parametrize("rows, why", [
    ([{"path": "/r.flac", "offset": 3.5, "duration": 2.0, "speaker": "a"}], "a trial list names whole files"),
    (_rows({"a": 2}) + [{"path": "/d/a/0.wav", "speaker": "b"}], "holds more than one utterance"),
    (_rows({"a": 5}), "1 speakers"),
    (_rows({"a": 1, "b": 1}), "0 same-speaker pairs"),
    ([{"path": "/x.wav"}], "has no 'path' or 'speaker'"),
])
def test_unusable_rows_are_one_line_errors(rows, why):
    with pytest.raises(DataError) as err:
        T.make_trials(rows)
    assert why in str(err.value) and "\n" not in str(err.value)


def test_write_and_read_back(tmp_path):
    rows = _rows({"a": 3, "b": 3}, root=str(tmp_path / "wav"))
    ts = T.make_trials(rows, nontargets_per_target=1)
    lst = T.write_trials(ts, tmp_path / "lists" / "trials.txt", root=tmp_path / "wav")
    first = lst.read_text().splitlines()[0]
    assert first.split()[0] in "01" and first.split()[1] == "a/0.wav"        # relative to root
    assert _pairs(T.read_trials(lst, root=tmp_path / "wav")) == _pairs(ts)
    absolute = T.write_trials(ts, tmp_path / "abs.txt")
    assert absolute.read_text().split()[1] == str(tmp_path / "wav/a/0.wav")
    assert _pairs(T.read_trials(absolute)) == _pairs(ts)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["abs.txt", "lists"]   # no temp files left
    with pytest.raises(ValueError, match="whitespace"):
        T.write_trials([T.Trial(True, tmp_path / "a b.wav", tmp_path / "c.wav")], tmp_path / "x.txt")


def test_trials_verb(tmp_path, capsys):
    from speechdl.tasks.speaker.toy import write_toy_speakers

    write_toy_speakers(tmp_path / "spk", [0, 1, 2], utts=3, seconds=0.3)
    parser = argparse.ArgumentParser()
    add_trials_verb(parser.add_subparsers())
    out = tmp_path / "trials.txt"
    args = parser.parse_args(["trials", str(tmp_path / "spk/manifest"), "--out", str(out), "--max-per-speaker", "2",
                              "--seed", "1", "--root", str(tmp_path / "spk/wav"), "--format", "json"])
    assert args.func(args) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["targets"] == 3 and rep["nontargets"] == 12 and rep["speakers"] == 3 and rep["files"] == 6
    ts = T.read_trials(out, root=tmp_path / "spk/wav")
    T.check_files(ts, out)
    assert len(ts) == 15 and all(str(t.enroll).startswith(str(tmp_path / "spk/wav/spk")) for t in ts)


def test_speechdl_speaker_trials_command(tmp_path, capsys):
    from speechdl.cli import main
    from speechdl.tasks.speaker.toy import write_toy_speakers

    write_toy_speakers(tmp_path / "spk", [0, 1], utts=2, seconds=0.3)
    out = tmp_path / "t.txt"
    assert main(["speaker", "trials", str(tmp_path / "spk/manifest"), "--out", str(out), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["trials"] == len(T.read_trials(out)) == 2 + 4
    assert main(["speaker", "trials", str(tmp_path / "spk/manifest"), "--out", str(out), "--alias", "spk000"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "expected LABEL=SAME" in err

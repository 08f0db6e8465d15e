"""Trial lists: VoxCeleb and word-label formats, root folders, one-line errors with file and line."""

from __future__ import annotations

import doctest

import pytest

from speechdl.errors import DataError
from speechdl.tasks.speaker import trials as T


def test_voxceleb_and_word_formats(tmp_path):
    lst = tmp_path / "lists" / "veri.txt"
    lst.parent.mkdir()
    lst.write_text("# a comment\n1 id10270/x/1.wav id10270/y/2.wav\n\n0 id10270/x/1.wav id10300/z/3.wav\n"
                   "TARGET a.wav b.wav\nnontarget a.wav c.wav\na.wav /abs/d.wav target\nc.wav a.wav non-target\n")
    ts = T.read_trials(lst, root=tmp_path / "wav")
    assert [t.target for t in ts] == [True, False, True, False, True, False]
    assert [t.line for t in ts] == [2, 4, 5, 6, 7, 8]
    assert ts[0].enroll == tmp_path / "wav/id10270/x/1.wav" and ts[1].test == tmp_path / "wav/id10300/z/3.wav"
    assert str(ts[4].test) == "/abs/d.wav"                                    # absolute paths kept
    assert T.read_trials(lst)[2].enroll == lst.parent / "a.wav"             # default root: the list's folder
    assert len(T.trial_files(ts)) == 7


@pytest.mark.parametrize("line, why", [
    ("1 a.wav", "2 fields"),
    ("2 a.wav b.wav", "no label"),
    ("a.wav b.wav c.wav", "no label"),
    ("1 a.wav target", "two labels"),
    ("1 a.wav b.wav extra", "4 fields"),
])
def test_bad_line_is_one_line_error_with_file_and_line(tmp_path, line, why):
    lst = tmp_path / "t.txt"
    lst.write_text(f"1 a.wav b.wav\n{line}\n")
    with pytest.raises(DataError) as err:
        T.read_trials(lst)
    msg = str(err.value)
    assert msg.startswith(f"{lst}:2: not a trial ({why})") and "\n" not in msg and "LABEL ENROLL TEST" in msg


def test_missing_list_empty_list_and_missing_audio(tmp_path):
    with pytest.raises(DataError, match="trial list not found"):
        T.read_trials(tmp_path / "none.txt")
    (tmp_path / "empty.txt").write_text("# nothing\n\n")
    with pytest.raises(DataError, match="holds no trials"):
        T.read_trials(tmp_path / "empty.txt")
    (tmp_path / "a.wav").write_bytes(b"x")
    (tmp_path / "t.txt").write_text("1 a.wav a.wav\n0 a.wav b.wav\n")
    ts = T.read_trials(tmp_path / "t.txt")
    with pytest.raises(DataError, match=r"t.txt:2: audio file .*b.wav not found \(pass --root"):
        T.check_files(ts, tmp_path / "t.txt")
    T.check_files(ts[:1])


def test_doctests():
    assert doctest.testmod(T).failed == 0

"""The validation layer (issue 13): audio checked before allocation, numbers, front-end configs, output
paths, text files, manifests and stores, each refusing with one line (the corpus in tests/hostile runs
them through every verb; these pin the behaviour of each check)."""

from __future__ import annotations

import json
import os
import sqlite3

import numpy as np
import pytest

from speechdl import audio, validate
from speechdl.errors import AudioError, ConfigError, DataError
from speechdl.features.config import FrontendConfig
from tests.hostile import cases_audio as ca


def _one_line(err: Exception, *words: str) -> None:
    text = str(err)
    assert "\n" not in text and all(w in text for w in words), text


@pytest.mark.parametrize("name, content, words", [
    ("rate1.wav", ca.wav_header(200_000, rate=1) + b"\x01\x00" * 100_000, ["1 Hz", "outside 1000-768000"]),
    ("rate2g.wav", ca.wav_header(32000, rate=2**31 - 1) + b"\x00" * 32000, ["2147483647 Hz"]),
    ("ch1000.wav", ca.wav_header(32000, channels=1000) + b"\x00" * 32000, ["1000 channels"]),
    ("claims.flac", ca.flac_claiming(ca.speech(1.0), 2_000_000_000), ["header declares 125000 s", "bytes"]),
])
def test_impossible_headers_are_refused_before_decoding(tmp_path, name, content, words):
    p = tmp_path / name
    p.write_bytes(content)
    with pytest.raises(AudioError) as info:
        audio.info(p)
    _one_line(info.value, str(p), *words)


def test_wav_header_claiming_2gb_reads_what_is_there(tmp_path):
    x = ca.speech(1.0)
    p = tmp_path / "claim.wav"
    p.write_bytes(ca.wav_header(2_000_000_000) + ca.pcm16(x))
    y, sr = audio.load(p)
    assert sr == 16000 and len(y) == len(x) and np.abs(y - x).max() < 1e-4


def test_mp3_ending_before_its_header_is_refused_in_load_and_stream(tmp_path):
    p = tmp_path / "lie.mp3"
    p.write_bytes(ca.mp3_claiming(ca.speech(1.0), 3200))     # claims 115 s
    with pytest.raises(AudioError, match="ends after 1.0.. s but its header declares 115"):
        audio.load(p)
    with pytest.raises(AudioError, match="header declares"):
        list(audio.stream(p, block_seconds=0.5))


@pytest.mark.parametrize("scale, nan, words", [(1e30, False, "far beyond full scale"), (1.0, True, "NaN"),
                                               (1e6, False, "samples reach")])
def test_nan_and_absurd_amplitudes_are_refused(tmp_path, scale, nan, words):
    x = ca.speech(1.0) * np.float32(scale)
    if nan:
        x[10] = np.nan
    p = tmp_path / "f.wav"
    p.write_bytes(ca.float_wav(x))
    with pytest.raises(AudioError) as info:
        audio.load(p)
    _one_line(info.value, words)
    with pytest.raises(AudioError):
        list(audio.stream(p))


def test_float_headroom_is_accepted_unchanged(tmp_path):
    x = ca.speech(1.0) * np.float32(20.0)        # peak about 10: a float mix above full scale
    p = tmp_path / "loud.wav"
    p.write_bytes(ca.float_wav(x))
    y, _ = audio.load(p)
    np.testing.assert_array_equal(y, x)


def test_not_regular_files(tmp_path):
    os.mkfifo(tmp_path / "fifo.wav")
    os.symlink("loop.wav", tmp_path / "loop.wav")
    (tmp_path / "folder.wav").mkdir()
    for name, words in (("fifo.wav", "not a regular file"), ("loop.wav", "symbolic link loop"),
                        ("folder.wav", "is a directory")):
        with pytest.raises(AudioError) as info:
            audio.load(tmp_path / name)
        _one_line(info.value, words)
    with pytest.raises(AudioError, match="not a regular file"):
        audio.info("/dev/zero")


def test_numbers_go_through_option_parse():
    assert validate.number("3", "--n", "int", 1, 5) == 3
    for bad in ("nan", "inf", "-inf", "", "abc", "9", "0.5", None, True):
        with pytest.raises(ConfigError) as info:
            validate.number(bad, "--n", "int", 1, 5)
        _one_line(info.value, "option n: expected an integer in [1, 5]")
    with pytest.raises(ConfigError, match=r"in \(0, 10\]"):
        validate.number("0", "--hours", "float", 0, 10, low_open=True)


@pytest.mark.parametrize("changes, words", [
    ({"sample_rate": 1}, "sample_rate=1 is outside"), ({"f_min": 5000.0, "f_max": 4000.0}, "mel range"),
    ({"preemphasis": float("nan")}, "preemphasis=nan"), ({"log_floor": 0.0}, "log_floor=0.0"),
    ({"chunk_seconds": 0.0}, "chunk_seconds=0.0"), ({"n_mels": "forty"}, "n_mels='forty'"),
    ({"stack": 10**6}, "stack="), ({"n_mels": 300}, "exceeds the 257 FFT bins"), ({"center": "yes"}, "center"),
])
def test_frontend_config_refuses(changes, words):
    with pytest.raises(ConfigError) as info:
        FrontendConfig(**changes)
    _one_line(info.value, "frontend", words)
    with pytest.raises(ConfigError, match="expected a mapping"):
        FrontendConfig.from_dict([1, 2])


def test_output_paths(tmp_path):
    f = tmp_path / "a_file"
    f.write_text("x")
    with pytest.raises(ConfigError, match="is a folder"):
        validate.output_file(tmp_path, "--out")
    with pytest.raises(ConfigError, match="is a file, so"):
        validate.output_file(f / "x.npy", "--out")
    with pytest.raises(ConfigError, match="cannot write in /proc"):
        validate.output_file("/proc/speechdl_test/x.npy", "--out")
    with pytest.raises(ConfigError, match="does not end with .npy"):
        validate.output_file(tmp_path / "x.txt", "--out", (".npy",))
    with pytest.raises(ConfigError, match="is a file, not a folder"):
        validate.output_dir(f, "--out-dir")
    deep = tmp_path / "new" / "deeper" / "x.npy"
    assert validate.output_file(deep, "--out") == deep and not deep.parent.exists()   # nothing is created
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file"]                  # the probe is removed


def test_read_text(tmp_path):
    p = tmp_path / "r.yaml"
    p.write_bytes("a: 1\n".encode("utf-16"))
    assert validate.read_text(p) == "a: 1\n"
    p.write_bytes(b"ok\x00\x01")
    with pytest.raises(ConfigError, match="binary"):
        validate.read_text(p, "recipe")
    with pytest.raises(DataError, match="is a folder"):
        validate.read_text(tmp_path, "transcript", DataError)


def _manifest(tmp_path, rec: dict, sup: dict | None = None):
    import gzip

    d = tmp_path / "m"
    d.mkdir()
    with gzip.open(d / "recordings.jsonl.gz", "wt") as f:
        f.write(json.dumps(rec) + "\n")
    with gzip.open(d / "supervisions.jsonl.gz", "wt") as f:
        f.write(json.dumps(sup) + "\n" if sup else "")
    return d


@pytest.mark.parametrize("rec_changes, sup, words", [
    ({"duration": -5.0, "num_samples": -80000}, None, "not a positive length"),
    ({"duration": float("nan")}, None, "not a positive length"),
    ({"duration": 1e30}, None, "but 32000 samples"),
    ({}, {"id": "s", "recording_id": "r", "start": -1.0, "duration": 1.0}, "not a span"),
    ({}, {"id": "s", "recording_id": "r", "start": 0.0, "duration": 50.0}, "not a span"),
    ({}, {"id": "s", "recording_id": "r", "start": 0.0, "duration": 1.0, "custom": {"speech": [[0, float("inf")]]}},
     "custom speech intervals"),
])
def test_impossible_manifests_are_refused(tmp_path, rec_changes, sup, words):
    from speechdl.data.manifests import load_manifests

    rec = {"id": "r", "sources": [{"type": "file", "channels": [0], "source": "a.wav"}], "sampling_rate": 16000,
           "num_samples": 32000, "duration": 2.0, **rec_changes}
    with pytest.raises(DataError) as info:
        load_manifests(_manifest(tmp_path, rec, sup))
    _one_line(info.value, words)


def test_store_refuses_foreign_files_and_corrupt_rows(tmp_path):
    from speechdl.tasks.speaker.store import SpeakerStore

    foreign = tmp_path / "photos.db"
    db = sqlite3.connect(foreign)
    db.execute("CREATE TABLE photos (id INTEGER, path TEXT)")
    db.commit()
    db.close()
    with pytest.raises(DataError, match="another application or schema"):
        SpeakerStore(foreign)
    assert {r[0] for r in sqlite3.connect(foreign).execute("SELECT name FROM sqlite_master")} == {"photos"}

    path = tmp_path / "s.db"
    with SpeakerStore(path) as s:
        s.enroll("alice", [[1.0, 0.0, 0.0, 0.0]])
        s.enroll("bob", [[0.0, 1.0, 0.0, 0.0]])
    raw = sqlite3.connect(path)
    raw.execute("UPDATE speakers SET mean = ? WHERE name = 'alice'", (np.full(4, np.nan, "<f4").tobytes(),))
    raw.commit()
    raw.close()
    with SpeakerStore(path) as s:
        with pytest.raises(DataError, match="speaker 'alice': a stored embedding is not finite"):
            s.identify([1.0, 0.0, 0.0, 0.0])               # a NaN mean is never ranked
        assert [r["name"] for r in s.speakers()] == ["alice", "bob"] and any("alice" in p for p in s.check())
        assert s.remove("alice") and s.identify([0.0, 1.0, 0.0, 0.0])[0]["name"] == "bob"


def test_errors_pickle_whole():
    import pickle

    err = pickle.loads(pickle.dumps(DataError("m", "bad row", "fix it")))
    assert (err.where, err.what, err.fix, str(err)) == ("m", "bad row", "fix it", "m: bad row (fix it)")

"""Manifest directories: save/load round trips, clear errors, and exact corpus statistics."""

from __future__ import annotations

import gzip

import pytest
from lhotse import CutSet, Recording, RecordingSet, SupervisionSegment, SupervisionSet
from lhotse.audio import AudioSource

from speechdl.data.manifests import (
    RECORDINGS,
    SUPERVISIONS,
    load_manifests,
    manifest_stats,
    save_manifests,
    speech_intervals,
    union_length,
)
from speechdl.errors import DataError


def rec(rid: str, seconds: float, rate: int = 16000) -> Recording:
    n = int(seconds * rate)
    return Recording(rid, [AudioSource("file", [0], f"/nowhere/{rid}.wav")], rate, n, n / rate)


def sup(sid, rid, start, dur, speaker=None, language=None, speech=None) -> SupervisionSegment:
    return SupervisionSegment(sid, rid, start, dur, speaker=speaker, language=language,
                              custom={"speech": speech} if speech is not None else None)


@pytest.fixture
def corpus():
    recs = RecordingSet.from_recordings([rec("r1", 10.0), rec("r2", 10.0)])
    sups = SupervisionSet.from_segments([
        sup("s1", "r1", 0.0, 4.0, speaker="alice", language="en"),
        sup("s2", "r1", 2.0, 4.0, speaker="bob", language="en"),      # overlaps s1 by 2 s
        # exact speech intervals: [1,3] after merging, [8,12] clipped to [8,10]
        sup("s3", "r2", 0.0, 10.0, speaker="alice", language="nl", speech=[[1, 2], [1.5, 3], [8, 12]]),
    ])
    return recs, sups


def test_save_load_round_trip_leaves_no_temp_files(tmp_path, corpus):
    recs, sups = corpus
    out = save_manifests(tmp_path / "m", recs, sups)
    assert sorted(p.name for p in out.iterdir()) == sorted([RECORDINGS, SUPERVISIONS])
    r2, s2 = load_manifests(out)
    assert [r.id for r in r2] == ["r1", "r2"]
    assert [s.id for s in s2] == ["s1", "s2", "s3"]
    assert s2["s3"].custom["speech"] == [[1, 2], [1.5, 3], [8, 12]]


def test_save_without_supervisions_loads_as_empty_set(tmp_path, corpus):
    out = save_manifests(tmp_path / "noise", corpus[0], None)
    recs, sups = load_manifests(out)
    assert len(recs) == 2 and sups is not None and len(sups) == 0


def test_save_refuses_empty_recordings(tmp_path):
    with pytest.raises(DataError, match="no recordings"):
        save_manifests(tmp_path / "m", RecordingSet.from_recordings([]), None)


def test_load_single_files_find_their_sibling(tmp_path, corpus):
    recs, sups = corpus
    recs.to_file(tmp_path / "x_recordings_dev.jsonl.gz")
    sups.to_file(tmp_path / "x_supervisions_dev.jsonl.gz")
    r, s = load_manifests(tmp_path / "x_recordings_dev.jsonl.gz")
    assert len(r) == 2 and len(s) == 3
    r, s = load_manifests(tmp_path / "x_supervisions_dev.jsonl.gz")
    assert len(r) == 2 and len(s) == 3


def test_load_recordings_file_alone_has_no_supervisions(tmp_path, corpus):
    corpus[0].to_file(tmp_path / "recordings.jsonl.gz")
    r, s = load_manifests(tmp_path / "recordings.jsonl.gz")
    assert len(r) == 2 and s is None


def test_supervisions_without_recordings_is_a_data_error(tmp_path, corpus):
    corpus[1].to_file(tmp_path / "supervisions.jsonl.gz")
    with pytest.raises(DataError, match="without its recordings"):
        load_manifests(tmp_path / "supervisions.jsonl.gz")


def test_load_cutset_file_and_directory_with_one_cuts_file(tmp_path, corpus):
    cuts = CutSet.from_manifests(recordings=corpus[0], supervisions=corpus[1])
    cuts.to_file(tmp_path / "cuts_train.jsonl.gz")
    for target in (tmp_path / "cuts_train.jsonl.gz", tmp_path):
        r, s = load_manifests(target)
        assert sorted(x.id for x in r) == ["r1", "r2"]
        assert sorted(x.id for x in s) == ["s1", "s2", "s3"]
        assert s["s2"].start == 2.0


def test_missing_manifest(tmp_path):
    with pytest.raises(DataError, match="manifest not found"):
        load_manifests(tmp_path / "nope")


def test_directory_without_recordings(tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(DataError, match=r"no recordings\.jsonl\.gz .*notes\.txt"):
        load_manifests(tmp_path)


def test_malformed_manifest(tmp_path):
    d = tmp_path / "m"
    d.mkdir()
    (d / RECORDINGS).write_bytes(b"this is not gzip")
    with pytest.raises(DataError, match="malformed manifest"):
        load_manifests(d)
    with gzip.open(d / RECORDINGS, "wt") as f:
        f.write('{"id": "r1", "sources": [}\n')
    with pytest.raises(DataError, match="malformed manifest"):
        load_manifests(d)


def test_empty_recordings_file(tmp_path):
    d = tmp_path / "m"
    d.mkdir()
    with gzip.open(d / RECORDINGS, "wt"):
        pass
    with pytest.raises(DataError, match="no recordings"):
        load_manifests(d)


def test_union_length_merges_and_clips():
    assert union_length([(0, 2), (1, 3), (5, 6)]) == 4.0
    assert union_length([(0, 4), (2, 6)], 0, 10) == 6.0
    assert union_length([(-1, 1), (9, 12)], 0, 10) == 2.0
    assert union_length([(3, 3), (5, 4)]) == 0.0
    assert union_length([(0, 10), (2, 3)]) == 10.0


def test_speech_intervals_prefer_custom():
    assert speech_intervals(sup("a", "r", 1.0, 2.0)) == [(1.0, 3.0)]
    assert speech_intervals(sup("a", "r", 0.0, 9.0, speech=[[1, 2]])) == [(1.0, 2.0)]


def test_stats_exact_numbers(corpus):
    stats = manifest_stats(*corpus)
    assert stats["recordings"] == 2
    assert stats["hours"] == pytest.approx(20 / 3600)
    assert stats["utterances"] == 3
    assert stats["speakers"] == 2
    assert stats["languages"] == {"en": 2, "nl": 1}
    # r1: union([0,4],[2,6]) = 6 s; r2: [1,3] + [8,10] = 4 s  -> 10 of 20 s
    assert stats["speech_hours"] == pytest.approx(10 / 3600)
    assert stats["speech_fraction"] == pytest.approx(0.5)


def test_stats_without_supervisions_and_with_unknown_recording(corpus):
    stats = manifest_stats(corpus[0], None)
    assert stats["utterances"] == 0 and stats["speech_fraction"] == 0.0 and stats["languages"] == {}
    sups = SupervisionSet.from_segments([sup("x", "ghost", 0, 5), sup("y", "r1", 0, 5)])
    stats = manifest_stats(corpus[0], sups)
    assert stats["utterances"] == 2
    assert stats["languages"] == {"unknown": 2}
    assert stats["speech_fraction"] == pytest.approx(5 / 20)

"""Batch items and shards: shard specs, stable hash sharding, items of manifests, spans, cuts, lists, trials."""

from __future__ import annotations

import numpy as np
import pytest
from lhotse import CutSet, Recording, RecordingSet, SupervisionSegment, SupervisionSet

from speechdl import audio
from speechdl.batch_items import Shard, Source, parse_shard, shard_of, trial_items
from speechdl.data.manifests import save_manifests
from speechdl.errors import ConfigError, DataError


@pytest.mark.parametrize("spec, want", [("1/1", Shard(1, 1)), ("3/4", Shard(3, 4)), (" 2 / 2 ", Shard(2, 2)),
                                        (None, Shard(1, 1))])
def test_parse_shard(spec, want):
    assert parse_shard(spec) == want


@pytest.mark.parametrize("spec, msg", [("3/2", "K must be in 1..2"), ("0/0", "N must be at least 1"),
                                       ("0/3", "K must be in 1..3"), ("1/0", "N must be at least 1"),
                                       ("a/b", "expected K/N"), ("2", "expected K/N"), ("-1/2", "expected K/N")])
def test_bad_shard_specs_are_one_line_errors(spec, msg):
    with pytest.raises(ConfigError, match=msg) as err:
        parse_shard(spec)
    assert "\n" not in str(err.value) and str(err.value).startswith("--shard:")


def test_shards_partition_the_ids_stably():
    ids = [f"utt{i:04d}" for i in range(2000)]
    for n in (1, 2, 3, 7):
        shards = [{i for i in ids if Shard(k, n).holds(i)} for k in range(1, n + 1)]
        assert set().union(*shards) == set(ids) and sum(map(len, shards)) == len(ids)
        assert min(map(len, shards)) > 0.8 * len(ids) / n   # balanced
    # golden values: a change of hash would move items between shards of a running corpus
    assert [shard_of(i, 3) for i in ("rec-a", "rec-b", "rec-c", "rec-d", "rec-e", "rec-f")] == [2, 2, 2, 1, 1, 2]
    assert shard_of("utt0000", 1000) == shard_of("utt0000", 1000) and shard_of("x", 1) == 1


@pytest.fixture
def corpus(tmp_path):
    """Two recordings: a 16 kHz mono file and an 8 kHz stereo file; three supervisions."""
    rng = np.random.default_rng(0)
    a, b = tmp_path / "a.wav", tmp_path / "b.wav"
    audio.save(a, (0.1 * rng.standard_normal(16000 * 2)).astype(np.float32), 16000)
    audio.save(b, (0.1 * rng.standard_normal((8000 * 3, 2))).astype(np.float32), 8000)
    recs = RecordingSet.from_recordings([Recording.from_file(b, "rec-b"), Recording.from_file(a, "rec-a")])
    sups = SupervisionSet.from_segments([
        SupervisionSegment("s2", "rec-b", 1.0, 1.5, text="two"),
        SupervisionSegment("s1", "rec-a", 0.5, 1.0, text="one"),
        SupervisionSegment("s3", "rec-b", 0.0, 0.25)])
    return save_manifests(tmp_path / "m", recs, sups), a, b


def test_recording_items_sorted_and_passed_as_paths(corpus):
    m, a, b = corpus
    items = Source("audio", manifest=str(m)).items()
    assert [i.id for i in items] == ["rec-a", "rec-b"]
    assert [i.resolve(16000) for i in items] == [str(a), str(b)]   # single files: the pipeline reads them


def test_supervision_items_are_mono_spans_at_the_model_rate(corpus):
    m, _, b = corpus
    items = Source("audio", manifest=str(m), by="supervision").items()
    assert [i.id for i in items] == ["s1", "s2", "s3"]
    assert items[1].extra == {"recording_id": "rec-b", "start": 1.0, "duration": 1.5}
    x = items[1].resolve(16000)
    assert x.dtype == np.float32 and x.ndim == 1 and x.shape == (24000,)    # 1.5 s of 8 kHz stereo -> 16 kHz mono
    ref, _ = audio.load(b, 16000, offset=1.0, duration=1.5)
    assert np.abs(x - ref).max() < 0.02                                     # the same span, the same mix


def test_cut_items(corpus, tmp_path):
    m, _, _ = corpus
    recs = RecordingSet.from_file(m / "recordings.jsonl.gz")
    sups = SupervisionSet.from_file(m / "supervisions.jsonl.gz")
    cuts = CutSet.from_manifests(recordings=recs, supervisions=sups).trim_to_supervisions(keep_overlapping=False)
    cuts.to_file(tmp_path / "cuts.jsonl.gz")
    items = Source("audio", manifest=str(tmp_path / "cuts.jsonl.gz")).items()
    assert sorted(i.extra["duration"] for i in items) == [0.25, 1.0, 1.5]
    assert [i.id for i in items] == sorted(c.id for c in cuts)
    x = next(i for i in items if i.extra["recording_id"] == "rec-a").resolve(16000)
    assert x.shape == (16000,)      # s1: 1.0 s at 16 kHz


def test_missing_and_malformed_manifests_are_data_errors(tmp_path):
    with pytest.raises(DataError, match="manifest not found"):
        Source("audio", manifest=str(tmp_path / "nope.jsonl.gz")).items()
    bad = tmp_path / "recordings.jsonl.gz"
    bad.write_bytes(b"not gzip")
    with pytest.raises(DataError, match="malformed manifest"):
        Source("audio", manifest=str(bad)).items()
    with pytest.raises(ConfigError, match="--by"):
        Source("audio", manifest=str(bad), by="speaker").items()


def test_folders_lists_and_duplicate_ids(tmp_path, corpus):
    _, a, b = corpus
    (tmp_path / "sub").mkdir()
    audio.save(tmp_path / "sub" / "c.flac", np.zeros(1600, np.float32), 16000)
    (tmp_path / "sub" / "notes.txt").write_text("x")
    ids = [i.id for i in Source("audio", paths=(str(tmp_path / "sub"), str(a))).items()]
    assert ids == sorted([str(a), str(tmp_path / "sub" / "c.flac")])
    lst = tmp_path / "files.lst"
    lst.write_text("# audio\na.wav\n\nb.wav\n")
    assert [i.id for i in Source("audio", list_file=str(lst)).items()] == [str(a), str(b)]
    with pytest.raises(DataError, match="two items share the id"):
        Source("audio", paths=(str(a), str(a))).items()
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no audio files"):
        Source("audio", paths=(str(tmp_path / "empty"),)).items()
    with pytest.raises(DataError, match="list file not found"):
        Source("audio", list_file=str(tmp_path / "none.lst")).items()


def test_trial_lists_of_manifest_ids_or_paths(tmp_path, corpus):
    m, a, b = corpus
    trials = tmp_path / "trials.txt"
    trials.write_text("1 rec-a rec-b\nrec-b rec-a nontarget\nrec-a rec-a\n")
    items = trial_items(trials, m)
    assert [(i.id, i.extra) for i in items] == [("rec-a rec-b", {"target": True}), ("rec-b rec-a", {"target": False}),
                                                ("rec-a rec-a", {})]
    assert items[0].resolve(16000) == (str(a), str(b))
    by_path = Source("audio_pair", trials=str(trials)).items()   # no manifest: paths relative to the list
    assert by_path[0].resolve(16000) == (str(tmp_path / "rec-a"), str(tmp_path / "rec-a"))
    trials.write_text("1 rec-a rec-b\n1 rec-a target\n")
    with pytest.raises(DataError, match=r"trials.txt:2: not a trial"):
        trial_items(trials, m)
    trials.write_text("rec-a rec-z\n")
    with pytest.raises(DataError, match="recording 'rec-z' is not in"):
        trial_items(trials, m)
    with pytest.raises(ConfigError, match="needs pairs"):
        Source("audio_pair", manifest=str(m)).items()


def test_text_items(tmp_path):
    lst = tmp_path / "texts.txt"
    lst.write_text("greeting\thello world\nplain line\n")
    items = Source("text", list_file=str(lst)).items()
    assert [(i.id, i.resolve(0)) for i in items] == [("000002", "plain line"), ("greeting", "hello world")]

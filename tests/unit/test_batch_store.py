"""Batch result files: durable appends, repair of a cut-off line, retry of errors, the shard lock, merge."""

from __future__ import annotations

import json

import pytest

from speechdl.batch_items import Shard
from speechdl.batch_store import (
    ShardWriter,
    check_config,
    merge,
    read_records,
    results_path,
    shard_status,
    summary_path,
    write_json,
)
from speechdl.errors import ConfigError, DataError


def _write(path, *records, retry=False):
    with ShardWriter(path, retry) as w:
        done = w.open()
        for r in records:
            w.write(r)
    return done


def test_append_then_reopen_gives_the_done_set(tmp_path):
    p = results_path(tmp_path, Shard(1, 2))
    assert p.name == "results.1-of-2.jsonl"
    assert _write(p, {"id": "a", "ok": True, "result": {"v": "é"}}) == {}
    done = _write(p, {"id": "b", "ok": False, "error": "x.wav: not audio"})
    assert list(done) == ["a"] and done["a"]["result"] == {"v": "é"}
    lines = p.read_text(encoding="utf-8").splitlines()
    assert [json.loads(ln)["id"] for ln in lines] == ["a", "b"] and all("\n" not in ln for ln in lines)


def test_a_cut_off_last_line_is_repaired_on_open(tmp_path):
    p = results_path(tmp_path, Shard(1, 1))
    _write(p, {"id": "a", "ok": True, "result": {}}, {"id": "b", "ok": True, "result": {}})
    with open(p, "ab") as f:     # what a crash inside write() would leave
        f.write(b'{"id":"c","ok":tr')
    records, dropped = read_records(p)
    assert [r["id"] for r in records] == ["a", "b"] and dropped == 1
    with ShardWriter(p) as w:
        assert sorted(w.open()) == ["a", "b"] and w.repaired == 1
        w.write({"id": "c", "ok": True, "result": {}})
    assert [json.loads(ln)["id"] for ln in p.read_text().splitlines()] == ["a", "b", "c"]   # no glued line
    assert read_records(p)[1] == 0


def test_retry_errors_drops_the_error_records(tmp_path):
    p = results_path(tmp_path, Shard(1, 1))
    _write(p, {"id": "a", "ok": True, "result": {}}, {"id": "b", "ok": False, "error": "bad"})
    assert sorted(_write(p)) == ["a", "b"]                 # errors count as done by default
    assert sorted(_write(p, retry=True)) == ["a"]          # ... and are dropped with retry
    assert [r["id"] for r in read_records(p)[0]] == ["a"]


def test_one_writer_per_shard(tmp_path):
    p = results_path(tmp_path, Shard(1, 1))
    with ShardWriter(p) as first:
        first.open()
        with pytest.raises(ConfigError, match="another process is writing this shard"):
            ShardWriter(p).open()
    with ShardWriter(p) as again:   # released on close
        again.open()


def test_merge_sorts_by_id_prefers_ok_and_checks_completion(tmp_path):
    _write(results_path(tmp_path, Shard(1, 2)), {"id": "c", "ok": True, "result": {"n": 3}},
           {"id": "a", "ok": False, "error": "bad"})
    _write(results_path(tmp_path, Shard(2, 2)), {"id": "b", "ok": True, "result": {"n": 2}})
    write_json(summary_path(tmp_path, Shard(1, 2)), {"complete": True})
    assert shard_status(tmp_path) == {2: {"complete": ["1/2"], "running_or_killed": ["2/2"], "missing": []}}
    with pytest.raises(DataError, match=r"shard\(s\) 2/2 not finished"):
        merge(tmp_path)
    partial = merge(tmp_path, tmp_path / "partial.jsonl", allow_missing=True)
    assert partial["unfinished"] == ["2/2"] and partial["records"] == 3
    write_json(summary_path(tmp_path, Shard(2, 2)), {"complete": True})
    _write(results_path(tmp_path, Shard(1, 1)), {"id": "a", "ok": True, "result": {"n": 1}})   # a 1-shard rerun
    write_json(summary_path(tmp_path, Shard(1, 1)), {"complete": True})
    s = merge(tmp_path)
    merged = [json.loads(ln) for ln in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert [r["id"] for r in merged] == ["a", "b", "c"] and merged[0]["ok"] is True   # ok beats the error
    assert (s["records"], s["ok"], s["errors"], s["shards"]) == (3, 3, 0, {"1": ["1/1"], "2": ["1/2", "2/2"]})


def test_merge_errors(tmp_path):
    with pytest.raises(DataError, match="not a results folder"):
        merge(tmp_path / "nope")
    with pytest.raises(DataError, match="no results.K-of-N.jsonl files"):
        merge(tmp_path)


def test_check_config_refuses_a_different_run(tmp_path):
    cfg = {"model": "vad", "options": {"threshold": None}}
    check_config(tmp_path, cfg)
    check_config(tmp_path, dict(cfg))     # the same run resumes
    with pytest.raises(ConfigError, match="different options"):
        check_config(tmp_path, {"model": "vad", "options": {"threshold": 0.3}})

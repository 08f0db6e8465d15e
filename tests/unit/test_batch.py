"""Batch runs: results equal the pipeline's, shards merge to the single run, resume, per-item errors,
audio-pair and text tasks. The Dask engine: test_batch_engine.py."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from lhotse import Recording, RecordingSet

import speechdl
from speechdl.api import Option, Pipeline, Result
from speechdl.batch import load_cached, run_shard
from speechdl.batch_items import Source
from speechdl.errors import ConfigError

SAMPLE = Path(speechdl.__file__).parent / "assets" / "sample.flac"


def make_manifest(folder: Path, n: int, broken: tuple[int, ...] = ()) -> Path:
    """``n`` recordings ``copy00..`` of copies of the sample (``broken`` ones: a text file named .flac)."""
    folder.mkdir(parents=True, exist_ok=True)
    recs = []
    for i in range(n):
        path = folder / f"copy{i:02d}.flac"
        shutil.copy(SAMPLE, path)
        recs.append(Recording.from_file(path, recording_id=f"copy{i:02d}"))
        if i in broken:
            path.write_text("not audio")
    RecordingSet.from_recordings(recs).to_file(folder / "recordings.jsonl.gz")
    return folder / "recordings.jsonl.gz"


def lines(path: Path) -> list[dict]:
    return [json.loads(ln) for ln in path.read_text().splitlines()]


@pytest.fixture(scope="module")
def vad():
    return load_cached("vad")


def test_results_are_the_pipelines_and_errors_are_records(tmp_path, vad):
    manifest = make_manifest(tmp_path / "data", 5, broken=(2,))
    s = run_shard("vad", manifest, tmp_path / "out", progress=False)
    assert (s["items"], s["processed"], s["ok"], s["errors"], s["errors_now"], s["complete"]) == (5, 5, 4, 1, 1, True)
    assert s["audio_seconds"] == pytest.approx(4 * 13.613437, abs=1e-3)
    merged = lines(tmp_path / "out" / "results.jsonl")
    assert [r["id"] for r in merged] == [f"copy{i:02d}" for i in range(5)]
    for i, r in enumerate(merged):
        path = str(tmp_path / "data" / f"copy{i:02d}.flac")
        if i == 2:   # unreadable audio in the middle: one record, the run went on
            assert r["ok"] is False and r["error"].startswith(path) and "\n" not in r["error"]
        else:
            assert r["ok"] is True and r["result"] == vad.run(path).to_dict()


def test_shards_merge_to_the_single_run_and_reruns_resume(tmp_path, vad):
    manifest = make_manifest(tmp_path / "data", 7)
    whole = run_shard(vad, manifest, tmp_path / "one", progress=False)
    assert whole["merged"] and whole["shard"] == "1/1"
    parts = [run_shard(vad, manifest, tmp_path / "three", f"{k}/3", progress=False) for k in (1, 2, 3)]
    assert sum(p["items"] for p in parts) == 7 and [p["merged"] is None for p in parts] == [True, True, False]
    assert (tmp_path / "three" / "results.jsonl").read_bytes() == (tmp_path / "one" / "results.jsonl").read_bytes()
    again = run_shard(vad, manifest, tmp_path / "one", progress=False)
    assert (again["skipped"], again["processed"]) == (7, 0)
    # lose the last record (a run killed after it): only that item runs again
    res = tmp_path / "one" / "results.1-of-1.jsonl"
    res.write_text("".join(ln + "\n" for ln in res.read_text().splitlines()[:-1]))
    again = run_shard(vad, manifest, tmp_path / "one", progress=False)
    assert (again["skipped"], again["processed"], again["ok"]) == (6, 1, 7)
    assert (tmp_path / "three" / "results.jsonl").read_bytes() == (tmp_path / "one" / "results.jsonl").read_bytes()


def test_retry_errors_and_options(tmp_path, vad):
    manifest = make_manifest(tmp_path / "data", 3, broken=(1,))
    assert run_shard(vad, manifest, tmp_path / "out", progress=False)["errors"] == 1
    shutil.copy(SAMPLE, tmp_path / "data" / "copy01.flac")         # the file is mended
    assert run_shard(vad, manifest, tmp_path / "out", progress=False)["errors"] == 1   # errors stay done ...
    s = run_shard(vad, manifest, tmp_path / "out", retry_errors=True, progress=False)  # ... unless retried
    assert (s["processed"], s["errors"]) == (1, 0)
    with pytest.raises(ConfigError, match="holds results of another run"):
        run_shard(vad, manifest, tmp_path / "out", options={"threshold": 0.3}, progress=False)
    with pytest.raises(ConfigError, match="unknown option"):
        run_shard(vad, manifest, tmp_path / "other", options={"treshold": 0.3}, progress=False)
    assert not (tmp_path / "other").exists()    # options are checked before anything is written
    s = run_shard(vad, manifest, tmp_path / "low", options={"threshold": "0.2", "min_silence": 5}, progress=False)
    rec = lines(tmp_path / "low" / "results.jsonl")[0]
    assert rec["result"]["thresholds"]["onset"] == 0.2 and len(rec["result"]["segments"]) == 1


@dataclass
class PairResult(Result):
    task = "toy_pair"
    longer: str
    ratio: float


class ToyPairPipeline(Pipeline):
    """An audio-pair task: which of the two inputs is longer."""

    task, inputs = "toy_pair", "audio_pair"
    options = (Option("scale", "float", 1.0, "multiplies the ratio"),)

    def _run(self, inputs, scale=1.0):
        from speechdl import audio

        a, b = (len(x) if not isinstance(x, str) else audio.info(x).frames for x in inputs)
        return PairResult(longer="a" if a >= b else "b", ratio=scale * a / b)


@dataclass
class TextResult(Result):
    task = "toy_text"
    words: int


class ToyTextPipeline(Pipeline):
    task, inputs = "toy_text", "text"

    def _run(self, inputs):
        return TextResult(words=len(inputs.split()))


def test_audio_pair_task_over_a_trial_list(tmp_path):
    from speechdl import audio

    manifest = make_manifest(tmp_path / "data", 2)
    audio.save(tmp_path / "data" / "copy01.flac", np.zeros(8000, np.float32), 16000)   # 0.5 s
    trials = tmp_path / "trials.txt"
    trials.write_text("target copy00 copy00\ncopy00 copy01 nontarget\ncopy01 copy00\n")
    pipe = ToyPairPipeline(None, {}, 16000)
    s = run_shard(pipe, Source("audio_pair", manifest=str(manifest), trials=str(trials)), tmp_path / "out",
                  options={"scale": 2}, progress=False)
    assert s["ok"] == 3
    got = {r["id"]: (r.get("target"), r["result"]["longer"], r["result"]["ratio"])
           for r in lines(tmp_path / "out" / "results.jsonl")}
    assert got == {"copy00 copy00": (True, "a", 2.0),
                   "copy00 copy01": (False, "a", pytest.approx(2 * 217815 / 8000, abs=1e-6)),
                   "copy01 copy00": (None, "b", pytest.approx(2 * 8000 / 217815, abs=1e-6))}


def test_text_task_over_a_list(tmp_path):
    texts = tmp_path / "texts.txt"
    texts.write_text("a\tone two three\nb\tfour\n")
    run_shard(ToyTextPipeline(None, {}, 0), Source("text", list_file=str(texts)), tmp_path / "out", progress=False)
    assert [(r["id"], r["result"]["words"]) for r in lines(tmp_path / "out" / "results.jsonl")] == [("a", 3), ("b", 1)]



@pytest.mark.slow
@pytest.mark.parametrize("name", [m["name"] for m in speechdl.api.available()])
def test_every_shipped_model_runs_in_batch(tmp_path, name):
    """Driven by the shipped bundles: each one's batch record is its pipeline's own result."""
    pipe = load_cached(name)
    manifest = make_manifest(tmp_path / "data", 1)
    audio = str(tmp_path / "data" / "copy00.flac")
    if pipe.inputs == "audio":
        source, direct = Source("audio", manifest=str(manifest)), audio
    elif pipe.inputs == "audio_pair":
        (tmp_path / "trials.txt").write_text("target copy00 copy00\n")
        source = Source("audio_pair", manifest=str(manifest), trials=str(tmp_path / "trials.txt"))
        direct = (audio, audio)
    else:
        (tmp_path / "texts.txt").write_text("t1\tspeech technology\n")
        source, direct = Source("text", list_file=str(tmp_path / "texts.txt")), "speech technology"
    s = run_shard(pipe, source, tmp_path / "out", progress=False)
    [record] = lines(tmp_path / "out" / "results.jsonl")
    assert s["ok"] == 1 and record["ok"] is True and record["result"] == pipe.run(direct).to_dict()

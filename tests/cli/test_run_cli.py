"""``speechdl run``: one input at a time, a batch over a manifest in shards (resumable; a SIGKILLed run loses at
most the item in flight and leaves no broken line), ``merge``, and one-line errors with exit code 2."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from lhotse import Recording, RecordingSet

from speechdl.cli import main
from tests.unit.test_batch import SAMPLE, make_manifest

ROOT = Path(__file__).resolve().parents[2]


def _run(capsys, *args) -> tuple[int, str, str]:
    code = main(["run", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def test_bool_options_are_flags(capsys, tmp_path):
    other = tmp_path / "b.flac"
    shutil.copy(SAMPLE, other)
    # before: --probabilities took b.flac as its value ("expected true or false")
    code, out, _ = _run(capsys, "vad", SAMPLE, "--probabilities", other, "--format", "json")
    rows = [json.loads(ln) for ln in out.splitlines()]
    assert code == 0 and [r["file"] for r in rows] == [str(SAMPLE), str(other)]
    assert all(len(r["probabilities"]) > 400 for r in rows)
    code, out, _ = _run(capsys, "vad", SAMPLE, "--probabilities", "false", "--format", "json")
    assert code == 0 and json.loads(out)["probabilities"] is None


def test_help_lists_the_models_options(capsys):
    code, out, _ = _run(capsys, "vad", "--help")
    assert code == 0 and "--shard K/N" in out and "--min-silence" in out and "options of this model (vad" in out


def test_batch_over_a_manifest_in_shards_then_merge(capsys, tmp_path):
    manifest = make_manifest(tmp_path / "data", 5, broken=(3,))
    out = tmp_path / "out"
    code, text, _ = _run(capsys, "vad", "--manifest", manifest, "--out", out, "--shard", "1/2", "--min-silence", "0.5")
    assert code == 0 and "1/2:" in text and "results:" in text and "merged:" not in text
    code, text, _ = _run(capsys, "vad", "--manifest", manifest, "--out", out, "--shard", "2/2", "--min-silence", "0.5",
                         "--format", "json")
    s2 = json.loads(text)
    assert code == 0 and s2["shard"] == "2/2" and s2["merged"] == str(out / "results.jsonl")   # the last shard merges
    merged = [json.loads(ln) for ln in (out / "results.jsonl").read_text().splitlines()]
    assert [r["id"] for r in merged] == [f"copy{i:02d}" for i in range(5)]
    assert [r["ok"] for r in merged] == [True, True, True, False, True]   # unreadable audio: one error record
    code, text, _ = _run(capsys, "merge", out, "--into", tmp_path / "all.jsonl", "--format", "json")
    m = json.loads(text)
    assert code == 0 and (m["records"], m["ok"], m["errors"], m["shards"]) == (5, 4, 1, {"2": ["1/2", "2/2"]})
    assert (tmp_path / "all.jsonl").read_bytes() == (out / "results.jsonl").read_bytes()
    code, text, _ = _run(capsys, "merge", out)
    assert code == 0 and "5 records (4 ok, 1 errors) from 2 of 2 shards" in text


def test_folder_and_files_batch(capsys, tmp_path):
    folder = tmp_path / "audio"
    folder.mkdir()
    for name in ("x.flac", "y.flac"):
        shutil.copy(SAMPLE, folder / name)
    code, text, _ = _run(capsys, "vad", folder, "--out", tmp_path / "out", "--format", "json")
    s = json.loads(text)
    assert code == 0 and (s["items"], s["ok"]) == (2, 2)
    ids = [json.loads(ln)["id"] for ln in (tmp_path / "out" / "results.jsonl").read_text().splitlines()]
    assert ids == [str(folder / "x.flac"), str(folder / "y.flac")]


@pytest.mark.parametrize("args, message", [
    (["vad", "--manifest", "{tmp}/none.jsonl.gz", "--out", "{tmp}/o"], "manifest not found"),
    (["vad", "--manifest", "{manifest}", "--out", "{tmp}/o", "--shard", "3/2"], "--shard: 3/2 is not a shard"),
    (["vad", "--manifest", "{manifest}", "--out", "{tmp}/o", "--shard", "0/0"], "--shard: 0/0 is not a shard"),
    (["vad", "--manifest", "{manifest}"], "needs --out DIR"),
    (["vad", "{tmp}"], "is a folder"),
    (["vad", "--manifest", "{manifest}", "--out", "{tmp}/o", "--treshold", "0.3"], "unknown option(s) treshold"),
    (["vad", "--manifest", "{manifest}", "--out", "{tmp}/o", "--threshold", "2"], "option threshold: expected"),
    (["vad", "--manifest", "{manifest}", "--out", "{tmp}/o", "--by", "speaker"], "--by: unknown value"),
    (["vad", "--manifest", "{manifest}", "--out", "{tmp}/o", "--engine", "ray"], "engine ray: not supported"),
    (["vad", "--manifest", "{manifest}", "--out", "{tmp}/o", "--engine", "dask", "--shard", "1/2"], "an engine runs"),
    (["vad", "--manifest", "{manifest}", "--out", "{tmp}/o", "--workers", "2"], "is an engine option"),
    (["vad", "--manifest", "{manifest}", "--out", "{tmp}/o", "--engine", "dask", "--workers", "0"], "--workers"),
    (["merge", "{tmp}/nothing"], "not a results folder"),
    (["merge"], "expected one results folder"),
    (["nomodel", "--manifest", "{manifest}", "--out", "{tmp}/o"], "no bundle here"),
])
def test_user_errors_are_one_line_exit_2(capsys, tmp_path, args, message):
    manifest = make_manifest(tmp_path / "data", 1)
    code, out, err = _run(capsys, *[a.format(tmp=tmp_path, manifest=manifest) for a in args])
    assert code == 2 and message in err and err.count("\n") == 1 and err.startswith("speechdl: error:"), err
    assert not (tmp_path / "o").exists()       # nothing written


def test_merge_refuses_unfinished_shards(capsys, tmp_path):
    manifest = make_manifest(tmp_path / "data", 2)
    assert _run(capsys, "vad", "--manifest", manifest, "--out", tmp_path / "o", "--shard", "1/3")[0] == 0
    code, _, err = _run(capsys, "merge", tmp_path / "o")
    assert code == 2 and "shard(s) 2/3, 3/3 not finished" in err
    code, out, _ = _run(capsys, "merge", tmp_path / "o", "--allow-missing")
    assert code == 0 and "unfinished: 2/3, 3/3" in out


def test_sigkill_mid_run_loses_at_most_the_item_in_flight(tmp_path):
    """A real subprocess killed with SIGKILL while it writes, then one stopped by Ctrl-C: every line is whole,
    and the last rerun does exactly the rest."""
    n = 300
    audio = tmp_path / "a.flac"
    shutil.copy(SAMPLE, audio)
    recs = [Recording.from_file(audio, recording_id=f"utt{i:04d}") for i in range(n)]
    RecordingSet.from_recordings(recs).to_file(tmp_path / "recordings.jsonl.gz")
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "speechdl.cli", "run", "vad", "--manifest", str(tmp_path / "recordings.jsonl.gz"),
           "--out", str(out), "--format", "json"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    results = out / "results.1-of-1.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if results.exists() and results.read_bytes().count(b"\n") >= 5:
            break
        time.sleep(0.01)
    assert proc.poll() is None, "the run ended before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    data = results.read_bytes()
    kept = [json.loads(ln) for ln in data.splitlines() if ln.strip()]   # raises on a broken line
    assert 5 <= len(kept) < n and data.endswith(b"\n") and all(r["ok"] for r in kept)
    assert not (out / "summary.1-of-1.json").exists() and not (out / "results.jsonl").exists()

    # Ctrl-C: a one-line message, exit 130, whole lines again
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if results.read_bytes().count(b"\n") >= len(kept) + 5:
            break
        time.sleep(0.01)
    assert proc.poll() is None, "the second run ended before it could be interrupted"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130 and "items done; rerun to resume)" in err and "Traceback" not in err, err
    kept = [json.loads(ln) for ln in results.read_bytes().splitlines() if ln.strip()]
    assert len({r["id"] for r in kept}) == len(kept) < n

    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    s = json.loads(done.stdout.strip().splitlines()[-1])
    assert (s["items"], s["skipped"], s["processed"], s["ok"], s["errors"]) == (n, len(kept), n - len(kept), n, 0)
    merged = [json.loads(ln) for ln in (out / "results.jsonl").read_text().splitlines()]
    assert [r["id"] for r in merged] == [f"utt{i:04d}" for i in range(n)]                # each once, sorted
    first = {k: v for k, v in merged[0]["result"].items()}
    assert all(r["result"] == first for r in merged)                                     # same audio, same answer


@pytest.mark.slow
def test_engine_dask_from_the_command_line(capsys, tmp_path):
    pytest.importorskip("dask.distributed", reason="the distributed extra (make setup installs it)")
    manifest = make_manifest(tmp_path / "data", 3)
    code, text, _ = _run(capsys, "vad", "--manifest", manifest, "--out", tmp_path / "o", "--engine", "dask",
                         "--workers", "1", "--shards", "2", "--format", "json")
    s = json.loads(text)
    assert code == 0 and (s["engine"], s["shards"], s["ok"], s["pipeline_loads"]) == ("dask", 2, 3, 1)
    assert sorted(p.name for p in (tmp_path / "o").glob("results*.jsonl")) == [
        "results.1-of-2.jsonl", "results.2-of-2.jsonl", "results.jsonl"]

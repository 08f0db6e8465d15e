"""The Dask engine in its local mode: 2 worker processes give the single process's results, each worker loads
the pipeline once (across shards and across runs), a rerun resumes, bad engines and options fail in the client."""

from __future__ import annotations

import logging

import pytest

from speechdl.batch import run_shard
from speechdl.batch_engine import run_distributed
from speechdl.batch_store import read_records
from speechdl.errors import ConfigError
from tests.unit.test_batch import make_manifest

pytestmark = pytest.mark.slow   # a cluster of two fresh Python processes that import torch: 10-40 s here


@pytest.fixture(scope="module")
def scheduler():
    distributed = pytest.importorskip("dask.distributed", reason="the distributed extra (make setup installs it)")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                                       silence_logs=logging.ERROR)
    yield cluster.scheduler_address
    cluster.close()


def test_dask_local_cluster_equals_the_single_process(tmp_path, scheduler):
    manifest = make_manifest(tmp_path / "data", 6, broken=(4,))
    run_shard("vad", manifest, tmp_path / "single", progress=False, threads=1)
    d = run_distributed("vad", manifest, tmp_path / "dask", engine="dask", shards=4, address=scheduler, progress=False)
    assert (d["items"], d["processed"], d["ok"], d["errors"], d["shards"]) == (6, 6, 5, 1, 4)
    assert sorted(p["shard"] for p in d["per_shard"]) == ["1/4", "2/4", "3/4", "4/4"]
    assert d["merged"] and open(d["merged"], "rb").read() == (tmp_path / "single" / "results.jsonl").read_bytes()
    assert sum(len(read_records(p)[0]) for p in (tmp_path / "dask").glob("results.*-of-4.jsonl")) == 6
    pids = d["worker_pids"]
    assert 1 <= len(pids) <= 2 and d["pipeline_loads"] == len(pids)   # 4 shards, one load per worker
    again = run_distributed("vad", manifest, tmp_path / "dask", shards=4, address=scheduler, progress=False)
    assert (again["skipped"], again["processed"]) == (6, 0)           # resumed: nothing left to do
    assert set(again["worker_pids"]) <= {p["pid"] for p in d["per_shard"]} | set(pids)
    assert all(p["pipeline_loads"] == 1 for p in again["per_shard"])  # the workers kept their pipeline


def test_local_cluster_started_by_the_call(tmp_path):
    pytest.importorskip("dask.distributed", reason="the distributed extra (make setup installs it)")
    manifest = make_manifest(tmp_path / "data", 2)
    d = run_distributed("vad", manifest, tmp_path / "out", workers=1, progress=False)
    assert (d["workers"], d["shards"], d["ok"], d["pipeline_loads"]) == (1, 1, 2, 1)
    assert (tmp_path / "out" / "results.1-of-1.jsonl").exists() and (tmp_path / "out" / "results.jsonl").exists()


def test_engine_errors_come_before_any_work(tmp_path):
    manifest = make_manifest(tmp_path / "data", 1)
    with pytest.raises(ConfigError, match="engine ray: not supported"):
        run_distributed("vad", manifest, tmp_path / "ray", engine="ray")
    with pytest.raises(ConfigError, match="unknown option"):
        run_distributed("vad", manifest, tmp_path / "bad", options={"treshold": 1})
    with pytest.raises(ConfigError, match="1 workers|0 workers"):
        run_distributed("vad", manifest, tmp_path / "bad", workers=0)
    assert not (tmp_path / "ray").exists() and not (tmp_path / "bad").exists()

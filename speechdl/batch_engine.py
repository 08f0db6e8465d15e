"""Batch runs on an existing distributed engine: Dask (``dask.distributed``).

:func:`run_distributed` cuts the items into ``shards`` shards (default: one per worker), submits one task
per shard (:func:`speechdl.batch.shard_task`) and merges the shard files when all are done. A worker is a
process that keeps its loaded pipelines between tasks, so it loads the model once however many shards it
runs. Every task writes its shard's files itself (append + fsync, resumable), so ``out`` must be a folder
that every worker can write: any folder for the local cluster, a shared file system for a cluster of
machines (``address="tcp://HEAD:8786"`` of a running ``dask scheduler``; see ``docs/distributed.md``).

Dask was chosen over Ray Data for its install (measured on this machine: ``pip download distributed``
= 5.2 MB with every dependency, of which 11 small packages were new; ``ray[data]`` = 160 MB, with pyarrow
and pandas) and because it runs plain Python functions on plain files with no dataset layer. Install it
with ``pip install 'speechdl[distributed]'``.

Example:
    >>> import tempfile
    >>> s = run_distributed("vad", Source("audio", paths=("speechdl/assets/sample.flac",)), tempfile.mkdtemp(),
    ...                     workers=1, progress=False)   # doctest: +SKIP
    >>> s["ok"], s["shards"]   # doctest: +SKIP
    (1, 1)
    >>> check_engine("ray")
    Traceback (most recent call last):
    ...
    speechdl.errors.ConfigError: engine ray: not supported (use engine dask (pip install 'speechdl[distributed]'))
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

from speechdl.batch_items import Shard, Source
from speechdl.errors import ConfigError

ENGINES = ("dask",)


def check_engine(engine: str) -> None:
    """ConfigError unless ``engine`` is supported and importable."""
    if engine not in ENGINES:
        raise ConfigError(f"engine {engine}", "not supported", "use engine dask (pip install 'speechdl[distributed]')")
    try:
        import dask.distributed  # noqa: F401
    except ImportError:
        raise ConfigError(f"engine {engine}", "dask.distributed is not installed",
                          "pip install 'speechdl[distributed]'") from None


def check_model(model: str | os.PathLike, options: dict[str, Any] | None) -> str:
    """Check, in the client and without loading the weights, that ``model`` names a bundle and that
    ``options`` are valid for its task; returns the pipeline's ``inputs`` kind."""
    from speechdl.api import Pipeline, pipeline_class, read_meta

    _, meta = read_meta(model)
    cls = pipeline_class(meta["task"])
    Pipeline.check_options(cls, dict(options or {}))   # the declarations are class attributes
    return cls.inputs


def _client(workers: int, threads: int, address: str | None) -> tuple[Any, Any]:
    from dask.distributed import Client, LocalCluster

    if address:
        try:
            return Client(address, timeout="20s"), None
        except OSError as err:
            raise ConfigError(f"scheduler {address}", f"cannot connect ({err})",
                              "start 'dask scheduler' there, or leave --scheduler out for a local cluster") from None
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0",
                           silence_logs=logging.ERROR, env={"OMP_NUM_THREADS": str(threads)})
    return Client(cluster), cluster


def run_distributed(model: str | os.PathLike, manifest: Source | str | os.PathLike, out: str | os.PathLike,
                    engine: str = "dask", workers: int = 2, shards: int | None = None,
                    options: dict[str, Any] | None = None, address: str | None = None, threads: int = 1,
                    retry_errors: bool = False, progress: bool = True) -> dict[str, Any]:
    """Run every shard of ``manifest`` with ``model`` on ``engine`` and merge them into ``out/results.jsonl``.

    Args:
        model: shipped name or bundle folder (each worker loads it once).
        manifest: a :class:`Source`, or a lhotse manifest path (one item per recording).
        out: output folder (shared by all workers).
        engine: ``"dask"``.
        workers: worker processes of the local cluster (ignored with ``address``).
        shards: number of shards N (default: ``workers``); keep it when resuming.
        options: the pipeline's options.
        address: a running Dask scheduler (``tcp://host:8786``); None starts a local cluster.
        threads: torch threads per worker process.
        retry_errors, progress: as in :func:`speechdl.batch.run_shard` (the bar counts shards).

    Returns:
        ``{"engine", "workers", "shards", "items", "processed", "skipped", "ok", "errors", "seconds",
        "startup_seconds", "items_per_second", "audio_seconds", "x_real_time", "worker_pids",
        "pipeline_loads", "merged", "per_shard"}`` (``seconds``: from submitting to the last shard, s).
    """
    from speechdl.batch import shard_task
    from speechdl.batch_store import merge
    from speechdl.console import progress as bar

    check_engine(engine)
    if int(workers) < 1:
        raise ConfigError("workers", f"{workers} workers", "use at least 1")
    n = int(shards or workers)
    if n < 1:
        raise ConfigError("shards", f"{n} shards", "use at least 1")
    kind = check_model(model, options)
    source = manifest if isinstance(manifest, Source) else Source(kind, manifest=str(manifest))
    if source.kind != kind:
        source = Source(kind, source.manifest, source.by, source.trials, source.paths, source.list_file)
    source.items()   # fail here, once, on a missing or malformed manifest
    out = str(Path(out).resolve())
    t0 = time.perf_counter()
    client, cluster = _client(int(workers), int(threads), address)
    try:
        startup = time.perf_counter() - t0
        from dask.distributed import as_completed

        t1 = time.perf_counter()
        futures = [client.submit(shard_task, str(model), source, out, Shard(k, n), options, retry_errors, threads,
                                 pure=False, key=f"speechdl-shard-{k}-of-{n}-{os.getpid()}-{time.time_ns()}")
                   for k in range(1, n + 1)]
        per_shard = [f.result() for f in bar(as_completed(futures), total=n, desc=f"{model} shards", unit="shard",
                                             enabled=progress)]
        seconds = time.perf_counter() - t1
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    per_shard.sort(key=lambda s: int(s["shard"].split("/")[0]))
    merged = merge(out)
    total = {k: sum(s[k] for s in per_shard) for k in ("items", "processed", "skipped", "ok", "errors")}
    audio = sum(s["audio_seconds"] for s in per_shard)
    rate = round(total["processed"] / seconds, 3) if seconds > 0 and total["processed"] else None
    loads = {}
    for s in per_shard:
        loads[s["pid"]] = max(loads.get(s["pid"], 0), s["pipeline_loads"])
    return {"engine": engine, "workers": int(workers) if not address else len(loads), "shards": n, **total,
            "seconds": round(seconds, 3), "startup_seconds": round(startup, 3),
            "items_per_second": rate,
            "audio_seconds": round(audio, 3),
            "x_real_time": round(audio / seconds, 2) if seconds > 0 and audio else None,
            "worker_pids": sorted(loads), "pipeline_loads": sum(loads.values()), "merged": merged["out"],
            "per_shard": per_shard}

"""Batch runs of any pipeline over a manifest, in shards, with resumable atomic outputs.

``run_shard(model, source, out, shard)`` runs one shard ``K/N`` of the items of ``source`` (a lhotse
manifest, files, a folder, a list or a trial list: :class:`~speechdl.batch_items.Source`) and appends one
JSON record per item to ``out/results.K-of-N.jsonl`` (:mod:`speechdl.batch_store`). A rerun skips the
items already there; a killed run loses at most the item in flight. Items that fail (unreadable audio)
become error records and the run goes on; they are counted in the summary. When the last shard of N
finishes, the shards are merged into ``out/results.jsonl`` (sorted by id).

:func:`speechdl.batch_engine.run_distributed` maps the shards onto the workers of a Dask cluster (a local
one by default):
each worker process loads the pipeline once and runs whole shards with :func:`run_shard`, so its files
are those of the command line. The command line is ``speechdl run MODEL --manifest M --out DIR
[--shard K/N]`` (see :mod:`speechdl.api_cli` and ``docs/distributed.md``).

Example:
    >>> import tempfile
    >>> out = tempfile.mkdtemp()
    >>> s = run_shard("vad", Source("audio", paths=("speechdl/assets/sample.flac",)), out, progress=False)
    >>> s["items"], s["ok"], s["errors"], s["complete"]
    (1, 1, 0, True)
    >>> run_shard("vad", Source("audio", paths=("speechdl/assets/sample.flac",)), out, progress=False)["skipped"]
    1
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from speechdl.api import Pipeline, jsonable
from speechdl.batch_items import Item, Shard, Source, parse_shard
from speechdl.batch_store import ShardWriter, all_complete, check_config, merge, results_path, summary_path, write_json
from speechdl.errors import SpeechdlError

__all__ = ["Shard", "Source", "load_cached", "merge", "parse_shard", "run_item", "run_shard"]

_LOADED: dict[str, Pipeline] = {}
LOADS = {"count": 0}   # pipelines loaded by this process (a worker loads each model once)


def load_cached(model: str | os.PathLike | Pipeline) -> Pipeline:
    """``model`` if it is a pipeline, else ``speechdl.load(model)`` loaded once per process."""
    if isinstance(model, Pipeline):
        return model
    from speechdl.api import load

    key = str(model)
    if key not in _LOADED:
        _LOADED[key] = load(model)
        LOADS["count"] += 1
    return _LOADED[key]


def error_line(err: BaseException) -> str:
    """One line for an item's error record (a speechdl error is already one line)."""
    if isinstance(err, SpeechdlError):
        return str(err)
    text = (str(err).strip().splitlines() or [""])[0]
    return f"{type(err).__name__}: {text}"[:500]


def run_item(pipe: Pipeline, item: Item, options: dict[str, Any]) -> dict[str, Any]:
    """The record of one item: ``{"id", "ok": True, "result"}`` or ``{"id", "ok": False, "error"}``,
    plus the item's extra fields. Any exception of the item (not of the process) becomes an error record."""
    try:
        result = pipe.run(item.resolve(pipe.sample_rate), **options)
        return {"id": item.id, **jsonable(item.extra), "ok": True, "result": result.to_dict()}
    except Exception as err:   # per item: count it and go on
        return {"id": item.id, **jsonable(item.extra), "ok": False, "error": error_line(err)}


def run_config(pipe: Pipeline, options: dict[str, Any], source: Source) -> dict[str, Any]:
    """What ``batch.json`` records: a rerun must match it to resume."""
    return {"model": pipe.name, "task": pipe.task, "inputs": pipe.inputs, "options": jsonable(options),
            "source": source.describe()}


def run_shard(model: str | os.PathLike | Pipeline, source: Source | str | os.PathLike, out: str | os.PathLike,
              shard: Shard | str | None = None, options: dict[str, Any] | None = None, retry_errors: bool = False,
              progress: bool = True, threads: int | None = None, auto_merge: bool = True) -> dict[str, Any]:
    """Run shard ``K/N`` of ``source`` with ``model`` into ``out``; return the shard's summary.

    Args:
        model: shipped name, bundle folder, or a loaded :class:`~speechdl.api.Pipeline`.
        source: a :class:`Source`, or a manifest path (one item per recording).
        out: output folder (created); see :mod:`speechdl.batch_store` for its files.
        shard: :class:`Shard` or ``"K/N"`` (default ``1/1``: everything).
        options: the pipeline's options (checked once, before anything is written).
        retry_errors: run again the items whose earlier record is an error.
        progress: a progress bar on stderr (when it is a terminal).
        threads: torch intra-op threads for this process (None: unchanged).
        auto_merge: merge into ``out/results.jsonl`` when this was the last unfinished shard.

    Returns:
        ``{"model", "task", "shard", "items", "skipped", "processed", "ok", "errors", "errors_now",
        "seconds", "items_per_second", "audio_seconds", "x_real_time", "results", "complete", "merged"}``;
        ``audio_seconds`` sums the ``duration`` of this run's results when the task reports one (s).
    """
    from speechdl.console import progress as bar

    shard = shard if isinstance(shard, Shard) else parse_shard(shard)
    if not isinstance(source, Source):
        source = Source("audio", manifest=str(source))
    if threads:
        import torch

        torch.set_num_threads(int(threads))
    pipe = load_cached(model)
    if source.kind != pipe.inputs:
        source = Source(pipe.inputs, source.manifest, source.by, source.trials, source.paths, source.list_file)
    opts = pipe.check_options(options or {})
    items = [it for it in source.items() if shard.holds(it.id)]
    out = Path(out)
    if out.exists() and not out.is_dir():
        from speechdl.errors import ConfigError

        raise ConfigError(out, "exists and is not a folder", "pass a folder to --out")
    out.mkdir(parents=True, exist_ok=True)
    check_config(out, run_config(pipe, opts, source))
    start = time.perf_counter()
    with ShardWriter(results_path(out, shard), retry_errors) as writer:
        done = writer.open()
        summary_path(out, shard).unlink(missing_ok=True)   # in progress from now on
        todo = [it for it in items if it.id not in done]
        errors_now, audio_seconds = 0, 0.0
        for item in bar(todo, total=len(items), initial=len(items) - len(todo), desc=f"{pipe.name} {shard}",
                        unit="item", enabled=progress):   # a resumed shard shows (and reports) N of all
            record = run_item(pipe, item, opts)
            writer.write(record)
            done[item.id] = record
            if record["ok"]:
                duration = record["result"].get("duration")
                audio_seconds += float(duration) if isinstance(duration, int | float) else 0.0
            else:
                errors_now += 1
    seconds = time.perf_counter() - start
    wanted = {it.id for it in items}
    ok = sum(1 for i, r in done.items() if i in wanted and r.get("ok"))
    summary = {"model": pipe.name, "task": pipe.task, "shard": str(shard), "items": len(items),
               "skipped": len(items) - len(todo), "processed": len(todo), "ok": ok, "errors": len(items) - ok,
               "errors_now": errors_now, "seconds": round(seconds, 3),
               "items_per_second": round(len(todo) / seconds, 3) if seconds > 0 and todo else None,
               "audio_seconds": round(audio_seconds, 3),
               "x_real_time": round(audio_seconds / seconds, 2) if seconds > 0 and audio_seconds else None,
               "results": str(results_path(out, shard)), "repaired_lines": writer.repaired, "complete": True}
    write_json(summary_path(out, shard), summary)
    merged = merge(out) if auto_merge and all_complete(out, shard.count) else None
    return {**summary, "merged": merged["out"] if merged else None}


def shard_task(model: str, source: Source, out: str, shard: Shard, options: dict[str, Any] | None,
               retry_errors: bool = False, threads: int | None = 1) -> dict[str, Any]:
    """One engine task: :func:`run_shard` without a progress bar or merge, plus the worker's pid and how
    many pipelines this process has loaded (so a caller can check each worker loaded the model once)."""
    summary = run_shard(model, source, out, shard, options, retry_errors, progress=False, threads=threads,
                        auto_merge=False)
    return {**summary, "pid": os.getpid(), "pipeline_loads": LOADS["count"]}

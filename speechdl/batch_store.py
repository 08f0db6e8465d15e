"""The files of a batch run: one JSON-lines results file per shard, appended durably; merge into one file.

An output folder ``DIR`` holds, for shard K of N:

- ``results.K-of-N.jsonl``: one record per finished item, ``{"id", "ok": true, "result": {...}}`` or
  ``{"id", "ok": false, "error": "one line"}`` (plus the item's extra fields: span, trial label). Each
  record is one ``write`` of a whole line followed by ``fsync``, so a killed run loses at most the item
  in flight. On opening, a trailing partial line (a crash inside a write) is cut off by rewriting the
  file to a temporary name and renaming it; nothing else is ever rewritten.
- ``summary.K-of-N.json`` (written atomically when the shard finishes; removed when it starts again):
  the shard is complete when it exists.
- ``batch.json``: model, task, options and inputs of the run, so a rerun with other settings is refused.
- ``results.jsonl`` (by :func:`merge`): every shard's records, one per id, sorted by id.

A lock (``.results.K-of-N.lock``, ``flock``) stops two processes writing the same shard.

Example:
    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp())
    >>> w = ShardWriter(results_path(out, Shard(1, 1)))
    >>> w.open()
    {}
    >>> w.write({"id": "b", "ok": True, "result": {"x": 1}}); w.write({"id": "a", "ok": False, "error": "bad"})
    >>> w.close(); _ = write_json(summary_path(out, Shard(1, 1)), {"complete": True})
    >>> merge(out)["records"], [r["id"] for r in read_records(out / "results.jsonl")[0]]
    (2, ['a', 'b'])
"""

from __future__ import annotations

import fcntl
import json
import os
import re
from pathlib import Path
from typing import Any

from speechdl.batch_items import Shard
from speechdl.errors import ConfigError, DataError

MERGED = "results.jsonl"
CONFIG = "batch.json"
_SHARD_FILE = re.compile(r"results\.(\d+)-of-(\d+)\.jsonl$")


def results_path(out: str | os.PathLike, shard: Shard) -> Path:
    """``DIR/results.K-of-N.jsonl``."""
    return Path(out) / f"results.{shard.name}.jsonl"


def summary_path(out: str | os.PathLike, shard: Shard) -> Path:
    """``DIR/summary.K-of-N.json`` (present once the shard is complete)."""
    return Path(out) / f"summary.{shard.name}.json"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to ``path`` through a temporary file in the same folder, fsync and rename."""
    from speechdl.audio import atomic_write

    final = Path(path)
    with atomic_write(final) as tmp:   # a full disk: one OutputError line, no temporary file left
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
    _fsync_dir(final.parent)
    return final


def write_json(path: str | os.PathLike, data: Any) -> Path:
    """:func:`write_text_atomic` of ``data`` as indented JSON."""
    return write_text_atomic(path, json.dumps(data, indent=1, ensure_ascii=False) + "\n")


def read_records(path: str | os.PathLike) -> tuple[list[dict[str, Any]], int]:
    """``(records, dropped)``: the complete JSON-object lines with an ``id`` of ``path`` (none if it does not
    exist), and how many lines were not (a partial last line, a damaged line)."""
    p = Path(path)
    if not p.exists():
        return [], 0
    data = p.read_bytes()
    lines = data.split(b"\n")
    tail = lines.pop()   # after the last newline: empty, or a line cut short
    records, dropped = [], int(bool(tail.strip()))
    for line in lines:
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except ValueError:
            dropped += 1
            continue
        if isinstance(rec, dict) and isinstance(rec.get("id"), str):
            records.append(rec)
        else:
            dropped += 1
    return records, dropped


def _line(record: dict[str, Any]) -> bytes:
    return (json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")


class ShardWriter:
    """Appends records to one shard's results file, durably, under a lock.

    :meth:`open` returns the records already there by id (the done-set). With ``retry_errors`` the error
    records are dropped (so those items run again).
    """

    def __init__(self, path: str | os.PathLike, retry_errors: bool = False) -> None:
        self.path = Path(path)
        self.retry_errors = retry_errors
        self._fd: int | None = None
        self._lock: int | None = None
        self.repaired = 0

    def open(self) -> dict[str, dict[str, Any]]:
        """Lock the shard, repair a cut-off last line, and return ``{id: record}`` of the finished items."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock = self.path.with_name(f".{self.path.stem}.lock")
        self._lock = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._lock)
            self._lock = None
            raise ConfigError(self.path, "another process is writing this shard",
                              "wait for it to finish or stop it; each shard runs in one process") from None
        records, dropped = read_records(self.path)
        keep = [r for r in records if r.get("ok") or not self.retry_errors]
        done = {r["id"]: r for r in keep}
        if dropped or len(keep) != len(records) or len(done) != len(keep):
            write_text_atomic(self.path, b"".join(_line(r) for r in done.values()).decode("utf-8"))
        self.repaired = dropped
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
        return done

    def write(self, record: dict[str, Any]) -> None:
        """Append ``record`` as one line and fsync it."""
        if self._fd is None:
            raise RuntimeError("ShardWriter.write before open")
        view = memoryview(_line(record))
        while view:
            view = view[os.write(self._fd, view):]
        os.fsync(self._fd)

    def close(self) -> None:
        """Close the file and release the lock."""
        for name in ("_fd", "_lock"):
            fd = getattr(self, name)
            if fd is not None:
                os.close(fd)
                setattr(self, name, None)

    def __enter__(self) -> ShardWriter:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def check_config(out: str | os.PathLike, config: dict[str, Any]) -> None:
    """Write ``DIR/batch.json`` on the first run; refuse a run whose model, options or inputs differ."""
    path = Path(out) / CONFIG
    if path.exists():
        try:
            old = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            old = None
        if old is not None and old != config:
            diff = sorted(k for k in set(old) | set(config) if old.get(k) != config.get(k))
            raise ConfigError(out, f"holds results of another run (different {', '.join(diff)}: see {CONFIG})",
                              "use another --out, or the same model, options and inputs to resume")
        if old is not None:
            return
    write_json(path, config)


def shard_files(out: str | os.PathLike) -> dict[Shard, Path]:
    """The shard results files in ``out``: ``{Shard(K, N): path}``."""
    found = {}
    for p in Path(out).glob("results.*-of-*.jsonl"):
        m = _SHARD_FILE.fullmatch(p.name)
        if m and 1 <= int(m.group(1)) <= int(m.group(2)):
            found[Shard(int(m.group(1)), int(m.group(2)))] = p
    return found


def shard_status(out: str | os.PathLike) -> dict[int, dict[str, list[str]]]:
    """Per shard count N present in ``out``: ``{"complete", "running_or_killed", "missing"}`` shard lists."""
    files = shard_files(out)
    status: dict[int, dict[str, list[str]]] = {}
    for n in sorted({s.count for s in files}):
        groups: dict[str, list[str]] = {"complete": [], "running_or_killed": [], "missing": []}
        for k in range(1, n + 1):
            s = Shard(k, n)
            key = "complete" if summary_path(out, s).exists() else "running_or_killed" if s in files else "missing"
            groups[key].append(str(s))
        status[n] = groups
    return status


def all_complete(out: str | os.PathLike, count: int) -> bool:
    """Whether every shard ``K/count`` of ``out`` has finished."""
    return all(summary_path(out, Shard(k, count)).exists() for k in range(1, count + 1))


def merge(out: str | os.PathLike, into: str | os.PathLike | None = None, allow_missing: bool = False) -> dict[str, Any]:
    """Concatenate the shards of ``out`` into ``into`` (default ``DIR/results.jsonl``), one record per id
    (an ``ok`` record wins over an error), sorted by id, written atomically.

    Raises :class:`DataError` when ``out`` has no shard files, or when a shard is unfinished (missing,
    running or killed) unless ``allow_missing``. Returns a summary dict.
    """
    out = Path(out)
    if not out.is_dir():
        raise DataError(out, "not a results folder", "pass the --out DIR of 'speechdl run MODEL ... --out DIR'")
    files = shard_files(out)
    if not files:
        raise DataError(out, "no results.K-of-N.jsonl files here", "run 'speechdl run MODEL ... --out DIR' first")
    status = shard_status(out)
    unfinished = [s for g in status.values() for s in g["running_or_killed"] + g["missing"]]
    if unfinished and not allow_missing:
        raise DataError(out, f"shard(s) {', '.join(unfinished[:8])} not finished (missing, running or killed)",
                        "run them (again: they resume), or pass --allow-missing")
    best: dict[str, dict[str, Any]] = {}
    dropped = 0
    for shard in sorted(files, key=lambda s: (s.count, s.index)):
        records, bad = read_records(files[shard])
        dropped += bad
        for r in records:
            if r["id"] not in best or (r.get("ok") and not best[r["id"]].get("ok")):
                best[r["id"]] = r
    target = Path(into) if into else out / MERGED
    write_text_atomic(target, b"".join(_line(best[k]) for k in sorted(best)).decode("utf-8"))
    ok = sum(1 for r in best.values() if r.get("ok"))
    return {"out": str(target), "records": len(best), "ok": ok, "errors": len(best) - ok,
            "shards": {str(n): g["complete"] for n, g in status.items()},
            "unfinished": unfinished, "damaged_lines": dropped}

"""``speechdl run``: any model, the contract way, on a few inputs or on a whole corpus in shards.

One input at a time (prints each result)::

    speechdl run MODEL INPUT... [--OPTION VALUE]... [--format text|json]

A batch (writes ``DIR/results.K-of-N.jsonl``, resumable; prints a summary)::

    speechdl run MODEL --out DIR [--manifest M [--by recording|supervision]] [--trials LIST] [--list FILE]
                 [INPUT|FOLDER]... [--shard K/N] [--retry-errors] [--no-progress]
                 [--engine dask [--workers W] [--shards N] [--scheduler ADDRESS] [--threads T]]
                 [--OPTION VALUE]... [--format text|json]
    speechdl run merge DIR [--into FILE] [--allow-missing] [--format text|json]

The options are the pipeline's declared :class:`~speechdl.api.Option` s (``speechdl run vad x.wav
--threshold 0.4``; ``speechdl run vad --help`` lists them); a ``bool`` option is a flag (``--probabilities``,
or ``--probabilities false``). ``--format json`` prints ``Result.to_json()`` (one line per input), the same
JSON the HTTP API returns. Audio-pair tasks (speaker verification) take inputs two by two, or ``--trials``.
The batch flags above are reserved names (no pipeline declares them). See ``docs/distributed.md``.

Example:
    >>> parse_rest(["a.wav", "--threshold", "0.4", "--probabilities", "b.wav"], flags={"probabilities"})
    (['a.wav', 'b.wav'], {'threshold': '0.4', 'probabilities': True})
    >>> parse_rest(["--probabilities", "false", "a.wav"], flags={"probabilities"})
    (['a.wav'], {'probabilities': 'false'})
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Collection
from typing import Any

from speechdl.console import START_OVER, interruptible, progress, write_out
from speechdl.errors import ConfigError

BATCH_VALUES = ("out", "manifest", "by", "trials", "list", "shard", "engine", "workers", "shards", "scheduler",
                "threads")
BATCH_FLAGS = ("retry_errors", "no_progress")
MERGE_OPTIONS = ("into", "allow_missing")
_BOOL_WORDS = ("1", "0", "true", "false", "yes", "no", "on", "off")


def parse_rest(rest: list[str], flags: Collection[str] = ()) -> tuple[list[str], dict[str, Any]]:
    """Split ``rest`` into inputs and ``--name value`` options.

    ``flags`` are the names that take no value (bool options): ``--name`` alone is True, and a following
    ``true``/``false`` word is taken as its value. Any other ``--name`` takes the next token (or is True
    at the end of the line, which the option's check then refuses).
    """
    inputs: list[str] = []
    options: dict[str, Any] = {}
    i = 0
    while i < len(rest):
        tok = rest[i]
        if tok.startswith("--") and len(tok) > 2:
            name, eq, value = tok[2:].partition("=")
            name = name.replace("-", "_")
            nxt = rest[i + 1] if i + 1 < len(rest) else None
            if eq:
                options[name] = value
            elif name in flags:
                options[name] = True
                if nxt is not None and nxt.lower() in _BOOL_WORDS:
                    options[name] = nxt
                    i += 1
            elif nxt is not None and not (nxt.startswith("--") and len(nxt) > 2):
                options[name] = nxt
                i += 1
            else:
                options[name] = True
        else:
            inputs.append(tok)
        i += 1
    return inputs, options


def group_inputs(kind: str, inputs: list[str]) -> list[Any]:
    """Inputs as the pipeline takes them: pairs for ``audio_pair`` tasks."""
    if not inputs:
        raise ConfigError("speechdl run", "no input given", "pass audio files (or text for text tasks)")
    if kind == "audio_pair":
        if len(inputs) % 2:
            raise ConfigError("speechdl run", f"{len(inputs)} inputs for a task that compares pairs",
                              "pass the inputs two by two: A1 B1 A2 B2 ...")
        return [(inputs[i], inputs[i + 1]) for i in range(0, len(inputs), 2)]
    return list(inputs)


def _int(options: dict[str, Any], name: str, default: int | None) -> int | None:
    value = options.get(name, default)
    if value is None:
        return None
    try:
        number = int(str(value))
    except ValueError:
        number = 0
    if number < 1:
        raise ConfigError(f"--{name}", f"expected a whole number >= 1, got {value!r}", f"e.g. --{name} 2")
    return number


def _word(options: dict[str, Any], name: str) -> str | None:
    value = options.get(name)
    if value is True:
        raise ConfigError(f"--{name}", "needs a value", f"pass --{name} VALUE")
    return None if value is None else str(value)


def _flag(options: dict[str, Any], name: str) -> bool:
    from speechdl.api import Option

    return bool(Option(name, "bool", False, "").parse(options.get(name, False)))


def _summary_text(s: dict[str, Any]) -> str:
    where = f"{s['engine']} x{s['workers']} workers, {s['shards']} shards" if "engine" in s else s["shard"]
    speed = f", {s['items_per_second']} items/s" if s.get("items_per_second") else ""
    speed += f", {s['x_real_time']}x real time" if s.get("x_real_time") else ""
    lines = [f"{s.get('model', '')} {where}: {s['items']} items: {s['skipped']} done before, {s['processed']} run now "
             f"in {s['seconds']} s{speed}; {s['ok']} ok, {s['errors']} errors"]
    if s.get("results"):
        lines.append(f"results: {s['results']}")
    if s.get("merged"):
        lines.append(f"merged: {s['merged']}")
    if s["errors"]:
        lines.append(f"{s['errors']} items failed: their records have \"ok\": false and an \"error\" line "
                     "(--retry-errors runs them again)")
    return "\n".join(lines)


def run_batch(model: str, kind: str, inputs: list[str], options: dict[str, Any], fmt: str) -> int:
    """``speechdl run MODEL --out DIR ...``: one shard here, or every shard on an engine."""
    import json

    from speechdl.batch import run_shard
    from speechdl.batch_engine import run_distributed
    from speechdl.batch_items import Source, parse_shard

    batch = {k: options.pop(k) for k in (*BATCH_VALUES, *BATCH_FLAGS) if k in options}
    out = _word(batch, "out")
    if not out:
        raise ConfigError("speechdl run", "a batch (--manifest, --trials, --list, --shard or --engine) needs --out DIR",
                          "add --out DIR for the results files")
    source = Source(kind, manifest=_word(batch, "manifest"), by=_word(batch, "by") or "recording",
                    trials=_word(batch, "trials"), paths=tuple(inputs), list_file=_word(batch, "list"))
    progress = not _flag(batch, "no_progress")
    retry = _flag(batch, "retry_errors")
    engine = _word(batch, "engine")
    if engine:
        if "shard" in batch:
            raise ConfigError("--shard", "an engine runs every shard itself", "drop --shard, or drop --engine")
        with interruptible(f"run {model} --engine {engine} into {out}", "shards", "finished items are kept; "
                           "rerun to resume"):
            summary = run_distributed(model, source, out, engine=engine, workers=_int(batch, "workers", 2),
                                      shards=_int(batch, "shards", None), options=options,
                                      address=_word(batch, "scheduler"), threads=_int(batch, "threads", 1),
                                      retry_errors=retry, progress=progress)
        summary["model"] = model
    else:
        for name in ("workers", "shards", "scheduler"):
            if name in batch:
                raise ConfigError(f"--{name}", "is an engine option", "add --engine dask, or drop it")
        shard, threads = parse_shard(_word(batch, "shard")), _int(batch, "threads", None)
        with interruptible(f"run {model} shard {shard} into {out}", "items"):   # finished items are kept
            summary = run_shard(model, source, out, shard, options, retry, progress, threads=threads)
    print(json.dumps(summary, ensure_ascii=False) if fmt == "json" else _summary_text(summary))
    return 0


def merge_cmd(rest: list[str], fmt: str) -> int:
    """``speechdl run merge DIR [--into FILE] [--allow-missing]``."""
    import json

    from speechdl.batch_store import merge

    inputs, options = parse_rest(rest, flags={"allow_missing"})
    fmt = _format(options.pop("format", fmt))
    unknown = sorted(set(options) - set(MERGE_OPTIONS))
    if unknown or len(inputs) != 1:
        raise ConfigError("speechdl run merge", f"unknown option --{unknown[0]}" if unknown else
                          f"expected one results folder, got {len(inputs)}", "usage: speechdl run merge DIR "
                          "[--into FILE] [--allow-missing]")
    s = merge(inputs[0], _word(options, "into"), _flag(options, "allow_missing"))
    if fmt == "json":
        print(json.dumps(s, ensure_ascii=False))
    else:
        shards = "; ".join(f"{len(v)} of {n} shards" for n, v in s["shards"].items())
        print(f"{s['out']}: {s['records']} records ({s['ok']} ok, {s['errors']} errors) from {shards}"
              + (f"; unfinished: {', '.join(s['unfinished'])}" if s["unfinished"] else ""))
    return 0


def _options_help(cls: Any) -> str:
    rows = [f"  --{o.name.replace('_', '-'):<16} {o.kind:<5} {o.help}" for o in cls.options]
    return f"options of this model ({cls.task}, inputs: {cls.inputs}):\n" + ("\n".join(rows) or "  (none)")


def run_cmd(args: argparse.Namespace) -> int:
    """Handler of ``speechdl run``."""
    from speechdl.api import pipeline_class, read_meta

    fmt = args.format
    if args.model == "merge":
        return merge_cmd(args.rest, fmt)
    _, meta = read_meta(args.model)
    cls = pipeline_class(meta["task"])
    flags = {o.name for o in cls.options if o.kind == "bool"} | set(BATCH_FLAGS) | {"help"}
    inputs, options = parse_rest(args.rest, flags=flags)
    fmt = _format(options.pop("format", fmt))
    if options.pop("help", False):
        args.subparser.print_help()
        print("\n" + _options_help(cls))
        return 0
    if any(k in options for k in (*BATCH_VALUES, *BATCH_FLAGS)):
        return run_batch(args.model, cls.inputs, inputs, options, fmt)
    folders = [i for i in inputs if cls.inputs != "text" and os.path.isdir(i)]
    if folders:
        raise ConfigError(folders[0], "is a folder", "a folder is a batch: add --out DIR for the results files")
    from speechdl.api import load

    pipe = load(args.model)
    items = group_inputs(pipe.inputs, inputs)
    opts = pipe.check_options(options)
    with interruptible(f"run {args.model}", "inputs", START_OVER + ", or add --out DIR for a batch that resumes"):
        for item in progress(items, total=len(items), desc=f"run {args.model}", unit="input"):
            result = pipe.run(item, **opts)
            write_out((result.to_json() if fmt == "json" else result.to_text()) + "\n")
    return 0


def _format(fmt: Any) -> str:
    if fmt not in ("text", "json"):
        raise ConfigError("--format", f"unknown format {fmt!r}", "use text or json")
    return str(fmt)


def register(groups: Any) -> None:
    """Add ``speechdl run``."""
    p = groups.add_parser(
        "run", help="run any model by name (the application contract) on inputs, or on a corpus in shards",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="speechdl run MODEL INPUT... [--OPTION VALUE]... [--format text|json]\n"
                    "speechdl run MODEL --out DIR [--manifest M [--by recording|supervision]] [--trials LIST]\n"
                    "             [--list FILE] [INPUT|FOLDER]... [--shard K/N] [--retry-errors] [--no-progress]\n"
                    "             [--engine dask [--workers W] [--shards N] [--scheduler ADDRESS]] [--threads T]\n"
                    "speechdl run merge DIR [--into FILE] [--allow-missing]\n\n"
                    "MODEL: a shipped name (speechdl models) or a bundle directory. A batch writes one JSON line\n"
                    "per item to DIR/results.K-of-N.jsonl (a rerun resumes) and merges the shards into\n"
                    "DIR/results.jsonl when all are done. See docs/distributed.md.")
    p.add_argument("model", help="shipped bundle name or bundle directory ('merge' merges a batch's shards)")
    p.add_argument("--format", choices=["text", "json"], default="text", help="output format")
    p.add_argument("rest", nargs=argparse.REMAINDER, help="inputs and --option value pairs")
    p.set_defaults(func=run_cmd, subparser=p)

"""``speechdl models [--format text|json]``: the shipped bundles and what each answers.

Example:
    >>> rows = model_rows()
    >>> {"name": "vad", "task": "vad"} in [{k: r[k] for k in ("name", "task")} for r in rows]
    True
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any


def model_rows() -> list[dict[str, Any]]:
    """One row per shipped bundle: name, task, inputs, streaming, parameters."""
    from speechdl.api import pipeline_class, read_meta
    from speechdl.pretrained.locate import shipped_bundles

    rows = []
    for name in shipped_bundles():
        _, meta = read_meta(name)
        cls = pipeline_class(meta["task"])
        rows.append({"name": name, "task": meta["task"], "inputs": cls.inputs, "streaming": cls.streaming,
                     "architecture": meta.get("model", {}).get("name", ""),
                     "parameters": meta.get("weights", {}).get("parameters", 0)})
    return rows


def run_models(args: argparse.Namespace) -> int:
    """Handler of ``speechdl models``."""
    from speechdl.console import emit

    rows = model_rows()
    emit(rows, args.format, table=rows)
    return 0


def register(groups: Any) -> None:
    """Add ``speechdl models``."""
    p = groups.add_parser("models", help="list the shipped models (bundles) and their tasks")
    p.add_argument("--format", choices=["text", "json"], default="text", help="output format")
    p.set_defaults(func=run_models)


def add_export_arguments(parser, task: str, onnx_help: str) -> None:
    """The arguments every ``speechdl <task> export`` verb shares: ``RUN``, ``--bundle``, ``--onnx``, ``--model``."""
    from speechdl import validate

    parser.add_argument("run", nargs="?", default=None, help="training run directory (its out_dir)")
    parser.add_argument("--bundle", default=None, metavar="OUT", type=validate.dir_arg("--bundle"),
                        help="bundle directory to write")
    parser.add_argument("--onnx", default=None, metavar="OUT.onnx", type=validate.file_arg("--onnx"), help=onnx_help)
    parser.add_argument("--model", default=task, metavar="BUNDLE", help=f"bundle for --onnx without a run ({task})")


def run_export_verb(args: argparse.Namespace, verb: str, task: str, export_run: Callable[[str, str], Path]) -> int:
    """What ``speechdl <verb> export`` (bundles of ``task``) does with :func:`add_export_arguments`'s
    arguments: bundle the run (``export_run(run, bundle)``) and/or write the ONNX graph of that bundle (or of
    ``--model``)."""
    from speechdl.errors import ConfigError

    if not args.bundle and not args.onnx:
        raise ConfigError(f"{verb} export", "nothing to write", "pass --bundle OUT and/or --onnx OUT.onnx")
    source = args.model
    if not args.run and source == task:
        from speechdl.pretrained.locate import shipped_bundles

        if task not in shipped_bundles():
            raise ConfigError(f"{verb} export", f"no {task} bundle is shipped to export",
                              f"pass --model BUNDLE_DIR, or a run: speechdl {verb} export RUN --bundle OUT")
    if args.run:
        if not args.bundle:
            raise ConfigError(f"{verb} export", "a run directory is exported with --bundle OUT", "add --bundle DIR")
        source = export_run(args.run, args.bundle)
        print(f"bundle: {source}")
    if args.onnx:
        from speechdl.onnx.export import export_bundle, summary_line

        print(summary_line(export_bundle(source, task, args.onnx)))
    return 0

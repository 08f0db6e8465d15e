"""``speechdl run MODEL INPUT... [--OPTION VALUE]... [--format text|json]``: any model, the contract way.

The options are the pipeline's declared :class:`~speechdl.api.Option` s (``speechdl run vad x.wav
--threshold 0.4``); ``--format json`` prints ``Result.to_json()`` (one line per input), the same JSON
the HTTP API returns. Audio-pair tasks (speaker verification) take inputs two by two.

Example:
    >>> parse_rest(["a.wav", "--threshold", "0.4", "b.wav", "--probabilities"])
    (['a.wav', 'b.wav'], {'threshold': '0.4', 'probabilities': True})
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from speechdl.errors import ConfigError


def parse_rest(rest: list[str]) -> tuple[list[str], dict[str, Any]]:
    """Split ``rest`` into inputs and ``--name value`` options (a flag without a value is True)."""
    inputs: list[str] = []
    options: dict[str, Any] = {}
    i = 0
    while i < len(rest):
        tok = rest[i]
        if tok.startswith("--") and len(tok) > 2:
            name, eq, value = tok[2:].partition("=")
            name = name.replace("-", "_")
            if eq:
                options[name] = value
            elif i + 1 < len(rest) and not rest[i + 1].startswith("--"):
                options[name] = rest[i + 1]
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


def run_cmd(args: argparse.Namespace) -> int:
    """Handler of ``speechdl run``."""
    from speechdl.api import load

    inputs, options = parse_rest(args.rest)
    fmt = options.pop("format", args.format)
    if fmt not in ("text", "json"):
        raise ConfigError("--format", f"unknown format {fmt!r}", "use text or json")
    pipe = load(args.model)
    items = group_inputs(pipe.inputs, inputs)
    opts = pipe.check_options(options)
    for item in items:
        result = pipe.run(item, **opts)
        sys.stdout.write((result.to_json() if fmt == "json" else result.to_text()) + "\n")
        sys.stdout.flush()
    return 0


def register(groups: Any) -> None:
    """Add ``speechdl run``."""
    p = groups.add_parser("run", help="run any model by name (the application contract) on inputs",
                          description="speechdl run MODEL INPUT... [--OPTION VALUE]... [--format text|json]. "
                                      "MODEL: a shipped name (speechdl models) or a bundle directory.")
    p.add_argument("model", help="shipped bundle name or bundle directory")
    p.add_argument("--format", choices=["text", "json"], default="text", help="output format")
    p.add_argument("rest", nargs=argparse.REMAINDER, help="inputs and --option value pairs")
    p.set_defaults(func=run_cmd)

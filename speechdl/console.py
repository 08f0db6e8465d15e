"""Printing for the command line: human tables by default, JSON for machines, progress bars.

Example:
    >>> from speechdl.console import format_table
    >>> print(format_table([{"a": 1, "b": 2.5}]))
    a  b
    -  ---
    1  2.5
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from typing import Any

from tqdm import tqdm


def _cell(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}" if abs(v) < 1e4 else f"{v:,.0f}"
    return str(v)


def format_table(rows: Sequence[dict[str, Any]], columns: Sequence[str] | None = None) -> str:
    """Plain aligned text table of ``rows`` (dicts sharing keys)."""
    if not rows:
        return "(no rows)"
    cols = list(columns or rows[0].keys())
    cells = [[_cell(r.get(c, "")) for c in cols] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(cols, widths)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip() for row in cells]
    return "\n".join(lines)


def emit(data: Any, fmt: str = "text", table: Sequence[dict[str, Any]] | None = None) -> None:
    """Print ``data`` as JSON (``fmt == 'json'``) or ``table`` (or ``data``) as a text table."""
    if fmt == "json":
        print(json.dumps(data, ensure_ascii=False))
    elif table is not None:
        print(format_table(table))
    elif isinstance(data, dict):
        print(format_table([{"key": k, "value": v} for k, v in data.items()]))
    else:
        print(data)


def write_report(report: dict[str, Any], fmt: str, text: str, out: str | None = None) -> None:
    """Finish a benchmark: write ``report`` as JSON to ``out`` (atomically, if given), then print it
    (``fmt == 'json'``) or the human ``text``."""
    if out:
        from pathlib import Path

        from speechdl.audio import atomic_write

        with atomic_write(out, suffix=".json") as tmp:
            Path(tmp).write_text(json.dumps(report, indent=1, ensure_ascii=False))
    print(json.dumps(report, ensure_ascii=False) if fmt == "json" else text)


def progress(items: Iterable, total: int | None = None, desc: str = "", unit: str = "it", enabled: bool = True):
    """A tqdm progress bar on stderr, silent when stderr is not a terminal or ``enabled`` is False."""
    return tqdm(items, total=total, desc=desc, unit=unit, disable=not enabled or not sys.stderr.isatty(),
                file=sys.stderr, dynamic_ncols=True)


def add_format_option(parser) -> None:
    """Add the shared ``--format text|json`` option to an argparse parser."""
    parser.add_argument("--format", choices=["text", "json"], default="text", help="output format")

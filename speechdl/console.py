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
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
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


class Progress(tqdm):
    """A tqdm bar that counts what is finished (:attr:`done`, ``initial`` included) even when it is hidden,
    so an interrupted verb can say how far it got (:func:`interruptible`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.done, self._iterating = int(kwargs.get("initial") or 0), False
        if _OPEN is not None:
            _OPEN.append(self)

    def __iter__(self):
        self._iterating = True
        for x in super().__iter__():
            yield x
            self.done += 1   # the loop body of ``x`` has returned

    def update(self, n: float | None = 1) -> bool | None:
        if not self._iterating:
            self.done += int(n or 0)
        return super().update(n)


def progress(items: Iterable | None, total: int | None = None, desc: str = "", unit: str = "it",
             enabled: bool = True, initial: int = 0) -> Progress:
    """A tqdm progress bar on stderr, silent when stderr is not a terminal or ``enabled`` is False.

    ``initial``: items already done by an earlier run (a resumed build shows ``initial + done`` of ``total``).
    """
    return Progress(items, total=total, desc=desc, unit=unit, disable=not enabled or not sys.stderr.isatty(),
                    file=sys.stderr, dynamic_ncols=True, initial=initial)


def write_out(text: str) -> None:
    """Write ``text`` to stdout at once (flushed), clearing a progress bar on the terminal first and redrawing it
    after, so results printed file by file and the bar do not garble each other."""
    with Progress.external_write_mode():
        sys.stdout.write(text)
        sys.stdout.flush()


START_OVER = "rerun to start over"   # the hint of a verb whose rerun redoes everything (nothing half-written)


class Interrupted(KeyboardInterrupt):
    """Ctrl-C (or SIGTERM) in a verb's long loop, as the one line the CLI prints after ``speechdl: interrupted:``
    (exit 130), e.g. ``data synth into out/ (12 of 40 recordings done; rerun to resume)``."""


_OPEN: list[Progress] | None = None   # bars opened inside interruptible() blocks, innermost last


@contextmanager
def interruptible(what: str, noun: str = "items", hint: str = "rerun to resume") -> Iterator[None]:
    """Turn a ``KeyboardInterrupt`` in the block into :class:`Interrupted`: ``WHAT (N of M NOUN done; HINT)``
    with the counts of the last :func:`progress` bar opened in the block.

    ``hint`` says what a rerun does: ``rerun to resume`` where finished work is kept and skipped, else e.g.
    ``nothing was written``. Writers in the block must be atomic (:func:`speechdl.audio.atomic_write`), so an
    interruption leaves no half-written output.

    Example:
        >>> try:
        ...     with interruptible("data synth into out/", "recordings"):
        ...         for i in progress(range(30), total=40, initial=10):
        ...             if i == 2:
        ...                 raise KeyboardInterrupt
        ... except Interrupted as err:
        ...     print(err)
        data synth into out/ (12 of 40 recordings done; rerun to resume)
    """
    global _OPEN
    outer = _OPEN
    _OPEN = [] if outer is None else outer
    mark = len(_OPEN)
    try:
        yield
    except Interrupted:
        raise
    except KeyboardInterrupt:
        for opened in reversed(_OPEN[mark:]):   # end the bars' terminal lines before the interrupted line
            opened.close()
        bar = next((b for b in reversed(_OPEN[mark:]) if b.total), None)
        counts = f"{bar.done} of {bar.total} {noun} done; " if bar is not None else ""
        raise Interrupted(f"{what} ({counts}{hint})") from None
    finally:
        del _OPEN[mark:]
        _OPEN = outer


def add_format_option(parser) -> None:
    """Add the shared ``--format text|json`` option to an argparse parser."""
    parser.add_argument("--format", choices=["text", "json"], default="text", help="output format")

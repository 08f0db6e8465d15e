"""Verification trial lists: VoxCeleb's ``1 a.wav b.wav`` / ``0 a.wav b.wav`` lines, and the word labels
``target`` / ``nontarget`` first or last (``target a.wav b.wav``, Kaldi's ``a.wav b.wav nontarget``).

Paths are relative to a root folder (default: the trial file's folder) unless absolute. Blank lines and
lines starting with ``#`` are skipped. A line that is not a trial raises a one-line
:class:`~speechdl.errors.DataError` naming the file and line number.

Example:
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "trials.txt"
    >>> _ = p.write_text("1 id1/a.wav id1/b.wav\\n0 id1/a.wav id2/c.wav\\nid2/c.wav id2/d.wav target\\n")
    >>> ts = read_trials(p, root="/data/vox1")
    >>> [(t.target, str(t.enroll), t.line) for t in ts]
    [(True, '/data/vox1/id1/a.wav', 1), (False, '/data/vox1/id1/a.wav', 2), (True, '/data/vox1/id2/c.wav', 3)]
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from speechdl.errors import DataError

LABELS = {"1": True, "0": False, "target": True, "nontarget": False, "non-target": False}
WORDS = ("target", "nontarget", "non-target")
FORMAT = "expected 'LABEL ENROLL TEST' (LABEL 1/0 or target/nontarget) or 'ENROLL TEST target|nontarget'"


@dataclass(frozen=True)
class Trial:
    """One trial: ``target`` (same speaker?), the two audio files, and its line in the list (1-based)."""

    target: bool
    enroll: Path
    test: Path
    line: int = 0


def parse_line(text: str) -> tuple[bool, str, str] | None:
    """``(target, enroll, test)`` of one trial line, None for a blank or comment line.

    Raises ``ValueError`` when the line is not a trial.
    """
    fields = text.split()
    if not fields or fields[0].startswith("#"):
        return None
    if len(fields) != 3:
        raise ValueError(f"{len(fields)} fields")
    first, last = fields[0].lower(), fields[2].lower()
    if first in LABELS and last not in WORDS:
        return LABELS[first], fields[1], fields[2]
    if last in WORDS and first not in LABELS:
        return LABELS[last], fields[0], fields[1]
    raise ValueError("no label" if first not in LABELS else "two labels")


def read_trials(path: str | os.PathLike, root: str | os.PathLike | None = None) -> list[Trial]:
    """All trials of a list file, paths resolved against ``root`` (default: the list's folder).

    Raises :class:`DataError` for a missing or unreadable file, a bad line (``FILE:LINE``) or a list
    without any trial.
    """
    p = Path(path)
    try:
        lines = p.read_text().splitlines()
    except FileNotFoundError:
        raise DataError(p, "trial list not found", "check the path") from None
    except (OSError, UnicodeDecodeError) as err:
        raise DataError(p, f"cannot read trial list ({type(err).__name__})", "pass a text file") from None
    base = Path(root) if root is not None else p.parent
    out = []
    for n, text in enumerate(lines, 1):
        try:
            parsed = parse_line(text)
        except ValueError as err:
            shown = text.strip() if len(text.strip()) <= 60 else text.strip()[:57] + "..."
            raise DataError(f"{p}:{n}", f"not a trial ({err}): {shown!r}", FORMAT) from None
        if parsed is not None:
            target, a, b = parsed
            out.append(Trial(target, base / a, base / b, n))
    if not out:
        raise DataError(p, "holds no trials", FORMAT)
    return out


def trial_files(trials: list[Trial]) -> list[Path]:
    """The distinct audio files of ``trials`` in order of first use."""
    return list(dict.fromkeys(f for t in trials for f in (t.enroll, t.test)))


def check_files(trials: list[Trial], list_path: str | os.PathLike = "trials") -> None:
    """Raise :class:`DataError` (``LIST:LINE``) for the first trial whose audio file does not exist."""
    seen: set[Path] = set()
    for t in trials:
        for f in (t.enroll, t.test):
            if f in seen:
                continue
            if not f.is_file():
                raise DataError(f"{list_path}:{t.line}", f"audio file {f} not found",
                                "pass --root DIR, the folder the trial paths are relative to")
            seen.add(f)

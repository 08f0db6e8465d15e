"""Verification trial lists: VoxCeleb's ``1 a.wav b.wav`` / ``0 a.wav b.wav`` lines, and the word labels
``target`` / ``nontarget`` first or last (``target a.wav b.wav``, Kaldi's ``a.wav b.wav nontarget``).
:func:`make_trials` makes a list from speaker-labelled utterances and :func:`write_trials` writes one.

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
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
    from speechdl.validate import read_text

    p = Path(path)   # a binary or non-UTF-8 list: one line naming FILE:LINE, never a UnicodeDecodeError
    lines = read_text(p, "trial list", DataError, "save it as UTF-8 text, one trial per line: " + FORMAT).splitlines()
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


# ---------------------------------------------------------------- making trial lists
def _trial_rows(rows: Sequence[dict[str, Any]], aliases: dict[str, str] | None) -> list[tuple[str, str]]:
    """``(speaker, path)`` of every row (speaker through ``aliases``), sorted; checks that each row is a
    whole file and each file one utterance."""
    out, seen = [], set()
    for r in rows:
        where = f"utterance {r.get('id', r.get('path'))}"
        if "path" not in r or "speaker" not in r:
            raise DataError(where, "has no 'path' or 'speaker'", "pass read_speaker_utterances rows")
        if float(r.get("offset") or 0.0) > 0.0:
            raise DataError(where, f"starts at {r['offset']} s into {r['path']}: a trial list names whole files",
                            "cut the utterances into files of their own (see recipes/speaker/DATA.md)")
        path = str(r["path"])
        if path in seen:
            raise DataError(where, f"{path} holds more than one utterance", "give one utterance per file")
        seen.add(path)
        speaker = str(r["speaker"])
        out.append(((aliases or {}).get(speaker, speaker), path))
    return sorted(out)


def make_trials(rows: Sequence[dict[str, Any]], max_per_speaker: int | None = 20, nontargets_per_target: float = 4.0,
                nontargets: int | None = None, seed: int = 0, aliases: dict[str, str] | None = None) -> list[Trial]:
    """A verification trial list from speaker-labelled utterances (whole files).

    Args:
        rows: ``{"path", "speaker"[, "offset", "id"]}`` dicts, e.g.
            :func:`speechdl.tasks.speaker.data.read_speaker_utterances` rows; each must be a whole file
            (offset 0), one utterance per file.
        max_per_speaker: at most this many utterances per speaker, drawn at random (None: all).
        nontargets_per_target: non-target trials per target trial (ignored when ``nontargets`` is given).
        nontargets: the number of non-target trials (capped at the number of cross-speaker pairs).
        seed: the random draws (utterances and non-target pairs).
        aliases: ``{label: same-person label}``: labels that are one person count as one speaker
            (``{"asterisk-es:allison": "asterisk-en:allison"}``).

    Every pair of chosen utterances of the same speaker is a target trial; non-targets are drawn uniformly,
    without repetition, from the pairs of chosen utterances of different speakers. Deterministic: the same
    rows (in any order) and seed give the same list. Trials come ordered by enrollment then test file
    (files ordered by speaker, then path), ``line`` numbering them from 1 as :func:`write_trials` writes them.

    Raises :class:`DataError` for rows that are not whole files, and when the rows give no target or no
    non-target trial (fewer than 2 speakers, or no speaker with 2 utterances).

    Example:
        >>> rows = [{"path": f"/d/{s}{k}.wav", "speaker": s} for s in "abc" for k in range(3)]
        >>> ts = make_trials(rows, max_per_speaker=2, nontargets_per_target=2, seed=0)
        >>> sum(t.target for t in ts), sum(not t.target for t in ts)
        (3, 6)
    """
    import numpy as np

    if max_per_speaker is not None and max_per_speaker < 2:
        raise ValueError(f"max_per_speaker must be at least 2, got {max_per_speaker}")
    rng = np.random.default_rng(seed)
    by_speaker: dict[str, list[str]] = {}
    for speaker, path in _trial_rows(rows, aliases):
        by_speaker.setdefault(speaker, []).append(path)
    files: list[str] = []
    owner: list[int] = []
    pairs: list[tuple[int, int]] = []
    for k, speaker in enumerate(sorted(by_speaker)):
        paths = by_speaker[speaker]
        if max_per_speaker is not None and len(paths) > max_per_speaker:
            paths = [paths[i] for i in sorted(rng.choice(len(paths), max_per_speaker, replace=False))]
        first = len(files)
        pairs += [(i, j) for i in range(first, first + len(paths)) for j in range(i + 1, first + len(paths))]
        files += paths
        owner += [k] * len(paths)
    spk = np.asarray(owner)
    sizes = np.bincount(spk) if len(spk) else np.zeros(0, int)
    cross = (len(files) ** 2 - int((sizes ** 2).sum())) // 2
    if not pairs or not cross:
        raise DataError("trial list", f"{len(by_speaker)} speakers and {len(pairs)} same-speaker pairs",
                        "give at least 2 speakers and 2 utterances of one speaker")
    n_non = int(round(nontargets_per_target * len(pairs))) if nontargets is None else int(nontargets)
    n_non = max(0, min(n_non, cross))
    if 2 * n_non > cross:                       # most of them: enumerate and choose
        every = [(i, j) for i in range(len(files)) for j in range(i + 1, len(files)) if spk[i] != spk[j]]
        non = {every[k] for k in rng.choice(len(every), n_non, replace=False)}
    else:                                       # few of them: uniform pairs, rejecting same-speaker and repeats
        non = set()
        n = len(files)
        while len(non) < n_non:
            for i, j in rng.integers(0, n, size=(2 * (n_non - len(non)) + 16, 2)):
                a, b = (int(i), int(j)) if i < j else (int(j), int(i))
                if a != b and spk[a] != spk[b] and (a, b) not in non:
                    non.add((a, b))
                    if len(non) == n_non:
                        break
    chosen = sorted((i, j, True) for i, j in pairs) + sorted((i, j, False) for i, j in non)
    chosen.sort(key=lambda t: (t[0], t[1]))
    return [Trial(target, Path(files[i]), Path(files[j]), n) for n, (i, j, target) in enumerate(chosen, 1)]


def write_trials(trials: Sequence[Trial], path: str | os.PathLike, root: str | os.PathLike | None = None) -> Path:
    """Write ``trials`` as a VoxCeleb list (``1 enroll test`` / ``0 enroll test``), atomically; returns the path.

    Paths under ``root`` are written relative to it (read the list back with ``read_trials(path, root)``),
    others as they are (absolute paths stay absolute). Raises ``ValueError`` for a path with whitespace,
    which the format cannot hold.
    """
    from speechdl.audio import atomic_write

    base = Path(root) if root is not None else None
    lines = []
    for t in trials:
        names = []
        for f in (t.enroll, t.test):
            name = str(f.relative_to(base)) if base is not None and f.is_relative_to(base) else str(f)
            if len(name.split()) != 1:
                raise ValueError(f"a trial list cannot hold the path {name!r} (whitespace)")
            names.append(name)
        lines.append(f"{int(t.target)} {names[0]} {names[1]}\n")
    with atomic_write(path) as tmp:
        Path(tmp).write_text("".join(lines))
    return Path(path)

"""Lhotse manifests: save, load and summarise a manifest directory.

A *manifest directory* holds ``recordings.jsonl.gz`` (a lhotse ``RecordingSet``) and
``supervisions.jsonl.gz`` (a lhotse ``SupervisionSet``, possibly empty). Every importer writes
one; every trainer reads one. :func:`load_manifests` also accepts a single recordings or
supervisions file (its sibling is found by name) or a lhotse ``CutSet`` file (``cuts*.jsonl.gz``).

Speech time (:func:`manifest_stats`) is the union, per recording, of the supervisions' speech
intervals: ``custom["speech"]`` (a list of ``[start, end]`` seconds relative to the recording, as the
synthetic corpus builder writes) when present, else the supervision span. Overlaps count once.

Example:
    >>> import tempfile
    >>> from lhotse import Recording, RecordingSet, SupervisionSegment, SupervisionSet
    >>> from lhotse.audio import AudioSource
    >>> rec = Recording("r1", [AudioSource("file", [0], "r1.wav")], 16000, 160000, 10.0)
    >>> sups = SupervisionSet.from_segments([
    ...     SupervisionSegment("s1", "r1", 0.0, 4.0, speaker="a", language="en"),
    ...     SupervisionSegment("s2", "r1", 2.0, 4.0, speaker="b", language="en")])
    >>> out = save_manifests(tempfile.mkdtemp(), RecordingSet.from_recordings([rec]), sups)
    >>> recs, sups = load_manifests(out)
    >>> stats = manifest_stats(recs, sups)
    >>> stats["utterances"], stats["speakers"], round(stats["speech_fraction"], 3)
    (2, 2, 0.6)
"""

from __future__ import annotations

import math
import os
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from lhotse import CutSet, RecordingSet, SupervisionSegment, SupervisionSet, load_manifest

from speechdl.audio import atomic_write
from speechdl.errors import DataError
from speechdl.validate import SAMPLE_RATES

RECORDINGS = "recordings.jsonl.gz"
SUPERVISIONS = "supervisions.jsonl.gz"
_FIX = f"pass a manifest directory ({RECORDINGS} + {SUPERVISIONS}), one of those files or a cuts file"


def save_manifests(
    out_dir: str | os.PathLike,
    recordings: RecordingSet,
    supervisions: SupervisionSet | None = None,
) -> Path:
    """Write ``recordings`` and ``supervisions`` into the manifest directory ``out_dir``.

    Each file is written to a temporary name and renamed, so an interrupted run never leaves a
    truncated manifest. ``supervisions=None`` writes an empty supervision set (e.g. a noise bank).
    Returns the directory.
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise DataError(out, "exists and is not a directory", "choose another --out")
    if len(recordings) == 0:
        raise DataError(out, "no recordings to write", "check the input corpus")
    sups = supervisions if supervisions is not None else SupervisionSet.from_segments([])
    out.mkdir(parents=True, exist_ok=True)
    # supervisions first: a reader keys on recordings.jsonl.gz, which appears last
    for manifest, name in ((sups, SUPERVISIONS), (recordings, RECORDINGS)):
        with atomic_write(out / name, suffix=".jsonl.gz") as tmp:
            manifest.to_file(tmp)
    return out


def _read(path: Path, cls: type | None = None) -> Any:
    if not path.is_file():
        raise DataError(path, "manifest file not found", _FIX)
    try:
        manifest = load_manifest(path, manifest_cls=cls)
    except Exception as err:  # gzip, JSON and lhotse errors all mean "malformed"
        msg = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise DataError(path, f"malformed manifest ({msg})", "re-create it with `speechdl data import`") from None
    if manifest is None and cls is SupervisionSet:  # lhotse returns None for an empty file
        manifest = SupervisionSet.from_segments([])
    return manifest


def _sibling(path: Path, this: str, other: str) -> Path | None:
    if this not in path.name:
        return None
    candidate = path.with_name(path.name.replace(this, other))
    return candidate if candidate.is_file() else None


def load_manifests(path: str | os.PathLike) -> tuple[RecordingSet, SupervisionSet | None]:
    """Load ``(recordings, supervisions)`` from a manifest directory or file.

    ``path`` may be a manifest directory, a ``*recordings*.jsonl.gz`` file (its
    ``*supervisions*`` sibling is loaded when present), a ``*supervisions*`` file (it needs its
    ``*recordings*`` sibling) or a lhotse ``CutSet`` file. ``supervisions`` is ``None`` only when no
    supervision file exists. Raises :class:`DataError` for missing, empty or malformed manifests.
    """
    p = Path(path)
    if not p.exists():
        raise DataError(p, "manifest not found", _FIX)
    if p.is_dir():
        rec_file = p / RECORDINGS
        if not rec_file.is_file():
            cuts = sorted(p.glob("cuts*.jsonl*"))
            if len(cuts) == 1:
                return load_manifests(cuts[0])
            found = ", ".join(sorted(f.name for f in p.iterdir())[:5]) or "nothing"
            raise DataError(p, f"no {RECORDINGS} in this directory (found: {found})", _FIX)
        recordings = _read(rec_file, RecordingSet)
        sup_file = p / SUPERVISIONS
        supervisions = _read(sup_file, SupervisionSet) if sup_file.is_file() else None
    else:
        manifest = _read(p)
        if isinstance(manifest, CutSet):
            recordings, supervisions, _ = manifest.decompose()
        elif isinstance(manifest, RecordingSet):
            recordings = manifest
            sib = _sibling(p, "recordings", "supervisions")
            supervisions = _read(sib, SupervisionSet) if sib else None
        elif isinstance(manifest, SupervisionSet):
            sib = _sibling(p, "supervisions", "recordings")
            if sib is None:
                raise DataError(p, "a supervision file without its recordings file beside it",
                                f"keep the matching *recordings* file next to it or {_FIX}")
            recordings, supervisions = _read(sib, RecordingSet), manifest
        elif manifest is None:
            raise DataError(p, "manifest is empty", "re-create it with `speechdl data import`")
        else:
            raise DataError(p, f"unsupported manifest type {type(manifest).__name__}", _FIX)
    if recordings is None or len(recordings) == 0:
        raise DataError(p, "manifest holds no recordings", "re-create it with `speechdl data import`")
    check_manifests(p, recordings, supervisions)
    return recordings, supervisions


def _positive(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) and value > 0


def check_manifests(where: str | os.PathLike, recordings: RecordingSet, supervisions: SupervisionSet | None) -> None:
    """Refuse impossible values (the validation layer for manifests): a recording's duration and sample
    count must be positive and finite and its rate in :data:`speechdl.validate.SAMPLE_RATES`; a supervision's
    start must be finite and >= 0, its duration positive, its ``custom["speech"]`` intervals finite pairs.
    Raises :class:`DataError` naming the first bad item."""
    fix = "fix or re-create the manifest (speechdl data import ...)"
    lo, hi = SAMPLE_RATES
    for r in recordings:
        if not _positive(r.duration) or not _positive(r.num_samples):
            raise DataError(where, f"recording {r.id}: duration {r.duration!r} s / {r.num_samples!r} samples is not a "
                            "positive length", fix)
        if not (isinstance(r.sampling_rate, int | float) and lo <= r.sampling_rate <= hi):
            raise DataError(where, f"recording {r.id}: sampling rate {r.sampling_rate!r} is outside {lo}-{hi} Hz", fix)
        if abs(r.num_samples / r.sampling_rate - r.duration) > 1.0 + 0.01 * r.duration:
            raise DataError(where, f"recording {r.id}: duration {r.duration:g} s but {r.num_samples} samples at "
                            f"{r.sampling_rate} Hz", fix)
    durations = {r.id: float(r.duration) for r in recordings}
    for s in supervisions or []:
        start_ok = isinstance(s.start, int | float) and math.isfinite(s.start) and s.start >= 0
        rec = durations.get(s.recording_id)
        if not start_ok or not _positive(s.duration) or (
                rec is not None and s.start + s.duration > rec + max(1.0, 0.01 * rec)):
            raise DataError(where, f"supervision {s.id}: start {s.start!r} s, duration {s.duration!r} s is not a "
                            "span of its recording", fix)
        speech = (s.custom or {}).get("speech")
        if speech is not None:
            try:
                ok = all(math.isfinite(float(a)) and math.isfinite(float(b)) and float(a) <= float(b)
                         for a, b in speech)
            except (TypeError, ValueError):
                ok = False
            if not ok:
                raise DataError(where, f"supervision {s.id}: custom speech intervals {str(speech)[:60]} are not "
                                "[start, end] pairs of finite seconds", fix)


def supervision_rows(manifests: str | os.PathLike | Sequence[str | os.PathLike], field: str,
                     need: str, label: str | None = None, extra: Sequence[str] = ()) -> list[dict[str, Any]]:
    """Rows ``{"id", "path", "offset", "duration", field}`` of the supervisions whose ``field`` (``text``,
    ``speaker``) is set, from one or more manifests. Raises :class:`DataError` for a manifest with none
    (``need`` says who needs them; ``label`` names the field in that message) and for recordings that
    are not plain files. ``extra``: more supervision attributes copied into each row (None when unset)."""
    paths = [manifests] if isinstance(manifests, str | os.PathLike) else list(manifests)
    rows = []
    for m in paths:
        recs, sups = load_manifests(m)
        by_id = {r.id: r for r in recs}
        found = 0
        for s in sups or []:
            rec, value = by_id.get(s.recording_id), getattr(s, field, None)
            if rec is None or not str(value or "").strip():
                continue
            src = rec.sources[0]
            if src.type != "file":
                raise DataError(m, f"recording {rec.id} is not a file source ({src.type})", "import audio files")
            rows.append({"id": s.id, "path": str(src.source), "offset": float(s.start),
                         "duration": float(s.duration), field: value,
                         **{k: getattr(s, k, None) or None for k in extra}})
            found += 1
        if not found:
            raise DataError(m, f"no supervision with a {label or field}", need)
    return rows


def speech_intervals(sup: SupervisionSegment) -> list[tuple[float, float]]:
    """Speech intervals of ``sup`` in seconds relative to its recording.

    ``custom["speech"]`` (``[[start, end], ...]``) when present, else ``[(start, end)]``.
    """
    custom = sup.custom or {}
    if custom.get("speech") is not None:
        return [(float(a), float(b)) for a, b in custom["speech"]]
    return [(float(sup.start), float(sup.end))]


def union_length(intervals: Iterable[tuple[float, float]], lo: float = 0.0, hi: float = float("inf")) -> float:
    """Total length (s) of the union of ``intervals`` clipped to ``[lo, hi]``.

    Example:
        >>> union_length([(0, 2), (1, 3), (5, 6)])
        4.0
    """
    total, end = 0.0, lo
    for a, b in sorted((max(a, lo), min(b, hi)) for a, b in intervals):
        if b <= a:
            continue
        if a >= end:
            total += b - a
        elif b > end:
            total += b - end
        end = max(end, b)
    return float(total)


def manifest_stats(recordings: RecordingSet, supervisions: SupervisionSet | None) -> dict[str, Any]:
    """Summary of a corpus.

    Returns a dict: ``recordings`` (count), ``hours`` (total recording duration), ``utterances``
    (number of supervisions), ``speakers`` (distinct non-empty speaker ids), ``languages``
    (supervisions per language, ``"unknown"`` when unset), ``speech_hours`` (union of speech
    intervals per recording, clipped to the recording) and ``speech_fraction``
    (``speech_hours / hours``; 0 for an empty corpus). Supervisions of recordings not in
    ``recordings`` count as utterances but not as speech.
    """
    durations = {r.id: float(r.duration) for r in recordings}
    total = sum(durations.values())
    sups = list(supervisions) if supervisions is not None else []
    per_rec: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for s in sups:
        per_rec[s.recording_id].extend(speech_intervals(s))
    speech = sum(union_length(iv, 0.0, durations[rid]) for rid, iv in per_rec.items() if rid in durations)
    languages = Counter(s.language or "unknown" for s in sups)
    return {
        "recordings": len(durations),
        "hours": total / 3600.0,
        "utterances": len(sups),
        "speakers": len({s.speaker for s in sups if s.speaker}),
        "languages": dict(sorted(languages.items(), key=lambda kv: (-kv[1], kv[0]))),
        "speech_hours": speech / 3600.0,
        "speech_fraction": speech / total if total > 0 else 0.0,
    }


def _languages_text(languages: dict[str, int], top: int = 8) -> str:
    shown = ", ".join(f"{k} {v}" for k, v in list(languages.items())[:top]) or "-"
    return shown + (f" (+{len(languages) - top} more)" if len(languages) > top else "")


def hours_text(h: float) -> str:
    """Hours for a table: 3 decimals, or 3 significant digits below 0.1 h."""
    return f"{h:.3f}" if h >= 0.1 or h == 0 else f"{h:.3g}"


def stats_table(stats: dict[str, Any]) -> list[dict[str, Any]]:
    """Human rows (``field``, ``value``) for a :func:`manifest_stats` dict."""
    return [
        {"field": "recordings", "value": stats["recordings"]},
        {"field": "hours", "value": hours_text(stats["hours"])},
        {"field": "utterances", "value": stats["utterances"]},
        {"field": "speakers", "value": stats["speakers"]},
        {"field": "languages", "value": _languages_text(stats["languages"])},
        {"field": "speech hours", "value": hours_text(stats["speech_hours"])},
        {"field": "speech fraction", "value": f"{stats['speech_fraction']:.1%}"},
    ]

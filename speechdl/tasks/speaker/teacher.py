"""``speechdl data teacher-embed``: a teacher's speaker embedding of every utterance of a manifest, for distillation.

The teacher is Resemblyzer (the GE2E d-vector encoder of the PyPI package ``resemblyzer``, 256 dimensions),
run as :class:`speechdl.tasks.speaker.baselines.Resemblyzer` runs it in the benchmark: its own preprocessing
(level, silences cut by WebRTC VAD), partial windows of 1.6 s, their mean, L2-normalised. Every supervision
of the manifest is embedded once, on its clean audio, with or without a speaker label, and the result is
written beside the manifest as ``teacher_resemblyzer.npz`` (``ids`` (N,) str, ``emb`` (N, 256) float32,
``teacher`` and ``version``). A recipe's ``data.teacher: resemblyzer`` then gives every training crop, however
it is augmented, the clean utterance's teacher embedding as its target (:class:`SpeakerUtterances`).

The teacher is a data-building tool only: it is never imported by inference, its weights never go into a
bundle. Use it on audio the project may train on, never on the evaluation sources.

The file is written every ``--save-every`` utterances (atomically); a second run resumes where the first
stopped.

Example (shell)::

    speechdl data teacher-embed data/speaker/real_train2     # -> data/speaker/real_train2/teacher_resemblyzer.npz
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

import numpy as np

from speechdl.errors import DataError

TEACHERS = ("resemblyzer",)


def teacher_file(manifest: str | os.PathLike, teacher: str = "resemblyzer") -> Path:
    """Where a manifest's teacher embeddings live: ``<manifest>/teacher_<teacher>.npz``."""
    return Path(manifest) / f"teacher_{teacher}.npz"


def load_teacher(manifest: str | os.PathLike, teacher: str = "resemblyzer") -> dict[str, np.ndarray]:
    """Supervision id -> ``(D,)`` float32 teacher embedding. Raises :class:`DataError` when there is no file."""
    path = teacher_file(manifest, teacher)
    if not path.is_file():
        raise DataError(path, "no teacher embeddings here", f"run: speechdl data teacher-embed {manifest}")
    with np.load(path, allow_pickle=False) as z:
        return dict(zip((str(i) for i in z["ids"]), z["emb"].astype(np.float32)))


def _save(path: Path, ids: list[str], emb: list[np.ndarray], version: str) -> None:
    tmp = path.with_name(path.stem + ".part.npz")
    np.savez(tmp, ids=np.array(ids), emb=np.stack(emb).astype(np.float32) if emb else np.zeros((0, 256), np.float32),
             teacher=np.array("resemblyzer"), version=np.array(version))
    os.replace(tmp, path)


def utterance_rows(manifest: str | os.PathLike) -> list[dict[str, Any]]:
    """Rows ``{"id", "path", "offset", "duration", "speaker"}`` of every supervision (speaker may be None)."""
    from speechdl.data.manifests import supervision_rows

    rows = supervision_rows(manifest, "recording_id", "teacher embeddings need supervisions", extra=("speaker",))
    return [{k: r[k] for k in ("id", "path", "offset", "duration", "speaker")} for r in rows]


def embed_manifest(manifest: str | os.PathLike, batch_size: int = 32, save_every: int = 1000,
                   show_progress: bool = True) -> dict[str, Any]:
    """Embed every supervision of ``manifest`` with Resemblyzer (resuming a partial file); returns counts."""
    from speechdl import audio
    from speechdl.console import progress
    from speechdl.tasks.speaker.baselines import INSTALL, Resemblyzer, resemblyzer_version

    if resemblyzer_version() is None:
        raise DataError("resemblyzer", "is not installed (the teacher is a benchmark/dev dependency)", INSTALL)
    path = teacher_file(manifest)
    done: dict[str, np.ndarray] = load_teacher(manifest) if path.is_file() else {}
    rows = [r for r in utterance_rows(manifest) if r["id"] not in done]
    teacher = Resemblyzer()
    ids, emb = list(done), list(done.values())
    saved = len(ids)
    for k in progress(range(0, len(rows), batch_size), desc="teacher", unit="batch", enabled=show_progress):
        chunk = rows[k:k + batch_size]
        waves = []
        for r in chunk:
            wave = audio.load(r["path"], sample_rate=teacher.sample_rate, offset=r["offset"], duration=r["duration"])[0]
            pre = teacher.preprocess(wave, teacher.sample_rate)
            waves.append(pre if len(pre) >= teacher.sample_rate // 4 else wave)   # VAD cut it all: keep the clip
        emb.extend(teacher.embed_preprocessed(waves, batch_size))
        ids.extend(r["id"] for r in chunk)
        if len(ids) - saved >= save_every:
            _save(path, ids, emb, teacher.version or "unknown")
            saved = len(ids)
    _save(path, ids, emb, teacher.version or "unknown")
    return {"out": str(path), "utterances": len(ids), "new": len(rows),
            "teacher": f"resemblyzer {teacher.version}"}


def run(args: argparse.Namespace) -> int:
    """Handler of ``speechdl data teacher-embed``."""
    from speechdl.console import emit

    for m in args.manifests:
        emit(embed_manifest(m, args.batch_size, show_progress=args.format == "text"), args.format)
    return 0


def add_verbs(verbs: Any) -> None:
    """Add ``teacher-embed`` to the ``data`` verbs."""
    from speechdl import validate
    from speechdl.console import add_format_option

    p = verbs.add_parser("teacher-embed", help="Resemblyzer speaker embeddings of a manifest's utterances "
                                               "(distillation targets; training data only)",
                         description=__doc__.split("\n")[0].split(": ", 1)[1])
    p.add_argument("manifests", type=Path, nargs="+",
                   help="manifest directories (the file is written into each)")
    p.add_argument("--batch-size", type=validate.flag("--batch-size", "int", 1, 1024, example=32), default=32,
                   help="utterances per teacher forward pass (default 32)")
    add_format_option(p)
    p.set_defaults(func=run)

"""Importers: turn a corpus as the user has it into lhotse manifests.

* :func:`import_folder`: any folder of audio files (recursive), optional same-name ``.txt`` transcripts.
* :func:`import_kaldi`: a Kaldi data directory (``wav.scp``, ``segments``, ``text``, ``utt2spk``...).
* :func:`import_recipe`: any lhotse corpus recipe by name (``librispeech``, ``voxceleb``...); no download.
* :func:`import_real_dev`: the project's ``real_dev`` folder (``manifest.jsonl``).

The first, second and fourth return an :class:`Imported` (manifests in memory plus the files that
were skipped and why); ``Imported.save(out_dir)`` writes a manifest directory.
:func:`import_recipe` writes one manifest directory per split itself.

Example:
    >>> import tempfile, os, numpy as np
    >>> from speechdl import audio
    >>> corpus = tempfile.mkdtemp()
    >>> audio.save(os.path.join(corpus, "alice", "a1.wav"), np.zeros(16000, np.float32), 16000)
    >>> _ = open(os.path.join(corpus, "alice", "a1.txt"), "w").write("hello world")
    >>> imported = import_folder(corpus)
    >>> len(imported.recordings), imported.supervisions[0].speaker, imported.supervisions[0].text
    (1, 'alice', 'hello world')
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

from lhotse import Recording, RecordingSet, SupervisionSegment, SupervisionSet
from lhotse.audio import AudioSource
from lhotse.utils import compute_num_samples

from speechdl import audio
from speechdl.console import progress
from speechdl.data.lhotse_recipes import import_recipe, list_recipes
from speechdl.data.manifests import save_manifests
from speechdl.errors import AudioError, DataError
from speechdl.validate import SAMPLE_RATES, check_sample_rate, read_text

__all__ = ["AUDIO_SUFFIXES", "Imported", "import_folder", "import_kaldi", "import_real_dev",
           "import_recipe", "list_recipes"]

AUDIO_SUFFIXES = frozenset(audio.SUPPORTED.split())


@dataclass
class Imported:
    """Result of an import: the manifests and ``skipped`` as ``(path or id, reason)`` pairs."""

    recordings: RecordingSet
    supervisions: SupervisionSet | None
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def save(self, out_dir: str | os.PathLike) -> Path:
        """Write the manifest directory ``out_dir`` (see :func:`save_manifests`)."""
        return save_manifests(out_dir, self.recordings, self.supervisions)


def _recording(rec_id: str, path: Path, sample_rate: int, channels: int, num_samples: int) -> Recording:
    return Recording(
        id=rec_id,
        sources=[AudioSource(type="file", channels=list(range(channels)), source=str(path))],
        sampling_rate=int(sample_rate),
        num_samples=int(num_samples),
        duration=num_samples / sample_rate,
    )


def _channel(channels: int) -> int | list[int]:
    return 0 if channels == 1 else list(range(channels))


def _check_dir(folder: Path, what: str) -> None:
    if not folder.exists():
        raise DataError(folder, f"{what} not found", "check the path")
    if not folder.is_dir():
        raise DataError(folder, f"is a file, not a {what}", "pass the directory")


def _rec_id(rel: Path, taken: set[str]) -> str:
    base = rel.with_suffix("").as_posix().replace("/", "__")
    rec_id = base if base not in taken else rel.as_posix().replace("/", "__")
    taken.add(rec_id)
    return rec_id


def import_folder(
    folder: str | os.PathLike,
    *,
    speaker: str = "parent",
    language: str | None = None,
    show_progress: bool = False,
) -> Imported:
    """Import every audio file under ``folder`` (recursive).

    A file ``x.wav`` with a non-empty ``x.txt`` beside it gets one supervision spanning the whole
    file, with that text. ``speaker="parent"`` names the speaker after the file's folder,
    ``speaker="none"`` leaves it unset. Recording ids are the relative paths without suffix
    (``spk/utt``  becomes ``spk__utt``). Unreadable files are listed in ``skipped``; a
    :class:`DataError` is raised only when no file is readable or none exists.
    """
    root = Path(folder)
    _check_dir(root, "audio folder")
    if speaker not in ("parent", "none"):
        raise DataError(None, f"unknown speaker rule {speaker!r}", "use 'parent' or 'none'")
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file())
    if not files:
        raise DataError(root, "no audio files found", f"put audio files ({audio.SUPPORTED}) in it")
    recs, sups, skipped, taken = [], [], [], set()
    for path in progress(files, desc="scanning audio", unit="file", enabled=show_progress):
        try:
            meta = audio.info(path)
        except AudioError as err:
            skipped.append((str(path), err.what))
            continue
        rec_id = _rec_id(path.relative_to(root), taken)
        rec = _recording(rec_id, path.resolve(), meta.sample_rate, meta.channels, meta.frames)
        recs.append(rec)
        txt = path.with_suffix(".txt")
        try:
            text = " ".join(read_text(txt, "transcript", DataError).split()) if txt.is_file() else ""
        except DataError as err:   # the audio is imported; its unreadable transcript is reported
            skipped.append((str(txt), err.what))
            text = ""
        if text:
            sups.append(SupervisionSegment(
                id=rec_id, recording_id=rec_id, start=0.0, duration=rec.duration,
                channel=_channel(meta.channels), text=text, language=language,
                speaker=path.parent.name if speaker == "parent" else None,
            ))
    if not recs:
        first = f"{skipped[0][0]}: {skipped[0][1]}"
        raise DataError(root, f"none of the {len(files)} audio files is readable (first: {first})",
                        "check that they are valid audio")
    return Imported(RecordingSet.from_recordings(recs),
                    SupervisionSet.from_segments(sups) if sups else None, skipped)


def _kaldi_rate(data_dir: Path) -> int:
    lines = read_text(data_dir / "wav.scp", "wav.scp", DataError).splitlines()
    first = next((line.split(maxsplit=1) for line in lines if line.strip()), None)
    if first is None:
        raise DataError(data_dir / "wav.scp", "is empty", "list one '<recording-id> <path>' per line")
    if len(first) < 2 or first[1].rstrip().endswith("|"):
        raise DataError(data_dir, "cannot read the sample rate from a piped wav.scp entry",
                        "pass --sample-rate")
    return audio.info(first[1].strip()).sample_rate


def import_kaldi(data_dir: str | os.PathLike, *, sample_rate: int | None = None) -> Imported:
    """Import a Kaldi data directory with :func:`lhotse.kaldi.load_kaldi_data_dir`.

    ``wav.scp`` is required; ``segments``, ``text``, ``utt2spk``, ``spk2gender``, ``utt2lang`` and
    ``reco2dur`` are used when present. ``sample_rate`` (Hz) defaults to the rate of the first
    file in ``wav.scp``. Relative audio paths are made absolute (relative to the current folder,
    as in Kaldi). Recordings whose audio cannot be read are dropped and listed in ``skipped``.
    """
    from lhotse.kaldi import load_kaldi_data_dir

    path = Path(data_dir)
    _check_dir(path, "Kaldi data directory")
    if not (path / "wav.scp").is_file():
        raise DataError(path, "no wav.scp: not a Kaldi data directory",
                        "a Kaldi data dir holds wav.scp and optionally segments, text, utt2spk")
    rate = sample_rate or _kaldi_rate(path)
    check_sample_rate(rate, "--sample-rate")
    listed = [line.split(maxsplit=1)[0] for line in read_text(path / "wav.scp", "wav.scp", DataError).splitlines()
              if line.strip()]
    for name in ("segments", "text", "utt2spk", "spk2gender", "utt2lang", "reco2dur"):   # binary: FILE:LINE
        if (path / name).is_file():
            read_text(path / name, f"Kaldi {name} file", DataError)
    try:
        recordings, supervisions, _ = load_kaldi_data_dir(path, sampling_rate=rate, num_jobs=1)
    except Exception as err:  # lhotse asserts / KeyErrors on inconsistent files
        msg = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise DataError(path, f"malformed Kaldi data directory ({type(err).__name__}: {msg})",
                        "check that segments, text and utt2spk use the ids of wav.scp") from None
    recs = []
    for rec in recordings:
        src = rec.sources[0]
        if src.type == "file" and not os.path.isabs(src.source):
            rec.sources[0] = AudioSource(type="file", channels=src.channels, source=os.path.abspath(src.source))
        recs.append(rec)
    if not recs:
        raise DataError(path, "no readable recording in wav.scp", "check the audio paths")
    kept = {r.id for r in recs}
    skipped = [(rid, "audio not readable") for rid in listed if rid not in kept]
    return Imported(RecordingSet.from_recordings(recs), supervisions, skipped)


def read_real_dev_manifest(manifest: Path) -> list[dict]:
    """Rows of a real_dev ``manifest.jsonl``, each checked (audio, sample_rate, duration); DataError names the line."""
    rows = []
    fix = "each line must be a JSON object with audio, sample_rate (Hz) and duration (s > 0)"
    for n, line in enumerate(read_text(manifest, "manifest", DataError).splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            duration, rate, _ = float(row["duration"]), int(row["sample_rate"]), str(row["audio"])
            channels = int(row.get("channels") or 1)
        except (ValueError, KeyError, TypeError, AttributeError) as err:
            raise DataError(f"{manifest}:{n}", f"malformed row ({type(err).__name__}: {err})", fix) from None
        lo, hi = SAMPLE_RATES
        if not (math.isfinite(duration) and duration > 0) or not lo <= rate <= hi or not 1 <= channels <= 256:
            raise DataError(f"{manifest}:{n}", f"impossible row (duration {duration}, sample_rate {rate}, "
                            f"channels {channels})", fix)
        rows.append(row)
    if not rows:
        raise DataError(manifest, "holds no rows", "rebuild it with fetch.sh (see its README)")
    return rows


def import_real_dev(
    folder: str | os.PathLike,
    *,
    kinds: tuple[str, ...] = ("speech", "noise"),
    show_progress: bool = False,
) -> Imported:
    """Import the project's ``real_dev`` folder from its ``manifest.jsonl``.

    Every row of a kind in ``kinds`` becomes a recording (channels, rate and duration are taken
    from the row, nothing is decoded). Rows of kind ``speech`` also get one supervision spanning
    the file with ``text``, ``speaker``, ``language`` and ``gender`` (from ``sex``); ``text_en``,
    ``source``, ``license``, ``kind``, ``text_quality`` and ``actor`` go to ``custom`` (so
    ``data select --where text_quality=exact`` works). Rows whose audio file is absent are listed in
    ``skipped`` (some sources are listed before their audio is fetched).
    """
    root = Path(folder)
    _check_dir(root, "real_dev folder")
    manifest = root / "manifest.jsonl"
    if not manifest.is_file():
        raise DataError(root, "no manifest.jsonl here", "pass the real_dev folder (it holds manifest.jsonl)")
    rows = read_real_dev_manifest(manifest)
    recs, sups, skipped, taken = [], [], [], set()
    for row in progress(rows, desc="real_dev", unit="row", enabled=show_progress):
        kind = row.get("kind", "speech")
        if kind not in kinds:
            continue
        path = root / row["audio"]
        if not path.is_file():
            skipped.append((row["audio"], "file not found"))
            continue
        rec_id = _rec_id(Path(row["audio"]), taken)
        rate, channels = int(row["sample_rate"]), int(row.get("channels") or 1)
        num_samples = compute_num_samples(float(row["duration"]), rate)
        rec = _recording(rec_id, path.resolve(), rate, channels, num_samples)
        recs.append(rec)
        if kind == "speech":
            custom = {k: row[k] for k in ("text_en", "source", "license", "kind", "text_quality", "actor")
                      if row.get(k) is not None}
            sups.append(SupervisionSegment(
                id=rec_id, recording_id=rec_id, start=0.0, duration=rec.duration,
                channel=_channel(channels), text=row.get("text"), speaker=row.get("speaker"),
                language=row.get("language"), gender=row.get("sex"), custom=custom or None,
            ))
    if not recs:
        wanted = sum(row.get("kind", "speech") in kinds for row in rows)
        if not wanted:
            raise DataError(manifest, f"no rows of kind {', '.join(kinds)}", "check --kind")
        raise DataError(root, f"none of the {wanted} listed files is present", "run its fetch.sh (see its README)")
    return Imported(RecordingSet.from_recordings(recs), SupervisionSet.from_segments(sups), skipped)

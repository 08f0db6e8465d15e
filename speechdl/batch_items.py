"""What a batch run works on: items with stable ids from a lhotse manifest, files, a list or a trial list,
and the deterministic shard each id belongs to.

- :class:`Source` is a small picklable description of the inputs (a worker on another machine rebuilds the
  same items from it); :meth:`Source.items` returns them sorted by id, ids unique.
- Items of a lhotse manifest: one per recording (id = recording id), per supervision (``by="supervision"``,
  id = supervision id, the audio of its span), or per cut of a ``CutSet`` file (id = cut id).
  A single-file recording is handed to the pipeline as its path; anything else (several channels in
  several files, transforms, spans, cuts) is loaded by lhotse, mixed to mono and resampled to the
  pipeline's rate (float32).
- Audio-pair tasks read a trial list (``A B``, ``1 A B``, ``target A B`` or ``A B nontarget`` lines): ``A``
  and ``B`` are recording ids of ``manifest`` when one is given, else paths relative to the list's folder.
  The item id is ``"A B"`` and the record keeps ``target`` when the line has a label.
- Text tasks read ``list_file`` lines: ``ID<TAB>TEXT``, or plain text (id: the 1-based line number, 6 digits).

Sharding is by a stable hash of the id (BLAKE2b, 64 bits) modulo N, so an id's shard never depends on the
other ids: a manifest that grows keeps every old item in its shard.

Example:
    >>> parse_shard("2/4"), str(parse_shard("2/4")), parse_shard("2/4").name
    (Shard(index=2, count=4), '2/4', '2-of-4')
    >>> [shard_of(i, 3) for i in ("rec-a", "rec-b", "rec-c", "rec-d", "rec-e", "rec-f")]
    [2, 2, 2, 1, 1, 2]
    >>> items = Source("audio", paths=("speechdl/assets",)).items()
    >>> [i.id for i in items]
    ['speechdl/assets/commands.flac', 'speechdl/assets/sample.flac']
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from speechdl.errors import ConfigError, DataError

BY = ("recording", "supervision")
_LABELS = {"1": True, "0": False, "target": True, "nontarget": False, "non-target": False}
_WORDS = ("target", "nontarget", "non-target")


# ---------------------------------------------------------------- shards
@dataclass(frozen=True)
class Shard:
    """Shard ``index`` of ``count`` (1-based, ``1 <= index <= count``)."""

    index: int = 1
    count: int = 1

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    @property
    def name(self) -> str:
        """File-name form ``K-of-N``."""
        return f"{self.index}-of-{self.count}"

    def holds(self, item_id: str) -> bool:
        """Whether ``item_id`` belongs to this shard."""
        return shard_of(item_id, self.count) == self.index


def parse_shard(text: str | None) -> Shard:
    """``"K/N"`` -> :class:`Shard` (None: ``1/1``); a bad spec is a one-line :class:`ConfigError`."""
    if text is None:
        return Shard()
    m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", str(text))
    if not m:
        raise ConfigError("--shard", f"expected K/N, got {text!r}", "e.g. --shard 1/4 for the first of four shards")
    k, n = int(m.group(1)), int(m.group(2))
    if n < 1:
        raise ConfigError("--shard", f"{k}/{n} is not a shard: N must be at least 1",
                          "e.g. --shard 1/4 ... --shard 4/4")
    if not 1 <= k <= n:
        raise ConfigError("--shard", f"{k}/{n} is not a shard: K must be in 1..{n}",
                          f"e.g. --shard 1/{n} ... --shard {n}/{n}")
    return Shard(k, n)


def shard_of(item_id: str, count: int) -> int:
    """The 1-based shard of ``item_id`` among ``count`` (stable across machines, Python versions and runs)."""
    digest = hashlib.blake2b(item_id.encode("utf-8"), digest_size=8).digest()
    return 1 + int.from_bytes(digest, "big") % count


# ---------------------------------------------------------------- items
def _mono(x: np.ndarray, rate: int, sample_rate: int) -> np.ndarray:
    """lhotse's ``(channels, samples)`` -> mono float32 ``(samples,)`` at ``sample_rate``."""
    from speechdl.audio import resample

    x = np.asarray(x, np.float32)
    x = x.mean(axis=0, dtype=np.float32) if x.ndim == 2 else x.reshape(-1)
    return np.ascontiguousarray(resample(x, int(rate), int(sample_rate)))


def _plain_file(rec: Any) -> str | None:
    """The path of a recording that is exactly one audio file, else None."""
    if len(rec.sources) == 1 and rec.sources[0].type == "file" and not getattr(rec, "transforms", None):
        return str(rec.sources[0].source)
    return None


@dataclass(frozen=True)
class Item:
    """One unit of work: ``id`` (unique, stable), ``source`` (what :meth:`resolve` turns into the pipeline's
    input) and ``extra`` (fields copied into its record: span, trial label)."""

    id: str
    source: Any
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def resolve(self, sample_rate: int) -> Any:
        """The pipeline input: a path, a mono float32 waveform at ``sample_rate``, a pair of those, or text."""
        return _resolve(self.source, sample_rate)


@dataclass(frozen=True)
class Span:
    """The span of supervision ``sup`` in recording ``rec`` (lhotse objects)."""

    rec: Any
    sup: Any


def _resolve(src: Any, sample_rate: int) -> Any:
    if isinstance(src, str):
        return src
    if isinstance(src, tuple):   # a pair
        return _resolve(src[0], sample_rate), _resolve(src[1], sample_rate)
    if isinstance(src, Span):
        rec, sup = src.rec, src.sup
        return _mono(rec.load_audio(offset=sup.start, duration=sup.duration), rec.sampling_rate, sample_rate)
    if hasattr(src, "sources"):  # a Recording
        path = _plain_file(src)
        return path if path is not None else _mono(src.load_audio(), src.sampling_rate, sample_rate)
    return _mono(src.load_audio(), src.sampling_rate, sample_rate)   # a Cut


# ---------------------------------------------------------------- sources
@dataclass(frozen=True)
class Source:
    """Where the items come from (picklable; every process rebuilds the same sorted items).

    Args:
        kind: the pipeline's ``inputs`` (``"audio"``, ``"audio_pair"`` or ``"text"``).
        manifest: lhotse manifest directory, recordings / supervisions file, or cuts file.
        by: ``"recording"`` or ``"supervision"`` (items of a manifest; a cuts file gives one item per cut).
        trials: trial list (audio-pair tasks).
        paths: audio files and directories (searched recursively), or texts for text tasks.
        list_file: a file with one path (audio; relative to its folder) or one text per line.
    """

    kind: str = "audio"
    manifest: str | None = None
    by: str = "recording"
    trials: str | None = None
    paths: tuple[str, ...] = ()
    list_file: str | None = None

    def describe(self) -> dict[str, Any]:
        """JSON description (kept in the output folder's ``batch.json``)."""
        return {k: v for k, v in {"manifest": self.manifest, "by": self.by if self.manifest else None,
                                  "trials": self.trials, "list": self.list_file}.items() if v is not None}

    def items(self) -> list[Item]:
        """The items, sorted by id; DataError when there are none or two share an id."""
        if self.by not in BY:
            raise ConfigError("--by", f"unknown value {self.by!r}", f"use one of: {', '.join(BY)}")
        if self.kind == "audio_pair":
            items = self._pairs()
        elif self.kind == "text":
            items = self._texts()
        else:
            items = self._audio()
        where = self.manifest or self.trials or self.list_file or "inputs"
        if not items:
            raise DataError(where, "no items to run on", "check the manifest, list or folder")
        items.sort(key=lambda it: it.id)
        for a, b in zip(items, items[1:]):
            if a.id == b.id:
                raise DataError(where, f"two items share the id {a.id!r}", "ids must be unique")
        return items

    # --- audio
    def _audio(self) -> list[Item]:
        if self.trials:
            raise ConfigError("--trials", "trial lists are for audio-pair tasks", "pass --manifest or files")
        items: list[Item] = []
        if self.manifest:
            items += manifest_items(self.manifest, self.by)
        if self.list_file:
            items += [Item(p, p) for p in _list_paths(self.list_file)]
        items += [Item(p, p) for p in expand_paths(self.paths)]
        if not (self.manifest or self.list_file or self.paths):
            raise ConfigError("speechdl run", "no input", "pass --manifest M, --list FILE, files or a directory")
        return items

    # --- pairs
    def _pairs(self) -> list[Item]:
        if self.trials:
            return trial_items(self.trials, self.manifest)
        if self.manifest:
            raise ConfigError("--manifest", "an audio-pair task needs pairs", "add --trials LIST (ids of the manifest)")
        paths = ([*_list_paths(self.list_file)] if self.list_file else []) + list(self.paths)
        if len(paths) % 2 or not paths:
            raise ConfigError("speechdl run", f"{len(paths)} inputs for a task that compares pairs",
                              "pass --trials LIST or the inputs two by two: A1 B1 A2 B2 ...")
        return [Item(f"{a} {b}", (a, b)) for a, b in zip(paths[::2], paths[1::2])]

    # --- texts
    def _texts(self) -> list[Item]:
        if self.manifest or self.trials:
            raise ConfigError("--manifest", "a text task reads texts", "pass --list FILE (ID<TAB>TEXT lines) or texts")
        items: list[Item] = []
        if self.list_file:
            for n, line in enumerate(_read_lines(self.list_file), 1):
                ident, tab, text = line.partition("\t")
                items.append(Item(ident, text) if tab else Item(f"{n:06d}", line))
        items += [Item(f"arg{n:06d}", t) for n, t in enumerate(self.paths, 1)]
        return items


def _read_lines(path: str) -> list[str]:
    from speechdl.validate import read_text

    p = Path(path)
    text = read_text(p, "list file", DataError, "save it as UTF-8 text, one item per line")
    return [ln.rstrip("\r") for ln in text.split("\n") if ln.strip() and not ln.lstrip().startswith("#")]


def _relative(path: str, root: Path) -> str:
    return path if os.path.isabs(path) else str(root / path)


def _list_paths(list_file: str) -> list[str]:
    root = Path(list_file).parent
    return [_relative(line.strip(), root) for line in _read_lines(list_file)]


def expand_paths(paths: tuple[str, ...] | list[str]) -> list[str]:
    """Files as given; directories replaced by their audio files (recursively, sorted)."""
    from speechdl.audio import SUPPORTED

    suffixes = set(SUPPORTED.split())
    out: list[str] = []
    for p in paths:
        if os.path.isdir(p):
            found = sorted(str(f) for f in Path(p).rglob("*") if f.suffix.lower() in suffixes and f.is_file())
            if not found:
                raise DataError(p, "no audio files in this directory", f"audio suffixes: {SUPPORTED}")
            out += found
        else:
            out.append(str(p))
    return out


def _span(x: Any) -> dict[str, Any]:
    return {"recording_id": x.recording_id, "start": round(float(x.start), 6), "duration": round(float(x.duration), 6)}


def manifest_items(path: str | os.PathLike, by: str = "recording") -> list[Item]:
    """Items of a lhotse manifest (see the module docstring); DataError for a missing or malformed one."""
    from speechdl.data.manifests import RECORDINGS, _read, load_manifests

    p = Path(path)
    cuts = None
    if p.is_file() and "cuts" in p.name:
        cuts = _read(p)
    elif p.is_dir() and not (p / RECORDINGS).is_file() and len(list(p.glob("cuts*.jsonl*"))) == 1:
        cuts = _read(next(p.glob("cuts*.jsonl*")))
    if cuts is not None and hasattr(cuts, "decompose"):
        return [Item(c.id, c, _span(c)) for c in cuts]
    recordings, supervisions = load_manifests(p)
    if by == "recording":
        return [Item(r.id, r) for r in recordings]
    recs = {r.id: r for r in recordings}
    items = [Item(s.id, Span(recs[s.recording_id], s), _span(s)) for s in supervisions or [] if s.recording_id in recs]
    if not items:
        raise DataError(p, "no supervisions of its recordings", "drop --by supervision to run on whole recordings")
    return items


def _trial_fields(line: str) -> tuple[str, str, bool | None]:
    f = line.split()
    if len(f) == 2:
        return f[0], f[1], None
    if len(f) == 3 and f[0].lower() in _LABELS and f[2].lower() not in _WORDS:
        return f[1], f[2], _LABELS[f[0].lower()]
    if len(f) == 3 and f[2].lower() in _WORDS and f[0].lower() not in _LABELS:
        return f[0], f[1], _LABELS[f[2].lower()]
    raise ValueError(line)


def trial_items(trials: str | os.PathLike, manifest: str | os.PathLike | None = None) -> list[Item]:
    """Pairs of a trial list: recording ids of ``manifest``, or paths relative to the list's folder."""
    recs: dict[str, Any] = {}
    if manifest:
        recs = {it.id: it.source for it in manifest_items(manifest, "recording")}
    root = Path(trials).parent
    items = []
    for n, line in enumerate(_read_lines(str(trials)), 1):
        try:
            a, b, target = _trial_fields(line)
        except ValueError:
            raise DataError(f"{trials}:{n}", f"not a trial: {line[:60]!r}",
                            "lines are 'A B', 'LABEL A B' or 'A B target|nontarget'") from None
        if manifest:
            missing = [x for x in (a, b) if x not in recs]
            if missing:
                raise DataError(f"{trials}:{n}", f"recording {missing[0]!r} is not in {manifest}",
                                "trial lists name recording ids of --manifest")
            src = (recs[a], recs[b])
        else:
            src = (_relative(a, root), _relative(b, root))
        items.append(Item(f"{a} {b}", src, {} if target is None else {"target": target}))
    return items

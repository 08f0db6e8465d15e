"""``speechdl data noise-bank``: a real non-speech noise bank from Debian packages, in five families.

For every package of :data:`speechdl.data.noise_bank_rules.TABLE` (or those named), the build downloads
the ``.deb`` (``apt-get download``), unpacks it (``dpkg-deb -x``; nothing is installed), keeps the sounds
its rules allow (never a path that suggests a voice), decodes them to 16 kHz mono (MIDI is rendered with
``fluidsynth``), trims leading/trailing silence, cuts them into equal pieces of at most 60 s and writes
FLAC files and ``manifest.jsonl`` rows that :func:`speechdl.data.synth.noise.load_noise_bank` reads.

Layout of ``out``::

    manifest.jsonl                 one row per file: audio, duration, source, kind "noise", family,
                                   license, package (name=version), orig_path, notes
    <package>/pNN/<name>.flac      piece NN of a source file; the pieces of one source file share
                                   <name>, so noise_split_of() puts them all in the same split
    licenses/<package>.copyright   the package's Debian copyright file
    .done/<package>.json           the rows of a finished package (a rerun skips it)
    .cache/debs/                   the downloaded .deb files (kept: a rerun needs no network)

A package takes files in turns from each of its families (in a fixed hash order) until its minutes are
used (``Pkg.minutes``, at most ``--max-minutes-per-package``), at most ``Pkg.per_file`` seconds from
one file. The build is deterministic, resumable and idempotent; the manifest is rewritten atomically
after every package.

Example:
    >>> piece_bounds(150 * 16000, 16000)      # 150 s -> three 50 s pieces
    [(0, 800000), (800000, 1600000), (1600000, 2400000)]
    >>> flat_name("usr/share/games/megaglest/tilesets/autumn/sounds/rain.ogg")
    'tilesets__autumn__rain'
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import re
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from speechdl.data import noise_bank_io as nio
from speechdl.data.noise_bank_rules import FAMILIES, TABLE, TABLE_BY_NAME, Pkg, classify, screen_id
from speechdl.errors import ConfigError, SpeechdlError

FORMAT_VERSION = 1
SAMPLE_RATE = 16000
PIECE_SECONDS = 60.0
MIN_SECONDS = 0.1           # shorter sounds (after trimming) are left out
SILENCE = 10 ** (-60 / 20)  # samples below -60 dBFS at either end are trimmed; a quieter file is left out
_SKIP = {"usr", "share", "games", "sounds", "sound", "data", "snd", "stereo"}


def piece_bounds(n: int, sample_rate: int, piece_seconds: float = PIECE_SECONDS) -> list[tuple[int, int]]:
    """``[(start, end), ...]`` sample bounds cutting ``n`` samples into equal pieces of at most
    ``piece_seconds`` (so no piece is a short leftover)."""
    if n <= 0:
        return []
    k = max(1, math.ceil(n / (piece_seconds * sample_rate)))
    edges = [round(i * n / k) for i in range(k + 1)]
    return list(zip(edges[:-1], edges[1:]))


def flat_name(member: str, used: set[str] | None = None) -> str:
    """A file name (no suffix) for ``member``: its last path parts without folders that say nothing,
    ``__``-joined; made unique within ``used`` (which it updates) by a short hash."""
    parts = [p for p in re.split(r"[/#]", member) if p]
    stem = [re.sub(r"[^A-Za-z0-9._+-]+", "_", p) for p in parts[:-1] if p.lower() not in _SKIP]
    last = re.sub(r"[^A-Za-z0-9._+-]+", "_", parts[-1].rsplit(".", 1)[0])
    name = "__".join(stem[-2:] + [last])
    if used is not None:
        if name in used:
            name = f"{name}-{hashlib.sha1(member.encode()).hexdigest()[:6]}"
        used.add(name)
    return name


def _order(member: str) -> str:
    return hashlib.sha1(member.encode()).hexdigest()


def candidates(pkg: Pkg, members: Iterable[str]) -> dict[str, list[str]]:
    """The members of ``pkg`` that go into the bank, by family, each list in a fixed hash order."""
    out: dict[str, list[str]] = {}
    for m in members:
        fam = classify(pkg, m)
        if fam:
            out.setdefault(fam, []).append(m)
    return {f: sorted(v, key=_order) for f, v in sorted(out.items())}


def round_robin(groups: dict[str, list[str]]) -> list[tuple[str, str]]:
    """``(family, member)`` taking one file of each family in turn (families in :data:`FAMILIES` order).

    Example:
        >>> round_robin({"music": ["m1", "m2"], "clicks": ["c1"]})
        [('music', 'm1'), ('clicks', 'c1'), ('music', 'm2')]
    """
    lists = [(f, list(groups[f])) for f in FAMILIES if f in groups]
    out = []
    while any(v for _, v in lists):
        for f, v in lists:
            if v:
                out.append((f, v.pop(0)))
    return out


def trim(x: np.ndarray, threshold: float = SILENCE) -> np.ndarray:
    """``x`` without the samples below ``threshold`` at its start and end (empty if all are)."""
    loud = np.flatnonzero(np.abs(x) > threshold)
    return x[loud[0]: loud[-1] + 1] if len(loud) else x[:0]


def _decode(root: Path, member: str, soundfont: Path | None, sample_rate: int) -> tuple[np.ndarray, str]:
    """``(float32 mono samples, SHA-1 of the file's bytes)`` of one member."""
    from speechdl import audio

    with nio.materialized(root, member) as path:
        digest = hashlib.sha1(path.read_bytes()).hexdigest()
        if member.lower().endswith((".mid", ".midi")):
            if soundfont is None:
                raise ConfigError(member, "a MIDI file but the package names no soundfont", "set Pkg.midi")
            return nio.render_midi(path, soundfont, sample_rate), digest
        with audio._quiet(True):
            wav, _ = audio.load(path, sample_rate=sample_rate)
        return wav, digest


def settings_of(pkg: Pkg, max_minutes: float, sample_rate: int) -> dict[str, Any]:
    """What a finished package's rows depend on (a change rebuilds the package)."""
    rules = hashlib.sha1(json.dumps([pkg.rules, pkg.midi, screen_id()]).encode()).hexdigest()[:12]
    return {"version": FORMAT_VERSION, "sample_rate": sample_rate, "piece_seconds": PIECE_SECONDS,
            "minutes": min(pkg.minutes, max_minutes), "per_file": pkg.per_file, "music_minutes": pkg.music_minutes,
            "rules": rules}


def build_package(pkg: Pkg, root: Path, version: str, out: Path, settings: dict[str, Any],
                  soundfont: Path | None = None) -> dict[str, Any]:
    """Select, decode, trim, cut and write one extracted package; returns its ``.done`` record."""
    from speechdl import audio

    sr = settings["sample_rate"]
    copyright_text = nio.copyright_of(root, pkg.name)
    lic = nio.license_summary(copyright_text) if copyright_text else "see the package's copyright file"
    if copyright_text:
        (out / "licenses").mkdir(parents=True, exist_ok=True)
        (out / "licenses" / f"{pkg.name}.copyright").write_text(copyright_text, encoding="utf-8")
    shutil.rmtree(out / pkg.name, ignore_errors=True)
    budget, rows, used, skipped, seen = settings["minutes"] * 60 * sr, [], set(), [], set()
    groups = candidates(pkg, nio.members(root))
    fam_budget = {f: budget for f in groups}
    if len(groups) > 1 and "music" in groups:
        fam_budget["music"] = min(budget, settings["music_minutes"] * 60 * sr)
    for fam, member in round_robin(groups):
        if budget < MIN_SECONDS * sr:
            break
        if fam_budget[fam] < MIN_SECONDS * sr:
            continue
        try:
            wav, digest = _decode(root, member, soundfont, sr)
        except SpeechdlError as e:
            skipped.append(f"{member}: {e}")
            continue
        if digest in seen:            # the same file shipped twice (e.g. one loop in several tilesets)
            continue
        seen.add(digest)
        wav = trim(wav)
        if len(wav) < MIN_SECONDS * sr:
            skipped.append(f"{member}: silent or shorter than {MIN_SECONDS} s")
            continue
        wav = wav[: int(min(budget, fam_budget[fam], settings["per_file"] * sr))]
        name, bounds = flat_name(member, used), piece_bounds(len(wav), sr, settings["piece_seconds"])
        for k, (a, b) in enumerate(bounds):
            rel = f"{pkg.name}/p{k:02d}/{name}.flac"
            audio.save(out / rel, wav[a:b], sr)
            orig = "/" + member.replace(nio.SEP, "#")
            rows.append({"audio": rel, "duration": round((b - a) / sr, 4), "source": pkg.name, "kind": "noise",
                         "family": fam, "license": lic, "package": f"{pkg.name}={version}",
                         "orig_path": orig, "sample_rate": sr, "channels": 1,
                         "notes": f"{fam}; piece {k + 1}/{len(bounds)} ({a / sr:.1f}-{b / sr:.1f} s of the trimmed "
                                  f"file){'; ' + pkg.note if pkg.note else ''}"})
        budget -= len(wav)
        fam_budget[fam] -= len(wav)
    return {"settings": settings, "package": pkg.name, "version": version, "license": lic, "rows": rows,
            "skipped": skipped}


def _done_ok(path: Path, settings: dict[str, Any], out: Path) -> dict[str, Any] | None:
    try:
        rec = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if rec.get("settings") != settings or not all((out / r["audio"]).is_file() for r in rec.get("rows", [])):
        return None
    return rec


def write_manifest(out: Path) -> list[dict[str, Any]]:
    """Rewrite ``out/manifest.jsonl`` (atomically) from every finished package, in table order."""
    from speechdl.audio import atomic_write

    order = {p.name: i for i, p in enumerate(TABLE)}
    recs = []
    for p in sorted((out / ".done").glob("*.json")):
        try:
            recs.append(json.loads(p.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            continue
    recs.sort(key=lambda r: (order.get(r.get("package"), len(order)), r.get("package", "")))
    rows = [row for r in recs for row in r.get("rows", [])]
    with atomic_write(out / "manifest.jsonl") as tmp:
        with open(tmp, "w", encoding="utf-8") as f:
            f.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    return rows


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Files and minutes per family and per package of manifest ``rows``."""
    fam: dict[str, list[float]] = {f: [0, 0.0] for f in FAMILIES}
    pkgs: dict[str, dict[str, Any]] = {}
    for r in rows:
        fam[r["family"]][0] += 1
        fam[r["family"]][1] += r["duration"]
        p = pkgs.setdefault(r["source"], {"package": r["package"], "files": 0, "minutes": 0.0, "families": set()})
        p["files"] += 1
        p["minutes"] += r["duration"] / 60
        p["families"].add(r["family"])
    return {"families": {f: {"files": int(n), "minutes": round(s / 60, 1)} for f, (n, s) in fam.items()},
            "packages": {k: {**v, "minutes": round(v["minutes"], 2), "families": sorted(v["families"])}
                         for k, v in pkgs.items()},
            "files": len(rows), "minutes": round(sum(r["duration"] for r in rows) / 60, 1)}


def build(out: str | Path, packages: list[str] | None = None, max_minutes: float = 20.0,
          sample_rate: int = SAMPLE_RATE, fetcher: Callable[[str, Path], tuple[Path, str]] = nio.fetch,
          table: dict[str, Pkg] | None = None, cache: str | Path | None = None,
          progress: Callable[..., Iterable] | None = None) -> dict[str, Any]:
    """Build (or finish) the noise bank in ``out``; returns :func:`summarize` of its manifest plus
    ``built``/``resumed`` package names and the files ``skipped`` (undecodable, silent, too short)."""
    table = table or TABLE_BY_NAME
    names = list(packages) if packages else list(table)
    unknown = [n for n in names if n not in table]
    if unknown:
        raise ConfigError("--packages", f"not in the noise bank table: {', '.join(unknown)}",
                          f"use some of: {', '.join(table)}")
    if max_minutes <= 0:
        raise ConfigError("--max-minutes-per-package", f"must be > 0 (got {max_minutes})", "e.g. 20")
    out = Path(out)
    cache = Path(cache) if cache else out / ".cache"
    (out / ".done").mkdir(parents=True, exist_ok=True)
    built, resumed, skipped, fonts = [], [], {}, {}
    for name in (progress or (lambda it, **kw: it))(names, desc="noise bank", unit="package"):
        pkg = table[name]
        settings = settings_of(pkg, max_minutes, sample_rate)
        done = out / ".done" / f"{name}.json"
        if _done_ok(done, settings, out):
            resumed.append(name)
            continue
        root, version = fetcher(name, cache)
        font = None
        if pkg.midi:
            if pkg.midi not in fonts:
                fonts[pkg.midi] = nio.find_soundfont(fetcher(pkg.midi, cache)[0])
            font = fonts[pkg.midi]
        rec = build_package(pkg, root, version, out, settings, font)
        from speechdl.audio import atomic_write

        with atomic_write(done) as tmp:
            Path(tmp).write_text(json.dumps(rec, ensure_ascii=False, indent=0), encoding="utf-8")
        if root.is_relative_to(cache):
            shutil.rmtree(root, ignore_errors=True)     # keep the .deb, not the unpacked tree
        built.append(name)
        skipped[name] = rec["skipped"]
        write_manifest(out)
    rows = write_manifest(out)
    return {"out": str(out), **summarize(rows), "built": built, "resumed": resumed,
            "skipped": {k: v for k, v in skipped.items() if v}}


def run(args: argparse.Namespace) -> int:
    """Handler of ``speechdl data noise-bank``."""
    from speechdl.console import emit, progress

    packages = [p.strip() for p in args.packages.split(",") if p.strip()] if args.packages else None
    s = build(args.out, packages, args.max_minutes_per_package,
              progress=lambda it, **kw: progress(it, enabled=args.format != "json", **kw))
    table = [{"family": f, "files": v["files"], "minutes": v["minutes"]} for f, v in s["families"].items()]
    table.append({"family": "total", "files": s["files"], "minutes": s["minutes"]})
    emit(s, args.format, table=table)
    return 0


def add_verbs(verbs: Any) -> None:
    """Add ``noise-bank`` to the ``data`` verbs."""
    from speechdl import validate
    from speechdl.console import add_format_option
    from speechdl.paths import work_dir

    p = verbs.add_parser(
        "noise-bank", help="build a real non-speech noise bank (weather, animals, vehicles, music, clicks) "
                           "from Debian packages",
        description="Download Debian packages (apt-get download, nothing installed), keep their non-speech "
                    "sounds by the table in speechdl/data/noise_bank_rules.py, render MIDI with fluidsynth, and "
                    "write 16 kHz mono FLAC pieces (<= 60 s) and manifest.jsonl with a family per file.")
    p.add_argument("--out", type=validate.dir_arg("--out"), default=str(work_dir("noise_bank")),
                   help="output folder (default ${SPEECHDL_WORK}/noise_bank); a rerun resumes")
    p.add_argument("--packages", metavar="A,B", help="only these packages of the table (default: all)")
    p.add_argument("--max-minutes-per-package", type=validate.flag("--max-minutes-per-package", "float", 0, 600,
                                                                    low_open=True, example=20),
                   default=20.0, help="cap on one package's share in minutes (default 20)")
    add_format_option(p)
    p.set_defaults(func=run)

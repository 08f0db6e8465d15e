"""Getting sound out of Debian packages: download, extract, list members, decode, render MIDI, licences.

A package is fetched with ``apt-get download`` into ``<cache>/debs`` and unpacked with ``dpkg-deb -x``
into ``<cache>/x/<package>`` (nothing is installed). Its sounds are *members*: plain files, files inside
``.zip``/``.pk3``/``.wz`` archives (``archive#member``) and the RIFF entries of OpenTTD sound catalogues
(``.cat``, named ``NN_title.wav`` from their catalogue titles). MIDI files are rendered with ``fluidsynth``
and the ``.sf2`` of a soundfont package, at the bank's sample rate, mono.

Example:
    >>> slug('"Tropical: Bird (1)". Original "x.wav"')
    'tropical_bird_1'
    >>> license_summary("Files: *\\nLicense: GPL-2+\\n\\nFiles: sounds/*\\nLicense: CC-BY-SA-3.0\\n")
    'GPL-2+; CC-BY-SA-3.0'
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from speechdl.data.noise_bank_rules import ARCHIVE_EXT, AUDIO_EXT
from speechdl.errors import DataError, ToolError

SEP = "#"   # archive#member


def slug(title: str) -> str:
    """A file-name-safe lower-case slug of the first quoted title in ``title`` (or of all of it)."""
    m = re.search(r'"([^"]+)"', title)
    text = m.group(1) if m else title
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_") or "untitled"


def _run(cmd: list[str], where: str, fix: str, timeout: float = 1800, cwd: Path | None = None) -> str:
    if shutil.which(cmd[0]) is None:
        raise ToolError(cmd[0], "not found", fix)
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=cwd)
    except subprocess.TimeoutExpired:
        raise ToolError(where, f"{cmd[0]} took longer than {timeout:.0f} s", fix) from None
    if r.returncode != 0:
        last = (r.stderr.strip().splitlines() or [f"exit {r.returncode}"])[-1]
        raise ToolError(where, f"{cmd[0]} failed: {last}", fix)
    return r.stdout


def fetch(package: str, cache: Path) -> tuple[Path, str]:
    """Download (``apt-get download`` in ``<cache>/debs``) and unpack ``package`` into ``<cache>/x/<package>``.

    Returns ``(extracted root, version)``; a .deb or an unpacked tree already there is reused.
    """
    debs, root = Path(cache) / "debs", Path(cache) / "x" / package
    debs.mkdir(parents=True, exist_ok=True)
    if not sorted(debs.glob(f"{package}_*.deb")):
        _run(["apt-get", "download", "-q", package], package,
             "needs network access to Debian and a current package list (apt-get update)", cwd=debs)
    found = sorted(debs.glob(f"{package}_*.deb"))
    if not found:
        raise ToolError(package, "apt-get download wrote no .deb", f"check `apt-cache policy {package}`")
    deb = found[-1]
    version = _run(["dpkg-deb", "-f", str(deb), "Version"], str(deb), "install dpkg").strip()
    if not (root / ".complete").is_file():
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
        _run(["dpkg-deb", "-x", str(deb), str(root)], str(deb), "the .deb may be damaged: delete it and rerun")
        (root / ".complete").write_text(version)
    return root, version


def _cat_entries(data: bytes) -> list[tuple[str, bytes]]:
    """``(NN_title.wav, RIFF bytes)`` of an OpenTTD sound catalogue (table of offset/size pairs)."""
    count = (struct.unpack_from("<I", data, 0)[0] & 0x7FFFFFFF) // 8
    out = []
    for i in range(count):
        off, size = struct.unpack_from("<II", data, 8 * i)
        off &= 0x7FFFFFFF
        n = data[off]
        title = data[off + 1: off + 1 + n].rstrip(b"\0").decode("utf-8", "replace")
        wav = data[off + 1 + n: off + size]
        if wav[:4] == b"RIFF":
            out.append((f"{i:02d}_{slug(title)}.wav", wav))
    return out


def members(root: Path) -> Iterator[str]:
    """Every sound of an extracted package, as paths relative to ``root`` (``archive#member`` inside)."""
    for p in sorted(root.rglob("*")):
        if not p.is_file():
            continue
        rel, low = p.relative_to(root).as_posix(), p.name.lower()
        if low.endswith(AUDIO_EXT):
            yield rel
        elif low.endswith(ARCHIVE_EXT):
            try:
                with zipfile.ZipFile(p) as z:
                    for name in sorted(z.namelist()):
                        if name.lower().endswith(AUDIO_EXT):
                            yield f"{rel}{SEP}{name}"
            except zipfile.BadZipFile:
                continue
        elif low.endswith(".cat"):
            for name, _ in _cat_entries(p.read_bytes()):
                yield f"{rel}{SEP}{name}"


@contextmanager
def materialized(root: Path, member: str) -> Iterator[Path]:
    """A real file holding ``member`` (a temporary copy for archive members and catalogue entries)."""
    if SEP not in member:
        yield root / member
        return
    outer, inner = member.split(SEP, 1)
    if outer.lower().endswith(".cat"):
        data = dict(_cat_entries((root / outer).read_bytes()))[inner]
    else:
        with zipfile.ZipFile(root / outer) as z:
            data = z.read(inner)
    fd, tmp = tempfile.mkstemp(suffix=Path(inner).suffix)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        yield Path(tmp)
    finally:
        os.unlink(tmp)


def find_soundfont(root: Path) -> Path:
    """The largest ``.sf2``/``.sf3`` file of an extracted soundfont package."""
    fonts = sorted((p for p in root.rglob("*") if p.suffix.lower() in (".sf2", ".sf3") and p.is_file()),
                   key=lambda p: -p.stat().st_size)
    if not fonts:
        raise DataError(root, "no .sf2 soundfont in the package", "name a soundfont package in the table")
    return fonts[0]


def render_midi(midi: Path, soundfont: Path, sample_rate: int, max_seconds: float = 600.0) -> np.ndarray:
    """Render a MIDI file with ``fluidsynth`` (no audio device): float32 mono ``(samples,)``."""
    from speechdl import audio

    fd, tmp = tempfile.mkstemp(suffix=".wav")
    os.close(fd)
    try:
        _run(["fluidsynth", "-ni", "-q", "-g", "0.6", "-r", str(sample_rate), "-T", "wav", "-F", tmp,
              str(soundfont), str(midi)], str(midi), "install fluidsynth (make system)", timeout=max_seconds)
        wav, _ = audio.load(tmp, sample_rate=sample_rate)
        return wav
    finally:
        os.unlink(tmp)


def license_summary(copyright_text: str, limit: int = 160) -> str:
    """The distinct ``License:`` short names of a Debian copyright file, in order, ``; ``-joined."""
    names: list[str] = []
    for m in re.finditer(r"^License:[ \t]*(\S.*)$", copyright_text, flags=re.M):
        name = m.group(1).strip()
        if name not in names:
            names.append(name)
    text = "; ".join(names) if names else " ".join(copyright_text.split()[:20])
    return text if len(text) <= limit else text[: limit - 3] + "..."


def copyright_of(root: Path, package: str) -> str:
    """The text of ``usr/share/doc/<package>/copyright`` of an extracted package ('' when absent)."""
    p = root / "usr" / "share" / "doc" / package / "copyright"
    if p.is_symlink() or not p.is_file():
        return ""
    return p.read_text(encoding="utf-8", errors="replace")

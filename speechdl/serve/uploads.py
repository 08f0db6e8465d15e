"""Uploaded audio, checked before it is decoded: magic bytes, header, declared length, duration.

An upload is copied (bounded) into a private temporary directory under a name the server chooses
(``audio.<ext>`` from the magic bytes, never the client's file name), then :func:`inspect_audio` reads
only its header: an unknown format is a 415, a header that promises more bytes than were sent or a file
that ends before its last frame is a 400, audio longer than the limit is a 413. Only then does a
pipeline decode it.

Example:
    >>> sniff(b"RIFF\\x24\\x00\\x00\\x00WAVEfmt "), sniff(b"fLaC\\x00"), sniff(b"hello")
    ('.wav', '.flac', None)
    >>> safe_name("../../etc/passwd"), safe_name("C:\\\\x\\\\take 1.wav"), safe_name("")
    ('passwd', 'take 1.wav', 'upload')
"""

from __future__ import annotations

import shutil
import struct
import tempfile
from pathlib import Path
from typing import Any, BinaryIO

import soundfile as sf

from speechdl.serve.errors import ApiError

# magic bytes -> extension the temp file gets (libsndfile also sniffs the content; the name is a hint)
_W64_GUID = bytes.fromhex("726966662e91cf11a5d628db04c10000")
FORMATS = "WAV, FLAC, OGG (Vorbis/Opus), MP3, AIFF, AU, CAF, W64"


def sniff(head: bytes) -> str | None:
    """The audio container of a file from its first bytes (``.wav``, ``.flac``, ...), or None."""
    if len(head) >= 12 and head[:4] in (b"RIFF", b"RIFX", b"RF64") and head[8:12] == b"WAVE":
        return ".wav"
    if head[:4] == b"fLaC":
        return ".flac"
    if head[:4] == b"OggS":
        return ".ogg"
    if head[:3] == b"ID3" or (len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return ".mp3"
    if len(head) >= 12 and head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return ".aiff"
    if head[:4] == b".snd":
        return ".au"
    if head[:4] == b"caff":
        return ".caf"
    if head[:16] == _W64_GUID:
        return ".w64"
    return None


def safe_name(filename: str | None, default: str = "upload") -> str:
    """The client's file name reduced to a label (last path part, printable, <= 100 chars).

    It is only shown back in results and messages; the server never opens a path it was given.
    """
    name = str(filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip()
    if name in ("", ".", ".."):
        return default
    return name[:100]


def new_workdir() -> Path:
    """A private temporary directory for one request (removed with :func:`remove_workdir`)."""
    return Path(tempfile.mkdtemp(prefix="speechdl-serve-"))


def remove_workdir(path: Path) -> None:
    """Remove a request's temporary directory."""
    shutil.rmtree(path, ignore_errors=True)


def save_upload(src: BinaryIO, workdir: Path, stem: str, label: str, limit: int) -> Path:
    """Copy the uploaded file object ``src`` to ``workdir/<stem><ext>`` (ext from the magic bytes).

    Raises ApiError 400 (empty), 415 (not a known audio container), 413 (over ``limit`` bytes).
    """
    src.seek(0)
    head = src.read(64)
    if not head:
        raise ApiError(400, f"{label}: the uploaded file is empty (0 bytes); send an audio file", "bad_audio")
    ext = sniff(head)
    if ext is None:
        raise ApiError(415, f"{label}: not a supported audio file (its first bytes match no audio format); "
                            f"send one of: {FORMATS}")
    dest = workdir / f"{stem}{ext}"
    total = len(head)
    with open(dest, "wb") as out:
        out.write(head)
        while chunk := src.read(1 << 20):
            total += len(chunk)
            if total > limit:
                raise ApiError(413, f"{label}: larger than the {limit} bytes allowed; send a shorter file")
            out.write(chunk)
    return dest


def _riff_data_size(path: Path) -> tuple[int, int] | None:
    """(declared size of the ``data`` / ``SSND`` chunk, bytes actually after its header) or None."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(12)
        big = head[:4] in (b"RIFX", b"FORM")
        target = b"SSND" if head[:4] == b"FORM" else b"data"
        pos = 12
        for _ in range(64):  # a valid file has a handful of chunks before its samples
            f.seek(pos)
            chunk = f.read(8)
            if len(chunk) < 8:
                return None
            cid, csize = chunk[:4], struct.unpack(">I" if big else "<I", chunk[4:])[0]
            if cid == target:
                return csize, size - pos - 8
            pos += 8 + csize + (csize & 1)
            if pos >= size:
                return None
    return None


def inspect_audio(path: Path, label: str, max_seconds: float) -> dict[str, Any]:
    """Read the header of an uploaded file and check it before any decoding.

    Returns ``{"sample_rate", "channels", "frames", "duration", "format"}``. Raises ApiError 400
    (unreadable header, header declaring more data than the file holds, file ending before its last
    frame) or 413 (longer than ``max_seconds``).
    """
    try:
        info = sf.info(str(path))
    except Exception as err:  # soundfile raises several types for bad input
        msg = str(err).splitlines()[0] if str(err) else type(err).__name__
        msg = msg.replace(f"Error opening {str(path)!r}: ", "").replace(str(path), label).rstrip(".")
        if "does not exist" in msg:  # libsndfile's words when no decoder accepts the stream
            msg = "no decodable audio stream"
        raise ApiError(400, f"{label}: unreadable audio header ({msg}); send a valid {FORMATS} file",
                       "bad_audio") from None
    if info.samplerate <= 0 or info.frames <= 0 or info.channels <= 0:
        raise ApiError(400, f"{label}: the file holds no audio samples; send a non-empty recording", "bad_audio")
    with open(path, "rb") as f:
        rf64 = f.read(4) == b"RF64"   # 64-bit sizes live in its ds64 chunk; libsndfile checks them
    if path.suffix in (".wav", ".aiff") and not rf64:
        sizes = _riff_data_size(path)
        if sizes is None:
            raise ApiError(400, f"{label}: no audio data chunk found; the file is truncated or not valid",
                           "bad_audio")
        declared, present = sizes
        if declared > present + 1:
            raise ApiError(400, f"{label}: the header declares {declared} bytes of audio but the file holds "
                                f"{max(present, 0)}; the file is truncated or its header is wrong", "bad_audio")
    duration = info.frames / info.samplerate
    if duration > max_seconds:
        raise ApiError(413, f"{label}: {duration:.1f} s of audio, more than the {max_seconds:g} s allowed; "
                            "send a shorter file")
    if path.suffix not in (".wav", ".aiff"):  # compressed: the last frame must decode (truncation check)
        try:
            with sf.SoundFile(str(path)) as f:
                f.seek(max(0, info.frames - 1))
                if f.read(1, dtype="float32").shape[0] != 1:
                    raise RuntimeError("no last frame")
        except Exception:
            raise ApiError(400, f"{label}: the file ends before its header says it does; it is truncated or "
                                "corrupt", "bad_audio") from None
    return {"sample_rate": int(info.samplerate), "channels": int(info.channels), "frames": int(info.frames),
            "duration": round(duration, 6), "format": info.format}


"""Audio I/O: load, save, resample and stream blocks. The only module that touches audio files.

Everything returned here is ``float32`` mono in ``[-1, 1]`` (shape ``(samples,)``) unless asked
otherwise. Errors a user can cause raise :class:`speechdl.errors.AudioError` naming the file and
the fix.

Example:
    >>> import numpy as np, tempfile, os
    >>> from speechdl import audio
    >>> path = os.path.join(tempfile.mkdtemp(), "tone.wav")
    >>> audio.save(path, np.zeros(8000, dtype=np.float32), 8000)
    >>> wav, sr = audio.load(path, sample_rate=16000)
    >>> wav.shape, sr
    ((16000,), 16000)
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from speechdl.errors import AudioError

SUPPORTED = ".wav .flac .ogg .oga .opus .mp3 .aiff .aif .au .caf .w64"
_FIX_FORMAT = f"convert it to one of: {SUPPORTED}"


@dataclass(frozen=True)
class AudioInfo:
    """What the header says: ``frames`` samples per channel at ``sample_rate`` Hz."""

    path: str
    sample_rate: int
    channels: int
    frames: int
    format: str
    subtype: str

    @property
    def duration(self) -> float:
        """Duration in seconds."""
        return self.frames / self.sample_rate


def _check_exists(path: Path) -> None:
    if not path.exists():
        raise AudioError(path, "file not found", "check the path")
    if path.is_dir():
        raise AudioError(path, "is a directory, not an audio file", "pass a file")
    if path.stat().st_size == 0:
        raise AudioError(path, "file is empty (0 bytes)", "re-record or re-export it")


def _open_error(path: Path, err: Exception) -> AudioError:
    msg = str(err).splitlines()[0] if str(err) else type(err).__name__
    if "unknown format" in msg.lower() or "format not recognised" in msg.lower():
        return AudioError(path, "not a readable audio file", _FIX_FORMAT)
    return AudioError(path, f"cannot decode audio ({msg})", f"the file may be corrupt; {_FIX_FORMAT}")


def info(path: str | os.PathLike) -> AudioInfo:
    """Read the header of ``path``; raises :class:`AudioError` if it is not readable audio."""
    p = Path(path)
    _check_exists(p)
    try:
        i = sf.info(str(p))
    except Exception as err:  # soundfile raises several types for bad input
        raise _open_error(p, err) from None
    if i.frames <= 0 or i.samplerate <= 0:
        raise AudioError(p, "holds no audio samples", "re-record or re-export it")
    return AudioInfo(str(p), int(i.samplerate), int(i.channels), int(i.frames), i.format, i.subtype)


def to_mono(x: np.ndarray) -> np.ndarray:
    """Mix ``(samples, channels)`` down to ``(samples,)`` by averaging the channels."""
    return x if x.ndim == 1 else x.mean(axis=1, dtype=np.float32)


def resample(x: np.ndarray, orig_rate: int, new_rate: int) -> np.ndarray:
    """Resample a float32 signal ``(samples,)`` or ``(samples, channels)`` with soxr (high quality).

    Example:
        >>> resample(np.zeros(800, np.float32), 8000, 16000).shape
        (1600,)
    """
    if orig_rate == new_rate:
        return x
    return soxr.resample(x, orig_rate, new_rate, quality="HQ").astype(np.float32, copy=False)


def _check_finite(path: Path, x: np.ndarray) -> None:
    if not np.isfinite(x).all():
        raise AudioError(path, "contains NaN or infinite samples", "re-export it as PCM audio")


def load(
    path: str | os.PathLike,
    sample_rate: int | None = None,
    mono: bool = True,
    offset: float = 0.0,
    duration: float | None = None,
) -> tuple[np.ndarray, int]:
    """Load an audio file as float32.

    Args:
        path: wav/flac/ogg/mp3/... file.
        sample_rate: resample to this rate (Hz); ``None`` keeps the file's rate.
        mono: average channels to ``(samples,)``; otherwise ``(samples, channels)``.
        offset: start reading at this time (s).
        duration: read at most this many seconds; ``None`` reads to the end.

    Returns:
        ``(waveform, rate)``: float32 array and its sample rate in Hz.
    """
    p = Path(path)
    meta = info(p)
    start = int(round(offset * meta.sample_rate))
    stop = None if duration is None else start + int(round(duration * meta.sample_rate))
    try:
        x, sr = sf.read(str(p), dtype="float32", always_2d=True, start=start, stop=stop)
    except Exception as err:
        raise _open_error(p, err) from None
    if x.shape[0] == 0:
        raise AudioError(p, "holds no audio samples in the requested range", "check offset/duration")
    _check_finite(p, x)
    if mono:
        x = to_mono(x)
    if sample_rate is not None and sample_rate != sr:
        x = resample(x, sr, sample_rate)
        sr = sample_rate
    return np.ascontiguousarray(x), int(sr)


def stream(
    path: str | os.PathLike,
    block_seconds: float = 10.0,
    sample_rate: int | None = None,
) -> Iterator[np.ndarray]:
    """Yield consecutive mono float32 blocks of ``path`` in bounded memory.

    Each block holds about ``block_seconds`` of audio at ``sample_rate`` (the file's rate if
    ``None``); concatenating the blocks gives the same samples as :func:`load` (to resampler
    precision when resampling). Memory stays O(block), so hour-long files are fine.

    Example:
        >>> import tempfile, os
        >>> p = os.path.join(tempfile.mkdtemp(), "a.wav"); save(p, np.ones(25, np.float32) / 2, 10)
        >>> [len(b) for b in stream(p, block_seconds=1.0)]
        [10, 10, 5]
    """
    p = Path(path)
    meta = info(p)
    block = max(1, int(block_seconds * meta.sample_rate))
    resampler = None
    if sample_rate is not None and sample_rate != meta.sample_rate:
        resampler = soxr.ResampleStream(meta.sample_rate, sample_rate, 1, dtype="float32", quality="HQ")
    try:
        with sf.SoundFile(str(p)) as f:
            while True:
                x = f.read(block, dtype="float32", always_2d=True)
                last = x.shape[0] < block
                if x.shape[0]:
                    _check_finite(p, x)
                    x = to_mono(x)
                    if resampler is not None:
                        x = resampler.resample_chunk(x, last=last)
                    if len(x):
                        yield np.ascontiguousarray(x, dtype=np.float32)
                elif resampler is not None:
                    tail = resampler.resample_chunk(np.zeros(0, np.float32), last=True)
                    if len(tail):
                        yield tail.astype(np.float32, copy=False)
                if last:
                    break
    except AudioError:
        raise
    except Exception as err:
        raise _open_error(p, err) from None


def atomic_path(path: str | os.PathLike, suffix: str = "") -> tuple[str, Path]:
    """Return ``(tmp, final)``: write to ``tmp`` (same folder), then ``os.replace(tmp, final)``."""
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.", suffix=suffix or final.suffix, dir=final.parent)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600 files; give the usual permissions
    return tmp, final


def save(
    path: str | os.PathLike,
    waveform: np.ndarray,
    sample_rate: int,
    subtype: str = "PCM_16",
) -> None:
    """Write ``waveform`` ``(samples,)`` or ``(samples, channels)`` atomically.

    The format follows the suffix (``.wav``, ``.flac``, ``.ogg``...); ``subtype`` is ``PCM_16``
    (int16) or ``FLOAT`` (float32). A crash mid-write never leaves a truncated file behind.
    """
    x = np.asarray(waveform)
    if x.dtype.kind == "f" and not np.isfinite(x).all():
        raise AudioError(path, "refusing to save NaN or infinite samples", "check the signal")
    tmp, final = atomic_path(path)
    try:
        sf.write(tmp, x, int(sample_rate), subtype=subtype if final.suffix.lower() in (".wav", ".w64") else None)
        os.replace(tmp, final)
    except Exception as err:
        if os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(err, AudioError):
            raise
        raise AudioError(final, f"cannot write audio ({err})", f"use a suffix among {SUPPORTED}") from None


def to_int16(x: np.ndarray) -> np.ndarray:
    """Convert float32 in ``[-1, 1]`` to int16 PCM (clipping)."""
    return (np.clip(x, -1.0, 32767 / 32768) * 32768).astype(np.int16)


def to_float32(x: np.ndarray) -> np.ndarray:
    """Convert int16 PCM to float32 in ``[-1, 1)``; float input is returned as float32."""
    if x.dtype == np.int16:
        return x.astype(np.float32) / 32768.0
    return x.astype(np.float32, copy=False)

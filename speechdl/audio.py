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

import contextlib
import errno
import math
import os
import stat
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from speechdl.errors import AudioError, ConfigError, write_fault, writing
from speechdl.validate import SAMPLE_RATES, check_sample_rate

SUPPORTED = ".wav .flac .ogg .oga .opus .mp3 .aiff .aif .au .caf .w64"
_FIX_FORMAT = f"convert it to one of: {SUPPORTED}"
MAX_CHANNELS = 256          # more in a header is corruption, not a recording
MAX_AMPLITUDE = 100.0       # decoded peak (full scale = 1.0) above which a file is refused: +40 dBFS
MAX_SAMPLES_PER_BYTE = 16384   # compressed formats: more samples per byte of file is a lying header
_COMPRESSED = frozenset({"FLAC", "OGG", "MP3", "MPEG"})
_PCM_BITS = {"PCM_S8": 8, "PCM_U8": 8, "ULAW": 8, "ALAW": 8, "PCM_16": 16, "PCM_24": 24, "PCM_32": 32, "FLOAT": 32,
             "DOUBLE": 64}


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


def _check_file(path: Path) -> bytes:
    """A regular, non-empty, readable file; returns its first 16 bytes."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        if os.path.islink(path):
            raise AudioError(path, f"is a broken symbolic link (to {os.readlink(path)})", "fix or remove the link") \
                from None
        raise AudioError(path, "file not found", "check the path") from None
    except OSError as err:
        if err.errno == errno.ELOOP:
            raise AudioError(path, "is a symbolic link loop", "point the link at an audio file") from None
        raise AudioError(path, f"cannot open ({err.strerror or err})", "check the path and its permissions") from None
    if stat.S_ISDIR(st.st_mode):
        raise AudioError(path, "is a directory, not an audio file", "pass a file")
    if not stat.S_ISREG(st.st_mode):
        raise AudioError(path, "is not a regular file (a pipe, device or socket)",
                         "save the audio to a file first and pass that")
    if st.st_size == 0:
        raise AudioError(path, "file is empty (0 bytes)", "re-record or re-export it")
    try:
        with open(path, "rb") as f:
            return f.read(16)
    except OSError as err:
        raise AudioError(path, f"cannot read ({err.strerror or err})", "check its permissions") from None


def _open_error(path: Path, err: Exception) -> AudioError:
    msg = str(err).splitlines()[0] if str(err) else type(err).__name__
    msg = msg.replace(f"Error opening {str(path)!r}: ", "").rstrip(".")
    low = msg.lower()
    if "unknown format" in low or "format not recognised" in low or "not a regular file (possibly a pipe" in low:
        return AudioError(path, "not a readable audio file", _FIX_FORMAT)
    return AudioError(path, f"cannot decode audio ({msg})", f"the file may be corrupt; {_FIX_FORMAT}")


def _is_mp3(head: bytes) -> bool:
    return head[:3] == b"ID3" or (len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0)


@contextlib.contextmanager
def _quiet(on: bool) -> Iterator[None]:
    """Silence C-level stderr while libmpg123 opens or decodes (it prints resync and Xing notes). Only in
    the main thread (the command line): a server's other threads keep their stderr."""
    if not on or threading.current_thread() is not threading.main_thread():
        yield
        return
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)


def _frames_bound(meta: AudioInfo, size: int) -> int:
    """The most frames ``size`` bytes can hold in ``meta``'s format (uncompressed: exact; compressed: at
    :data:`MAX_SAMPLES_PER_BYTE`, beyond what any codec reaches even on digital silence)."""
    bits = _PCM_BITS.get(meta.subtype) if meta.format not in _COMPRESSED else None
    if bits is None:
        return size * MAX_SAMPLES_PER_BYTE // meta.channels
    return int(size * 8 / bits) // meta.channels


def info(path: str | os.PathLike) -> AudioInfo:
    """Read and check the header of ``path``; raises :class:`AudioError` if it is not usable audio.

    Checked before anything is decoded or allocated: a regular readable file (not a folder, link loop,
    pipe or device), a sample rate in :data:`speechdl.validate.SAMPLE_RATES`, 1 to :data:`MAX_CHANNELS`
    channels, and no more frames than the file's size can hold (a header claiming hours in a few bytes).
    """
    p = Path(path)
    head = _check_file(p)
    try:
        with _quiet(_is_mp3(head)):
            i = sf.info(str(p))
    except Exception as err:  # soundfile raises several types for bad input
        raise _open_error(p, err) from None
    lo, hi = SAMPLE_RATES
    if not lo <= i.samplerate <= hi:
        raise AudioError(p, f"header says {i.samplerate} Hz, outside {lo}-{hi} Hz", "the header is corrupt; "
                         "re-export the file")
    if not 1 <= i.channels <= MAX_CHANNELS:
        raise AudioError(p, f"header says {i.channels} channels (at most {MAX_CHANNELS} are read)",
                         "the header is corrupt; re-export the file")
    if i.frames <= 0:
        raise AudioError(p, "holds no audio samples", "re-record or re-export it")
    meta = AudioInfo(str(p), int(i.samplerate), int(i.channels), int(i.frames), i.format, i.subtype)
    size = p.stat().st_size
    if meta.frames > _frames_bound(meta, size):
        raise AudioError(p, f"header declares {meta.duration:.6g} s of audio but the file has only {size} bytes",
                         "the file is truncated or its header is corrupt; re-export it")
    return meta


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


def check_samples(path: str | os.PathLike, x: np.ndarray) -> None:
    """Refuse decoded samples that are NaN/Inf or beyond :data:`MAX_AMPLITUDE` (the documented policy:
    such a file is rejected with one line, never sanitised, see ``docs/errors.md``).

    Example:
        >>> check_samples("x.wav", np.array([0.5, -1.2], np.float32))   # float headroom is audio
        >>> check_samples("x.wav", np.array([0.5, 3e4], np.float32))   # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        speechdl.errors.AudioError: x.wav: samples reach 3e+04, far beyond full scale (1.0) (normalise it ...)
    """
    if not x.size:
        return
    peak = float(np.max(np.abs(x)))
    if not math.isfinite(peak):
        raise AudioError(path, "contains NaN or infinite samples (or values too large for 32-bit floats)",
                         "re-export it as PCM audio")
    if peak > MAX_AMPLITUDE:
        raise AudioError(path, f"samples reach {peak:.3g}, far beyond full scale (1.0)",
                         "normalise it to [-1, 1], e.g. sox --norm IN OUT")


def _blocks(p: Path, meta: AudioInfo, head: bytes, start: int = 0, stop: int | None = None,
            block: int = 1 << 18) -> Iterator[np.ndarray]:
    """Decoded ``(frames, channels)`` float32 blocks of ``[start, stop)``, checked (:func:`check_samples`);
    reading ends where the data ends (never beyond the real file), and a file that ends well before its
    header says is an :class:`AudioError`."""
    want = (meta.frames if stop is None else min(stop, meta.frames)) - start
    got = 0
    quiet = _is_mp3(head)
    try:
        with _quiet(quiet):
            f = sf.SoundFile(str(p))
        with f:
            if start:
                with _quiet(quiet):
                    f.seek(start)
            while got < want:
                n = min(block, want - got)
                with _quiet(quiet):
                    x = f.read(n, dtype="float32", always_2d=True)
                if not x.shape[0]:
                    break
                check_samples(p, x)
                got += x.shape[0]
                yield x
                if x.shape[0] < n:
                    break
    except AudioError:
        raise
    except Exception as err:
        raise _open_error(p, err) from None
    # tolerance: 0.1 s or 1%; MP3 without a Xing/LAME header has only an estimated length: 0.5 s or 5%
    tol = max(int(0.5 * meta.sample_rate), want // 20) if quiet else max(int(0.1 * meta.sample_rate), want // 100)
    if got < want - tol:
        raise AudioError(p, f"ends after {got / meta.sample_rate:.3f} s but its header declares "
                         f"{want / meta.sample_rate:.3f} s", "the file is truncated or corrupt; re-export it")


def _time(value: float | None, what: str, p: Path) -> None:
    if value is not None and (not math.isfinite(value) or value < 0):
        raise AudioError(p, f"{what} {value} s is not a time in the file", "check the start and duration asked for")


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

    The header is checked first (:func:`info`); samples are decoded in blocks, each checked
    (:func:`check_samples`), so memory follows what the file really holds, not what its header claims.
    """
    p = Path(path)
    meta = info(p)
    if sample_rate is not None:
        check_sample_rate(sample_rate, "sample_rate")
    _time(offset, "offset", p)
    _time(duration, "duration", p)
    start = int(round(offset * meta.sample_rate))
    stop = None if duration is None else start + int(round(duration * meta.sample_rate))
    head = _check_file(p)
    if meta.format not in _COMPRESSED and meta.subtype in _PCM_BITS:   # exact size: one array, filled in place
        want = max(0, (meta.frames if stop is None else min(stop, meta.frames)) - start)
        x = np.empty((want, meta.channels), np.float32)
        n = 0
        for b in _blocks(p, meta, head, start, stop):
            x[n:n + len(b)] = b
            n += len(b)
        x = x[:n]
    else:
        parts = list(_blocks(p, meta, head, start, stop))
        x = np.concatenate(parts) if len(parts) > 1 else (parts[0] if parts else np.zeros((0, meta.channels),
                                                                                            np.float32))
    if x.shape[0] == 0:
        raise AudioError(p, "holds no audio samples in the requested range", "check offset/duration")
    sr = meta.sample_rate
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
        >>> p = os.path.join(tempfile.mkdtemp(), "a.wav"); save(p, np.ones(2500, np.float32) / 2, 1000)
        >>> [len(b) for b in stream(p, block_seconds=1.0)]
        [1000, 1000, 500]
    """
    p = Path(path)
    meta = info(p)
    if sample_rate is not None:
        check_sample_rate(sample_rate, "sample_rate")
    if not (math.isfinite(block_seconds) and block_seconds > 0):
        raise ConfigError("block_seconds", f"{block_seconds} is not a positive duration", "use e.g. 10")
    block = max(1, int(block_seconds * meta.sample_rate))
    resampler = None
    if sample_rate is not None and sample_rate != meta.sample_rate:
        resampler = soxr.ResampleStream(meta.sample_rate, sample_rate, 1, dtype="float32", quality="HQ")
    blocks = _blocks(p, meta, _check_file(p), block=block)
    x = next(blocks, None)
    if x is None:
        raise AudioError(p, "holds no decodable audio samples", "the file is corrupt; re-export it")
    while x is not None:
        following = next(blocks, None)     # one block ahead: the resampler is told which block is the last
        y = to_mono(x)
        if resampler is not None:
            y = resampler.resample_chunk(y, last=following is None)
        if len(y):
            yield np.ascontiguousarray(y, dtype=np.float32)
        x = following


def atomic_path(path: str | os.PathLike, suffix: str = "") -> tuple[str, Path]:
    """Return ``(tmp, final)``: write to ``tmp`` (same folder), then ``os.replace(tmp, final)``.

    Prefer :func:`atomic_write`, which also renames, removes ``tmp`` on failure and turns a full disk
    into a one-line :class:`~speechdl.errors.OutputError`.
    """
    final = Path(path)
    with writing(final):
        final.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.", suffix=suffix or final.suffix, dir=final.parent)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600 files; give the usual permissions
    return tmp, final


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, suffix: str = "") -> Iterator[str]:
    """Write ``path`` atomically: the block writes the temporary sibling it is given, which is renamed
    onto ``path`` when the block ends, and removed if it fails (Ctrl-C included), so ``path`` is never
    half written. A full disk, a quota, a read-only or unwritable place raise
    :class:`~speechdl.errors.OutputError` naming ``path`` (one line, exit 2).

    Example:
        >>> import tempfile, os
        >>> out = os.path.join(tempfile.mkdtemp(), "a.txt")
        >>> with atomic_write(out) as tmp:
        ...     _ = open(tmp, "w").write("done")
        >>> open(out).read(), os.listdir(os.path.dirname(out))
        ('done', ['a.txt'])
    """
    tmp, final = atomic_path(path, suffix)
    try:
        with writing(final):
            yield tmp
            os.replace(tmp, final)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


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
    except BaseException as err:
        if os.path.exists(tmp):
            os.unlink(tmp)
        fault = write_fault(err, final)
        if fault is not None:
            raise fault from None
        if isinstance(err, AudioError) or not isinstance(err, Exception):
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


def wav_data_url(wave: np.ndarray, sample_rate: int) -> str:
    """``wave`` as a 16-bit PCM WAV ``data:audio/wav;base64,...`` URL (deterministic bytes; clipped to [-1, 1]).

    Example:
        >>> wav_data_url(np.zeros(4, np.float32), 16000)[:30]
        'data:audio/wav;base64,UklGRiwA'
    """
    import base64
    import io

    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, np.clip(np.asarray(wave, np.float32), -1.0, 1.0), sample_rate, subtype="PCM_16", format="WAV")
    return "data:audio/wav;base64," + base64.b64encode(buf.getvalue()).decode("ascii")

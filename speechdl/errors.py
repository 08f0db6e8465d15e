"""User-facing exceptions.

Every error a user can cause (a missing file, a corrupt recording, a bad option, an empty manifest)
raises a subclass of :class:`SpeechdlError`. Its message is one line: what went wrong, where, and how
to fix it. The command line prints that line and exits with :attr:`SpeechdlError.exit_code`.

Example:
    >>> from speechdl.errors import AudioError
    >>> str(AudioError("x.wav", "file not found", "check the path"))
    'x.wav: file not found (check the path)'
    >>> import pickle; str(pickle.loads(pickle.dumps(AudioError("x.wav", "empty"))))
    'x.wav: empty'
    >>> str(write_fault(OSError(errno.ENOSPC, "No space left on device"), "f.npy"))
    'f.npy: no space left on device while writing (free space or choose --out elsewhere)'
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from contextlib import contextmanager


class SpeechdlError(Exception):
    """Base class of the errors a user can cause; the CLI prints them as one line and exits 2."""

    exit_code = 2

    def __init__(self, where: str | os.PathLike | None, what: str, fix: str | None = None) -> None:
        self.where = None if where is None else str(where)
        self.what = what
        self.fix = fix
        super().__init__(self._line())

    def _line(self) -> str:
        line = f"{self.where}: {self.what}" if self.where else self.what
        return f"{line} ({self.fix})" if self.fix else line

    def __reduce__(self) -> tuple:
        """Pickled as its parts, so an error raised in a worker process arrives whole in the parent."""
        return type(self), (self.where, self.what, self.fix)


class AudioError(SpeechdlError):
    """An audio file is missing, empty, corrupt, not audio, NaN-filled or in an unsupported format."""


class ConfigError(SpeechdlError):
    """A configuration value or command-line option is invalid."""


class DataError(SpeechdlError):
    """A manifest, corpus directory or dataset is missing, empty or malformed."""


class ToolError(SpeechdlError):
    """An external tool (espeak-ng, piper) is missing or failed."""


class OutputError(SpeechdlError):
    """An output cannot be written: the disk is full, over quota, read-only or not writable."""


#: errno -> (what, how to fix) of the faults met while writing an output (exit 2, not a traceback)
WRITE_FAULTS = {
    errno.ENOSPC: ("no space left on device while writing", "free space or choose --out elsewhere"),
    errno.EDQUOT: ("disk quota exceeded while writing", "free space or choose --out elsewhere"),
    errno.EFBIG: ("file too large for this file system while writing", "choose --out elsewhere"),
    errno.EROFS: ("read-only file system", "choose --out elsewhere"),
    errno.EACCES: ("permission denied while writing", "choose a writable --out or fix the folder's permissions"),
    errno.EPERM: ("operation not permitted while writing", "choose a writable --out or fix the folder's permissions"),
}

#: the write faults that can only come from writing (EACCES/EPERM may come from reading too)
FULL_DISK = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS)


def write_fault(err: BaseException, path: str | os.PathLike | None = None) -> OutputError | None:
    """The one-line :class:`OutputError` for ``err`` met while writing ``path`` (a full disk, a quota, a
    read-only or unwritable place), or None when ``err`` is another error. ``path`` defaults to the file
    named by ``err``."""
    if not isinstance(err, OSError) or err.errno not in WRITE_FAULTS:
        return None
    what, fix = WRITE_FAULTS[err.errno]
    return OutputError(path if path is not None else err.filename, what, fix)


@contextmanager
def writing(path: str | os.PathLike) -> Iterator[None]:
    """Turn the write faults of :func:`write_fault` raised inside the block into :class:`OutputError`
    naming ``path`` (the final output, not its temporary file); other errors pass unchanged."""
    try:
        yield
    except OSError as err:
        fault = write_fault(err, path)
        if fault is None:
            raise
        raise fault from None

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
"""

from __future__ import annotations

import os


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

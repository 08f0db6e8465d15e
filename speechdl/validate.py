"""Shared checks at the edges: numbers and ranges, sample rates, output paths, text files.

Every value a user hands in (a command-line option, a config or recipe value, a manifest field) is
checked once, where it enters, with the same one-line :mod:`speechdl.errors` message: where, what, how
to fix. Numbers go through :meth:`speechdl.api.Option.parse` (the one number check of the application
contract: NaN and infinities refused, inclusive bounds), so a CLI flag, an HTTP form field and a Python
keyword are refused in the same words. Output paths are checked before any work starts; text files are
read as UTF-8 (a binary or undecodable file is a one-line error, never a ``UnicodeDecodeError``).

Example:
    >>> flag("--n-mels", "int", 1, 1024)("40")
    40
    >>> flag("--hours", "float", 0, 1e5, low_open=True)("nan")
    Traceback (most recent call last):
    ...
    speechdl.errors.ConfigError: option hours: expected a number in (0, 100000], got 'nan' (pass e.g. --hours 1)
    >>> check_sample_rate(1, "--sample-rate")
    Traceback (most recent call last):
    ...
    speechdl.errors.ConfigError: --sample-rate: 1 Hz is outside 1000-768000 Hz (pass a rate such as 16000)
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from speechdl.errors import ConfigError, SpeechdlError

#: sample rates (Hz) accepted for audio files and asked for by configs and options
SAMPLE_RATES = (1000, 768000)


# ------------------------------------------------------------------ numbers
def number(value: Any, name: str, kind: str = "float", minimum: float | None = None,
           maximum: float | None = None, low_open: bool = False, example: Any = None) -> int | float:
    """``value`` (a string or a number) checked by :meth:`speechdl.api.Option.parse`: finite, of ``kind``
    (``"int"`` / ``"float"``), in ``[minimum, maximum]`` (``low_open``: ``minimum`` itself excluded).

    ``name`` is the option (``--hours`` or ``hours``); ``example`` a valid value for the message (default:
    the minimum, or 1). Raises :class:`ConfigError`.

    Example:
        >>> number("0.5", "--pad", minimum=0, maximum=60)
        0.5
        >>> number(float("inf"), "pad", minimum=0)
        Traceback (most recent call last):
        ...
        speechdl.errors.ConfigError: option pad: expected a number in [0, inf], got inf (pass e.g. --pad 0)
    """
    from speechdl.api import Option

    key = name.lstrip("-").replace("-", "_")
    opt = Option(key, kind, None, "", minimum=minimum, maximum=maximum)
    try:
        parsed = None if value is None else opt.parse(value)
    except ConfigError:
        parsed = None
    if parsed is None or (low_open and minimum is not None and parsed <= minimum):
        lo = "-inf" if minimum is None else _shown(minimum)
        hi = "inf" if maximum is None else _shown(maximum)
        if example is None:
            example = 1 if minimum is None or low_open else minimum
        if isinstance(example, float) and example.is_integer():
            example = int(example)
        what = "an integer" if kind == "int" else "a number"
        raise ConfigError(f"option {key}", f"expected {what} in {'(' if low_open else '['}{lo}, {hi}], got {value!r}",
                          f"pass e.g. --{key.replace('_', '-')} {example}")
    return parsed


def _shown(x: float) -> str:
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e13 else f"{x:g}"


def flag(name: str, kind: str = "float", minimum: float | None = None, maximum: float | None = None,
         low_open: bool = False, example: Any = None) -> Callable[[str], int | float]:
    """An argparse ``type=`` for option ``name``: the string checked by :func:`number`.

    Its :class:`ConfigError` passes through argparse to the CLI's one-line error (exit 2).
    """
    def parse(text: str) -> int | float:
        return number(text, name, kind, minimum, maximum, low_open, example)

    parse.__name__ = kind
    return parse


def declared(option: Any) -> Callable[[str], Any]:
    """An argparse ``type=`` that checks a value with a pipeline's declared :class:`speechdl.api.Option`
    (so the command line refuses exactly what the HTTP API and Python refuse)."""
    def parse(text: str) -> Any:
        return option.parse(text)

    parse.__name__ = option.kind
    return parse


def check_sample_rate(rate: Any, where: str | os.PathLike) -> int:
    """``rate`` as an int when it is a whole number of Hz in :data:`SAMPLE_RATES`, else :class:`ConfigError`."""
    lo, hi = SAMPLE_RATES
    ok = isinstance(rate, int | float) and not isinstance(rate, bool) and math.isfinite(rate) \
        and float(rate).is_integer() and lo <= rate <= hi
    if not ok:
        shown = f"{rate:g}" if isinstance(rate, int | float) and not isinstance(rate, bool) else repr(rate)
        raise ConfigError(where, f"{shown} Hz is outside {lo}-{hi} Hz", "pass a rate such as 16000")
    return int(rate)


# ------------------------------------------------------------------ output paths
def _nearest_existing(path: Path) -> Path:
    p = path
    while True:
        try:
            os.stat(p)
            return p
        except FileNotFoundError:
            if p.parent == p:
                return p
            p = p.parent
        except NotADirectoryError:
            p = p.parent


def _probe(folder: Path, where: str, shown: Path) -> None:
    """Raise :class:`ConfigError` unless a file can be created in the existing ``folder``."""
    try:
        fd, tmp = tempfile.mkstemp(prefix=".speechdl-probe-", dir=folder)
    except OSError as err:
        raise ConfigError(where, f"cannot write in {folder} ({err.strerror or err})",
                          f"choose a writable place for {shown}") from None
    os.close(fd)
    os.unlink(tmp)


def _check_parents(path: Path, where: str) -> None:
    """The nearest existing ancestor of ``path`` must be a folder we can write in."""
    base = _nearest_existing(path.parent if path.parent != path else path)
    if not base.is_dir():
        raise ConfigError(where, f"{base} is a file, so {path} cannot be created under it",
                          "choose a path whose folders are folders")
    _probe(base, where, path)


def output_file(path: str | os.PathLike, where: str = "--out", suffixes: tuple[str, ...] = ()) -> Path:
    """Check, before any work, that the file ``path`` can be written (missing folders are created later).

    Refused: an existing folder, a path under a regular file, a place that cannot be written, a suffix
    not in ``suffixes`` (when given). Returns the path.

    Example:
        >>> import tempfile
        >>> output_file(tempfile.mkdtemp(), "--plot")   # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        speechdl.errors.ConfigError: --plot: ... is a folder (pass a file name, e.g. .../out)
    """
    p = Path(path)
    if str(path) == "":
        raise ConfigError(where, "empty path", "pass a file name")
    if p.is_dir():
        example = f"{p / 'out'}{suffixes[0] if suffixes else ''}"
        raise ConfigError(where, f"{p} is a folder", f"pass a file name, e.g. {example}")
    if suffixes and p.suffix.lower() not in suffixes:
        raise ConfigError(where, f"{p.name} does not end with {' or '.join(suffixes)}",
                          f"name it e.g. {p.with_suffix(suffixes[0]).name}")
    _check_parents(p, where)
    return p


def output_dir(path: str | os.PathLike, where: str = "--out") -> Path:
    """Check, before any work, that folder ``path`` exists and is writable or can be created.

    Refused: an existing regular file, a path under a regular file, a place that cannot be written.
    Nothing is created here. Returns the path.

    Example:
        >>> import tempfile, os
        >>> f = os.path.join(tempfile.mkdtemp(), "a_file"); _ = open(f, "w").write("x")
        >>> output_dir(f, "--out-dir")   # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        speechdl.errors.ConfigError: --out-dir: .../a_file is a file, not a folder (pass a folder path)
    """
    p = Path(path)
    if str(path) == "":
        raise ConfigError(where, "empty path", "pass a folder path")
    if p.exists() and not p.is_dir():
        raise ConfigError(where, f"{p} is a file, not a folder", "pass a folder path")
    if p.is_dir():
        _probe(p, where, p)
    else:
        _check_parents(p, where)
    return p


def file_arg(where: str, suffixes: tuple[str, ...] = (), path: bool = False) -> Callable[[str], Any]:
    """An argparse ``type=`` for an output file option: :func:`output_file` at parse time, i.e. before any
    work (returns the string, or a :class:`~pathlib.Path` with ``path=True``)."""
    def parse(text: str) -> Any:
        p = output_file(text, where, suffixes)
        return p if path else text

    parse.__name__ = "path"
    return parse


def dir_arg(where: str, path: bool = False) -> Callable[[str], Any]:
    """An argparse ``type=`` for an output folder option: :func:`output_dir` at parse time."""
    def parse(text: str) -> Any:
        p = output_dir(text, where)
        return p if path else text

    parse.__name__ = "path"
    return parse


# ------------------------------------------------------------------ text files
@contextmanager
def _open_errors(p: Path, what: str, error: Any) -> Iterator[None]:
    """Turn a missing file, a folder or an unreadable file into ``error(p, ...)`` (one line)."""
    try:
        yield
    except FileNotFoundError:
        raise error(p, f"{what} not found", "check the path") from None
    except IsADirectoryError:
        raise error(p, f"is a folder, not a {what}", f"pass the {what} itself") from None
    except OSError as err:
        raise error(p, f"cannot read the {what} ({err.strerror or err})", "check its permissions") from None


def read_text(path: str | os.PathLike, what: str = "text file", error: type[SpeechdlError] = ConfigError,
              fix: str | None = None, opener: Callable[..., Any] | None = None) -> str:
    """The text of ``path``: UTF-8 (a UTF-8 or UTF-16 byte-order mark is honoured).

    A missing file, a folder, an unreadable file or bytes that are not text raise ``error`` (one line).
    ``opener`` opens the file in binary mode (``gzip.open`` for ``.gz`` files; default: a plain read).

    Example:
        >>> import tempfile, os
        >>> p = os.path.join(tempfile.mkdtemp(), "r.yaml"); _ = open(p, "wb").write(b"ab\\x81binary")
        >>> read_text(p, "recipe")   # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        speechdl.errors.ConfigError: ...r.yaml:1: the recipe is not UTF-8 text (byte 0x81 at column 3) (save it ...)
    """
    p = Path(path)
    with _open_errors(p, what, error):
        if opener is None:
            raw = p.read_bytes()
        else:
            with opener(p, "rb") as fh:
                raw = fh.read()
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError:
            pass
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line_start = raw.rfind(b"\n", 0, err.start) + 1
        raise _not_text(p, raw.count(b"\n", 0, err.start) + 1, raw[err.start], err.start - line_start + 1,
                        what, error, fix) from None
    if "\x00" in text:
        raise error(f"{p}:{text.count(chr(10), 0, text.index(chr(0))) + 1}",
                    f"the {what} is binary, not text (it holds NUL bytes)", fix or "pass a text file")
    return text


def _not_text(p: Path, line: int, byte: int, column: int, what: str, error: type[SpeechdlError],
              fix: str | None) -> SpeechdlError:
    return error(f"{p}:{line}", f"the {what} is not UTF-8 text (byte 0x{byte:02x} at column {column})",
                 fix or "save it as UTF-8 text")


def text_lines(path: str | os.PathLike, what: str = "text file", error: type[SpeechdlError] = ConfigError,
               fix: str | None = None, opener: Callable[..., Any] = open) -> Iterator[tuple[int, str]]:
    """``(line number, line)`` of a text file read line by line (1-based, newline stripped): for files too
    large to hold as one string (text corpora). UTF-8 (a UTF-8 byte-order mark is skipped; a UTF-16 file
    with its mark is decoded whole, as :func:`read_text` does).

    A missing or unreadable file, and the first line that is not UTF-8 or holds a NUL byte, raise
    ``error`` naming ``FILE:LINE`` (one line), so a binary file is never read as text full of U+FFFD.
    ``opener`` opens the file in binary mode (``gzip.open`` for ``.gz`` files).

    Example:
        >>> import tempfile, os
        >>> p = os.path.join(tempfile.mkdtemp(), "t.txt"); _ = open(p, "wb").write(b"one\\ntw\\xffo\\n")
        >>> it = text_lines(p, "text"); next(it)
        (1, 'one')
        >>> next(it)   # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        speechdl.errors.ConfigError: ...t.txt:2: the text is not UTF-8 text (byte 0xff at column 3) (save it ...)
    """
    p = Path(path)
    with _open_errors(p, what, error):
        fh = opener(p, "rb")
        head = fh.peek(2)[:2] if hasattr(fh, "peek") else b""
    with fh:
        if head in (b"\xff\xfe", b"\xfe\xff") and opener is open:
            yield from enumerate(read_text(p, what, error, fix).splitlines(), 1)
            return
        n = 0
        try:
            for n, raw in enumerate(fh, 1):
                if n == 1 and raw.startswith(b"\xef\xbb\xbf"):
                    raw = raw[3:]
                try:
                    line = raw.decode("utf-8")
                except UnicodeDecodeError as err:
                    raise _not_text(p, n, raw[err.start], err.start + 1, what, error, fix) from None
                if "\x00" in line:
                    raise error(f"{p}:{n}", f"the {what} is binary, not text (it holds NUL bytes)",
                                fix or "pass a text file")
                yield n, line.rstrip("\r\n")
        except (OSError, EOFError) as err:   # a read error, a truncated or corrupt .gz
            raise error(f"{p}:{n + 1}", f"cannot read the {what} ({getattr(err, 'strerror', None) or err})",
                        "check the file") from None

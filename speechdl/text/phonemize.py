"""Text -> phonemes with espeak-ng: IPA or espeak's ASCII mnemonics, a whole batch in one process call.

espeak-ng reads standard input line by line and writes the phonemes of each line, a new line at every
clause break it finds. To map its output back to the inputs, every input chunk is followed by a
marker line; the marker's own phonemes (the first line of the output) split the output into chunks.
Punctuation that shapes prosody (``, . ? ! ; :`` by default) is cut out before espeak sees it and put
back after the phonemes of the words before it, so ``"Hello, world!"`` -> ``"həlˈoʊ, wˈɜːld!"``.

espeak-ng reads numbers and abbreviations itself (``42`` -> ``fˈɔːɹɾi tˈuː``); pass ``norm="tts"`` to use
the project's :func:`~speechdl.text.normalize.normalize` first, so that text and phoneme models agree.

Example:
    >>> ph = Phonemizer("en-us")
    >>> ph(["Hello, world!", "the cat"])
    ['həlˈoʊ, wˈɜːld!', 'ðə kˈæt']
    >>> Phonemizer("en-us", alphabet="ascii", stress=False)("hello world")
    'h@loU w3:ld'
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Sequence
from typing import Any, overload

from speechdl.errors import ConfigError, ToolError
from speechdl.text.normalize import TextNorm, normalize

MARKER = "qxqxqz"  # an input line whose phonemes (one line) separate the chunks of a batch
_STRESS = {"ipa": "ˈˌ", "ascii": "',%="}
_PRIORITY = "?!.;:,"  # the mark kept of a run ("?!" -> "?")


def espeak_path() -> str:
    """Path of the ``espeak-ng`` executable; raises :class:`ToolError` (one line) when it is missing."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise ToolError("espeak-ng", "not found on PATH",
                        "install it: sudo apt-get install espeak-ng (or brew install espeak-ng)")
    return exe


class Phonemizer:
    """espeak-ng phonemizer for batches of texts.

    Args:
        language: espeak-ng voice (``en-us``, ``en-gb``, ``fr``, ``de``...; ``espeak-ng --voices`` lists them).
        alphabet: ``ipa`` (Unicode IPA) or ``ascii`` (espeak's mnemonics, ``h@l'oU``).
        stress: keep stress marks (IPA ``ˈ ˌ``; ASCII ``' , % =``).
        separator: one character put between the phonemes of a word (``h_ə_l_ˈoʊ``); ``""`` for none.
        tie: one character joining the letters of a multi-letter phoneme (``d^ʒ``); ``""`` for none.
        punct: marks kept in the output (attached to the phonemes before them); ``""`` drops them all.
        norm: normalise texts first with this :class:`~speechdl.text.normalize.TextNorm` (or preset);
            ``None`` gives espeak-ng the text as it is.
        exe: the espeak-ng executable (default: found on ``PATH``).

    Calling it with a string returns a string; with a sequence, a list of the same length.
    """

    def __init__(self, language: str = "en-us", alphabet: str = "ipa", stress: bool = True, separator: str = "",
                 tie: str = "", punct: str = ",.?!;:", norm: TextNorm | str | dict[str, Any] | None = None,
                 exe: str | None = None) -> None:
        if set(punct) - set(_PRIORITY):
            raise ConfigError("phonemizer", f"punct={punct!r} is not valid", f"use marks of {_PRIORITY!r}")
        if alphabet not in _STRESS:
            raise ConfigError("phonemizer", f"alphabet={alphabet!r} is not valid", "use ipa or ascii")
        for name, ch in (("separator", separator), ("tie", tie)):
            if ch and (len(ch) > 1 or ch.isspace() or ch in punct):
                raise ConfigError("phonemizer", f"{name}={ch!r} must be one visible character or ''",
                                  "e.g. '_' or '^'")
        self.language, self.alphabet, self.stress, self.punct = language, alphabet, stress, punct
        self.norm = None if norm is None else TextNorm.of(norm)
        self.exe = exe or espeak_path()
        if exe is not None and shutil.which(exe) is None:
            raise ToolError(exe, "espeak-ng executable not found", "install espeak-ng or pass its path")
        self.args = ["-q", "-v", language, "--ipa" if alphabet == "ipa" else "-x"]
        self.args += [f"--sep={separator}"] if separator else []
        self.args += [f"--tie={tie}"] if tie else []
        # a run of marks breaks a clause, except . , : between digits (3.5, 1,000, 3:05)
        marks = re.escape(punct)
        self._split = re.compile(rf"((?:(?!(?<=\d)[.,:](?=\d))[{marks}])+)") if punct else None

    def _espeak(self, lines: list[str]) -> list[str]:
        """One espeak-ng process over ``lines``; its output lines."""
        text = "".join(line + "\n" for line in lines)
        try:
            out = subprocess.run([self.exe, *self.args], input=text, capture_output=True, encoding="utf-8",
                                 timeout=60 + len(text) / 200, check=False)
        except (OSError, subprocess.TimeoutExpired) as err:
            raise ToolError("espeak-ng", f"could not run ({err.__class__.__name__})", "check the install") from None
        if out.returncode != 0:
            msg = (out.stderr.strip() or out.stdout.strip() or f"exit code {out.returncode}").splitlines()[0]
            if "voice does not exist" in msg:
                raise ConfigError("phonemizer", f"espeak-ng has no voice {self.language!r}",
                                  "list them with: espeak-ng --voices")
            raise ToolError("espeak-ng", msg, "check the espeak-ng install")
        return out.stdout.split("\n")[:-1]

    def _chunks(self, text: str) -> list[tuple[str, str]]:
        """``text`` -> ``[(words, mark after them)]``."""
        text = " ".join(str(text).split())
        if self._split is None:
            return [(text, "")]
        parts = self._split.split(text)
        return [(parts[i].strip(), min(parts[i + 1], key=_PRIORITY.index) if i + 1 < len(parts) else "")
                for i in range(0, len(parts), 2)]

    def _run(self, words: list[str]) -> list[str]:
        """Phonemes of each chunk of ``words`` (one process; one process per chunk if the marker collides)."""
        if not words:
            return []
        lines = [MARKER]
        for w in words:
            lines += [w, MARKER]
        out = self._espeak(lines)
        groups: list[list[str]] | None = None
        if out and out[0]:
            marker, groups, current = out[0], [], []
            for line in out[1:]:
                if line == marker:
                    groups.append(current)
                    current = []
                else:
                    current.append(line)
            if current or len(groups) != len(words):  # a chunk read as the marker: no way to split
                groups = None
        if groups is None:
            groups = [self._espeak([w]) for w in words]
        return [" ".join(" ".join(g).split()) for g in groups]

    def _clean(self, phones: str) -> str:
        if not self.stress:
            phones = phones.translate({ord(c): None for c in _STRESS[self.alphabet]})
        return phones

    @overload
    def __call__(self, texts: str) -> str: ...

    @overload
    def __call__(self, texts: Sequence[str]) -> list[str]: ...

    def __call__(self, texts):
        """Phonemes of one text (``str``) or of each text of a sequence (``list[str]``)."""
        single = isinstance(texts, str)
        batch = [texts] if single else [str(t) for t in texts]
        if self.norm is not None:
            batch = [normalize(t, self.norm) for t in batch]
        chunks = [self._chunks(t) for t in batch]
        spoken = [w for cs in chunks for w, _ in cs if w]
        phones = iter(self._run(spoken))
        out = []
        for cs in chunks:
            pieces = []
            for w, mark in cs:
                ph = self._clean(next(phones)) if w else ""
                if ph:
                    pieces.append(ph + mark)
                elif mark and pieces and pieces[-1][-1] not in self.punct:
                    pieces[-1] += mark
            out.append(" ".join(pieces))
        return out[0] if single else out


_CACHE: dict[tuple, Phonemizer] = {}


def phonemize(texts: str | Sequence[str], language: str = "en-us", **options: Any) -> str | list[str]:
    """Phonemes of ``texts`` with a cached :class:`Phonemizer` (``options`` as its arguments).

    Example:
        >>> phonemize(["nine", "ten"], "en-us", stress=False)
        ['naɪn', 'tɛn']
    """
    key = (language, tuple(sorted((k, str(v)) for k, v in options.items())))
    if key not in _CACHE:
        _CACHE[key] = Phonemizer(language, **options)
    return _CACHE[key](texts)

"""Output units of the recogniser: text normalisation, characters and BPE pieces.

:func:`normalize_text` is the one normalisation used for training transcripts, language-model text
and the references of ``asr eval``, so that what the model learns, what the LM counts and what WER
is computed on are the same strings. Its choices:

* Unicode NFKD, accents dropped (``café`` -> ``cafe``), lower-case; letters of other scripts are dropped
  (the shipped units are English characters).
* Digits are **spelled** as English cardinals, one number per digit run (``42`` -> ``forty two``,
  ``1990`` -> ``one thousand nine hundred ninety``, ``3.5`` -> ``three point five``, ``%`` -> ``percent``),
  so the character set stays ``a-z``, apostrophe and space.
* Apostrophes are kept inside words (``don't``, ``o'clock``) and dropped at word edges (quotes);
  every other punctuation mark (hyphens included) becomes a space; runs of spaces collapse.

Token ids shared by every tokenizer: ``0`` is the CTC blank (and the padding of attention targets),
``1`` is end-of-sentence (the attention decoder's start symbol too); the units follow from ``2``.

Example:
    >>> normalize_text("Don't panic: it's 42 o'clock -- \\"Café\\"!")
    "don't panic it's forty two o'clock cafe"
    >>> tok = CharTokenizer()
    >>> ids = tok.encode("Hi there")
    >>> tok.decode(ids), tok.blank_id, tok.vocab_size
    ('hi there', 0, 30)
"""

from __future__ import annotations

import base64
import json
import os
import re
import tempfile
import unicodedata
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from speechdl.errors import ConfigError

BLANK_ID, EOS_ID = 0, 1
SPECIALS = ("<blank>", "<eos>")
_ONES = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
         "sixteen seventeen eighteen nineteen").split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_SCALES = ((10**12, "trillion"), (10**9, "billion"), (10**6, "million"), (1000, "thousand"))


def spell_number(n: int) -> str:
    """English cardinal of a non-negative integer (``1905`` -> ``one thousand nine hundred five``)."""
    if n < 20:
        return _ONES[n]
    if n < 100:
        return _TENS[n // 10] + ("" if n % 10 == 0 else " " + _ONES[n % 10])
    if n < 1000:
        return _ONES[n // 100] + " hundred" + ("" if n % 100 == 0 else " " + spell_number(n % 100))
    for value, name in _SCALES:
        if n >= value:
            if n // value >= 1000:  # beyond the largest scale: read digit by digit
                return " ".join(_ONES[int(d)] for d in str(n))
            rest = n % value
            return spell_number(n // value) + " " + name + ("" if rest == 0 else " " + spell_number(rest))
    raise AssertionError(n)


def _digits(match: re.Match) -> str:
    text = match.group(0)
    if "." in text:
        whole, frac = text.split(".", 1)
        return f" {spell_number(int(whole))} point {' '.join(_ONES[int(d)] for d in frac)} "
    return f" {spell_number(int(text))} " if len(text) <= 15 else " " + " ".join(_ONES[int(d)] for d in text) + " "


def normalize_text(text: str) -> str:
    """Lower-case words of ``a-z`` and inner apostrophes separated by single spaces (see the module doc)."""
    text = unicodedata.normalize("NFKD", str(text))
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    text = text.replace("\u2019", "'").replace("\u2018", "'").replace("`", "'").replace("%", " percent ")
    text = re.sub(r"(?<=\d),(?=\d{3})", "", text)          # 1,000 -> 1000
    text = re.sub(r"\d+(?:\.\d+)?", _digits, text)
    text = re.sub(r"[^a-z']+", " ", text)
    text = re.sub(r"(?<![a-z])'+|'+(?![a-z])", " ", text)   # apostrophes only inside words
    return " ".join(text.split())


@runtime_checkable
class Tokenizer(Protocol):
    """What the models, decoders and bundles need from output units.

    ``encode`` normalises and maps text to ids (no blank/eos); ``decode`` maps ids back to normalised
    text (specials dropped); ``labels`` gives one string per id for CTC decoders (blank ``""``, the
    word separator ``" "`` for characters, ``"▁"``-prefixed pieces for BPE).
    """

    kind: str
    blank_id: int
    eos_id: int
    vocab_size: int
    labels: list[str]

    def encode(self, text: str) -> list[int]: ...

    def decode(self, ids: Iterable[int]) -> str: ...

    def to_dict(self) -> dict[str, Any]: ...


class CharTokenizer:
    """Characters: blank, eos, space, apostrophe, ``a``-``z`` (30 ids).

    Example:
        >>> CharTokenizer().encode("a'b c")
        [4, 3, 5, 2, 6]
    """

    kind = "char"
    blank_id, eos_id = BLANK_ID, EOS_ID

    def __init__(self, chars: str = " 'abcdefghijklmnopqrstuvwxyz") -> None:
        self.chars = chars
        self.labels = ["", "<eos>", *chars]
        self.vocab_size = len(self.labels)
        self._index = {c: i + len(SPECIALS) for i, c in enumerate(chars)}

    def encode(self, text: str) -> list[int]:
        """Normalised ``text`` -> ids ``(U,)`` (characters outside the set are dropped)."""
        return [self._index[c] for c in normalize_text(text) if c in self._index]

    def decode(self, ids: Iterable[int]) -> str:
        """Ids -> text; specials dropped, spaces collapsed."""
        n = len(SPECIALS)
        return " ".join("".join(self.chars[i - n] for i in map(int, ids) if n <= i < self.vocab_size).split())

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "char", "chars": self.chars}


class BPETokenizer:
    """Byte-pair-encoding pieces of a sentencepiece model (ids shifted by the two specials).

    Train with :meth:`train` on normalised text; the model travels inside :meth:`to_dict` (base64),
    so a bundle needs no side file.

    Example:
        >>> import tempfile
        >>> tok = BPETokenizer.train(["the cat sat on the mat"] * 20, vocab_size=20, out=tempfile.mkdtemp())
        >>> tok.decode(tok.encode("The mat!"))
        'the mat'
    """

    kind = "bpe"
    blank_id, eos_id = BLANK_ID, EOS_ID

    def __init__(self, model_proto: bytes) -> None:
        import sentencepiece as spm

        self.proto = bytes(model_proto)
        self.sp = spm.SentencePieceProcessor(model_proto=self.proto)
        pieces = [self.sp.id_to_piece(i) for i in range(self.sp.get_piece_size())]
        self.labels = ["", "<eos>", *pieces]
        self.vocab_size = len(self.labels)

    @classmethod
    def train(cls, texts: Iterable[str], vocab_size: int, out: str | os.PathLike | None = None) -> BPETokenizer:
        """Train on ``texts`` (normalised here) so that the tokenizer has ``vocab_size`` ids in all
        (pieces + blank + eos); saved to ``out/tokenizer.json`` when ``out`` is given."""
        import sentencepiece as spm

        lines = [t for t in (normalize_text(x) for x in texts) if t]
        if not lines:
            raise ConfigError("bpe tokenizer", "no training text", "pass transcripts with words in them")
        pieces = int(vocab_size) - len(SPECIALS)
        with tempfile.TemporaryDirectory() as tmp:
            src = Path(tmp) / "text.txt"
            src.write_text("\n".join(lines) + "\n")
            try:
                spm.SentencePieceTrainer.train(
                    input=str(src), model_prefix=str(Path(tmp) / "bpe"), vocab_size=pieces, model_type="bpe",
                    character_coverage=1.0, normalization_rule_name="identity", bos_id=-1, eos_id=-1,
                    pad_id=-1, unk_id=0, num_threads=1, minloglevel=2, hard_vocab_limit=False)
            except RuntimeError as err:
                raise ConfigError("bpe tokenizer", f"sentencepiece failed ({str(err).splitlines()[0]})",
                                  "use a smaller vocab_size or more text") from None
            tok = cls((Path(tmp) / "bpe.model").read_bytes())
        if out is not None:
            save_tokenizer(tok, out)
        return tok

    def encode(self, text: str) -> list[int]:
        """Normalised ``text`` -> piece ids ``(U,)``."""
        norm = normalize_text(text)
        return [i + len(SPECIALS) for i in self.sp.encode(norm)] if norm else []

    def decode(self, ids: Iterable[int]) -> str:
        """Ids -> text; specials dropped."""
        n = len(SPECIALS)
        return " ".join(self.sp.decode([i - n for i in map(int, ids) if n <= i < self.vocab_size]).split())

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "bpe", "model": base64.b64encode(self.proto).decode("ascii")}


def tokenizer_from_dict(d: dict[str, Any] | str | None) -> CharTokenizer | BPETokenizer:
    """Rebuild a tokenizer from :meth:`to_dict` output, ``"char"`` / ``None`` (characters), or
    ``{"kind": "bpe", "dir": DIR}`` / ``{"kind": "bpe", "model_file": FILE.model}`` (a trained model on disk)."""
    if d is None or d == "char":
        return CharTokenizer()
    if isinstance(d, str):
        return load_tokenizer(d)
    kind = d.get("kind", "char")
    if kind == "char":
        return CharTokenizer(d.get("chars", CharTokenizer().chars))
    if kind == "bpe":
        if d.get("model"):
            return BPETokenizer(base64.b64decode(d["model"]))
        if d.get("model_file"):
            try:
                return BPETokenizer(Path(str(d["model_file"])).read_bytes())
            except OSError:
                raise ConfigError(d["model_file"], "sentencepiece model not found", "check the path") from None
        if d.get("dir"):
            return load_tokenizer(d["dir"])
        raise ConfigError("tokenizer", "a bpe tokenizer needs 'model', 'model_file' or 'dir'", "train one first")
    raise ConfigError("tokenizer", f"unknown kind {kind!r}", "use char or bpe")


def save_tokenizer(tok: Tokenizer, out: str | os.PathLike) -> Path:
    """Write ``out/tokenizer.json`` atomically; returns its path."""
    from speechdl.audio import atomic_path

    tmp, final = atomic_path(Path(out) / "tokenizer.json")
    Path(tmp).write_text(json.dumps(tok.to_dict()))
    os.replace(tmp, final)
    return final


def load_tokenizer(path: str | os.PathLike) -> CharTokenizer | BPETokenizer:
    """Read a tokenizer directory (``tokenizer.json``) or a ``tokenizer.json`` file."""
    p = Path(path)
    p = p / "tokenizer.json" if p.is_dir() else p
    try:
        return tokenizer_from_dict(json.loads(p.read_text()))
    except (OSError, ValueError) as err:
        raise ConfigError(p, f"cannot read tokenizer ({err.__class__.__name__})",
                          "pass a directory written by BPETokenizer.train or save_tokenizer") from None

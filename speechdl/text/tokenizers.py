"""Output units of the text-to-id seam: characters and BPE pieces, and their dicts for bundles.

Token ids shared by every tokenizer: ``0`` is the CTC blank (and the padding of attention targets),
``1`` is end-of-sentence (the attention decoder's start symbol too); the units follow from ``2``.

A tokenizer normalises what it encodes with a :class:`~speechdl.text.normalize.TextNorm` (``norm``; the
ASR preset by default, ``None`` / ``"none"`` to take text as it is, e.g. phoneme strings). ``to_dict``
omits ``norm`` when it is the ASR preset, so the dicts of bundles made before it existed load unchanged.

Example:
    >>> tok = CharTokenizer()
    >>> ids = tok.encode("Hi there")
    >>> tok.decode(ids), tok.blank_id, tok.vocab_size
    ('hi there', 0, 30)
    >>> phones = CharTokenizer.from_texts(["həlˈoʊ wˈɜːld"], norm=None)
    >>> phones.decode(phones.encode("wˈɜːld"))
    'wˈɜːld'
"""

from __future__ import annotations

import base64
import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from speechdl.errors import ConfigError
from speechdl.text.normalize import ASR, TextNorm, normalize

BLANK_ID, EOS_ID = 0, 1
SPECIALS = ("<blank>", "<eos>")
NormSpec = TextNorm | str | dict[str, Any] | None


def _resolve_norm(norm: NormSpec) -> TextNorm | None:
    return None if norm is None or norm == "none" else TextNorm.of(norm)


def _norm_dict(norm: TextNorm | None) -> dict[str, Any]:
    """The ``norm`` entry of a tokenizer dict: absent for the ASR preset."""
    if norm == ASR:
        return {}
    if norm is None:
        return {"norm": "none"}
    return {"norm": norm.name() or norm.to_dict()}


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
    """Characters: blank, eos, then ``chars`` (by default space, apostrophe, ``a``-``z``: 30 ids).

    Example:
        >>> CharTokenizer().encode("a'b c")
        [4, 3, 5, 2, 6]
    """

    kind = "char"
    blank_id, eos_id = BLANK_ID, EOS_ID

    def __init__(self, chars: str = " 'abcdefghijklmnopqrstuvwxyz", norm: NormSpec = "asr") -> None:
        if len(set(chars)) != len(chars):
            raise ConfigError("char tokenizer", "repeated characters in chars", "list each character once")
        self.chars = chars
        self.norm = _resolve_norm(norm)
        self.labels = ["", "<eos>", *chars]
        self.vocab_size = len(self.labels)
        self._index = {c: i + len(SPECIALS) for i, c in enumerate(chars)}

    @classmethod
    def from_texts(cls, texts: Iterable[str], norm: NormSpec = "asr") -> CharTokenizer:
        """The characters of normalised ``texts`` (space first, then in code-point order)."""
        norm_cfg = _resolve_norm(norm)
        seen: set[str] = set()
        for t in texts:
            seen.update(normalize(t, norm_cfg) if norm_cfg else t)
        return cls(" " + "".join(sorted(c for c in seen if not c.isspace())), norm_cfg)

    def normalize(self, text: str) -> str:
        """``text`` as this tokenizer sees it."""
        return normalize(text, self.norm) if self.norm is not None else str(text)

    def encode(self, text: str) -> list[int]:
        """Normalised ``text`` -> ids ``(U,)`` (characters outside the set are dropped)."""
        return [self._index[c] for c in self.normalize(text) if c in self._index]

    def decode(self, ids: Iterable[int]) -> str:
        """Ids -> text; specials dropped, spaces collapsed."""
        n = len(SPECIALS)
        return " ".join("".join(self.chars[i - n] for i in map(int, ids) if n <= i < self.vocab_size).split())

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "char", "chars": self.chars, **_norm_dict(self.norm)}


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

    def __init__(self, model_proto: bytes, norm: NormSpec = "asr") -> None:
        import sentencepiece as spm

        self.proto = bytes(model_proto)
        self.norm = _resolve_norm(norm)
        self.sp = spm.SentencePieceProcessor(model_proto=self.proto)
        pieces = [self.sp.id_to_piece(i) for i in range(self.sp.get_piece_size())]
        self.labels = ["", "<eos>", *pieces]
        self.vocab_size = len(self.labels)

    @classmethod
    def train(cls, texts: Iterable[str], vocab_size: int, out: str | os.PathLike | None = None,
              norm: NormSpec = "asr") -> BPETokenizer:
        """Train on ``texts`` (normalised here) so that the tokenizer has ``vocab_size`` ids in all
        (pieces + blank + eos); saved to ``out/tokenizer.json`` when ``out`` is given."""
        import sentencepiece as spm

        norm_cfg = _resolve_norm(norm)
        lines = [t for t in ((normalize(x, norm_cfg) if norm_cfg else str(x)).strip() for x in texts) if t]
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
            tok = cls((Path(tmp) / "bpe.model").read_bytes(), norm_cfg)
        if out is not None:
            save_tokenizer(tok, out)
        return tok

    def normalize(self, text: str) -> str:
        """``text`` as this tokenizer sees it."""
        return normalize(text, self.norm) if self.norm is not None else str(text)

    def encode(self, text: str) -> list[int]:
        """Normalised ``text`` -> piece ids ``(U,)``."""
        norm = self.normalize(text)
        return [i + len(SPECIALS) for i in self.sp.encode(norm)] if norm else []

    def decode(self, ids: Iterable[int]) -> str:
        """Ids -> text; specials dropped."""
        n = len(SPECIALS)
        return " ".join(self.sp.decode([i - n for i in map(int, ids) if n <= i < self.vocab_size]).split())

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "bpe", "model": base64.b64encode(self.proto).decode("ascii"), **_norm_dict(self.norm)}


def tokenizer_from_dict(d: dict[str, Any] | str | None) -> CharTokenizer | BPETokenizer:
    """Rebuild a tokenizer from :meth:`to_dict` output, ``"char"`` / ``None`` (characters), or
    ``{"kind": "bpe", "dir": DIR}`` / ``{"kind": "bpe", "model_file": FILE.model}`` (a trained model on disk).

    Example:
        >>> tokenizer_from_dict({"kind": "char", "chars": " 'abcdefghijklmnopqrstuvwxyz"}).vocab_size
        30
    """
    if d is None or d == "char":
        return CharTokenizer()
    if isinstance(d, str):
        return load_tokenizer(d)
    kind = d.get("kind", "char")
    norm = d.get("norm", "asr")
    if kind == "char":
        return CharTokenizer(d.get("chars", CharTokenizer().chars), norm)
    if kind == "bpe":
        if d.get("model"):
            return BPETokenizer(base64.b64decode(d["model"]), norm)
        if d.get("model_file"):
            try:
                return BPETokenizer(Path(str(d["model_file"])).read_bytes(), norm)
            except OSError:
                raise ConfigError(d["model_file"], "sentencepiece model not found", "check the path") from None
        if d.get("dir"):
            return load_tokenizer(d["dir"])
        raise ConfigError("tokenizer", "a bpe tokenizer needs 'model', 'model_file' or 'dir'", "train one first")
    raise ConfigError("tokenizer", f"unknown kind {kind!r}", "use char or bpe")


def save_tokenizer(tok: Tokenizer, out: str | os.PathLike) -> Path:
    """Write ``out/tokenizer.json`` atomically; returns its path."""
    from speechdl.audio import atomic_write

    final = Path(out) / "tokenizer.json"
    with atomic_write(final) as tmp:
        Path(tmp).write_text(json.dumps(tok.to_dict(), ensure_ascii=False), encoding="utf-8")
    return final


def load_tokenizer(path: str | os.PathLike) -> CharTokenizer | BPETokenizer:
    """Read a tokenizer directory (``tokenizer.json``) or a ``tokenizer.json`` file."""
    p = Path(path)
    p = p / "tokenizer.json" if p.is_dir() else p
    try:
        return tokenizer_from_dict(json.loads(p.read_text(encoding="utf-8")))
    except (OSError, ValueError) as err:
        raise ConfigError(p, f"cannot read tokenizer ({err.__class__.__name__})",
                          "pass a directory written by BPETokenizer.train or save_tokenizer") from None

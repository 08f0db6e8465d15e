"""LSTM sequence-to-sequence translation with attention (the lecture's last slide): data, dataset, decoding.

:func:`prepare` turns a parallel corpus (``train/dev/test.tsv``: ``reference<TAB>source<TAB>target``, as
``speechdl text corpus`` writes the English-Spanish Bible) into BPE ids: one sentencepiece model per
language trained on the training split only (``src/`` and ``tgt/tokenizer.json``; raw text, case and
punctuation kept), and ``<split>.npz`` with the ids. :func:`translation_pairs` is the recipes' dataset
(``data: {name: translation_pairs, dir: ...}``; items ``x`` source ids, ``y`` target ids, length-bucketed
through ``durations`` = token counts). :class:`Translator` is the trained network with its tokenizers:
``translate(texts, beam)`` -> texts (greedy for ``beam=1``, beam search otherwise).

Example:
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> rows = [f"Ref {i}:1\\tthe cat {i % 3} sat\\tel gato {i % 3} se sentó" for i in range(40)]
    >>> for split in ("train", "dev", "test"):
    ...     _ = (d / f"{split}.tsv").write_text("\\n".join(rows) + "\\n")
    >>> info = prepare(d, d / "mt", vocab_size=30)
    >>> info["pairs"]["train"], info["src_vocab"] <= 30
    (40, True)
    >>> train_set, dev_set = translation_pairs(str(d / "mt"))
    >>> sorted(train_set[0]), len(dev_set)
    (['lengths', 'x', 'y'], 40)
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from speechdl.errors import DataError
from speechdl.train.datasets import register_dataset

SPLITS = ("train", "dev", "test")
PAD_ID, EOS_ID = 0, 1      # the tokenizers' blank and eos: padding and both ends of the target


def read_tsv(path: str | os.PathLike) -> list[tuple[str, str, str]]:
    """``(reference, source, target)`` rows of a parallel ``.tsv``; a malformed line is a one-line error."""
    from speechdl.validate import text_lines

    rows = []
    for n, line in text_lines(path, "parallel corpus", DataError, "pass reference<TAB>source<TAB>target lines"):
        if not line.strip():
            continue
        parts = line.split("\t")
        if len(parts) != 3 or not parts[1].strip() or not parts[2].strip():
            raise DataError(f"{path}:{n}", "is not reference<TAB>source<TAB>target", "fix or remove the line")
        rows.append((parts[0], parts[1].strip(), parts[2].strip()))
    return rows


def pack_ids(seqs: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    """Id lists -> ``(flat (N,) int32, offsets (S + 1,) int64)``; list ``i`` is ``flat[offsets[i]:offsets[i + 1]]``."""
    offsets = np.concatenate([[0], np.cumsum([len(s) for s in seqs])]).astype(np.int64)
    flat = np.fromiter((t for s in seqs for t in s), dtype=np.int32, count=int(offsets[-1]))
    return flat, offsets


def unpack_ids(flat: np.ndarray, offsets: np.ndarray) -> list[np.ndarray]:
    """The inverse of :func:`pack_ids` (views into ``flat``)."""
    return [flat[offsets[i]:offsets[i + 1]] for i in range(len(offsets) - 1)]


def prepare(tsv_dir: str | os.PathLike, out: str | os.PathLike, vocab_size: int = 4000) -> dict[str, Any]:
    """BPE tokenizers (one per language, ``vocab_size`` ids each, trained on ``train.tsv``) and the id arrays
    of every split in ``out``; returns (and writes as ``card.json``) the counts."""
    from speechdl.audio import atomic_write
    from speechdl.text.tokenizers import BPETokenizer

    tsv_dir, out = Path(tsv_dir), Path(out)
    data = {s: read_tsv(tsv_dir / f"{s}.tsv") for s in SPLITS if (tsv_dir / f"{s}.tsv").is_file()}
    if not data.get("train"):
        raise DataError(tsv_dir / "train.tsv", "missing or empty", "run speechdl text corpus first")
    toks = {side: BPETokenizer.train([r[col] for r in data["train"]], vocab_size, out / side, norm="none")
            for side, col in (("src", 1), ("tgt", 2))}
    info: dict[str, Any] = {"source": str(tsv_dir), "vocab_size": vocab_size, "pairs": {}, "tokens": {},
                            "src_vocab": toks["src"].vocab_size, "tgt_vocab": toks["tgt"].vocab_size}
    for split, rows in data.items():
        src = [toks["src"].encode(r[1]) for r in rows]
        tgt = [toks["tgt"].encode(r[2]) for r in rows]
        arrays = dict(zip(("src", "src_offsets"), pack_ids(src), strict=True))
        arrays.update(zip(("tgt", "tgt_offsets"), pack_ids(tgt), strict=True))
        with atomic_write(out / f"{split}.npz", suffix=".npz") as tmp, open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
        info["pairs"][split] = len(rows)
        info["tokens"][split] = {"src": int(arrays["src_offsets"][-1]), "tgt": int(arrays["tgt_offsets"][-1])}
    with atomic_write(out / "card.json", suffix=".json") as tmp:
        Path(tmp).write_text(json.dumps(info, indent=1))
    return info


class PairItems(torch.utils.data.Dataset):
    """Items ``{"x": source ids (T,), "y": target ids (U,), "lengths": T}``; ``durations``: T + U per item."""

    def __init__(self, src: list[np.ndarray], tgt: list[np.ndarray]) -> None:
        self.src, self.tgt = src, tgt
        self.durations = [len(a) + len(b) for a, b in zip(src, tgt)]

    def __len__(self) -> int:
        return len(self.src)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        src, tgt = self.src[i].astype(np.int64), self.tgt[i].astype(np.int64)
        return {"x": torch.from_numpy(src), "y": torch.from_numpy(tgt),
                "lengths": torch.tensor(len(self.src[i]))}


def load_split(dir: str | os.PathLike, split: str, max_tokens: int | None = None) -> PairItems:
    """The prepared ``split`` of ``dir``; pairs longer than ``max_tokens`` on either side left out."""
    path = Path(dir) / f"{split}.npz"
    if not path.is_file():
        raise DataError(path, "prepared split not found", "run speechdl text translate prepare")
    with np.load(path) as z:
        src, tgt = unpack_ids(z["src"], z["src_offsets"]), unpack_ids(z["tgt"], z["tgt_offsets"])
    keep = [i for i in range(len(src)) if len(src[i]) and len(tgt[i]) and
            (not max_tokens or max(len(src[i]), len(tgt[i])) <= max_tokens)]
    return PairItems([src[i] for i in keep], [tgt[i] for i in keep])


@register_dataset("translation_pairs")
def translation_pairs(dir: str, train: str = "train", val: str = "dev", max_tokens: int = 150
                      ) -> tuple[PairItems, PairItems]:
    """Train and validation sets of a :func:`prepare` d directory (validation: all its pairs)."""
    return load_split(dir, train, max_tokens), load_split(dir, val)


class Translator:
    """A trained translation network with its source and target tokenizers."""

    def __init__(self, model: torch.nn.Module, src_tok: Any, tgt_tok: Any) -> None:
        self.model, self.src_tok, self.tgt_tok = model.eval(), src_tok, tgt_tok

    @torch.no_grad()
    def translate(self, texts: list[str], beam: int = 4, max_len: int = 200, length_penalty: float = 1.0,
                  batch: int = 32) -> list[str]:
        """Translations of ``texts`` (beam search; ``beam=1``: greedy)."""
        out: list[str] = []
        for lo in range(0, len(texts), batch):
            ids = [self.src_tok.encode(t)[:max_len] or [EOS_ID] for t in texts[lo:lo + batch]]
            lengths = torch.tensor([len(i) for i in ids])
            x = torch.zeros(len(ids), int(lengths.max()), dtype=torch.long)
            for i, seq in enumerate(ids):
                x[i, :len(seq)] = torch.tensor(seq)
            limit = int(max(16, 2 * lengths.max() + 10))
            if beam <= 1:
                hyps = self.model.greedy_decode(x, lengths, max_len=limit)
            else:
                hyps = self.model.beam_search(x, lengths, beam=beam, max_len=limit, length_penalty=length_penalty)
            out += [self.tgt_tok.decode(h) for h in hyps]
        return out

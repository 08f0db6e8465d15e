"""Masked-language-model pretraining of the small BERT (:mod:`speechdl.nn.bert`): data and training task.

:func:`prepare_mlm` trains a BPE tokenizer on a corpus (one sentence per line) and writes the sentences as ids
(``train.npz`` / ``dev.npz``, a seeded 1 % for dev) with the tokenizer (``tokenizer.json``). The recipes'
dataset ``mlm_sentences`` yields them (``x`` ids, ``lengths``, length-bucketed through ``durations``). The task
``mlm`` masks 15 % of the valid tokens of each batch afresh every step (dynamic masking, as RoBERTa): 80 % of them
become ``[MASK]``, 10 % a random piece, 10 % stay; the loss is the cross entropy on the chosen positions.
Metrics: ``acc`` (masked-token accuracy) and ``ppl`` (exp of the loss). The tokenizer's end-of-sentence id
serves as ``[MASK]`` (no input carries it).

Example:
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "c.txt").write_text("".join(f"the cat {w} on the mat .\\n" for w in ["sat", "lay", "slept"] * 40))
    >>> info = prepare_mlm(d / "c.txt", d / "mlm", vocab_size=40)
    >>> info["sentences"]["train"] + info["sentences"]["dev"], sorted(mlm_sentences(str(d / "mlm"))[0][0])
    (120, ['lengths', 'x'])
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from speechdl.errors import DataError
from speechdl.train.datasets import register_dataset
from speechdl.train.tasks import TaskModule, register_task

PAD_ID, MASK_ID = 0, 1


def prepare_mlm(corpus: str | os.PathLike, out: str | os.PathLike, vocab_size: int = 8000, max_len: int = 64,
                dev_fraction: float = 0.01, seed: int = 0) -> dict[str, Any]:
    """Tokenizer (trained on every sentence of ``corpus``) and id arrays of a seeded train/dev split in ``out``;
    sentences are cut to ``max_len`` pieces."""
    from speechdl.audio import atomic_write
    from speechdl.tasks.text.translation import pack_ids
    from speechdl.tasks.text.vocab import read_lines
    from speechdl.text.tokenizers import BPETokenizer

    lines = [ln.strip() for ln in read_lines(corpus) if ln.strip()]
    if not lines:
        raise DataError(corpus, "holds no sentences", "pass a text file with one sentence per line")
    out = Path(out)
    tok = BPETokenizer.train(lines, vocab_size, out, norm="none")
    ids = [tok.encode(s)[:max_len] for s in lines]
    order = np.random.default_rng(seed).permutation(len(ids))
    n_dev = max(1, int(round(len(ids) * dev_fraction))) if len(ids) > 1 else 0
    splits = {"dev": sorted(order[:n_dev]), "train": sorted(order[n_dev:])}
    info: dict[str, Any] = {"corpus": str(corpus), "vocab_size": tok.vocab_size, "max_len": max_len,
                            "sentences": {}, "tokens": {}}
    for name, rows in splits.items():
        flat, offsets = pack_ids([ids[i] for i in rows])
        with atomic_write(out / f"{name}.npz", suffix=".npz") as tmp, open(tmp, "wb") as fh:
            np.savez(fh, ids=flat, offsets=offsets)
        info["sentences"][name], info["tokens"][name] = len(rows), int(offsets[-1])
    with atomic_write(out / "card.json", suffix=".json") as tmp:
        Path(tmp).write_text(json.dumps(info, indent=1))
    return info


class SentenceItems(torch.utils.data.Dataset):
    """Items ``{"x": ids (T,), "lengths": T}``; ``durations`` = T (for length-bucketed batches)."""

    def __init__(self, flat: np.ndarray, offsets: np.ndarray, min_tokens: int = 2) -> None:
        rows = [(int(a), int(b)) for a, b in zip(offsets[:-1], offsets[1:]) if b - a >= min_tokens]
        self.flat, self.rows = flat, rows
        self.durations = [b - a for a, b in rows]

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        a, b = self.rows[i]
        return {"x": torch.from_numpy(self.flat[a:b].astype(np.int64)), "lengths": torch.tensor(b - a)}


@register_dataset("mlm_sentences")
def mlm_sentences(dir: str) -> tuple[SentenceItems, SentenceItems]:
    """Train and dev sentences of a :func:`prepare_mlm` directory."""
    out = []
    for split in ("train", "dev"):
        path = Path(dir) / f"{split}.npz"
        if not path.is_file():
            raise DataError(path, "prepared split not found", "run prepare_mlm (speechdl text bert prepare) first")
        with np.load(path) as z:
            out.append(SentenceItems(z["ids"], z["offsets"]))
    return out[0], out[1]


def mask_tokens(ids: torch.Tensor, lengths: torch.Tensor, vocab_size: int, prob: float = 0.15,
                generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``(inputs, chosen)``: BERT's corruption of ``ids`` (B, T) and the boolean (B, T) positions to predict
    (at least one per sentence)."""
    b, t = ids.shape
    valid = torch.arange(t, device=ids.device)[None, :] < lengths.to(ids.device)[:, None]
    u = torch.rand(b, t, generator=generator, device=ids.device)
    chosen = (u < prob) & valid
    first = torch.argmax(torch.where(valid, u, torch.full_like(u, 2.0)).neg(), dim=1)   # each row's lowest draw
    chosen[torch.arange(b), first] = True
    action = torch.rand(b, t, generator=generator, device=ids.device)
    inputs = ids.clone()
    inputs[chosen & (action < 0.8)] = MASK_ID
    swap = chosen & (action >= 0.8) & (action < 0.9)
    inputs[swap] = torch.randint(2, vocab_size, (int(swap.sum()),), generator=generator, device=ids.device)
    return inputs, chosen


@register_task("mlm")
class MLMTask(TaskModule):
    """Masked-LM pretraining (``model: {name: bert, ...}``). Args: ``mask_prob`` (0.15)."""

    def __init__(self, model, optim=None, scheduler=None, monitor="val_loss", mode="min", *,
                 mask_prob: float = 0.15) -> None:
        super().__init__(model, optim, scheduler, monitor, mode)
        self.mask_prob = mask_prob
        self._val_gen = torch.Generator().manual_seed(1234)

    def compute(self, batch: dict[str, torch.Tensor], stage: str) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        ids, lengths = batch["x"].long().clamp_min(0), batch["lengths"]
        vocab = self.model.tokens.num_embeddings
        gen = self._val_gen if stage == "val" else None     # validation: the same masks every epoch
        inputs, chosen = mask_tokens(ids, lengths, vocab, self.mask_prob, gen)
        logits = self.model(inputs, lengths)
        loss = F.cross_entropy(logits[chosen], ids[chosen])
        acc = (logits.detach()[chosen].argmax(-1) == ids[chosen]).float().mean()
        return loss, {"acc": acc, "ppl": torch.exp(loss.detach().clamp_max(20.0))}

    def on_validation_epoch_start(self) -> None:
        self._val_gen.manual_seed(1234)


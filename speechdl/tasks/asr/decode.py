"""Decoding: CTC greedy, CTC prefix beam search with a word n-gram LM, attention beam search, joint rescoring.

* :func:`ctc_greedy`: best token per frame, repeats merged, blanks dropped.
* :func:`prefix_beam_search`: CTC prefix beam search (Graves 2006; Hannun et al. 2014) over the
  token posteriors of one utterance. With an :class:`~speechdl.tasks.asr.lm.ArpaLM` every completed
  word adds ``alpha * ln p(word | previous words) + beta`` (shallow fusion at word boundaries: a space
  for characters, a ``▁``-initial piece for BPE; the last word and ``</s>`` are scored at the end).
  Pure Python/numpy; :class:`CTCDecoder` can also run ``pyctcdecode`` + KenLM (``backend="pyctcdecode"``)
  when those are installed.
* :func:`attention_decode`: the attention decoder's greedy or beam search; for a joint model the
  ``beam`` best hypotheses are rescored with ``(1 - ctc_weight) * log p_att + ctc_weight * log p_ctc``
  (the CTC log-likelihood of each whole hypothesis given the encoder, from ``ctc_loss``).

Example:
    >>> import numpy as np, torch
    >>> labels = ["", "<eos>", " ", "a", "b"]
    >>> lp = np.log(np.full((4, 5), 0.01) + np.eye(5)[[3, 0, 3, 4]] * 0.96)   # a _ a b
    >>> prefix_beam_search(lp, labels, beam=4)
    [3, 3, 4]
    >>> ctc_greedy(torch.from_numpy(lp)[None], torch.tensor([4]))
    [[3, 3, 4]]
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from speechdl.errors import ConfigError

LN10 = math.log(10.0)
NEG = -1e30


def ctc_greedy(log_probs: torch.Tensor, lengths: torch.Tensor | None = None, blank: int = 0) -> list[list[int]]:
    """Best path: ``(B, T, V)`` scores [+ ``(B,)`` valid frames] -> B token id lists."""
    best = log_probs.argmax(-1).cpu()
    n = [best.shape[1]] * best.shape[0] if lengths is None else lengths.tolist()
    out = []
    for row, t in zip(best.tolist(), n):
        ids, prev = [], None
        for k in row[: int(t)]:
            if k != prev and k != blank:
                ids.append(k)
            prev = k
        out.append(ids)
    return out


class _Words:
    """Word segmentation of token strings: characters (``" "`` separates) or BPE (``▁`` starts a word)."""

    def __init__(self, labels: Sequence[str]) -> None:
        self.labels = list(labels)
        self.bpe = any(lab.startswith("\u2581") for lab in self.labels)

    def step(self, partial: str, token: int) -> tuple[str | None, str]:
        """``(completed word or None, new partial word)`` after appending ``token``."""
        lab = self.labels[token]
        if self.bpe:
            if lab.startswith("\u2581"):
                return (partial or None), lab[1:]
            return None, partial + lab
        if lab == " ":
            return (partial or None), ""
        if lab.startswith("<"):   # specials (eos) carry no text
            return None, partial
        return None, partial + lab


def _logaddexp(a: float, b: float) -> float:
    """``log(exp(a) + exp(b))`` of two Python floats."""
    if a < b:
        a, b = b, a
    return a if b <= NEG else a + math.log1p(math.exp(b - a))


def prefix_beam_search(log_probs: np.ndarray, labels: Sequence[str], beam: int = 16, lm: Any = None,
                       alpha: float = 0.5, beta: float = 1.0, blank: int = 0, token_min_logp: float = -5.0,
                       blank_skip_logp: float = -0.01, beam_prune_logp: float = -12.0,
                       return_score: bool = False) -> list[int] | tuple[list[int], float]:
    """CTC prefix beam search of one utterance.

    Args:
        log_probs: ``(T, V)`` natural-log posteriors. labels: one string per id (blank ``""``).
        beam: prefixes kept per frame. lm: an :class:`~speechdl.tasks.asr.lm.ArpaLM` (or None).
        alpha: LM weight (on natural-log probabilities). beta: bonus per word (only with an LM).
        token_min_logp: tokens below this log-probability in a frame are not expanded (the best always is).
        blank_skip_logp: a frame whose blank log-probability is at least this (0.99) only extends every
            prefix by a blank (no token is tried): most CTC frames are such frames.
        beam_prune_logp: prefixes scoring this far below the best of their frame are dropped.

    Returns: the best prefix's token ids (and, with ``return_score``, its total score).
    """
    lp = np.asarray(log_probs, dtype=np.float64)
    rows = lp.tolist()                    # Python floats: scalar math is several times faster than numpy's
    keep = lp >= token_min_logp
    keep[np.arange(len(lp)), lp.argmax(1)] = True
    words = _Words(labels)
    # per prefix: [log p ending in blank, log p ending in a token]; LM state: (score, context words, partial)
    beams: dict[tuple[int, ...], list[float]] = {(): [0.0, NEG]}
    lm_state: dict[tuple[int, ...], tuple[float, tuple[str, ...], str]] = {(): (0.0, ("<s>",), "")}

    def extend(prefix: tuple[int, ...], c: int) -> tuple[int, ...]:
        new = prefix + (c,)
        if new not in lm_state:
            score, ctx, partial = lm_state[prefix]
            done, partial = words.step(partial, c)
            if done is not None and lm is not None:
                score += alpha * LN10 * lm.log10_prob(done, ctx) + beta
                ctx = ctx + (done,)
            elif done is not None:
                ctx = ctx + (done,)
            lm_state[new] = (score, ctx[-8:], partial)
        return new

    for t, row in enumerate(rows):
        if row[blank] >= blank_skip_logp:   # (almost) surely blank: every prefix just absorbs it
            beams = {prefix: [_logaddexp(pb, pnb) + row[blank], NEG] for prefix, (pb, pnb) in beams.items()}
            continue
        cand = np.flatnonzero(keep[t]).tolist()
        nxt: dict[tuple[int, ...], list[float]] = {}

        def add(prefix: tuple[int, ...], i: int, value: float, nxt: dict = nxt) -> None:
            cell = nxt.get(prefix)
            if cell is None:
                nxt[prefix] = cell = [NEG, NEG]
            cell[i] = _logaddexp(cell[i], value)

        for prefix, (pb, pnb) in beams.items():
            total = _logaddexp(pb, pnb)
            last = prefix[-1] if prefix else None
            for c in cand:
                p = row[c]
                if c == blank:
                    add(prefix, 0, total + p)
                    continue
                new = extend(prefix, c)
                if c == last:
                    add(new, 1, pb + p)       # a repeat needs a blank in between
                    add(prefix, 1, pnb + p)   # ... else it merges into the same token
                else:
                    add(new, 1, total + p)
        scored = sorted(((_logaddexp(*v) + lm_state[k][0], k) for k, v in nxt.items()), reverse=True)[:beam]
        floor = scored[0][0] + beam_prune_logp
        beams = {k: nxt[k] for s, k in scored if s >= floor}

    def final(prefix: tuple[int, ...], probs: list[float]) -> float:
        score, ctx, partial = lm_state[prefix]
        if lm is not None:
            if partial:
                score += alpha * LN10 * lm.log10_prob(partial, ctx) + beta
                ctx = ctx + (partial,)
            score += alpha * LN10 * lm.log10_prob("</s>", ctx)
        return _logaddexp(*probs) + score

    best = max(beams.items(), key=lambda kv: final(*kv))
    ids = list(best[0])
    return (ids, final(*best)) if return_score else ids


class CTCDecoder:
    """CTC posteriors -> text with a tokenizer: greedy (``beam=1`` and no LM) or prefix beam search.

    Args:
        tokenizer: :mod:`~speechdl.tasks.asr.tokens` tokenizer (labels and decode).
        beam: beam width. lm: ARPA file path or :class:`~speechdl.tasks.asr.lm.ArpaLM` (None: no LM).
        alpha, beta: LM weight and word bonus. backend: ``native`` (this module) or ``pyctcdecode``
            (needs ``pyctcdecode`` and, with an LM, ``kenlm``).
    """

    def __init__(self, tokenizer: Any, beam: int = 1, lm: Any = None, alpha: float = 0.5, beta: float = 1.0,
                 backend: str = "native") -> None:
        from speechdl.tasks.asr.lm import ArpaLM

        if beam < 1:
            raise ConfigError("--beam", f"must be >= 1, got {beam}", "e.g. --beam 16")
        if backend not in ("native", "pyctcdecode"):
            raise ConfigError("decoder backend", f"{backend!r} is unknown", "use native or pyctcdecode")
        self.tokenizer, self.beam, self.alpha, self.beta, self.backend = tokenizer, beam, alpha, beta, backend
        self.lm_path = None if lm is None or isinstance(lm, ArpaLM) else os.fspath(lm)
        if backend == "pyctcdecode":
            self._pyctc = self._build_pyctcdecode(lm)
            self.lm = None
        else:
            self.lm = ArpaLM(lm) if self.lm_path else lm

    def _build_pyctcdecode(self, lm: Any):
        try:
            from pyctcdecode import build_ctcdecoder
        except ImportError:
            raise ConfigError("decoder backend pyctcdecode", "pyctcdecode is not installed",
                              "make setup (pip install --no-deps pyctcdecode; pip install pygtrie kenlm), or use native"
                              ) from None
        path = self.lm_path if self.lm_path else (str(lm.path) if lm is not None else None)
        labels = [lab if i != self.tokenizer.eos_id else "\u2047" for i, lab in enumerate(self.tokenizer.labels)]
        return build_ctcdecoder(labels, kenlm_model_path=path, alpha=self.alpha, beta=self.beta)

    def decode_ids(self, log_probs: torch.Tensor, lengths: torch.Tensor | None = None) -> list[list[int]]:
        """``(B, T, V)`` log-probabilities [+ ``(B,)``] -> B token id lists (native backend)."""
        if self.beam == 1 and self.lm is None:
            return ctc_greedy(log_probs, lengths, self.tokenizer.blank_id)
        lp = log_probs.detach().float().cpu().numpy()
        n = [lp.shape[1]] * lp.shape[0] if lengths is None else lengths.tolist()
        return [prefix_beam_search(lp[b, : int(n[b])], self.tokenizer.labels, self.beam, self.lm, self.alpha,
                                   self.beta, self.tokenizer.blank_id) for b in range(lp.shape[0])]

    def __call__(self, log_probs: torch.Tensor, lengths: torch.Tensor | None = None) -> list[str]:
        """``(B, T, V)`` log-probabilities [+ ``(B,)`` valid frames] -> B normalised texts."""
        if self.backend == "pyctcdecode":
            lp = log_probs.detach().float().cpu().numpy()
            n = [lp.shape[1]] * lp.shape[0] if lengths is None else lengths.tolist()
            return [" ".join(self._pyctc.decode(lp[b, : int(n[b])], beam_width=self.beam).split())
                    for b in range(lp.shape[0])]
        return [self.tokenizer.decode(ids) for ids in self.decode_ids(log_probs, lengths)]


def ctc_sequence_logp(log_probs: torch.Tensor, length: int, hyps: list[list[int]], blank: int = 0) -> torch.Tensor:
    """CTC log-likelihood ``log p(hyp | x)`` of each hypothesis for one utterance: ``(T, V)`` -> ``(N,)``."""
    n = len(hyps)
    lp = log_probs[:length].float()[:, None, :].expand(length, n, log_probs.shape[-1])
    width = max(1, max((len(h) for h in hyps), default=1))
    targets = torch.zeros(n, width, dtype=torch.long)
    for i, h in enumerate(hyps):
        targets[i, : len(h)] = torch.tensor(h, dtype=torch.long)
    lens = torch.tensor([len(h) for h in hyps], dtype=torch.long)
    nll = F.ctc_loss(lp, targets, torch.full((n,), length, dtype=torch.long), lens, blank=blank,
                     reduction="none", zero_infinity=False)
    return -nll


@torch.no_grad()
def attention_decode(model: Any, x: torch.Tensor, lengths: torch.Tensor | None = None, beam: int = 1,
                     ctc_weight: float = 0.0, max_len: int = 200, length_penalty: float = 0.0) -> list[list[int]]:
    """Attention decoding of a ``las`` model: ``(B, T, F)`` -> B token id lists.

    ``beam == 1`` and ``ctc_weight == 0``: greedy. Otherwise beam search; with ``ctc_weight > 0`` (and a
    CTC head) the ``beam`` ended hypotheses are rescored jointly (see the module doc).
    """
    enc, n = model.encode(x, lengths)
    if beam == 1 and ctc_weight == 0:
        return model.greedy_decode(x, lengths, max_len, encoded=(enc, n))
    nbest = model.beam_search(x, lengths, beam=beam, max_len=max_len, length_penalty=length_penalty,
                              nbest=beam, encoded=(enc, n))
    if ctc_weight == 0 or getattr(model, "ctc_head", None) is None:
        return [hyps[0][0] if hyps else [] for hyps in nbest]
    ctc = model.ctc_log_probs(enc).cpu()
    out = []
    for b, hyps in enumerate(nbest):
        if not hyps:
            out.append([])
            continue
        att = torch.tensor([s for _, s in hyps], dtype=torch.float32)
        ctc_lp = ctc_sequence_logp(ctc[b], int(n[b]), [h for h, _ in hyps], model.blank_id)
        joint = (1 - ctc_weight) * att + ctc_weight * ctc_lp
        out.append(hyps[int(joint.argmax())][0])
    return out

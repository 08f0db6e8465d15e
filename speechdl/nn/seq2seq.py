"""Sequence-to-sequence with attention (Listen-Attend-Spell style): an encoder over frames, an
LSTM decoder that attends to the encoder output, teacher forcing (with scheduled sampling), greedy
decoding and beam search.

Token conventions: ``targets`` (B, U) hold label ids followed by ``eos_id`` and right-padded with
``pad_id``; the decoder is fed ``sos_id`` and then the previous token, and ``logits[:, u]`` predicts
``targets[:, u]``. :func:`pad_targets` builds such a tensor from token lists, :meth:`Seq2Seq.loss`
is the matching cross entropy (padding ignored). Decoders return token id lists without sos/eos.
:meth:`Seq2Seq.encode` exposes ``(enc, enc_lengths)`` so that a CTC head can share the encoder.

Example:
    >>> import torch
    >>> from speechdl.nn import build
    >>> net = build("seq2seq", in_dim=13, vocab_size=10, enc_hidden=16, enc_layers=2, subsample=2,
    ...             dec_hidden=16, emb_dim=8, attn_dim=8, attn_kernel=5)
    >>> x, lens = torch.randn(2, 20, 13), torch.tensor([20, 13])
    >>> y = pad_targets([[4, 5, 6], [7]], eos_id=2, pad_id=0)
    >>> tuple(net(x, lens, y).shape)
    (2, 4, 10)
    >>> enc, enc_lens = net.encode(x, lens); enc_lens.tolist()
    [10, 7]
    >>> len(net.beam_search(x, lens, beam=3, max_len=5))
    2
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from speechdl.nn.attention import AdditiveAttention, LocationAwareAttention, initial_weights
from speechdl.nn.registry import register


def pad_targets(seqs: list[list[int]], eos_id: int, pad_id: int) -> Tensor:
    """Token lists -> (B, max_len + 1) long tensor: each list + ``eos_id``, right-padded with ``pad_id``."""
    width = max(len(s) for s in seqs) + 1
    out = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    for i, s in enumerate(seqs):
        out[i, : len(s) + 1] = torch.tensor([*s, eos_id], dtype=torch.long)
    return out


class RNNEncoder(nn.Module):
    """Stacked bidirectional LSTM/GRU over (B, T, F) with pyramidal time subsampling (Chan et al.):
    after each of the first log2(subsample) layers, adjacent frame pairs are concatenated.

    Shapes: x (B, T, in_dim), lengths (B,) -> (B, ceil(T / subsample), out_dim), lengths' (B,).
    """

    def __init__(self, in_dim: int, hidden: int = 256, layers: int = 3, cell: str = "lstm",
                 subsample: int = 1, dropout: float = 0.0, bidirectional: bool = True) -> None:
        super().__init__()
        if cell not in ("lstm", "gru"):
            raise ValueError(f"enc_cell must be 'lstm' or 'gru', not {cell!r}")
        n_sub = subsample.bit_length() - 1
        if subsample < 1 or 2**n_sub != subsample or n_sub > layers:
            raise ValueError(f"subsample must be a power of 2 up to 2**layers, not {subsample}")
        rnn = nn.LSTM if cell == "lstm" else nn.GRU
        dirs = 2 if bidirectional else 1
        self.n_sub = n_sub
        self.rnns = nn.ModuleList()
        size = in_dim
        for i in range(layers):
            self.rnns.append(rnn(size, hidden, batch_first=True, bidirectional=bidirectional))
            size = hidden * dirs * (2 if i < n_sub else 1)
        self.drop = nn.Dropout(dropout)
        self.out_dim = size

    def encode(self, x: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        lengths = lengths.cpu()
        for i, rnn in enumerate(self.rnns):
            packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
            x, _ = pad_packed_sequence(rnn(packed)[0], batch_first=True, total_length=x.shape[1])
            if i < self.n_sub:  # pyramidal: (B, T, D) -> (B, T/2, 2D); padding frames are zero
                if x.shape[1] % 2:
                    x = F.pad(x, (0, 0, 0, 1))
                x = x.reshape(x.shape[0], x.shape[1] // 2, 2 * x.shape[2])
                lengths = (lengths + 1) // 2
            x = self.drop(x)
        return x, lengths

    def forward(self, x: Tensor, lengths: Tensor) -> Tensor:
        return self.encode(x, lengths)[0]


@register("token_encoder")
class TokenEncoder(nn.Module):
    """Token ids -> bidirectional LSTM states: the source side of text-to-text seq2seq (translation, G2P).

    Args: in_dim: source vocabulary size (id ``pad_id`` is padding); emb_dim; hidden, layers, dropout, cell:
    the :class:`RNNEncoder` over the embeddings.

    Shapes: ids (B, T) int64, lengths (B,) -> (B, T, 2 * hidden), lengths (B,).

    Example:
        >>> enc = TokenEncoder(in_dim=50, emb_dim=8, hidden=6, layers=1)
        >>> out, lens = enc.encode(torch.tensor([[5, 6, 7], [8, 9, 0]]), torch.tensor([3, 2]))
        >>> tuple(out.shape), lens.tolist(), enc.out_dim
        ((2, 3, 12), [3, 2], 12)
    """

    def __init__(self, in_dim: int, emb_dim: int = 256, hidden: int = 256, layers: int = 2, dropout: float = 0.0,
                 cell: str = "lstm", pad_id: int = 0) -> None:
        super().__init__()
        self.embed = nn.Embedding(in_dim, emb_dim, padding_idx=pad_id)
        self.rnn = RNNEncoder(emb_dim, hidden, layers, cell, 1, dropout, True)
        self.drop = nn.Dropout(dropout)
        self.out_dim = self.rnn.out_dim

    def encode(self, ids: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        return self.rnn.encode(self.drop(self.embed(ids.long())), lengths)

    def forward(self, ids: Tensor, lengths: Tensor) -> Tensor:
        return self.encode(ids, lengths)[0]


@register("seq2seq")
class Seq2Seq(nn.Module):
    """Attention encoder-decoder for frames -> tokens.

    Args:
        in_dim: input features F. vocab_size: output tokens V (including sos/eos/pad).
        encoder: "rnn" (built from the enc_* args), the registered name of an encoder that has
            ``encode(x, lengths)`` and ``out_dim`` (e.g. "transformer", "conformer"; built with
            ``in_dim`` and ``encoder_kwargs``), or such an ``nn.Module`` itself.
        enc_hidden, enc_layers, enc_cell ("lstm" | "gru"), subsample (pyramidal factor, power of 2),
            bidirectional: the RNN encoder.
        dec_hidden, dec_layers, emb_dim: the LSTM decoder. attention: "location" | "additive";
            attn_dim, attn_filters, attn_kernel: its sizes. dropout: between layers.
        teacher_forcing: probability of feeding the true previous token in training (< 1 is
            scheduled sampling: otherwise the model's own argmax is fed).
        sos_id, eos_id, pad_id: special token ids.

    Shapes: x (B, T, F), x_lengths (B,), targets (B, U) -> logits (B, U, V).
    """

    def __init__(self, in_dim: int, vocab_size: int, encoder: str | nn.Module = "rnn",
                 encoder_kwargs: dict[str, Any] | None = None, enc_hidden: int = 256, enc_layers: int = 3,
                 enc_cell: str = "lstm", subsample: int = 1, bidirectional: bool = True,
                 dec_hidden: int = 256, dec_layers: int = 1, emb_dim: int = 64, attention: str = "location",
                 attn_dim: int = 128, attn_filters: int = 10, attn_kernel: int = 31, dropout: float = 0.0,
                 teacher_forcing: float = 1.0, sos_id: int = 1, eos_id: int = 2, pad_id: int = 0) -> None:
        super().__init__()
        if isinstance(encoder, nn.Module):
            self.encoder = encoder
        elif encoder == "rnn":
            self.encoder = RNNEncoder(in_dim, enc_hidden, enc_layers, enc_cell, subsample, dropout, bidirectional)
        else:
            from speechdl.nn.registry import build

            self.encoder = build(encoder, in_dim=in_dim, **(encoder_kwargs or {}))
        if not hasattr(self.encoder, "encode") or not hasattr(self.encoder, "out_dim"):
            raise ValueError("the encoder needs encode(x, lengths) -> (enc, enc_lengths) and an out_dim attribute")
        key_dim = int(self.encoder.out_dim)
        self.enc_out_dim = key_dim
        self.vocab_size, self.sos_id, self.eos_id, self.pad_id = vocab_size, sos_id, eos_id, pad_id
        self.teacher_forcing = teacher_forcing
        self.embed = nn.Embedding(vocab_size, emb_dim)
        self.cells = nn.ModuleList(nn.LSTMCell(emb_dim + key_dim if i == 0 else dec_hidden, dec_hidden)
                                   for i in range(dec_layers))
        if attention == "location":
            self.attn: AdditiveAttention = LocationAwareAttention(dec_hidden, key_dim, attn_dim, attn_filters,
                                                                  attn_kernel)
        elif attention == "additive":
            self.attn = AdditiveAttention(dec_hidden, key_dim, attn_dim)
        else:
            raise ValueError(f"attention must be 'location' or 'additive', not {attention!r}")
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(dec_hidden + key_dim, vocab_size)

    # -- encoder ---------------------------------------------------------------------------------
    def encode(self, x: Tensor, lengths: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """(B, T, F), lengths (B,) -> encoder output (B, T', enc_out_dim), its lengths (B,)."""
        if lengths is None:
            lengths = torch.full((x.shape[0],), x.shape[1], dtype=torch.long)
        enc, enc_lengths = self.encoder.encode(x, lengths)
        return enc, enc_lengths.to(enc.device)

    # -- one decoder step ------------------------------------------------------------------------
    def _init_state(self, enc: Tensor, mask: Tensor) -> dict[str, Any]:
        b = enc.shape[0]
        zeros = [enc.new_zeros(b, cell.hidden_size) for cell in self.cells]
        return {"h": zeros, "c": list(zeros), "ctx": enc.new_zeros(b, enc.shape[2]),
                "w": initial_weights(b, enc.shape[1], mask, enc)}

    def _step(self, prev: Tensor, state: dict[str, Any], enc: Tensor, mask: Tensor,
              keys: Tensor) -> tuple[Tensor, dict[str, Any]]:
        """prev tokens (B,) -> logits (B, V) and the next state."""
        feats, state = self._step_features(prev, state, enc, mask, keys)
        return self.out(feats), state

    def _step_features(self, prev: Tensor, state: dict[str, Any], enc: Tensor, mask: Tensor,
                       keys: Tensor) -> tuple[Tensor, dict[str, Any]]:
        """prev tokens (B,) -> the output layer's input ``[h, context]`` (B, dec_hidden + key_dim), next state."""
        inp = torch.cat([self.embed(prev), state["ctx"]], dim=-1)
        hs, cs = [], []
        for i, cell in enumerate(self.cells):
            h, c = cell(inp, (state["h"][i], state["c"][i]))
            hs.append(h)
            cs.append(c)
            inp = self.drop(h)
        ctx, w = self.attn(inp, enc, mask, state["w"], keys)
        return torch.cat([inp, ctx], dim=-1), {"h": hs, "c": cs, "ctx": ctx, "w": w}

    def _prepare(self, x: Tensor, x_lengths: Tensor | None,
                 encoded: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, Tensor, Tensor]:
        enc, enc_lengths = self.encode(x, x_lengths) if encoded is None else encoded
        mask = torch.arange(enc.shape[1], device=enc.device)[None, :] < enc_lengths[:, None]
        return enc, mask, self.attn.process_keys(enc)

    # -- training --------------------------------------------------------------------------------
    def forward(self, x: Tensor, x_lengths: Tensor | None, targets: Tensor, teacher_forcing: float | None = None,
                return_attention: bool = False,
                encoded: tuple[Tensor, Tensor] | None = None) -> Tensor | tuple[Tensor, Tensor]:
        """Teacher-forced decoding: x (B, T, F), x_lengths (B,), targets (B, U) -> logits (B, U, V).

        ``teacher_forcing`` overrides the constructor's ratio (which applies in training mode only).
        With ``return_attention`` also returns the attention weights (B, U, T'). ``encoded``: the
        ``(enc, enc_lengths)`` of :meth:`encode` when already computed (e.g. shared with a CTC head).
        """
        ratio = teacher_forcing if teacher_forcing is not None else (self.teacher_forcing if self.training else 1.0)
        enc, mask, keys = self._prepare(x, x_lengths, encoded)
        state = self._init_state(enc, mask)
        prev = torch.full((x.shape[0],), self.sos_id, dtype=torch.long, device=enc.device)
        targets = targets.to(enc.device)
        all_feats, all_w = [], []
        for u in range(targets.shape[1]):
            feats, state = self._step_features(prev, state, enc, mask, keys)
            all_feats.append(feats)
            all_w.append(state["w"])
            prev = targets[:, u]
            if ratio < 1.0:   # scheduled sampling needs this step's prediction now
                own = torch.rand(prev.shape[0], device=prev.device) >= ratio
                prev = torch.where(own, self.out(feats).detach().argmax(-1), prev)
        out = self.out(torch.stack(all_feats, dim=1))   # one (B·U, ·) x (·, V) product instead of U small ones
        return (out, torch.stack(all_w, dim=1)) if return_attention else out

    def loss(self, logits: Tensor, targets: Tensor, label_smoothing: float = 0.0) -> Tensor:
        """Mean cross entropy of (B, U, V) logits against (B, U) targets, ignoring ``pad_id``."""
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1).to(logits.device),
                               ignore_index=self.pad_id, label_smoothing=label_smoothing)

    # -- inference -------------------------------------------------------------------------------
    @torch.no_grad()
    def greedy_decode(self, x: Tensor, x_lengths: Tensor | None = None, max_len: int = 100,
                      encoded: tuple[Tensor, Tensor] | None = None) -> list[list[int]]:
        """Argmax decoding: x (B, T, F) -> B token id lists (without sos/eos), at most ``max_len`` long."""
        enc, mask, keys = self._prepare(x, x_lengths, encoded)
        state = self._init_state(enc, mask)
        b = x.shape[0]
        prev = torch.full((b,), self.sos_id, dtype=torch.long, device=enc.device)
        done = torch.zeros(b, dtype=torch.bool, device=enc.device)
        out: list[list[int]] = [[] for _ in range(b)]
        for _ in range(max_len):
            logits, state = self._step(prev, state, enc, mask, keys)
            prev = logits.argmax(-1)
            for i in range(b):
                if not done[i] and prev[i].item() != self.eos_id:
                    out[i].append(int(prev[i]))
            done |= prev == self.eos_id
            if bool(done.all()):
                break
        return out

    @torch.no_grad()
    def beam_search(self, x: Tensor, x_lengths: Tensor | None = None, beam: int = 4, max_len: int = 100,
                    length_penalty: float = 0.0, nbest: int = 0,
                    encoded: tuple[Tensor, Tensor] | None = None) -> list:
        """Beam search per utterance: x (B, T, F) -> B best token id lists (without sos/eos).

        Hypotheses are ranked by total log-probability divided by ((5 + len) / 6) ** length_penalty
        (Wu et al. 2016; 0 = no normalisation, len counts the eos). A hypothesis ends when eos is among
        the ``beam`` best extensions. Without a length penalty the search stops as soon as no open
        hypothesis can beat the best ended one (exact); with one, once ``beam`` hypotheses ended and
        the best beats the open ones normalised at the current length (the usual heuristic); at the
        latest after ``max_len`` steps. ``beam=1`` (no length penalty) gives exactly
        :meth:`greedy_decode`. ``nbest > 0`` returns, per utterance, up to ``nbest`` ``(tokens, score)``
        pairs, best first (the ended hypotheses, for rescoring, e.g. with CTC). ``encoded``: as in
        :meth:`forward`.
        """
        enc_all, mask_all, keys_all = self._prepare(x, x_lengths, encoded)
        results = []
        for b in range(enc_all.shape[0]):
            enc, mask, keys = enc_all[b : b + 1], mask_all[b : b + 1], keys_all[b : b + 1]
            ranked = self._beam_one(enc, mask, keys, beam, max_len, length_penalty)
            results.append([(h, s) for s, h in ranked[:nbest]] if nbest else ranked[0][1])
        return results

    def _beam_one(self, enc: Tensor, mask: Tensor, keys: Tensor, beam: int, max_len: int,
                  length_penalty: float) -> list[tuple[float, list[int]]]:
        def norm(score: float, n: int) -> float:
            return score / (((5.0 + n) / 6.0) ** length_penalty) if length_penalty else score

        state = self._init_state(enc, mask)
        hyps: list[list[int]] = [[]]
        scores = enc.new_zeros(1)
        prev = torch.full((1,), self.sos_id, dtype=torch.long, device=enc.device)
        finished: list[tuple[float, list[int]]] = []
        v = self.vocab_size
        for _ in range(max_len):
            n = len(hyps)
            logits, state = self._step(prev, state, enc.expand(n, -1, -1), mask.expand(n, -1),
                                       keys.expand(n, -1, -1))
            cand = (scores[:, None] + torch.log_softmax(logits, dim=-1)).reshape(-1)
            top_s, top_i = cand.topk(min(2 * beam, cand.numel()))
            origin, tokens, new_scores = [], [], []
            for rank, (s, idx) in enumerate(zip(top_s.tolist(), top_i.tolist())):
                src, tok = divmod(idx, v)
                if tok == self.eos_id:
                    if rank < beam:
                        finished.append((norm(s, len(hyps[src]) + 1), hyps[src]))
                elif len(origin) < beam:
                    origin.append(src)
                    tokens.append(tok)
                    new_scores.append(s)
            if not origin:
                break
            hyps = [hyps[o] + [t] for o, t in zip(origin, tokens)]
            scores = enc.new_tensor(new_scores)
            if finished:
                best = max(f[0] for f in finished)
                if not length_penalty and best >= max(new_scores):  # open scores can only fall
                    break
                if length_penalty and len(finished) >= beam and best >= norm(max(new_scores), len(hyps[0]) + 1):
                    break
            idx_t = torch.tensor(origin, device=enc.device)
            state = {"h": [h[idx_t] for h in state["h"]], "c": [c[idx_t] for c in state["c"]],
                     "ctx": state["ctx"][idx_t], "w": state["w"][idx_t]}
            prev = torch.tensor(tokens, dtype=torch.long, device=enc.device)
        else:
            finished.extend((norm(float(s), len(h)), h) for s, h in zip(scores.tolist(), hyps))
        if not finished:
            finished.extend((norm(float(s), len(h)), h) for s, h in zip(scores.tolist(), hyps))
        return sorted(finished, key=lambda f: -f[0])

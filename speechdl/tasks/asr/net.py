"""What an ASR bundle holds (no Lightning import): Deep Speech 2 (CTC) and listen-attend-spell + CTC head.

Both share :class:`ASREncoder`: global CMVN (buffers, so the statistics travel in the bundle) ->
SpecAugment (training only) -> 2-D convolutions striding in time and frequency
(:class:`~speechdl.nn.conv.Conv2dSubsampler`) -> stacked bidirectional GRU/LSTM with packed lengths
(:class:`~speechdl.nn.recurrent.RecurrentNet`).

* ``deepspeech2`` (:class:`DeepSpeech2`): encoder -> Linear to the vocabulary -> log-softmax, for CTC.
  The defaults (80 log-Mel bands, 32-channel convs, 512-wide projection, 3 x BiLSTM-256, 30 characters)
  have 5.1 M parameters.
* ``las`` (:class:`AttentionASR`): the same encoder feeding the :class:`~speechdl.nn.seq2seq.Seq2Seq`
  LSTM decoder with location-aware attention (teacher forcing, greedy, beam search), plus a Linear CTC
  head on the encoder for joint CTC + attention training (``loss = λ·CTC + (1 - λ)·CE``) and decoding.

Token ids follow :mod:`speechdl.tasks.asr.tokens`: 0 = CTC blank = padding of attention targets,
1 = end of sentence = the decoder's start symbol. The training module is :mod:`speechdl.tasks.asr.train`;
:func:`fit_cmvn` (plain torch) sets the CMVN buffers before a fresh fit.

Example:
    >>> import torch
    >>> from speechdl.nn import build
    >>> ds2 = build("deepspeech2", in_dim=80, vocab_size=30, hidden_size=32, num_layers=2, conv_dim=64)
    >>> logp, n = ds2(torch.randn(2, 100, 80), torch.tensor([100, 61]))
    >>> tuple(logp.shape), n.tolist()
    ((2, 25, 30), [25, 16])
    >>> las = build("las", in_dim=80, vocab_size=30, hidden_size=32, num_layers=1, conv_dim=64, dec_hidden=32)
    >>> out = las(torch.randn(2, 100, 80), torch.tensor([100, 61]), torch.tensor([[5, 6, 1], [7, 1, 0]]))
    >>> tuple(out["logits"].shape), tuple(out["ctc_log_probs"].shape)
    ((2, 3, 30), (2, 25, 30))
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from speechdl.features.cmvn import CMVN
from speechdl.features.specaugment import SpecAugment
from speechdl.nn.conv import Conv2dSubsampler
from speechdl.nn.recurrent import RecurrentNet
from speechdl.nn.registry import register
from speechdl.nn.seq2seq import Seq2Seq

BLANK_ID, EOS_ID = 0, 1


class ASREncoder(nn.Module):
    """CMVN -> SpecAugment -> conv subsampling -> stacked (bi)GRU/LSTM.

    Args:
        in_dim: features per frame F (80 log-Mel bands).
        conv_channels: channels of the two 3x3 convs (stride 2 in frequency, 2 in time each for
            ``subsample=4``). conv_dim: width of the Linear after the convs.
        subsample: time reduction, 2 or 4.
        cell: ``gru`` | ``lstm``. hidden_size: units per direction. num_layers: stacked layers.
        bidirectional: both directions (outputs ``2 * hidden_size``). dropout: between layers.
        specaugment: :class:`~speechdl.features.SpecAugment` arguments (masks in training only), or None.
        cmvn: keep global mean/variance buffers (fitted by the training task from the training set).

    Shapes: ``x (B, T, F)``, ``lengths (B,)`` -> ``(B, T', out_dim)``, ``(B,)``;
    ``T' = ceil(T / subsample)`` (for odd lengths see :meth:`output_lengths`).
    """

    def __init__(self, in_dim: int = 80, conv_channels: int = 32, conv_dim: int = 512, subsample: int = 4,
                 cell: str = "lstm", hidden_size: int = 256, num_layers: int = 3, bidirectional: bool = True,
                 dropout: float = 0.1, specaugment: dict[str, Any] | None = None, cmvn: bool = True) -> None:
        super().__init__()
        self.cmvn = CMVN("global", dim=in_dim) if cmvn else None
        self.specaug = SpecAugment(**specaugment) if specaugment else None
        self.sub = Conv2dSubsampler(in_dim, conv_dim, conv_channels, subsample)
        self.rnn = RecurrentNet(conv_dim, hidden_size, num_layers, cell, bidirectional, dropout)
        self.drop = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.out_dim = self.rnn.output_size

    def output_lengths(self, lengths: Tensor) -> Tensor:
        """Encoder frames of inputs with ``lengths`` frames: ``(B,)`` -> ``(B,)``."""
        return self.sub.output_lengths(lengths)

    def encode(self, x: Tensor, lengths: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """``(B, T, F)``, ``(B,)`` -> ``((B, T', out_dim), (B,) lengths')``; padded frames are zero."""
        if lengths is None:
            lengths = torch.full((x.shape[0],), x.shape[1], dtype=torch.long, device=x.device)
        lengths = lengths.to(x.device, torch.long)
        if self.cmvn is not None:
            x = self.cmvn(x)
        if self.specaug is not None:
            x = self.specaug(x)
        h, n = self.sub(x, lengths)
        h = self.rnn(self.drop(h), n.clamp_min(1))
        return self.drop(h), n

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        """``(B, T, F)`` -> ``(B, T', out_dim)``."""
        return self.encode(x, lengths)[0]


@register("deepspeech2")
class DeepSpeech2(nn.Module):
    """Deep Speech 2 style CTC model: :class:`ASREncoder` -> Linear -> log-softmax over ``vocab_size``.

    Args: ``vocab_size`` (including the blank, id 0) and the :class:`ASREncoder` arguments.

    Shapes: ``x (B, T, F)``, ``lengths (B,)`` -> ``(log_probs (B, T', V), lengths' (B,))``.
    """

    def __init__(self, in_dim: int = 80, vocab_size: int = 30, conv_channels: int = 32, conv_dim: int = 512,
                 subsample: int = 4, cell: str = "lstm", hidden_size: int = 256, num_layers: int = 3,
                 bidirectional: bool = True, dropout: float = 0.1, specaugment: dict[str, Any] | None = None,
                 cmvn: bool = True) -> None:
        super().__init__()
        self.vocab_size, self.blank_id = vocab_size, BLANK_ID
        self.encoder = ASREncoder(in_dim, conv_channels, conv_dim, subsample, cell, hidden_size, num_layers,
                                  bidirectional, dropout, specaugment, cmvn)
        self.head = nn.Linear(self.encoder.out_dim, vocab_size)

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """``(B, T, F)`` [+ ``(B,)``] -> ``((B, T', V) log-probabilities, (B,) output lengths)``."""
        h, n = self.encoder.encode(x, lengths)
        return F.log_softmax(self.head(h), dim=-1), n


@register("las")
class AttentionASR(nn.Module):
    """Listen-attend-spell with location-aware attention and an optional CTC head on the listener.

    Args:
        vocab_size: output ids V (blank/pad 0, eos/sos 1, then the units).
        ctc: add the Linear CTC head (joint CTC + attention training and decoding).
        dec_hidden, dec_layers, emb_dim, attn_dim, attn_filters, attn_kernel, attention: the
            :class:`~speechdl.nn.seq2seq.Seq2Seq` decoder (``attention``: ``location`` | ``additive``).
        teacher_forcing: probability of feeding the true previous token in training.
        The rest: :class:`ASREncoder`.

    Shapes: ``x (B, T, F)``, ``lengths (B,)``, ``targets (B, U)`` (ids + eos, padded with 0) ->
    ``{"logits": (B, U, V), "ctc_log_probs": (B, T', V) or None, "enc_lengths": (B,)}``.
    """

    def __init__(self, in_dim: int = 80, vocab_size: int = 30, conv_channels: int = 32, conv_dim: int = 256,
                 subsample: int = 4, cell: str = "lstm", hidden_size: int = 256, num_layers: int = 3,
                 bidirectional: bool = True, dropout: float = 0.1, specaugment: dict[str, Any] | None = None,
                 cmvn: bool = True, ctc: bool = True, dec_hidden: int = 320, dec_layers: int = 1,
                 emb_dim: int = 64, attention: str = "location", attn_dim: int = 128, attn_filters: int = 10,
                 attn_kernel: int = 31, teacher_forcing: float = 1.0) -> None:
        super().__init__()
        self.vocab_size, self.blank_id, self.eos_id, self.pad_id = vocab_size, BLANK_ID, EOS_ID, BLANK_ID
        encoder = ASREncoder(in_dim, conv_channels, conv_dim, subsample, cell, hidden_size, num_layers,
                             bidirectional, dropout, specaugment, cmvn)
        self.s2s = Seq2Seq(in_dim, vocab_size, encoder=encoder, dec_hidden=dec_hidden, dec_layers=dec_layers,
                           emb_dim=emb_dim, attention=attention, attn_dim=attn_dim, attn_filters=attn_filters,
                           attn_kernel=attn_kernel, dropout=dropout, teacher_forcing=teacher_forcing,
                           sos_id=EOS_ID, eos_id=EOS_ID, pad_id=BLANK_ID)
        self.ctc_head = nn.Linear(encoder.out_dim, vocab_size) if ctc else None

    @property
    def encoder(self) -> ASREncoder:
        """The listener."""
        return self.s2s.encoder

    def encode(self, x: Tensor, lengths: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """``(B, T, F)`` -> ``((B, T', D), (B,))``."""
        return self.s2s.encode(x, lengths)

    def ctc_log_probs(self, enc: Tensor) -> Tensor:
        """CTC log-probabilities ``(B, T', V)`` of encoder outputs ``(B, T', D)``."""
        if self.ctc_head is None:
            raise ValueError("this model has no CTC head (ctc=False)")
        return F.log_softmax(self.ctc_head(enc), dim=-1)

    def forward(self, x: Tensor, lengths: Tensor | None, targets: Tensor,
                teacher_forcing: float | None = None) -> dict[str, Tensor | None]:
        """Teacher-forced attention logits and CTC log-probabilities from one pass of the encoder."""
        enc, n = self.encode(x, lengths)
        logits = self.s2s(x, lengths, targets, teacher_forcing=teacher_forcing, encoded=(enc, n))
        ctc = self.ctc_log_probs(enc) if self.ctc_head is not None else None
        return {"logits": logits, "ctc_log_probs": ctc, "enc_lengths": n}

    def loss(self, logits: Tensor, targets: Tensor, label_smoothing: float = 0.0) -> Tensor:
        """Cross entropy of ``(B, U, V)`` logits against ``(B, U)`` targets (padding ignored)."""
        return self.s2s.loss(logits, targets, label_smoothing)

    @torch.no_grad()
    def greedy_decode(self, x: Tensor, lengths: Tensor | None = None, max_len: int = 200,
                      encoded: tuple[Tensor, Tensor] | None = None) -> list[list[int]]:
        """Attention greedy decoding: ``(B, T, F)`` -> B id lists (no eos)."""
        return self.s2s.greedy_decode(x, lengths, max_len, encoded=encoded)

    @torch.no_grad()
    def beam_search(self, x: Tensor, lengths: Tensor | None = None, beam: int = 4, max_len: int = 200,
                    length_penalty: float = 0.0, nbest: int = 0,
                    encoded: tuple[Tensor, Tensor] | None = None) -> list:
        """Attention beam search (:meth:`speechdl.nn.seq2seq.Seq2Seq.beam_search`)."""
        return self.s2s.beam_search(x, lengths, beam, max_len, length_penalty, nbest, encoded=encoded)


def fit_cmvn(model: nn.Module, features: list[Tensor]) -> bool:
    """Set the global CMVN buffers of an ASR model's encoder from feature matrices ``[(T, F), ...]``.

    Returns False when the model keeps no CMVN (``cmvn=False``) or no features were given.
    """
    enc = getattr(model, "encoder", None)
    cmvn = getattr(enc, "cmvn", None)
    if cmvn is None or not features:
        return False
    x = torch.cat([f.detach().reshape(-1, f.shape[-1]).double().cpu() for f in features])
    mean, std = x.mean(0), x.std(0, unbiased=False).clamp_min(cmvn.eps)
    with torch.no_grad():
        cmvn.mean.copy_(mean.float())
        cmvn.std.copy_(std.float())
        cmvn.count.fill_(len(x))
        cmvn.sum.copy_(x.sum(0))
        cmvn.sumsq.copy_(x.square().sum(0))
    return True

"""ASR architectures: output shapes and lengths, padding independence, parameter counts, n-best beams."""

from __future__ import annotations

import torch

from speechdl.nn import build
from speechdl.tasks.asr.net import fit_cmvn

SMALL = {"in_dim": 40, "vocab_size": 12, "conv_channels": 4, "conv_dim": 16, "hidden_size": 8, "num_layers": 2,
         "dropout": 0.0}


def _count(m: torch.nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def test_deepspeech2_default_is_about_5m_parameters():
    assert 4.8e6 < _count(build("deepspeech2")) < 5.3e6           # 80 mel, 3 x BiLSTM-256, 30 chars
    assert 3.5e6 < _count(build("deepspeech2", cell="gru")) < 4.2e6


def test_deepspeech2_shapes_lengths_and_padding():
    torch.manual_seed(0)
    m = build("deepspeech2", **SMALL).eval()
    x = torch.randn(3, 57, 40)
    lens = torch.tensor([57, 30, 9])
    logp, n = m(x, lens)
    assert logp.shape == (3, 15, 12) and n.tolist() == [15, 8, 3]
    assert torch.allclose(logp.exp().sum(-1), torch.ones(3, 15), atol=1e-5)
    alone, n1 = m(x[1:2, :30], lens[1:2])                          # padding does not change valid outputs
    assert n1.tolist() == [8] and torch.allclose(alone[0], logp[1, :8], atol=1e-5)


def test_cmvn_is_fitted_and_saved_in_the_state_dict():
    m = build("deepspeech2", **SMALL)
    feats = [torch.randn(50, 40) * 3 + 7, torch.randn(20, 40) * 3 + 7]
    assert fit_cmvn(m, feats)
    sd = m.state_dict()
    assert abs(float(sd["encoder.cmvn.mean"].mean()) - 7) < 0.5 and abs(float(sd["encoder.cmvn.std"].mean()) - 3) < 0.5
    assert not fit_cmvn(build("deepspeech2", **{**SMALL, "cmvn": False}), feats)


def test_las_joint_outputs_and_nbest_beam():
    torch.manual_seed(0)
    m = build("las", **SMALL, dec_hidden=8, emb_dim=4, attn_dim=6, attn_filters=2, attn_kernel=3).eval()
    x, lens = torch.randn(2, 40, 40), torch.tensor([40, 25])
    targets = torch.tensor([[5, 6, 7, 1], [8, 1, 0, 0]])
    out = m(x, lens, targets)
    assert out["logits"].shape == (2, 4, 12) and out["ctc_log_probs"].shape == (2, 10, 12)
    assert out["enc_lengths"].tolist() == [10, 7]
    assert m.loss(out["logits"], targets).ndim == 0
    nb = m.beam_search(x, lens, beam=3, max_len=6, nbest=3)
    assert len(nb) == 2 and all(1 <= len(h) <= 3 for h in nb)
    scores = [s for _, s in nb[0]]
    assert scores == sorted(scores, reverse=True) and nb[0][0][0] == m.beam_search(x, lens, beam=3, max_len=6)[0]
    assert m.beam_search(x, lens, beam=1, max_len=6) == m.greedy_decode(x, lens, max_len=6)
    no_ctc = build("las", **SMALL, ctc=False, dec_hidden=8, emb_dim=4, attn_dim=6, attn_kernel=3)
    assert no_ctc(x, lens, targets)["ctc_log_probs"] is None

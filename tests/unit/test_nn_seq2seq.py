"""Attention seq2seq: shapes, gradients, padding, scheduled sampling, learning to reverse, decoding."""

from __future__ import annotations

import pytest
import torch

from speechdl.nn import build
from speechdl.nn.seq2seq import RNNEncoder, Seq2Seq, pad_targets

PAD, SOS, EOS, V = 0, 1, 2, 8



def tiny(**kw) -> Seq2Seq:
    args = dict(in_dim=V, vocab_size=V, enc_hidden=16, enc_layers=2, dec_hidden=32, emb_dim=8, attn_dim=16,
                attn_filters=4, attn_kernel=5, sos_id=SOS, eos_id=EOS, pad_id=PAD)
    args.update(kw)
    return build("seq2seq", **args)


def frames(seqs: list[list[int]], repeat: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    """Tokens -> one-hot 'acoustic' frames (B, T, V), each token held ``repeat`` frames."""
    lens = torch.tensor([len(s) * repeat for s in seqs])
    x = torch.zeros(len(seqs), int(lens.max()), V)
    for i, s in enumerate(seqs):
        for j, tok in enumerate(s):
            x[i, j * repeat : (j + 1) * repeat, tok] = 1.0
    return x, lens


SEQS = [[3, 4, 5], [6, 7], [5, 5, 3, 4], [7, 3, 6, 6], [4], [6, 5, 4, 3], [3, 7, 7], [5, 6]]


def test_pad_targets():
    y = pad_targets([[4, 5], [6]], eos_id=EOS, pad_id=PAD)
    assert y.tolist() == [[4, 5, EOS], [6, EOS, PAD]]


@pytest.mark.parametrize("cell,subsample,attention", [("lstm", 1, "location"), ("gru", 2, "additive"),
                                                      ("lstm", 4, "location")])
def test_shapes_encode_and_attention(cell, subsample, attention):
    torch.manual_seed(0)
    net = tiny(enc_cell=cell, subsample=subsample, attention=attention, enc_layers=2)
    x, lens = torch.randn(3, 11, V), torch.tensor([11, 6, 3])
    y = pad_targets([[3, 4], [5], [6, 7, 3]], EOS, PAD)
    enc, enc_lens = net.encode(x, lens)
    expect = lens.clone()
    for _ in range(subsample.bit_length() - 1):
        expect = (expect + 1) // 2
    assert enc.shape == (3, int(expect[0]), net.enc_out_dim) and enc_lens.tolist() == expect.tolist()
    logits, att = net(x, lens, y, return_attention=True)
    assert logits.shape == (3, 4, V) and att.shape == (3, 4, enc.shape[1])
    torch.testing.assert_close(att.sum(-1), torch.ones(3, 4))
    pad = torch.arange(enc.shape[1])[None] >= enc_lens[:, None]
    assert torch.all(att.masked_select(pad[:, None, :].expand_as(att)) == 0)


def test_pluggable_encoder_by_name_and_by_module():
    torch.manual_seed(0)
    net = tiny(encoder="conformer", encoder_kwargs=dict(d_model=16, n_heads=2, n_layers=1, conv_kernel=3,
                                                        subsample=2))
    x, lens = torch.randn(2, 10, V), torch.tensor([10, 7])
    enc, enc_lens = net.encode(x, lens)
    assert enc.shape == (2, 5, 16) and enc_lens.tolist() == [5, 4]
    assert net(x, lens, pad_targets([[3], [4, 5]], EOS, PAD)).shape == (2, 3, V)
    rnn = RNNEncoder(V, hidden=8, layers=1, bidirectional=False)
    assert tiny(encoder=rnn).enc_out_dim == 8


def test_every_parameter_gets_a_gradient():
    torch.manual_seed(0)
    net = tiny(subsample=2, dec_layers=2)
    x, lens = frames(SEQS[:4])
    y = pad_targets(SEQS[:4], EOS, PAD)
    net.loss(net(x, lens, y), y).backward()
    for name, p in net.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, name


def test_padding_does_not_change_outputs():
    torch.manual_seed(0)
    net = tiny(subsample=2).eval()
    x, lens = frames([[3, 4, 5, 6], [7, 3]])
    y = pad_targets([[3, 4, 5, 6], [7, 3]], EOS, PAD)
    x2 = x.clone()
    x2[1, 4:] = 9.0
    a, b = net(x, lens, y), net(x2, lens, y)
    torch.testing.assert_close(a, b)
    alone = net(x[1:, :4], lens[1:], y[1:, :3])
    torch.testing.assert_close(alone[0], a[1, :3], rtol=1e-4, atol=1e-5)


def test_scheduled_sampling_feeds_the_model_own_predictions():
    torch.manual_seed(0)
    net = tiny().eval()
    x, lens = frames(SEQS[:3])
    y = pad_targets(SEQS[:3], EOS, PAD)
    forced, free = net(x, lens, y, teacher_forcing=1.0), net(x, lens, y, teacher_forcing=0.0)
    torch.testing.assert_close(forced[:, 0], free[:, 0])  # the first step sees sos either way
    assert (forced - free).abs().max() > 1e-4
    # ratio 0 is free running: its argmax chain is what greedy decoding produces
    greedy = net.greedy_decode(x, lens, max_len=y.shape[1])
    chain = free.argmax(-1).tolist()
    for g, c in zip(greedy, chain):
        assert g == (c[: c.index(EOS)] if EOS in c else c)[: len(g)]
    # the constructor ratio applies in training mode only
    net2 = tiny(teacher_forcing=0.0)
    net2.load_state_dict(net.state_dict())
    torch.testing.assert_close(net2.eval()(x, lens, y), forced)
    torch.testing.assert_close(net2.train()(x, lens, y), free)


def test_beam_of_one_equals_greedy_on_an_untrained_model():
    torch.manual_seed(1)
    net = tiny().eval()
    x, lens = frames(SEQS)
    assert net.beam_search(x, lens, beam=1, max_len=7) == net.greedy_decode(x, lens, max_len=7)


@pytest.mark.slow
@pytest.mark.parametrize("attention", ["location", "additive"])
def test_learns_to_reverse_and_decoders_reproduce_targets(attention):
    torch.manual_seed(0)
    net = tiny(attention=attention)
    x, lens = frames(SEQS)
    rev = [s[::-1] for s in SEQS]
    y = pad_targets(rev, EOS, PAD)
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    first = net.loss(net(x, lens, y), y).item()
    for _ in range(200):
        opt.zero_grad()
        loss = net.loss(net(x, lens, y), y)
        loss.backward()
        opt.step()
    net.eval()
    assert net.loss(net(x, lens, y), y).item() < first / 10
    assert net.greedy_decode(x, lens, max_len=10) == rev
    assert net.beam_search(x, lens, beam=4, max_len=10) == rev
    assert net.beam_search(x, lens, beam=3, max_len=10, length_penalty=1.0) == rev
    assert net.beam_search(x, lens, beam=1, max_len=10) == rev

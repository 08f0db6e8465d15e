"""Transformer and Conformer encoders: shapes, gradient flow, padding invariance, overfitting."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from speechdl.nn import build
from speechdl.nn.transformer import ConformerEncoder, TransformerEncoder

NAMES = ["transformer", "conformer"]



def tiny(name: str, **kw):
    args = dict(in_dim=8, d_model=16, n_heads=2, n_layers=2, ff_dim=32, dropout=0.0)
    if name == "conformer":
        args["conv_kernel"] = 5
    args.update(kw)
    return build(name, **args)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("subsample", [1, 2, 4])
def test_shapes_and_lengths(name, subsample):
    torch.manual_seed(0)
    net = tiny(name, out_dim=5, subsample=subsample)
    assert isinstance(net, TransformerEncoder if name == "transformer" else ConformerEncoder)
    x, lens = torch.randn(3, 17, 8), torch.tensor([17, 9, 1])
    y, out_lens = net.encode(x, lens)
    t_out = {1: 17, 2: 9, 4: 5}[subsample]
    assert y.shape == (3, t_out, 5)
    assert out_lens.tolist() == net.output_lengths(lens).tolist()
    assert out_lens[0] == t_out
    for b in range(3):  # padded output frames are exactly zero, valid ones are not
        assert torch.all(y[b, out_lens[b]:] == 0)
        assert y[b, : out_lens[b]].abs().sum() > 0
    assert net(x).shape == (3, t_out, 5)  # lengths optional
    assert tiny(name).out_dim == 16


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("positions", ["sinusoidal", "learned"])
def test_every_parameter_gets_a_gradient(name, positions):
    torch.manual_seed(0)
    net = tiny(name, out_dim=4, positions=positions, max_len=50, subsample=2)
    y = net(torch.randn(2, 12, 8), torch.tensor([12, 7]))
    (y ** 2).sum().backward()
    for pname, p in net.named_parameters():
        assert p.grad is not None, pname
        assert torch.isfinite(p.grad).all(), pname
        assert p.grad.abs().sum() > 0, pname


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("subsample", [1, 2])
@pytest.mark.parametrize("train_mode", [True, False])
def test_padding_does_not_change_valid_outputs(name, subsample, train_mode):
    torch.manual_seed(0)
    net = tiny(name, subsample=subsample, out_dim=6)
    net.train(train_mode)
    x, lens = torch.randn(2, 14, 8), torch.tensor([14, 9])
    x2 = x.clone()
    x2[1, 9:] = 100.0 * torch.randn(5, 8)  # garbage in the padding
    y1, l1 = net.encode(x, lens)
    y2, _ = net.encode(x2, lens)
    torch.testing.assert_close(y1, y2, rtol=0, atol=1e-5)
    if not train_mode:  # the same utterance alone, without any padding, gives the same frames
        alone, la = net.encode(x[1:, :9], lens[1:])
        assert la[0] == l1[1]
        torch.testing.assert_close(alone[0], y1[1, : l1[1]], rtol=1e-4, atol=1e-5)


def test_batchnorm_statistics_ignore_padding():
    # Masked batch norm: garbage in padded frames leaves the running statistics untouched.
    x, lens = torch.randn(2, 10, 8), torch.tensor([10, 4])
    x2 = x.clone()
    x2[1, 4:] = 50.0
    stats = []
    for inp in (x, x2):
        torch.manual_seed(0)
        net = tiny("conformer").train()
        net.encode(inp, lens)
        stats.append([(m.running_mean, m.running_var) for m in net.modules() if isinstance(m, torch.nn.BatchNorm1d)])
    assert len(stats[0]) == 2
    for (m1, v1), (m2, v2) in zip(*stats):
        assert m1.abs().sum() > 0  # statistics were updated
        torch.testing.assert_close(m1, m2)
        torch.testing.assert_close(v1, v2)


def test_attention_mixes_frames():
    # Self-attention really looks across time: changing a valid frame changes other frames' outputs.
    torch.manual_seed(0)
    net = tiny("transformer").eval()
    x = torch.randn(1, 6, 8)
    x2 = x.clone()
    x2[0, 5] += 1.0
    assert (net(x)[0, 0] - net(x2)[0, 0]).abs().max() > 1e-4


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_overfits_a_small_batch(name):
    torch.manual_seed(0)
    net = tiny(name, out_dim=5)
    x, lens = torch.randn(4, 12, 8), torch.tensor([12, 10, 8, 12])
    labels = torch.randint(0, 5, (4, 12))
    mask = torch.arange(12)[None] < lens[:, None]
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)

    def loss_fn():
        return F.cross_entropy(net(x, lens)[mask], labels[mask])

    first = loss_fn().item()
    for _ in range(150):
        opt.zero_grad()
        loss = loss_fn()
        loss.backward()
        opt.step()
    assert loss_fn().item() < first / 10

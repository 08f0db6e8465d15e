"""TDNN layers, statistics pooling and the x-vector: context, lengths, padding, embedding, learning."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from speechdl.errors import ConfigError
from speechdl.nn import TDNN, XVector, build
from speechdl.nn.tdnn import StatsPooling, TDNNLayer
from tests.unit.nn_checks import assert_doctests_pass, assert_gradients_flow, assert_learns, one_thread, projection_loss


@pytest.fixture(autouse=True)
def _single_thread():
    with one_thread():
        yield


def padded(seqs: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    lengths = torch.tensor([len(s) for s in seqs])
    batch = torch.full((len(seqs), int(lengths.max()), seqs[0].shape[1]), -70.0)
    for i, s in enumerate(seqs):
        batch[i, : len(s)] = s
    return batch, lengths


def tiny_xvector(**kw) -> XVector:
    return XVector(6, 5, widths=[8, 8, 8, 8, 16], embed_dim=8, **kw)


def test_stats_pooling_values_and_padding():
    torch.manual_seed(0)
    seqs = [torch.randn(n, 3) for n in (7, 4, 1)]
    x, n = padded(seqs)
    out = StatsPooling()(x, n)
    assert out.shape == (3, 6)
    for i, s in enumerate(seqs):
        std = s.std(0, unbiased=False).clamp_min(1e-5 ** 0.5)
        torch.testing.assert_close(out[i], torch.cat([s.mean(0), std]))
    torch.testing.assert_close(StatsPooling(std=False)(x, n), out[:, :3])
    torch.testing.assert_close(StatsPooling()(seqs[0][None]), out[:1])  # no lengths = all frames
    # padded frames get no gradient
    x.requires_grad_(True)
    StatsPooling()(x, n).pow(2).sum().backward()
    assert (x.grad[1, 4:] == 0).all() and (x.grad[1, :4] != 0).any()


def test_tdnn_layer_context_and_lengths():
    torch.manual_seed(0)
    assert TDNNLayer(4, 6, context=5, padding="same")(torch.randn(2, 11, 4)).shape == (2, 11, 6)
    valid = TDNNLayer(4, 6, context=3, dilation=3, padding="valid")
    assert valid(torch.randn(2, 11, 4)).shape == (2, 5, 6)
    assert valid.output_lengths(torch.tensor([11, 7])).tolist() == [5, 1]
    assert valid.conv.kernel_size == (3,) and valid.conv.dilation == (3,)


def test_xvector_tdnn_sees_fifteen_frames():
    torch.manual_seed(0)
    net = TDNN(4, widths=[8, 8, 8, 8, 8]).eval()  # the paper's contexts 5,3,3,1,1 / dilations 1,2,3,1,1
    x = torch.randn(1, 40, 4)
    x2 = x.clone()
    x2[0, 20] += 1.0
    changed = ((net(x)[0] - net(x2)[0]).abs().sum(-1) > 0)[0]
    assert changed.nonzero().flatten().tolist() == list(range(13, 28))  # t-7 .. t+7
    valid = TDNN(4, widths=[8] * 5, padding="valid")
    y, n = valid(torch.randn(2, 40, 4), torch.tensor([40, 20]))
    assert y.shape == (2, 26, 8) and n.tolist() == [26, 6]
    with pytest.raises(ConfigError, match="shorter"):
        valid(torch.randn(1, 10, 4))


def test_tdnn_and_xvector_ignore_padding():
    torch.manual_seed(0)
    tdnn, xv = TDNN(6, widths=[8] * 5).eval(), tiny_xvector().eval()
    seqs = [torch.randn(n, 6) for n in (30, 17, 9)]
    x, n = padded(seqs)
    y, n_out = tdnn(x, n)
    logits, emb = xv(x, n), xv.embed(x, n)
    for i, s in enumerate(seqs):
        torch.testing.assert_close(y[i, : len(s)], tdnn(s[None])[0][0], atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(logits[i], xv(s[None])[0], atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(emb[i], xv.embed(s[None])[0], atol=1e-5, rtol=1e-5)
    assert n_out.tolist() == n.tolist()


def test_xvector_default_is_the_paper_topology():
    net = build("xvector", in_dim=24, num_classes=100)
    layers = net.frames.layers
    assert [m.conv.out_channels for m in layers] == [512, 512, 512, 512, 1500]
    assert [m.context for m in layers] == [5, 3, 3, 1, 1] and [m.dilation for m in layers] == [1, 2, 3, 1, 1]
    assert [(m.in_features, m.out_features) for m in net.segment] == [(3000, 512), (512, 512)]
    assert net.classifier.out_features == 100


def test_embedding_is_segment_layer_before_nonlinearity():
    torch.manual_seed(0)
    net = tiny_xvector().eval()
    x, n = torch.randn(3, 20, 6), torch.tensor([20, 15, 10])
    h, hn = net.frames(x, n)
    pooled = net.pool(h, hn)
    a = net.segment[0](pooled)
    torch.testing.assert_close(net.embed(x, n), a)
    assert (net.embed(x, n) < 0).any()  # pre-ReLU
    post = tiny_xvector(embed_pre_activation=False).eval()
    post.load_state_dict(net.state_dict())
    torch.testing.assert_close(post.embed(x, n), net.segment_post[0](a))
    second = tiny_xvector(embed_layer=1).eval()
    second.load_state_dict(net.state_dict())
    torch.testing.assert_close(second.embed(x, n), net.segment[1](net.segment_post[0](a)))
    torch.testing.assert_close(net(x, n), net.classifier(net.segment_post[1](net.segment[1](net.segment_post[0](a)))))


def test_gradients_flow():
    torch.manual_seed(0)
    x, n = torch.randn(4, 20, 6), torch.tensor([20, 12, 18, 9])
    tdnn = TDNN(6, widths=[8, 8, 8], contexts=[5, 3, 1], dilations=[1, 2, 1], dropout=0.1)
    assert_gradients_flow(tdnn, projection_loss(tdnn(x, n)[0]))
    xv = tiny_xvector(dropout=0.1)
    assert_gradients_flow(xv, projection_loss(xv(x, n)))
    pool = StatsPooling()
    x.requires_grad_(True)
    projection_loss(pool(x, n)).backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_learning():
    torch.manual_seed(0)
    x, n = torch.randn(8, 20, 6), torch.tensor([20, 12, 18, 9] * 2)
    xv, y = tiny_xvector(), torch.randint(0, 5, (8,))
    assert_learns(xv, lambda: nn.functional.cross_entropy(xv(x, n), y), steps=200, lr=1e-2)
    tdnn_net, head = TDNN(6, widths=[16, 16], contexts=[3, 3], dilations=[1, 2]), nn.Linear(16, 3)
    tdnn = nn.ModuleList([tdnn_net, head])  # frame-level: TDNN + per-frame Linear
    frames = torch.randint(0, 3, (8, 20))
    mask = torch.arange(20)[None] < n[:, None]
    assert_learns(tdnn, lambda: nn.functional.cross_entropy(head(tdnn_net(x, n)[0])[mask], frames[mask]),
                  steps=300, lr=2e-2)


def test_config_errors():
    for name, kw in (("xvector", {"num_classes": 3}), ("tdnn", {})):
        with pytest.raises(ConfigError, match="bad_kwarg"):
            build(name, in_dim=8, bad_kwarg=1, **kw)
    with pytest.raises(ConfigError, match="embed_layer"):
        XVector(4, 3, embed_layer=2)
    with pytest.raises(ConfigError, match="contexts"):
        TDNN(4, widths=[8, 8], contexts=[3, 3, 3])
    with pytest.raises(ConfigError, match="even"):
        TDNNLayer(4, 4, context=4)


def test_docstring_examples_run():
    import speechdl.nn.tdnn as module

    assert_doctests_pass(module)

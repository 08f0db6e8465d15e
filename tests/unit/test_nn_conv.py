"""Conv blocks, CNN-FC, frame-level CNN1d and the 2-D conv subsampler: shapes, pooling, padding, learning."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from speechdl.errors import ConfigError
from speechdl.nn import CNNFC, CNN1d, Conv2dSubsampler, build
from speechdl.nn.conv import ConvBlock1d, ConvBlock2d
from tests.unit.nn_checks import assert_doctests_pass, assert_gradients_flow, assert_learns, one_thread, projection_loss


@pytest.fixture(autouse=True)
def _single_thread():
    with one_thread():
        yield


def padded(seqs: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Pad (T_i, F) sequences with loud garbage; return (B, T, F) and lengths."""
    lengths = torch.tensor([len(s) for s in seqs])
    batch = torch.full((len(seqs), int(lengths.max()), seqs[0].shape[1]), 50.0)
    for i, s in enumerate(seqs):
        batch[i, : len(s)] = s
    return batch, lengths


def test_block_shapes():
    x1, x2 = torch.randn(2, 6, 20), torch.randn(2, 1, 20, 12)
    assert ConvBlock1d(6, 4, kernel_size=5)(x1).shape == (2, 4, 20)
    assert ConvBlock1d(6, 4, pool="avg", pool_size=4)(x1).shape == (2, 4, 5)
    assert ConvBlock1d(6, 4, stride=2, dilation=2, norm="layer")(x1).shape == (2, 4, 10)
    assert ConvBlock2d(1, 3)(x2).shape == (2, 3, 20, 12)
    assert ConvBlock2d(1, 3, kernel_size=(5, 3), pool="max", pool_size=(2, 3))(x2).shape == (2, 3, 10, 4)


@pytest.mark.parametrize("cls,x", [(ConvBlock1d, torch.randn(2, 3, 8)), (ConvBlock2d, torch.randn(2, 3, 8, 6))])
@pytest.mark.parametrize("pool", ["max", "avg"])
def test_block_pooling_is_max_or_average_of_the_unpooled_block(cls, x, pool):
    torch.manual_seed(0)
    plain, pooled = cls(3, 4, norm=None), cls(3, 4, norm=None, pool=pool)
    pooled.load_state_dict(plain.state_dict())
    fn = {("max", 1): nn.functional.max_pool1d, ("avg", 1): nn.functional.avg_pool1d,
          ("max", 2): nn.functional.max_pool2d, ("avg", 2): nn.functional.avg_pool2d}[pool, cls.dims]
    torch.testing.assert_close(pooled(x), fn(plain(x), 2))
    # and the conv block is conv -> relu
    torch.testing.assert_close(plain(x), torch.relu(plain.conv(x)))


@pytest.mark.parametrize("cls,x", [(ConvBlock1d, torch.randn(4, 3, 8)), (ConvBlock2d, torch.randn(4, 3, 8, 6))])
def test_blocks_gradients_and_learning(cls, x):
    torch.manual_seed(0)
    block = cls(3, 8, norm="batch", pool="max", dropout=0.1)
    assert_gradients_flow(block, projection_loss(block(x)))
    net = nn.Sequential(cls(3, 8, norm="batch", pool="avg"), nn.Flatten(), nn.LazyLinear(5))
    net(x)
    y = torch.randint(0, 5, (4,))
    assert_learns(net, lambda: nn.functional.cross_entropy(net(x), y), steps=200, lr=1e-2)


def test_cnn_fc_shapes_and_modes():
    torch.manual_seed(0)
    net = CNNFC(12, 3, channels=[4, 6], fc=[10], pool="avg", dropout=0.1)
    assert net(torch.randn(2, 17, 12)).shape == (2, 3)
    assert net(torch.randn(2, 40, 12), torch.tensor([40, 9])).shape == (2, 3)
    fixed = build("cnn_fc", in_dim=12, out_dim=3, channels=[4, 6], num_frames=16)
    assert fixed(torch.randn(2, 16, 12)).shape == (2, 3)
    assert fixed.fc[-1].in_features == 6 * (16 // 4) * (12 // 4)  # flattened C x T' x F'
    with pytest.raises(ConfigError, match="num_frames"):
        fixed(torch.randn(2, 15, 12))


@pytest.mark.parametrize("time_pool", ["mean", "max"])
def test_cnn_fc_ignores_padding(time_pool):
    torch.manual_seed(0)
    net = CNNFC(8, 3, channels=[4, 4], time_pool=time_pool).eval()
    seqs = [torch.randn(n, 8) for n in (16, 9, 5)]
    out = net(*padded(seqs))
    for i, s in enumerate(seqs):
        torch.testing.assert_close(out[i], net(s[None])[0], atol=1e-5, rtol=1e-5)


def test_cnn_fc_gradients_and_learning():
    torch.manual_seed(0)
    net = CNNFC(12, 4, channels=[4, 8], fc=[16], pool="max")
    x, y = torch.randn(8, 16, 12), torch.randint(0, 4, (8,))
    assert_gradients_flow(net, projection_loss(net(x, torch.tensor([16, 10] * 4))))
    assert_learns(net, lambda: nn.functional.cross_entropy(net(x), y), steps=200, lr=1e-2)


def test_cnn1d_keeps_time_and_ignores_padding():
    torch.manual_seed(0)
    net = CNN1d(6, 2, channels=[8, 8], kernel_size=[5, 3], dilation=[1, 2]).eval()
    seqs = [torch.randn(n, 6) for n in (12, 7, 3)]
    x, n = padded(seqs)
    out = net(x, n)
    assert out.shape == (3, 12, 2)
    for i, s in enumerate(seqs):
        torch.testing.assert_close(out[i, : len(s)], net(s[None])[0], atol=1e-5, rtol=1e-5)
        assert (out[i, len(s):] == 0).all()
    # receptive field: kernel 5 (dilation 1) then 3 (dilation 2) sees t-4..t+4
    x = torch.randn(1, 12, 6)
    x2 = x.clone()
    x2[0, 6] += 1.0
    changed = (net(x) - net(x2)).abs().sum(-1)[0] > 0
    assert changed.nonzero().flatten().tolist() == list(range(2, 11))


def test_cnn1d_gradients_and_learning():
    torch.manual_seed(0)
    net = CNN1d(6, 3, channels=[16, 16], kernel_size=3)
    x, y = torch.randn(4, 10, 6), torch.randint(0, 3, (4, 10))
    assert_gradients_flow(net, projection_loss(net(x, torch.tensor([10, 7, 10, 4]))))
    assert_learns(net, lambda: nn.functional.cross_entropy(net(x).reshape(-1, 3), y.reshape(-1)), steps=300,
                  lr=1e-2)


@pytest.mark.parametrize("factor", [2, 4])
def test_subsampler_length_arithmetic(factor):
    torch.manual_seed(0)
    sub = Conv2dSubsampler(20, 16, channels=4, factor=factor)
    lengths = torch.arange(1, 40)
    ceil2 = (lengths + 1) // 2
    expect = ceil2 if factor == 2 else (ceil2 + 1) // 2  # ceil(ceil(T / 2) / 2)
    assert sub.output_lengths(lengths).tolist() == expect.tolist()
    for t in (1, 2, 7, 33):
        y, n = sub(torch.randn(2, t, 20))
        assert y.shape == (2, int(expect[t - 1]), 16) and n.tolist() == [int(expect[t - 1])] * 2
    assert sub.out.in_features == 4 * 5  # 20 features -> 10 -> 5


@pytest.mark.parametrize("factor", [2, 4])
def test_subsampler_ignores_padding(factor):
    torch.manual_seed(0)
    sub = build("conv2d_subsample", in_dim=10, out_dim=8, channels=3, factor=factor)
    seqs = [torch.randn(n, 10) for n in (19, 10, 5, 2)]
    y, n = sub(*padded(seqs))
    for i, s in enumerate(seqs):
        alone, n_alone = sub(s[None])
        assert n[i] == n_alone[0]
        torch.testing.assert_close(y[i, : int(n[i])], alone[0], atol=1e-5, rtol=1e-5)


def test_subsampler_gradients_and_learning():
    torch.manual_seed(0)
    sub = Conv2dSubsampler(12, 6, channels=8, factor=4)
    x = torch.randn(3, 16, 12)
    assert_gradients_flow(sub, projection_loss(sub(x, torch.tensor([16, 11, 5]))[0]))
    target = torch.randn(3, 4, 6)
    assert_learns(sub, lambda: nn.functional.mse_loss(sub(x)[0], target), steps=300, lr=1e-2)


def test_config_errors():
    for name in ("cnn_fc", "cnn1d", "conv2d_subsample"):
        with pytest.raises(ConfigError, match="bad_kwarg"):
            build(name, in_dim=8, out_dim=2, bad_kwarg=1)
    with pytest.raises(ConfigError, match="pool"):
        CNNFC(8, 2, pool="median")
    with pytest.raises(ConfigError, match="factor"):
        Conv2dSubsampler(8, 4, factor=3)
    with pytest.raises(ConfigError, match="even"):
        ConvBlock1d(3, 3, kernel_size=4)
    with pytest.raises(ConfigError, match="nothing"):
        CNNFC(8, 2, channels=[4, 4, 4, 4])
    with pytest.raises(ConfigError, match="kernel_size"):
        CNN1d(8, 2, channels=[4, 4], kernel_size=[3])


def test_docstring_examples_run():
    import speechdl.nn.conv as module

    assert_doctests_pass(module)

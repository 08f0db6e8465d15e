"""Residual blocks and ResNet: shapes, shortcuts, identity at zero init, pooling, gradients, learning."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from speechdl.errors import ConfigError
from speechdl.nn import ResNet, build
from speechdl.nn.resnet import BasicBlock, BasicBlock1d, BasicBlock2d, Bottleneck, Bottleneck1d, Bottleneck2d
from tests.unit.nn_checks import assert_doctests_pass, assert_gradients_flow, assert_learns, one_thread, projection_loss

BLOCKS = [BasicBlock1d, BasicBlock2d, Bottleneck1d, Bottleneck2d]


@pytest.fixture(autouse=True)
def _single_thread():
    with one_thread():
        yield


def sample(cls: type, c: int = 8) -> torch.Tensor:
    return torch.randn(2, c, 12) if cls.__name__.endswith("1d") else torch.randn(2, c, 12, 6)


@pytest.mark.parametrize("cls", BLOCKS)
def test_block_shapes_and_projection_shortcut(cls):
    torch.manual_seed(0)
    x = sample(cls)
    exp = cls.expansion
    same = cls(8, 8 // exp)  # output 8 channels, stride 1: identity shortcut
    assert same(x).shape == x.shape and isinstance(same.shortcut, nn.Identity)
    down = cls(8, 4, stride=2)
    y = down(x)
    assert y.shape == (2, 4 * exp, 6, 3)[: x.dim()] and isinstance(down.shortcut, nn.Sequential)
    assert isinstance(cls(8, 8 // exp, preact=True).shortcut, nn.Identity)


@pytest.mark.parametrize("cls", BLOCKS)
def test_block_computes_x_plus_f_of_x(cls):
    torch.manual_seed(0)
    x = sample(cls)
    for preact in (False, True):
        block = cls(8, 8 // cls.expansion, preact=preact).eval()
        y = block(x)
        expect = x + block.residual(x)
        torch.testing.assert_close(y, expect if preact else torch.relu(expect))


@pytest.mark.parametrize("cls", BLOCKS)
def test_block_is_identity_when_last_layer_zero_initialised(cls):
    torch.manual_seed(0)
    x = sample(cls)
    pre = cls(8, 8 // cls.expansion, preact=True)
    pre.zero_init_last()
    assert (pre.residual(x) == 0).all()
    torch.testing.assert_close(pre(x), x)  # y = x + F(x) = x for any x
    post = cls(8, 8 // cls.expansion)
    post.zero_init_last()
    torch.testing.assert_close(post(x.relu()), x.relu())  # relu(x + 0) = x for the non-negative inputs it gets


@pytest.mark.parametrize("cls", BLOCKS)
def test_block_gradients_and_learning(cls):
    torch.manual_seed(0)
    x = sample(cls, 4)
    block = cls(4, 8, stride=2)
    assert_gradients_flow(block, projection_loss(block(x)))
    net = nn.Sequential(cls(4, 4), nn.Flatten(), nn.LazyLinear(3))
    net(x)
    y = torch.tensor([0, 2])
    assert_learns(net, lambda: nn.functional.cross_entropy(net(x), y), steps=200, lr=1e-2)


def test_generic_blocks_take_dims():
    assert BasicBlock(3, 4, dims=1)(torch.randn(2, 3, 10)).shape == (2, 4, 10)
    assert Bottleneck(3, 4, dims=2, stride=2)(torch.randn(2, 3, 10, 5)).shape == (2, 16, 5, 3)
    with pytest.raises(ConfigError, match="dims"):
        BasicBlock(3, 4, dims=3)


@pytest.mark.parametrize("dims,block,pool", [(2, "basic", "avg"), (2, "bottleneck", "max"), (2, "basic", "stats"),
                                              (1, "basic", "stats"), (1, "bottleneck", "avg")])
def test_resnet_shapes(dims, block, pool):
    torch.manual_seed(0)
    net = ResNet(10, 5, dims=dims, block=block, layers=[1, 1], channels=[4, 8], pool=pool, embed_dim=6)
    x = torch.randn(3, 20, 10)
    assert net(x).shape == (3, 5) and net.embed(x).shape == (3, 6)
    assert net(x, torch.tensor([20, 11, 4])).shape == (3, 5)
    net.eval()  # full lengths give exactly the unmasked result
    torch.testing.assert_close(net(x, torch.tensor([20, 20, 20])), net(x))


def test_thin_resnet34_config():
    net = build("resnet", in_dim=40, out_dim=7, dims=2, block="basic", layers=[3, 4, 6, 3], channels=[16, 32, 64, 128])
    blocks = list(net.blocks)
    assert len(blocks) == 16 and all(isinstance(b, BasicBlock) for b in blocks)
    assert [b.convs[1].out_channels for b in blocks] == [16] * 3 + [32] * 4 + [64] * 6 + [128] * 3
    assert [b.stride for b in blocks if b.stride != 1] == [2, 2, 2]
    assert 1_000_000 < sum(p.numel() for p in net.parameters()) < 1_500_000  # "thin": ~1.4 M, not 21 M
    assert net.eval()(torch.randn(1, 50, 40)).shape == (1, 7)


@pytest.mark.parametrize("pool", ["avg", "max", "stats"])
def test_pooling_ignores_padded_frames(pool):
    torch.manual_seed(0)
    net = ResNet(6, 3, dims=1, layers=[1, 1], channels=[4, 4], block="bottleneck", pool=pool).eval()
    with torch.no_grad():  # keep only the centre tap of every 3-tap conv: no context leaks across the boundary
        for m in net.modules():
            if isinstance(m, nn.Conv1d) and m.kernel_size[0] == 3:
                m.weight[..., 0] = 0
                m.weight[..., 2] = 0
    x, n = torch.randn(2, 10, 6), torch.tensor([10, 6])
    x2 = x.clone()
    x2[1, 6:] = 1e3
    torch.testing.assert_close(net(x, n), net(x2, n))
    assert not torch.allclose(net(x), net(x2))  # without lengths the garbage counts


def test_resnet_gradients_and_learning():
    torch.manual_seed(0)
    for kw in ({"dims": 2, "preact": True}, {"dims": 1, "block": "bottleneck", "pool": "stats", "embed_dim": 8}):
        net = ResNet(8, 4, layers=[1, 1], channels=[4, 8], **kw)
        x, y = torch.randn(6, 12, 8), torch.randint(0, 4, (6,))
        assert_gradients_flow(net, projection_loss(net(x, torch.tensor([12, 9, 12, 7, 12, 12]))))
        assert_learns(net, lambda net=net, x=x, y=y: nn.functional.cross_entropy(net(x), y), steps=200, lr=1e-2)


def test_config_errors():
    with pytest.raises(ConfigError, match="bad_kwarg"):
        build("resnet", in_dim=8, out_dim=2, bad_kwarg=1)
    with pytest.raises(ConfigError, match="block"):
        ResNet(8, 2, block="dense")
    with pytest.raises(ConfigError, match="pool"):
        ResNet(8, 2, pool="attention")
    with pytest.raises(ConfigError, match="differ"):
        ResNet(8, 2, layers=[1, 1], channels=[4, 8], strides=[1])


def test_docstring_examples_run():
    import speechdl.nn.resnet as module

    assert_doctests_pass(module)

"""DenseNet: shapes, the lecture's VAD stack, L1/L2 penalty, layer access, gradients, learning, config errors."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from speechdl.errors import ConfigError
from speechdl.nn import DenseNet, build
from tests.unit.nn_checks import assert_doctests_pass, assert_gradients_flow, assert_learns, one_thread, projection_loss


@pytest.fixture(autouse=True)
def _single_thread():
    with one_thread():
        yield


def vad() -> DenseNet:
    return build("dense", in_dim=39, hidden=[12, 8, 4], out_dim=1, dropout=[0.2, 0.1, 0.0],
                 out_activation="sigmoid")


def test_shapes_on_vectors_and_sequences():
    torch.manual_seed(0)
    net = DenseNet(10, hidden=[16, 8], out_dim=3)
    assert net(torch.randn(5, 10)).shape == (5, 3)
    assert net(torch.randn(2, 7, 10)).shape == (2, 7, 3)
    assert DenseNet(10, hidden=[16, 8])(torch.randn(2, 7, 10)).shape == (2, 7, 8)
    assert DenseNet(10, out_dim=4)(torch.randn(3, 10)).shape == (3, 4)  # depth 0: logistic/softmax regression
    # frame-wise: a (B, T, F) call equals the per-frame (B*T, F) call
    x = torch.randn(2, 7, 10)
    torch.testing.assert_close(net(x).reshape(14, 3), net(x.reshape(14, 10)))


def test_lecture_vad_stack_exactly():
    net = vad()
    assert sum(p.numel() for p in net.parameters()) == 39 * 12 + 12 + 12 * 8 + 8 + 8 * 4 + 4 + 4 * 1 + 1 == 625
    seq = [net.input_dropout]  # the order forward applies them in
    for lin, post in zip(net.layers, net.post):
        seq += [lin, *(post if isinstance(post, nn.Sequential) else [post])]
    kinds = [type(m).__name__ for m in seq]
    assert kinds == ["Identity", "Linear", "ReLU", "Dropout", "Linear", "ReLU", "Dropout", "Linear", "ReLU",
                     "Linear", "Sigmoid"]
    assert [m.p for m in seq if isinstance(m, nn.Dropout)] == [0.2, 0.1]
    assert [(lin.in_features, lin.out_features) for lin in net.layers] == [(39, 12), (12, 8), (8, 4), (4, 1)]
    net.eval()
    y = net(torch.randn(4, 30, 39) * 5)
    assert y.shape == (4, 30, 1) and (y > 0).all() and (y < 1).all()


def test_penalty_equals_hand_computation():
    torch.manual_seed(0)
    net = DenseNet(6, hidden=[5, 4], out_dim=2, l1=0.01, l2=0.003)
    ws = [lin.weight for lin in net.layers]
    hand = 0.01 * sum(w.abs().sum() for w in ws) + 0.003 * sum((w**2).sum() for w in ws)
    torch.testing.assert_close(net.penalty(), hand)
    # biases are excluded: changing them leaves the penalty alone
    with torch.no_grad():
        for lin in net.layers:
            lin.bias.fill_(100.0)
    torch.testing.assert_close(net.penalty(), hand)
    # its gradient is l1 * sign(W) + 2 * l2 * W
    net.penalty().backward()
    w = net.layers[1].weight
    torch.testing.assert_close(w.grad, 0.01 * w.sign() + 2 * 0.003 * w.detach())
    assert DenseNet(6, hidden=[5], out_dim=2).penalty().item() == 0.0


def test_layers_expose_hidden_linears_for_layerwise_pretraining():
    torch.manual_seed(0)
    net = DenseNet(6, hidden=[5, 4], out_dim=2, activation="tanh").eval()
    x = torch.randn(3, 6)
    h1 = torch.tanh(net.layers[0](x))
    torch.testing.assert_close(net(x, upto=1), h1)
    torch.testing.assert_close(net(x, upto=2), torch.tanh(net.layers[1](h1)))
    torch.testing.assert_close(net(x), net.layers[2](torch.tanh(net.layers[1](h1))))
    # replacing hidden layer 1's weights (as a pretrainer would) changes the network
    before = net(x)
    with torch.no_grad():
        net.layers[1].weight.mul_(2)
    assert not torch.allclose(net(x), before)


@pytest.mark.parametrize("name", ["relu", "tanh", "sigmoid", "gelu", "leaky_relu", "elu", "selu", "silu", "softplus",
                                  "prelu", "linear"])
def test_activation_by_name(name):
    torch.manual_seed(0)
    net = DenseNet(4, hidden=[8], activation=name).eval()
    x = torch.randn(16, 4)
    ref = {"relu": torch.relu, "tanh": torch.tanh, "sigmoid": torch.sigmoid, "linear": lambda t: t}.get(name)
    if ref is not None:
        torch.testing.assert_close(net(x), ref(net.layers[0](x)))
    assert torch.isfinite(net(x)).all()


@pytest.mark.parametrize("norm", ["batch", "layer"])
def test_norms_on_sequences(norm):
    torch.manual_seed(0)
    net = DenseNet(6, hidden=[8, 8], out_dim=2, norm=norm, activation="linear")
    h = net(torch.randn(3, 5, 6) * 10 + 4, upto=1)
    # normalised hidden activations: zero mean over the batch (batch) or over the features (layer)
    dim = (0, 1) if norm == "batch" else -1
    assert h.mean(dim).abs().max() < 1e-4
    if norm == "batch":
        assert net.layers[0].bias is None and net.layers[-1].bias is not None


def test_gradients_flow():
    torch.manual_seed(0)
    net = DenseNet(6, hidden=[8, 8], out_dim=3, norm="layer", dropout=0.1, activation="prelu", l1=1e-3, l2=1e-3)
    assert_gradients_flow(net, projection_loss(net(torch.randn(4, 5, 6))) + net.penalty())


def test_vad_stack_learns_a_fixed_batch():
    torch.manual_seed(0)
    net = build("dense", in_dim=39, hidden=[12, 8, 4], out_dim=1, out_activation="sigmoid")
    x = torch.randn(32, 39)
    y = (torch.rand(32, 1) > 0.5).float()
    assert_learns(net, lambda: nn.functional.binary_cross_entropy(net(x), y), steps=400, lr=3e-2)


def test_streaming_equals_offline():
    torch.manual_seed(0)
    net = vad().eval()
    x = torch.randn(2, 20, 39)
    state = net.init_state(2)
    chunks = []
    for a, b in [(0, 3), (3, 4), (4, 20)]:
        y, state = net.forward_chunk(x[:, a:b], state)
        chunks.append(y)
    torch.testing.assert_close(torch.cat(chunks, 1), net(x))


def test_config_errors():
    with pytest.raises(ConfigError, match="bad_kwarg"):
        build("dense", in_dim=3, bad_kwarg=1)
    with pytest.raises(ConfigError, match="dropout"):
        DenseNet(3, hidden=[4, 4], dropout=[0.1])
    with pytest.raises(ConfigError, match="activation"):
        DenseNet(3, hidden=[4], activation="relu6x")
    with pytest.raises(ConfigError, match="norm"):
        DenseNet(3, hidden=[4], norm="group")


def test_docstring_examples_run():
    import speechdl.nn.dense as module

    assert_doctests_pass(module)
    import speechdl.nn._parts as parts

    assert_doctests_pass(parts)

"""Greedy layer-wise denoising-autoencoder pretraining, then supervised fine-tuning."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from speechdl.errors import ConfigError, DataError
from speechdl.nn import available, build
from speechdl.train.pretrain import infer_activation, pretrain_layerwise


class StandInDense(nn.Module):
    """The DenseNet contract: ``layers`` (ModuleList of Linear), ``hidden``, ``activation``, ``dropout``."""

    def __init__(self, in_dim, hidden, out_dim, activation="sigmoid", dropout=0.0):
        super().__init__()
        self.hidden, self.activation = list(hidden), activation
        dims = [in_dim, *hidden, out_dim]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims[:-1], dims[1:]))
        self.act = nn.Sigmoid() if activation == "sigmoid" else nn.ReLU()
        self.drop = nn.Dropout(dropout)

    def forward(self, x):
        for lin in self.layers[:-1]:
            x = self.drop(self.act(lin(x)))
        return self.layers[-1](x)


def toy_data(n=256, seed=0):
    """20-dim inputs on a 5-dim subspace; the label is a smooth function of the latent factors."""
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, 5, generator=g)
    x = z @ torch.randn(5, 20, generator=g) / 5 ** 0.5
    y = (z[:, :1] * z[:, 1:2] + z[:, 2:3]).tanh()
    return x, y


HAVE_DENSE = "dense" in available()
NETS = [("stand_in", lambda: StandInDense(20, [16, 8, 4], 1))]
if HAVE_DENSE:  # the real DenseNet (tanh + dropout; BatchNorm with bias-free hidden layers)
    NETS += [("dense_tanh", lambda: build("dense", in_dim=20, hidden=[16, 8, 4], out_dim=1, activation="tanh",
                                          dropout=0.1)),
             ("dense_batchnorm", lambda: build("dense", in_dim=20, hidden=[16, 8, 4], out_dim=1, norm="batch"))]


@pytest.mark.parametrize("make", [m for _, m in NETS], ids=[n for n, _ in NETS])
def test_pretrain_then_finetune_end_to_end(make):
    torch.manual_seed(0)
    net = make()
    x, y = toy_data()
    linears = [m for m in net.layers if isinstance(m, nn.Linear)]
    out_before = linears[-1].weight.detach().clone()
    snapshots, histories = {}, {}

    def on_layer(i, ae, history):
        snapshots[i] = (ae.encoder[0].weight.detach().clone(), ae.encoder[0].bias)
        histories[i] = history
        assert ae.in_dim == linears[i].in_features and ae.bottleneck_dim == linears[i].out_features

    losses = pretrain_layerwise(net, x, epochs=30, lr=1e-2, noise=0.1, batch_size=32, callback=on_layer)

    assert len(losses) == 3 and sorted(snapshots) == [0, 1, 2]
    for i in range(3):
        w, b = snapshots[i]
        assert torch.equal(linears[i].weight, w)  # copied, untouched since
        assert (b is None and linears[i].bias is None) or torch.equal(linears[i].bias, b)
        assert losses[i] == histories[i][-1]
        assert histories[i][-1] < 0.7 * histories[i][0], f"layer {i} reconstruction did not fall: {histories[i]}"
    assert torch.equal(linears[-1].weight, out_before)  # the output layer is not pretrained

    # supervised fine-tuning: ordinary training of the whole net
    pretrained = [lin.weight.detach().clone() for lin in linears[:3]]
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    net.train()
    task = []
    for _ in range(60):
        loss = nn.functional.mse_loss(net(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        task.append(loss.item())
    assert task[-1] < 0.5 * task[0]
    for i, w in enumerate(pretrained):
        assert not torch.allclose(linears[i].weight, w), f"layer {i} was not fine-tuned"


def test_each_layer_is_trained_on_the_outputs_of_the_layers_below():
    torch.manual_seed(0)
    x, _ = toy_data(128)
    net = StandInDense(20, [12, 6], 1)
    checked = []

    def on_layer(i, ae, history):
        h = x
        with torch.no_grad():
            for lin in net.layers[:i]:  # layers 0..i-1 already hold their pretrained weights
                h = torch.sigmoid(lin(h))
            ae.eval()
            err = nn.functional.mse_loss(ae(h), h).item()
        # noise=0: the AE's final training loss is its reconstruction error on exactly these inputs
        assert err == pytest.approx(history[-1], rel=0.3)
        checked.append(i)

    pretrain_layerwise(net, x, epochs=40, lr=1e-2, noise=0.0, callback=on_layer, seed=0)
    assert checked == [0, 1]


def test_batches_iterable_frames_and_masking_noise():
    torch.manual_seed(0)
    x, y = toy_data(96)
    frames = x.reshape(8, 12, 20)  # (N, T, F) frames are pooled
    net = StandInDense(20, [8], 1, activation="relu")
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(frames, y.reshape(8, 12, 1)), batch_size=2)
    hist = []
    losses = pretrain_layerwise(net, loader, epochs=20, lr=1e-2, noise=0.05, mask_prob=0.1,
                                callback=lambda i, ae, h: hist.append(h))
    assert len(losses) == 1 and hist[0][-1] < hist[0][0]
    gen = ({"x": frames[i: i + 2]} for i in range(0, 8, 2))  # one-shot generator of dict batches
    assert len(pretrain_layerwise(net, gen, epochs=3, lr=1e-2, num_layers=1)) == 1
    assert pretrain_layerwise(net, x, epochs=1, num_layers=0) == []
    if HAVE_DENSE:  # a DenseNet without an output layer: every layer is a hidden layer
        assert len(pretrain_layerwise(build("dense", in_dim=20, hidden=[8, 4]), x, epochs=2)) == 2


def test_activation_inference_and_errors():
    assert isinstance(infer_activation(StandInDense(4, [3], 1, activation="relu")), nn.ReLU)
    seq = nn.Sequential(nn.Linear(3, 3), nn.Tanh())
    seq.layers = nn.ModuleList([seq[0]])
    assert isinstance(infer_activation(seq), nn.Tanh)
    with pytest.raises(ConfigError, match="layers"):
        pretrain_layerwise(nn.Linear(3, 3), torch.randn(4, 3))
    with pytest.raises(DataError, match="features"):
        pretrain_layerwise(StandInDense(20, [4], 1), torch.randn(8, 7), epochs=1)
    with pytest.raises(DataError):
        pretrain_layerwise(StandInDense(20, [4], 1), torch.randn(0, 20), epochs=1)
    with pytest.raises(ConfigError):
        pretrain_layerwise(StandInDense(20, [4], 1), torch.randn(8, 20), epochs=0)

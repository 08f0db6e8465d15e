"""Autoencoders: shapes, gradient flow, overfitting a small batch, denoising, bottleneck features."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from speechdl.errors import ConfigError
from speechdl.nn import build
from speechdl.nn.autoencoder import AutoEncoder, ConvAutoEncoder, DenoisingAutoEncoder, bottleneck_features, corrupt


def low_rank(n: int, t: int | None, dim: int, rank: int, seed: int = 0) -> torch.Tensor:
    """Data on a ``rank``-dimensional subspace of R^dim, so a bottleneck >= rank can reconstruct it."""
    g = torch.Generator().manual_seed(seed)
    basis = torch.randn(rank, dim, generator=g) / rank ** 0.5
    shape = (n, rank) if t is None else (n, t, rank)
    return torch.randn(*shape, generator=g) @ basis


def fit(model: nn.Module, x: torch.Tensor, steps: int, lr: float = 1e-2, target: torch.Tensor | None = None):
    target = x if target is None else target
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        loss = nn.functional.mse_loss(model(x), target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


def test_registered_names_build_the_classes():
    assert type(build("autoencoder", in_dim=10, bottleneck_dim=3)) is AutoEncoder
    assert type(build("denoising_autoencoder", in_dim=10, bottleneck_dim=3)) is DenoisingAutoEncoder
    assert type(build("conv_autoencoder", in_dim=10)) is ConvAutoEncoder
    with pytest.raises(ConfigError):
        build("autoencoder", in_dim=10, bottleneck_dim=3, bogus=1)


@pytest.mark.parametrize("cls", [AutoEncoder, DenoisingAutoEncoder])
def test_mlp_shapes_on_vectors_and_frames(cls):
    torch.manual_seed(0)
    ae = cls(in_dim=12, bottleneck_dim=4, hidden=[10, 6])
    for shape in [(5, 12), (3, 7, 12)]:
        x = torch.randn(*shape)
        assert ae(x).shape == shape
        assert ae.encode(x).shape == (*shape[:-1], 4)
        assert ae.decode(ae.encode(x)).shape == shape
    # the decoder mirrors the encoder
    enc = [m.out_features for m in ae.encoder if isinstance(m, nn.Linear)]
    dec = [m.out_features for m in ae.decoder if isinstance(m, nn.Linear)]
    assert enc == [10, 6, 4] and dec == [6, 10, 12]
    with pytest.raises(ValueError, match="expected"):
        ae(torch.randn(5, 11))


def test_conv_autoencoder_shapes_keep_frames():
    ae = ConvAutoEncoder(in_dim=20, bottleneck_dim=6, channels=[16, 8], kernel_size=5)
    x = torch.randn(2, 33, 20)
    assert ae(x).shape == (2, 33, 20)
    assert ae.encode(x).shape == (2, 33, 6)
    with pytest.raises(ConfigError):
        ConvAutoEncoder(in_dim=20, kernel_size=4)
    with pytest.raises(ValueError):
        ae(torch.randn(2, 20))


@pytest.mark.parametrize("model", [
    AutoEncoder(8, 3, hidden=[6]),
    DenoisingAutoEncoder(8, 3, hidden=[6], gaussian_std=0.1, mask_prob=0.2),
    ConvAutoEncoder(8, 3, channels=[6]),
], ids=["ae", "dae", "conv"])
def test_gradient_reaches_every_parameter(model):
    torch.manual_seed(0)
    x = torch.randn(4, 9, 8)
    nn.functional.mse_loss(model(x), x).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, name


def test_autoencoder_overfits_low_rank_batch():
    torch.manual_seed(0)
    x = low_rank(32, None, 16, rank=3)
    ae = AutoEncoder(16, 4, hidden=[32])
    losses = fit(ae, x, 300)
    assert losses[-1] < losses[0] / 10


@pytest.mark.slow
def test_conv_autoencoder_overfits_low_rank_frames():
    torch.manual_seed(0)
    x = low_rank(4, 20, 16, rank=3)
    ae = ConvAutoEncoder(16, 4, channels=[32], kernel_size=3)
    losses = fit(ae, x, 300)
    assert losses[-1] < losses[0] / 10


@pytest.mark.slow
def test_conv_autoencoder_as_enhancer_maps_noisy_to_clean():
    torch.manual_seed(0)
    clean = low_rank(4, 20, 16, rank=3)
    noisy = clean + 0.3 * torch.randn_like(clean)
    ae = ConvAutoEncoder(16, 4, channels=[32], kernel_size=3)
    fit(ae, noisy, 400, target=clean)
    with torch.no_grad():
        assert nn.functional.mse_loss(ae(noisy), clean) < 0.5 * nn.functional.mse_loss(noisy, clean)


def test_corruption_levels_and_training_only():
    torch.manual_seed(0)
    x = torch.ones(200, 50)
    masked = corrupt(x, mask_prob=0.3)
    assert abs((masked == 0).float().mean().item() - 0.3) < 0.02
    noisy = corrupt(x, gaussian_std=0.5)
    assert abs((noisy - x).std().item() - 0.5) < 0.02
    assert torch.equal(corrupt(x), x)
    dae = DenoisingAutoEncoder(50, 5, gaussian_std=0.5, mask_prob=0.3)
    dae.eval()
    assert torch.equal(dae(x), dae(x))  # eval: no corruption, deterministic
    dae.train()
    assert not torch.equal(dae(x), dae(x))
    with pytest.raises(ConfigError):
        DenoisingAutoEncoder(5, 2, mask_prob=1.5)


def test_denoising_autoencoder_learns_to_remove_noise():
    torch.manual_seed(0)
    clean = low_rank(256, None, 16, rank=3)
    dae = DenoisingAutoEncoder(16, 4, hidden=[32], gaussian_std=0.3)
    losses = fit(dae, clean, 400)  # training mode: corrupted input, clean target
    assert losses[-1] < losses[0] / 10
    dae.eval()
    noisy = clean + 0.3 * torch.randn_like(clean)
    with torch.no_grad():
        assert nn.functional.mse_loss(dae(noisy), clean) < 0.5 * nn.functional.mse_loss(noisy, clean)


def test_bottleneck_features_are_the_codes_in_eval_mode():
    torch.manual_seed(0)
    dae = DenoisingAutoEncoder(12, 5, hidden=[8], gaussian_std=1.0)
    x = torch.randn(3, 11, 12)
    dae.train()
    feats = bottleneck_features(dae, x)
    assert feats.shape == (3, 11, 5)
    assert not feats.requires_grad
    assert dae.training  # mode restored
    dae.eval()
    assert torch.allclose(feats, dae.encode(x))  # no corruption when extracting
    conv = ConvAutoEncoder(12, 6, channels=[8])
    assert bottleneck_features(conv, x).shape == (3, 11, 6)


def test_bottleneck_features_from_a_supervised_net_layer():
    torch.manual_seed(0)

    class Net(nn.Module):  # DenseNet-like: a `layers` list of Linear with an activation between
        def __init__(self):
            super().__init__()
            self.layers = nn.ModuleList([nn.Linear(12, 10), nn.Linear(10, 3), nn.Linear(3, 4)])

        def forward(self, x):
            for lin in self.layers[:-1]:
                x = torch.relu(lin(x))
            return self.layers[-1](x)

    net = Net()
    x = torch.randn(2, 7, 12)
    want = net.layers[1](torch.relu(net.layers[0](x)))
    assert torch.allclose(bottleneck_features(net, x, layer=1), want)
    assert torch.allclose(bottleneck_features(net, x, layer="layers.1"), want)
    with pytest.raises(ConfigError):
        bottleneck_features(net, x)
    with pytest.raises(ConfigError):
        bottleneck_features(net, x, layer="nope")

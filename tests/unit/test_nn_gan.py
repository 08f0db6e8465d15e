"""GANs: hand-checked losses, shapes, gradient flow, the adversarial step, and distribution matching."""

from __future__ import annotations

import math

import pytest
import torch

from speechdl.errors import ConfigError
from speechdl.nn import build
from speechdl.nn.gan import (
    ConvDiscriminator,
    ConvGenerator,
    MLPDiscriminator,
    MLPGenerator,
    adversarial_step,
    d_loss,
    g_loss,
)

REAL = torch.tensor([2.0, 0.5, -1.0])
FAKE = torch.tensor([-2.0, 0.0, 1.5, 0.5])


def test_lsgan_losses_equal_hand_computation():
    # 0.5*mean((r-1)^2) = 0.5*(1 + 0.25 + 4)/3 ; 0.5*mean(f^2) = 0.5*(4 + 0 + 2.25 + 0.25)/4
    want_d = 0.5 * 5.25 / 3 + 0.5 * 6.5 / 4
    assert d_loss(REAL, FAKE, "lsgan").item() == pytest.approx(want_d)
    # 0.5*mean((f-1)^2) = 0.5*(9 + 1 + 0.25 + 0.25)/4
    assert g_loss(FAKE, "lsgan").item() == pytest.approx(0.5 * 10.5 / 4)


def test_hinge_losses_equal_hand_computation():
    # relu(1-r) = [0, 0.5, 2] -> 2.5/3 ; relu(1+f) = [0, 1, 2.5, 1.5] -> 5/4
    assert d_loss(REAL, FAKE, "hinge").item() == pytest.approx(2.5 / 3 + 5 / 4)
    assert g_loss(FAKE, "hinge").item() == pytest.approx(-0.0 / 4)
    assert g_loss(torch.tensor([1.0, -3.0]), "hinge").item() == pytest.approx(1.0)


def test_bce_losses_and_perfect_discriminator():
    sp = lambda v: math.log1p(math.exp(v))  # noqa: E731
    want = sum(sp(-r) for r in REAL.tolist()) / 3 + sum(sp(f) for f in FAKE.tolist()) / 4
    assert d_loss(REAL, FAKE, "bce").item() == pytest.approx(want)
    # a confident correct D: zero loss for lsgan (exact targets) and hinge (margin met)
    assert d_loss(torch.ones(4), torch.zeros(4), "lsgan").item() == 0
    assert d_loss(torch.full((4,), 1.0), torch.full((4,), -1.0), "hinge").item() == 0
    with pytest.raises(ConfigError, match="wgan"):
        d_loss(REAL, FAKE, "wgan")


def test_shapes_mlp_pair():
    g = build("mlp_generator", latent_dim=4, out_dim=3, hidden=[8])
    d = build("mlp_discriminator", in_dim=3, hidden=[8])
    assert g(torch.randn(5, 4)).shape == (5, 3)
    assert g(torch.randn(2, 7, 4)).shape == (2, 7, 3)  # frames
    assert d(torch.randn(5, 3)).shape == (5,)
    assert d(torch.randn(2, 7, 3)).shape == (2, 7)
    assert g.sample_latent(6).shape == (6, 4)
    dc = MLPDiscriminator(5, hidden=[8])
    assert dc(torch.randn(5, 3), torch.randn(5, 2)).shape == (5,)  # conditional


@pytest.mark.parametrize("length", [64, 1000, 37])
def test_shapes_conv_pair_waveform_any_length(length):
    torch.manual_seed(0)
    g = ConvGenerator(channels=[4, 8, 8], kernel_size=15, latent_dim=3)
    d = ConvDiscriminator(in_channels=2, channels=[4, 8])
    x = torch.randn(3, length)
    y = g(x)
    assert y.shape == (3, length) and y.abs().max() <= 1  # tanh output
    assert d(y, x).shape == (3,)
    assert g(x.unsqueeze(1)).shape == (3, 1, length)


def test_shapes_conv_pair_spectrogram_frames():
    g = ConvGenerator(in_channels=20, channels=[16, 16], kernel_size=4, stride=2, out_activation=None,
                      channels_last=True)
    d = ConvDiscriminator(in_channels=20, channels=[8], kernel_size=3, channels_last=True, spectral_norm=False)
    x = torch.randn(2, 31, 20)
    assert g(x).shape == (2, 31, 20)
    assert d(x).shape == (2,)
    with pytest.raises(ConfigError):
        ConvGenerator(kernel_size=4, stride=1)


def test_spectral_norm_bounds_the_discriminator_weights():
    torch.manual_seed(0)
    d = ConvDiscriminator(channels=[8, 8], spectral_norm=True)
    assert any("parametrizations" in n for n, _ in d.named_parameters())
    for _ in range(20):  # power iteration converges in training-mode forwards
        d(torch.randn(2, 256))
    d.eval()
    w = d.convs[0].weight.reshape(8, -1)
    assert torch.linalg.matrix_norm(w, ord=2).item() == pytest.approx(1.0, abs=0.05)
    assert not any("parametrizations" in n for n, _ in ConvDiscriminator(spectral_norm=False).named_parameters())


@pytest.mark.parametrize("pair", ["mlp", "conv"])
def test_gradient_reaches_every_parameter(pair):
    torch.manual_seed(0)
    if pair == "mlp":
        g, d = MLPGenerator(4, 3, hidden=[8]), MLPDiscriminator(3, hidden=[8], spectral_norm=True)
        inp = torch.randn(6, 4)
    else:
        g, d = ConvGenerator(channels=[4, 8], latent_dim=2), ConvDiscriminator(channels=[4, 8])
        inp = torch.randn(2, 128)
    (g_loss(d(g(inp)), "lsgan") + (g(inp) ** 2).mean()).backward()
    for net in (g, d):
        for name, p in net.named_parameters():
            assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, name


def test_adversarial_step_updates_both_and_reports_losses():
    torch.manual_seed(0)
    g, d = MLPGenerator(2, 2, hidden=[8]), MLPDiscriminator(2, hidden=[8])
    og, od = torch.optim.SGD(g.parameters(), lr=0.1), torch.optim.SGD(d.parameters(), lr=0.1)
    g0 = [p.detach().clone() for p in g.parameters()]
    d0 = [p.detach().clone() for p in d.parameters()]
    real, z = torch.randn(16, 2) + 3, torch.randn(16, 2)
    with torch.no_grad():
        want_d = d_loss(d(real), d(g(z)), "lsgan").item()
    out = adversarial_step(g, d, og, od, real, z, kind="lsgan")
    assert set(out) == {"d_loss", "g_loss", "g_total", "recon", "d_real", "d_fake"}
    assert out["d_loss"] == pytest.approx(want_d)
    assert out["recon"] == 0 and out["g_total"] == pytest.approx(out["g_loss"])
    assert all(not torch.equal(a, b) for a, b in zip(g0, g.parameters()))
    assert all(not torch.equal(a, b) for a, b in zip(d0, d.parameters()))
    assert all(p.requires_grad for p in d.parameters())  # D re-enabled after the G update


@pytest.mark.slow
def test_adversarial_step_reconstruction_term_segan_style():
    torch.manual_seed(0)
    t = torch.linspace(0, 1, 256)
    clean = torch.stack([0.5 * torch.sin(2 * math.pi * f * t) for f in (5, 9, 13, 17)])
    noisy = clean + 0.2 * torch.randn_like(clean)
    g = ConvGenerator(channels=[8, 16], kernel_size=15)
    d = ConvDiscriminator(in_channels=2, channels=[8, 16])
    og = torch.optim.Adam(g.parameters(), lr=2e-3)
    od = torch.optim.Adam(d.parameters(), lr=2e-3)
    with torch.no_grad():
        want = (g(noisy) - clean).abs().mean().item()
    first = adversarial_step(g, d, og, od, clean, noisy, kind="lsgan", recon_weight=100.0, condition=noisy)
    assert first["recon"] == pytest.approx(want, rel=1e-5)
    assert first["g_total"] == pytest.approx(first["g_loss"] + 100 * first["recon"], rel=1e-5)
    recons = [adversarial_step(g, d, og, od, clean, noisy, kind="lsgan", recon_weight=100.0,
                               condition=noisy)["recon"] for _ in range(150)]
    assert recons[-1] < first["recon"] / 10  # the generator overfits the clean batch from the noisy one


def test_conv_discriminator_learns_to_separate():
    torch.manual_seed(0)
    t = torch.linspace(0, 1, 128)
    real = torch.stack([torch.sin(2 * math.pi * f * t) for f in range(3, 11)])
    fake = torch.randn(8, 128)
    d = ConvDiscriminator(channels=[8, 16], spectral_norm=False)
    opt = torch.optim.Adam(d.parameters(), lr=3e-3)
    losses = []
    for _ in range(150):
        loss = d_loss(d(real), d(fake), "lsgan")
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] / 10


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["lsgan", "hinge"])
def test_mlp_gan_matches_a_gaussian(kind):
    """A tiny GAN learns N(2, 0.5^2) from unit-Gaussian latents: mean and std within tolerance."""
    torch.manual_seed(0)
    steps, bs = 1000, 256
    g, d = MLPGenerator(1, 1, hidden=[32, 32]), MLPDiscriminator(1, hidden=[64, 64])
    og = torch.optim.Adam(g.parameters(), lr=1e-3, betas=(0.5, 0.999))
    od = torch.optim.Adam(d.parameters(), lr=4e-3, betas=(0.5, 0.999))  # two time-scale update rule
    decay = lambda s: 1 - s / steps  # noqa: E731
    sched = [torch.optim.lr_scheduler.LambdaLR(o, decay) for o in (og, od)]
    with torch.no_grad():
        before = g(torch.randn(5000, 1))
    for _ in range(steps):
        adversarial_step(g, d, og, od, 2 + 0.5 * torch.randn(bs, 1), torch.randn(bs, 1), kind=kind)
        for s in sched:
            s.step()
    with torch.no_grad():
        x = g(torch.randn(20000, 1))
    assert abs(before.mean().item() - 2) > 1  # it had something to learn
    assert x.mean().item() == pytest.approx(2.0, abs=0.2)
    assert x.std().item() == pytest.approx(0.5, abs=0.12)

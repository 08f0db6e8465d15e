"""WaveNet: μ-law, shapes, gradients, causality, receptive field, cached generation == parallel pass."""

from __future__ import annotations

import pytest
import torch

from speechdl.nn import build
from speechdl.nn.wavenet import WaveNet, mu_law_decode, mu_law_encode


def tiny(**kw) -> WaveNet:
    args = dict(n_classes=32, residual_channels=8, dilation_channels=8, skip_channels=8, layers=3, stacks=2)
    args.update(kw)
    return build("wavenet", **args)


def test_mu_law_round_trip():
    x = torch.linspace(-1, 1, 2001)
    ids = mu_law_encode(x)
    assert ids.dtype == torch.long and ids.min() == 0 and ids.max() == 255
    assert torch.all(ids[1:] >= ids[:-1])  # monotone
    err = (mu_law_decode(ids) - x).abs()
    assert err.max() < 0.03 and err[990:1011].max() < 5e-4  # fine steps near zero, coarse at the edges
    assert mu_law_encode(torch.tensor([0.0]), 16).item() in (7, 8)
    assert torch.equal(mu_law_encode(mu_law_decode(torch.arange(256))), torch.arange(256))


@pytest.mark.parametrize("upsample", ["repeat", "transposed"])
def test_shapes_with_local_and_global_conditioning(upsample):
    torch.manual_seed(0)
    net = tiny(cond_dim=5, hop_length=4, upsample=upsample, n_speakers=3, kernel_size=3)
    x, cond, spk = torch.randint(0, 32, (2, 24)), torch.randn(2, 6, 5), torch.tensor([0, 2])
    assert net(x, cond, spk).shape == (2, 24, 32)
    assert net.upsample_cond(cond, 24).shape == (2, 5, 24)
    assert net.receptive_field == 1 + 2 * 2 * (1 + 2 + 4)
    out = net.generate(12, cond=cond, speaker=spk, generator=torch.Generator().manual_seed(0))
    assert out.shape == (2, 12) and out.dtype == torch.long and 0 <= out.min() and out.max() < 32
    with pytest.raises(ValueError):
        net(torch.randint(0, 32, (2, 30)), cond, spk)  # conditioning too short


def test_conditioning_changes_the_output():
    torch.manual_seed(0)
    net = tiny(cond_dim=2, hop_length=4, n_speakers=2)
    x, cond = torch.randint(0, 32, (1, 16)), torch.randn(1, 4, 2)
    base = net(x, cond, torch.tensor([0]))
    assert (base - net(x, cond, torch.tensor([1]))).abs().max() > 1e-4
    cond2 = cond.clone()
    cond2[0, 2] += 1.0  # frame 2 covers samples 8..11 only (repetition upsampling)
    diff = (base - net(x, cond2, torch.tensor([0]))).abs().amax(-1)[0]
    assert diff[:8].max() == 0 and diff[8:12].min() > 0


def test_every_parameter_gets_a_gradient():
    torch.manual_seed(0)
    net = tiny(cond_dim=3, hop_length=4, upsample="transposed", n_speakers=2)
    x = torch.randint(0, 32, (2, 32))
    net.loss(x, torch.randn(2, 8, 3), torch.tensor([0, 1])).backward()
    for name, p in net.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, name


@pytest.mark.parametrize("kernel_size", [2, 3])
def test_causality_and_receptive_field(kernel_size):
    torch.manual_seed(0)
    net = tiny(kernel_size=kernel_size).eval()
    rf, t = net.receptive_field, 40
    x = torch.randint(0, 32, (8, 100))
    base = net(x)
    x2 = x.clone()
    x2[:, t] = (x[:, t] + 7) % 32
    diff = (net(x2) - base).abs().amax(-1).amax(0)  # over classes and the 8 sequences
    assert diff[:t].max() == 0  # the past never sees the future
    assert diff[t] > 0 and diff[t + rf - 1] > 0  # the sample itself and the edge of the receptive field
    assert diff[t + rf:].max() == 0  # beyond the receptive field nothing changes


@pytest.mark.parametrize("kernel_size,upsample", [(2, "repeat"), (3, "transposed")])
def test_incremental_equals_parallel(kernel_size, upsample):
    torch.manual_seed(0)
    net = tiny(kernel_size=kernel_size, cond_dim=3, hop_length=5, upsample=upsample, n_speakers=2).double()
    x, cond, spk = torch.randint(0, 32, (2, 45)), torch.randn(2, 9, 3, dtype=torch.double), torch.tensor([1, 0])
    parallel = net(x, cond, spk)
    incremental = net.incremental_logits(x, cond, spk)
    torch.testing.assert_close(incremental, parallel, rtol=0, atol=1e-10)
    # queues hold only (kernel_size - 1) * dilation inputs per layer, not the whole history
    assert sum(q.shape[2] for q in net.init_queues(1)) == net.receptive_field - 1


def test_generate_is_seeded_and_greedy_follows_the_parallel_argmax():
    torch.manual_seed(0)
    net = tiny().eval()
    a = net.generate(30, generator=torch.Generator().manual_seed(3))
    b = net.generate(30, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b)
    greedy = net.generate(30, temperature=0.0)
    seq = torch.cat([torch.full((1, 1), 16), greedy], dim=1)  # generation starts from the silent class
    assert torch.equal(net(seq[:, :-1]).argmax(-1), greedy)


def test_overfits_a_short_mu_law_sequence():
    torch.manual_seed(0)
    net = tiny(n_classes=64, residual_channels=16, dilation_channels=16, skip_channels=32, layers=4, stacks=1)
    t = torch.arange(300, dtype=torch.float32)
    wave = 0.6 * torch.sin(2 * torch.pi * t / 25) + 0.3 * torch.sin(2 * torch.pi * t / 9)
    x = mu_law_encode(wave, 64)[None]
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    first = net.loss(x).item()
    for _ in range(150):
        opt.zero_grad()
        loss = net.loss(x)
        loss.backward()
        opt.step()
    assert net.loss(x).item() < first / 10

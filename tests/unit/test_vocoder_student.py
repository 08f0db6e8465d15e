"""The distilled vocoder (issue 17): the Gaussian WaveNet teacher, the IAF student (closed-form composition,
causality, one parallel pass), the closed-form KL, distillation learning, the ``vocoder_distill`` task and the
student bundle through export, engine, pipeline and CLI."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from speechdl.errors import ConfigError
from speechdl.nn import build
from speechdl.nn.iaf_student import distillation_kl, gaussian_kl
from speechdl.nn.wavenet import gaussian_nll
from speechdl.tasks.vocoder.distill import distill_losses
from speechdl.tasks.vocoder.frontend import VOCODER_FRONTEND

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "speechdl" / "assets" / "sample.flac"
SMALL = dict(hop_length=16, upsample_scales=[4, 4], flows=3, layers=4, channels=8)
TEACHER = dict(output="gaussian", residual_channels=8, dilation_channels=8, skip_channels=8, layers=4, stacks=1,
               cond_dim=80, hop_length=256)


def student(seed: int = 0, scale: float = 0.3, **kw):
    """A small student with its weights moved off the initialisation (the zeroed output convs make every path
    live), in eval mode."""
    torch.manual_seed(seed)
    s = build("iaf_student", **{**SMALL, **kw})
    with torch.no_grad():
        for p in s.parameters():
            p.add_(torch.randn_like(p) * scale)
    return s.eval()


class AR1(torch.nn.Module):
    """An analytic Gaussian teacher: the next sample ~ N(a * x_t, sigma^2) (a stationary AR(1) process)."""

    def __init__(self, a: float = 0.9, sigma: float = 0.05) -> None:
        super().__init__()
        self.a, self.log_sigma = a, math.log(sigma)

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        return torch.stack([self.a * x, torch.full_like(x, self.log_sigma)], dim=-1)


# ---------------------------------------------------------------- the closed-form KL
def test_closed_form_kl_equals_a_monte_carlo_estimate():
    g = torch.Generator().manual_seed(0)
    mu_q, mu_p = torch.tensor([0.0, 0.3, -0.2, 0.05]).double(), torch.tensor([0.1, 0.0, -0.25, 0.05]).double()
    ls_q, ls_p = torch.tensor([-1.0, -3.0, 0.5, -6.0]).double(), torch.tensor([-1.5, -2.0, 0.0, -5.0]).double()
    x = mu_q + ls_q.exp() * torch.randn(400_000, 4, generator=g, dtype=torch.double)   # samples of q
    mc = (gaussian_nll(x, mu_p, ls_p) - gaussian_nll(x, mu_q, ls_q)).mean(0)          # E_q[log q - log p]
    exact = gaussian_kl(mu_q, ls_q, mu_p, ls_p)
    stderr = (gaussian_nll(x, mu_p, ls_p) - gaussian_nll(x, mu_q, ls_q)).std(0) / math.sqrt(len(x))
    assert torch.all((mc - exact).abs() < 5 * stderr + 1e-6), (mc, exact, stderr)
    assert torch.all(exact > 0) and float(gaussian_kl(mu_q, ls_q, mu_q, ls_q).abs().max()) < 1e-12


def test_distillation_kl_compares_sample_t_with_the_teachers_prediction_at_t_minus_1():
    mu_s, ls_s = torch.randn(2, 6), torch.randn(2, 6) * 0.1
    teacher = torch.stack([torch.roll(mu_s, -1, 1), torch.roll(ls_s, -1, 1)], -1)   # teacher[:, t] = student t+1
    kl, reg = distillation_kl(mu_s, ls_s, teacher, reg=4.0)
    assert float(kl) < 1e-7 and float(reg) < 1e-7
    kl2, reg2 = distillation_kl(mu_s, ls_s, teacher + torch.tensor([0.0, 0.5]), reg=4.0)
    assert float(reg2) == pytest.approx(4 * 0.25) and float(kl2) > 0.1


# ---------------------------------------------------------------- the student
def test_composed_gaussian_equals_the_flows_one_by_one():
    s = student().double()
    mel, z = torch.randn(2, 6, 80, dtype=torch.double), torch.randn(2, 96, dtype=torch.double)
    with torch.no_grad():
        x, mu_tot, ls_tot = s(mel, z, return_stats=True)
        c = s.conditioning(mel)
        xk, mus, sigmas = z, [], []
        for flow in s.flows:                      # stack the flows by hand
            mu, ls = flow(xk, c)
            xk = xk * ls.exp() + mu
            mus.append(mu)
            sigmas.append(ls.exp())
    k = len(mus)
    sigma_tot = math.prod(sigmas)
    mu_by_hand = sum(mus[i] * math.prod(sigmas[i + 1:], start=torch.ones_like(z)) for i in range(k))
    torch.testing.assert_close(x, xk, rtol=0, atol=1e-12)
    torch.testing.assert_close(ls_tot.exp(), sigma_tot, rtol=1e-10, atol=0)
    torch.testing.assert_close(mu_tot, mu_by_hand, rtol=0, atol=1e-12)
    torch.testing.assert_close(x, z * sigma_tot + mu_tot, rtol=0, atol=1e-12)
    # and the Jacobian dx/dz is lower triangular with sigma_tot on its diagonal: x_t | z_<t ~ N(mu_tot, sigma_tot^2)
    jac = torch.autograd.functional.jacobian(lambda zz: s(mel[:1], zz[None])[0], z[0])
    assert float(torch.triu(jac, 1).abs().max()) == 0.0
    torch.testing.assert_close(torch.diagonal(jac), sigma_tot[0], rtol=1e-10, atol=0)


def test_output_at_t_ignores_later_noise_and_one_parallel_pass():
    s = student()
    mel, z = torch.randn(1, 8, 80), torch.randn(1, 128)
    t0 = 50
    z2 = z.clone()
    z2[0, t0] += 1.0
    calls = []
    hooks = [f.register_forward_hook(lambda m, i, o: calls.append(i[0].shape[1])) for f in s.flows]
    with torch.enable_grad():
        a = s(mel, z, return_stats=True)
    for h in hooks:
        h.remove()
    assert calls == [128] * len(s.flows)            # each flow once, over every sample at once
    with torch.no_grad():
        b = s(mel, z2, return_stats=True)
    dx = (a[0].detach() - b[0]).abs()[0]
    assert float(dx[:t0].max()) == 0.0 and float(dx[t0]) > 0          # x_t depends on z_<=t only
    for u, v in zip(a[1:], b[1:]):                                     # its Gaussian on z_<t only
        assert float((u.detach() - v).abs()[0, : t0 + 1].max()) == 0.0
    assert float(dx[t0 + 1:].max()) > 0                                # and later samples hear it


def test_chunked_inference_equals_the_training_pass():
    s = student(layers=5)
    s.chunk = 100   # several chunks with receptive-field context
    mel, z = torch.randn(1, 30, 80), torch.randn(1, 480)
    with torch.no_grad():
        chunked = s(mel, z, return_stats=True)
    with torch.enable_grad():
        whole = s(mel, z, return_stats=True)
    for u, v in zip(chunked, whole):
        torch.testing.assert_close(u, v.detach(), rtol=0, atol=1e-6)
    with pytest.raises(ValueError, match="z must be"):
        s(mel, torch.randn(1, 479))


def test_distillation_from_an_analytic_teacher_learns_its_dynamics():
    """200 steps against an AR(1) teacher: the KL falls to ~0 and the student's samples take on the teacher's
    lag-1 correlation (0.9) and stationary spread (0.05 / sqrt(1 - 0.81))."""
    torch.manual_seed(0)
    s = build("iaf_student", hop_length=16, upsample_scales=[4, 4], flows=2, layers=6, channels=16)
    teacher, mel = AR1(), torch.zeros(2, 64, 80)
    z_val = torch.randn(4, 1024, generator=torch.Generator().manual_seed(1))
    opt = torch.optim.Adam(s.parameters(), lr=3e-3)

    def evaluate() -> tuple[float, float, float]:
        with torch.no_grad():
            out = distill_losses(s, teacher, torch.zeros(4, 64, 80), z=z_val, reg=0.0)
        x = out["wave"]
        return float(out["kl"]), float((x[:, 1:] * x[:, :-1]).mean() / x.pow(2).mean()), float(x.std())

    kl0, rho0, _ = evaluate()
    for _ in range(200):
        loss = distill_losses(s, teacher, mel, reg=0.0)["loss"]
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(s.parameters(), 1.0)
        opt.step()
    kl, rho, std = evaluate()
    assert kl0 > 1.0 and kl < 0.01 * kl0, (kl0, kl)
    assert abs(rho0) < 0.2 and rho == pytest.approx(0.9, abs=0.03)
    assert std == pytest.approx(0.05 / math.sqrt(1 - 0.81), rel=0.15)


# ---------------------------------------------------------------- the Gaussian teacher
def test_gaussian_wavenet_learns_a_sine_and_generates_from_the_cache():
    torch.manual_seed(0)
    net = build("wavenet", **{**TEACHER, "cond_dim": 0, "residual_channels": 16, "dilation_channels": 16,
                              "skip_channels": 16})
    wave = (0.5 * torch.sin(2 * math.pi * torch.arange(400) / 25))[None]
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, 300)
    with torch.no_grad():
        first = float(net.loss(wave))
    for _ in range(300):   # the NLL sharpens as sigma shrinks: clipped steps, decaying rate
        loss = net.loss(wave)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        sched.step()
    with torch.no_grad():
        last = float(net.loss(wave))
    assert first > 0.5 and last < -2.5, (first, last)   # nats per sample: sigma from ~1 to below ~0.02
    net.eval()
    out = net(wave)
    assert float(out[..., 1].min()) >= -7.0                   # the log-sigma floor
    inc = net.double().incremental_logits(wave.double())
    torch.testing.assert_close(inc, net(wave.double()), rtol=0, atol=1e-10)
    mean = net.generate(60, temperature=0.0)                  # the mean path follows the parallel pass
    seq = torch.cat([torch.zeros(1, 1, dtype=mean.dtype), mean], dim=1)
    torch.testing.assert_close(net(seq[:, :-1])[..., 0].clamp(-1, 1), mean, rtol=0, atol=1e-9)
    g = lambda: torch.Generator().manual_seed(5)   # noqa: E731
    assert torch.equal(net.generate(40, generator=g()), net.generate(40, generator=g()))
    assert not torch.equal(net.generate(40, generator=g()), mean[:, :40])


# ---------------------------------------------------------------- task, bundle, engine, CLI
def _teacher_bundle(path: Path, **kw) -> Path:
    from speechdl.pretrained.bundle import save_bundle

    torch.manual_seed(1)
    args = {**TEACHER, **kw}
    return save_bundle(path, task="vocoder", model={"name": "wavenet", "kwargs": args},
                       state_dict=build("wavenet", **args).state_dict(), frontend=VOCODER_FRONTEND.to_dict(),
                       post={"generation": "autoregressive", "temperature": 1.0, "seed": 0})


def test_teacher_must_be_a_gaussian_wavenet(tmp_path):
    from speechdl.tasks.vocoder.distill import VocoderDistillTask, load_teacher

    model = {"name": "iaf_student", "flows": 1, "layers": 2, "channels": 8}
    with pytest.raises(ConfigError, match="neither"):
        load_teacher(tmp_path / "nothing")
    with pytest.raises(ConfigError, match="not a Gaussian"):
        load_teacher(_teacher_bundle(tmp_path / "mulaw", output="mulaw"))
    with pytest.raises(ConfigError, match="hop"):
        VocoderDistillTask({**model, "hop_length": 16, "upsample_scales": [4, 4]},
                           teacher=str(_teacher_bundle(tmp_path / "t")))
    teacher = load_teacher(tmp_path / "t")
    assert not any(p.requires_grad for p in teacher.parameters()) and not teacher.training


def test_student_bundle_round_trip(tmp_path, monkeypatch, capsys):
    """speechdl train (a few steps of recipes/vocoder/student.yaml against a tiny teacher) -> export -> engine,
    pipeline and CLI; the teacher is not in the bundle and the seeded noise makes the output repeatable."""
    import speechdl
    from speechdl import audio
    from speechdl.cli import main
    from speechdl.tasks.vocoder import engine
    from speechdl.tasks.vocoder.export import export_run

    monkeypatch.chdir(ROOT)
    teacher = _teacher_bundle(tmp_path / "teacher")
    run = tmp_path / "run"
    code = main(["train", "recipes/vocoder/student.yaml", "--out", str(run), "trainer.progress_bar=false",
                 "trainer.max_epochs=1", "data.source=synthetic", "data.n=4", "data.segment=2048",
                 "data.val_segment=2048", "data.synthetic_clips=3", "trainer.batch_size=2", "model.flows=2",
                 "model.layers=3", "model.channels=8", f"task.teacher={teacher}"])
    assert code == 0
    b = export_run(run, tmp_path / "bundle")
    meta = json.loads((b / "bundle.json").read_text())
    assert meta["model"]["name"] == "iaf_student" and meta["post"] == {"generation": "parallel",
                                                                        "temperature": 1.0, "seed": 0}
    assert not any(k.startswith("teacher") for k in torch.load(b / "weights.pt", weights_only=True))
    voc = engine.load_vocoder(b)
    assert voc.parallel and voc.kind == "iaf_student"
    mel = np.random.default_rng(0).standard_normal((60, 80)).astype(np.float32)
    one = voc.synthesize(mel)
    assert one.shape == (60 * 256,) and np.isfinite(one).all() and np.array_equal(one, voc.synthesize(mel))
    old = engine.BLOCK_FRAMES
    engine.BLOCK_FRAMES = 20
    try:
        blocked = voc.synthesize(mel)
    finally:
        engine.BLOCK_FRAMES = old
    assert np.allclose(one, blocked, atol=1e-5)   # the noise is sliced with the blocks; context covers the field
    x, _ = audio.load(SAMPLE, sample_rate=16000)
    x = x[16000:24000]
    r = speechdl.load(b).run(x, audio=False, samples=True)
    assert r.kind == "iaf_student" and len(r.samples) == len(x)
    audio.save(tmp_path / "in.wav", x, 16000)
    assert main(["vocode", str(tmp_path / "in.wav"), "--out", str(tmp_path / "out.wav"), "--model", str(b),
                 "--format", "json"]) == 0
    rec = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert rec["duration"] == 0.5 and (tmp_path / "out.wav").exists()


def test_gaussian_teacher_bundle_vocodes_float_samples(tmp_path):
    from speechdl.tasks.vocoder.engine import load_vocoder

    voc = load_vocoder(_teacher_bundle(tmp_path / "t"))
    assert not voc.parallel and voc.kind == "wavenet"
    y = voc.synthesize(np.zeros((2, 80), np.float32), length=300)
    assert y.shape == (300,) and y.dtype == np.float32 and np.abs(y).max() <= 1.0
    assert np.array_equal(y, voc.synthesize(np.zeros((2, 80), np.float32), length=300))   # seeded

"""The ``gan`` task: adversarial training with manual optimisation (two optimizers, D then G each batch).

The recipe's ``model:`` is the **generator**; ``task.discriminator`` names the discriminator (registry
name + kwargs). The losses are :func:`speechdl.nn.gan.d_loss` / :func:`speechdl.nn.gan.g_loss`
(``loss: lsgan | hinge | bce``), the update order is that of :func:`speechdl.nn.gan.adversarial_step`
(D on a detached fake batch, then G through the updated D), written with ``manual_backward`` so that
mixed precision and DDP work.

Two modes:

* ``gan_mode: sample`` (default): G maps latent codes ``z ~ N(0, I)`` (``latent_dim``) to samples; real
  samples are the batch's ``x``. Quality metric: ``val_fd``, the Fréchet distance between Gaussians
  fitted to the real and generated validation samples (``|μr-μg|² + tr(Σr + Σg - 2(ΣrΣg)^½)``), also
  ``val_mean_dist``; ``val_loss`` is ``val_fd`` (so the best checkpoint is the best generator).
* ``gan_mode: enhance``: G maps the batch's ``x`` (noisy) to ``target`` (clean), SEGAN-style, with an L1
  term of weight ``recon_weight``; D is conditioned on ``x`` when ``conditional``. ``val_loss`` is the
  L1 error and ``val_snr_db`` the output SNR against the clean target.

Logged: ``train_d_loss``, ``train_g_loss``, ``train_recon``, ``d_real`` / ``d_fake`` (D's mean logits),
and ``val_d_loss`` / ``val_g_loss``. ``optim`` configures both optimizers; ``d_lr`` overrides D's rate.
Gradient clipping and accumulation are not available with manual optimisation (``trainer.grad_clip``
and ``trainer.accumulate`` must stay 0 / 1).

Example (recipe)::

    task: {name: gan, loss: lsgan, latent_dim: 4,
           discriminator: {name: mlp_discriminator, in_dim: 2, hidden: [32, 32]}}
    model: {name: mlp_generator, latent_dim: 4, out_dim: 2, hidden: [32, 32]}
    data: {name: toy_gaussian, dim: 2}
"""

from __future__ import annotations

from typing import Any

import torch

from speechdl.errors import ConfigError
from speechdl.train.optim import build_optimizer, build_scheduler
from speechdl.train.tasks import TaskModule, register_task

__all__ = ["GANTask", "frechet_distance"]


def _sqrtm_psd(m: torch.Tensor) -> torch.Tensor:
    vals, vecs = torch.linalg.eigh((m + m.T) / 2)
    return vecs @ torch.diag(vals.clamp_min(0).sqrt()) @ vecs.T


def frechet_distance(real: torch.Tensor, fake: torch.Tensor) -> float:
    """Fréchet distance between Gaussians fitted to two sample sets ``(N, D)`` and ``(M, D)`` (0 = same μ, Σ)."""
    real, fake = real.double().reshape(len(real), -1), fake.double().reshape(len(fake), -1)
    mu_r, mu_f = real.mean(0), fake.mean(0)
    cov_r = torch.atleast_2d(torch.cov(real.T))
    cov_f = torch.atleast_2d(torch.cov(fake.T))
    root = _sqrtm_psd(cov_r)
    cross = _sqrtm_psd(root @ cov_f @ root)
    return float((mu_r - mu_f).pow(2).sum() + torch.trace(cov_r + cov_f - 2 * cross))


class TwoOptimizerSchedules:
    """Mixin of adversarial tasks with manual optimisation: a generator (``self.model``) and a
    ``self.discriminator``, each with the recipe's optimizer (the discriminator at ``self.d_lr`` when set) and
    the recipe's schedule, stepped per step or per epoch as the schedule says. ``task_label`` names the task
    in errors."""

    task_label = "gan"

    def on_train_epoch_end(self) -> None:
        for sched in self._schedulers("epoch"):
            sched.step()

    def _schedulers(self, interval: str) -> list:
        scheds = self.lr_schedulers()
        if scheds is None:
            return []
        scheds = scheds if isinstance(scheds, list) else [scheds]
        return scheds if self._sched_interval == interval else []

    def configure_optimizers(self):
        opt_g = build_optimizer(self.model.parameters(), self.optim_cfg)
        d_cfg = {**self.optim_cfg, **({"lr": self.d_lr} if self.d_lr else {})}
        opt_d = build_optimizer(self.discriminator.parameters(), d_cfg)
        if self.sched_cfg.get("name", "none") == "plateau":
            raise ConfigError(f"task {self.task_label!r}",
                              "the plateau schedule needs a monitored metric per optimizer",
                              "use cosine, warmup_linear, step or exponential")
        total = int(self.trainer.estimated_stepping_batches) if self._trainer is not None else 1
        scheds = [build_scheduler(o, self.sched_cfg, total) for o in (opt_g, opt_d)]
        self._sched_interval = scheds[0]["interval"] if scheds[0] else "none"
        if scheds[0] is None:
            return [opt_g, opt_d]
        return [opt_g, opt_d], [s["scheduler"] for s in scheds]


@register_task("gan")
class GANTask(TwoOptimizerSchedules, TaskModule):
    """Generator (``model:``) and discriminator (``task.discriminator``) trained adversarially.

    Args (recipe ``task:`` keys):
        discriminator: ``{name: registry name, **kwargs}`` of D.
        loss: ``lsgan`` | ``hinge`` | ``bce``.
        gan_mode: ``sample`` (latent -> sample) or ``enhance`` (``x`` -> ``target``).
        latent_dim: size of z in ``sample`` mode (default: the generator's ``latent_dim``).
        recon_weight: L1 weight in ``enhance`` mode (SEGAN: 100). conditional: D sees ``x`` too.
        d_lr: D's learning rate (default ``optim.lr``). d_steps: D updates per G update.
    """

    def __init__(self, model, optim=None, scheduler=None, monitor="val_loss", mode="min", *,
                 discriminator: dict[str, Any] | None = None, loss: str = "lsgan", gan_mode: str = "sample",
                 latent_dim: int | None = None, recon_weight: float = 0.0, conditional: bool = False,
                 d_lr: float | None = None, d_steps: int = 1) -> None:
        super().__init__(model, optim, scheduler, monitor, mode)
        from speechdl.nn import build
        from speechdl.nn.gan import LOSS_KINDS

        if not discriminator or "name" not in discriminator:
            raise ConfigError("task 'gan'", "discriminator missing",
                              "add task.discriminator: {name: mlp_discriminator, in_dim: ...}")
        if loss not in LOSS_KINDS:
            raise ConfigError("task.loss", f"unknown GAN loss {loss!r}", f"choose one of: {', '.join(LOSS_KINDS)}")
        if gan_mode not in ("sample", "enhance"):
            raise ConfigError("task.gan_mode", f"expected sample or enhance, got {gan_mode!r}", "fix the recipe")
        if d_steps < 1:
            raise ConfigError("task.d_steps", f"expected >= 1, got {d_steps}", "fix the recipe")
        self.automatic_optimization = False
        self.discriminator = build(discriminator["name"], **{k: v for k, v in discriminator.items() if k != "name"})
        self.loss_kind, self.gan_mode, self.recon_weight = loss, gan_mode, recon_weight
        self.conditional, self.d_lr, self.d_steps = conditional, d_lr, d_steps
        self.latent_dim = latent_dim or getattr(self.model, "latent_dim", None)
        if gan_mode == "sample" and not self.latent_dim:
            raise ConfigError("task 'gan'", "latent_dim unknown", "set task.latent_dim")
        self._sched_interval = "none"
        self._real: list[torch.Tensor] = []
        self._fake: list[torch.Tensor] = []

    # -- pieces ------------------------------------------------------------------------------------
    def generate(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` samples from latent codes (``sample`` mode): ``(n, ...)`` like the real data."""
        z = torch.randn(n, self.latent_dim, generator=generator).to(self.device)
        return self.model(z)

    def _inputs(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """(real, generator input, D condition) of a batch."""
        if self.gan_mode == "sample":
            real = batch["x"].float()
            z = torch.randn(real.shape[0], self.latent_dim, device=real.device, dtype=real.dtype)
            return real, z, None
        if "target" not in batch:
            raise ConfigError("task 'gan' (enhance)", "batches have no 'target'", "use a dataset of x/target pairs")
        return batch["target"].float(), batch["x"].float(), batch["x"].float() if self.conditional else None

    def _disc(self, x: torch.Tensor, cond: torch.Tensor | None) -> torch.Tensor:
        return self.discriminator(x) if cond is None else self.discriminator(x, cond)

    # -- training ----------------------------------------------------------------------------------
    def on_fit_start(self) -> None:
        t = self.trainer
        if t.gradient_clip_val or t.accumulate_grad_batches != 1:
            raise ConfigError("task 'gan'", "trainer.grad_clip / trainer.accumulate do not apply to manual "
                              "(two-optimizer) training", "set trainer.grad_clip=0 trainer.accumulate=1")

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        from speechdl.nn.gan import d_loss, g_loss

        opt_g, opt_d = self.optimizers()
        real, gen_in, cond = self._inputs(batch)
        # discriminator: real vs a detached generated batch
        for _ in range(self.d_steps):
            fake = self.model(gen_in)
            real_logits, fake_logits = self._disc(real, cond), self._disc(fake.detach(), cond)
            ld = d_loss(real_logits, fake_logits, self.loss_kind)
            opt_d.zero_grad(set_to_none=True)
            self.manual_backward(ld)
            opt_d.step()
            if self.gan_mode == "sample" and self.d_steps > 1:
                gen_in = torch.randn_like(gen_in)
        # generator: fool the updated discriminator (D's gradients are computed but discarded)
        self.toggle_optimizer(opt_g)
        lg = g_loss(self._disc(fake, cond), self.loss_kind)
        recon = (fake - real).abs().mean() if self.recon_weight > 0 else torch.zeros((), device=fake.device)
        opt_g.zero_grad(set_to_none=True)
        self.manual_backward(lg + self.recon_weight * recon)
        opt_g.step()
        self.untoggle_optimizer(opt_g)
        for sched in self._schedulers("step"):
            sched.step()
        n = len(real)
        self.log("train_loss", ld.detach() + lg.detach(), on_step=True, on_epoch=True, batch_size=n, sync_dist=True)
        for name, val in (("d_loss", ld), ("g_loss", lg), ("recon", recon), ("d_real", real_logits.mean()),
                          ("d_fake", fake_logits.mean())):
            self.log(f"train_{name}", val.detach(), on_step=False, on_epoch=True, prog_bar=name.endswith("loss"),
                     batch_size=n, sync_dist=True)

    # -- validation --------------------------------------------------------------------------------
    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        from speechdl.nn.gan import d_loss, g_loss

        real, gen_in, cond = self._inputs(batch)
        fake = self.model(gen_in)
        real_logits, fake_logits = self._disc(real, cond), self._disc(fake, cond)
        n = len(real)
        self.log("val_d_loss", d_loss(real_logits, fake_logits, self.loss_kind), batch_size=n, sync_dist=True)
        self.log("val_g_loss", g_loss(fake_logits, self.loss_kind), batch_size=n, sync_dist=True)
        if self.gan_mode == "enhance":
            err = fake - real
            self.log("val_loss", err.abs().mean(), batch_size=n, prog_bar=True, sync_dist=True)
            snr = 10 * torch.log10(real.pow(2).sum().clamp_min(1e-12) / err.pow(2).sum().clamp_min(1e-12))
            self.log("val_snr_db", snr, batch_size=n, sync_dist=True)
        else:
            self._real.append(real.detach().cpu())
            self._fake.append(fake.detach().cpu())

    def on_validation_epoch_start(self) -> None:
        self._real, self._fake = [], []

    def on_validation_epoch_end(self) -> None:
        if self.gan_mode != "sample" or not self._real:
            return
        real, fake = torch.cat(self._real), torch.cat(self._fake)
        fd = frechet_distance(real, fake)
        mean_dist = float((real.mean(0) - fake.mean(0)).norm())
        self.log("val_fd", fd, sync_dist=True)
        self.log("val_mean_dist", mean_dist, sync_dist=True)
        self.log("val_loss", fd, prog_bar=True, sync_dist=True)

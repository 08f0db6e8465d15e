"""MetricGAN training (task ``enhance_metricgan``): a mask generator and a learned PESQ judge.

Why MetricGAN and not SEGAN: SEGAN's generator is a strided waveform encoder-decoder of tens of
millions of multiply-adds per sample, trained for days on GPUs; it does not train on two shared CPU
cores, and it cannot stream. MetricGAN (Fu et al. 2019, MetricGAN+ 2021) keeps any mask generator
(here the causal :class:`~speechdl.nn.enhance.BandGRU`, so the result still streams at 20 ms) and
replaces the fixed loss by a discriminator :class:`~speechdl.nn.enhance.MetricDiscriminator` that
learns to predict the *normalised wide-band PESQ* ``(PESQ - 1) / 3.5`` of an (enhanced, clean) pair;
the generator is then pushed towards the score 1 through that differentiable judge.

Each batch: (1) PESQ of the generator's outputs and of the noisy inputs against the clean targets
(numpy, the ``pesq`` package); (2) the discriminator learns ``D(clean, clean) = 1``,
``D(enhanced, clean) = q_enh``, ``D(noisy, clean) = q_noisy`` (MetricGAN+ adds the noisy pairs);
(3) the generator minimises ``adversarial * (D(G(x), clean) - 1)^2`` plus ``spectral`` times the
supervised spectral loss of :mod:`speechdl.tasks.enhance.train` (an anchor: the judge alone drifts early
on). Recipe ``init_from`` starts the generator from a trained ``enhance_gru`` run. Validation logs the
supervised ``val_loss``, ``val_si_sdr`` / ``val_si_sdri`` and ``val_pesq`` (mean wide-band PESQ).

Example:
    >>> normalised_pesq(np.ones(1000, np.float32), np.zeros(1000, np.float32)) is None
    True
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from speechdl.metrics.quality import si_sdr
from speechdl.tasks.enhance.train import spectral_loss
from speechdl.train.optim import build_optimizer
from speechdl.train.tasks import TaskModule, register_task


def normalised_pesq(clean: np.ndarray, other: np.ndarray, sample_rate: int = 16000) -> float | None:
    """``(PESQ_wb - 1) / 3.5`` clipped to [0, 1], or None when PESQ refuses the pair (no speech found)."""
    from pesq import pesq

    try:
        return float(np.clip((pesq(sample_rate, clean, other, "wb") - 1.0) / 3.5, 0.0, 1.0))
    except Exception:   # noqa: BLE001  (pesq raises its own errors for silent / too short signals)
        return None


@register_task("enhance_metricgan")
class MetricGANTask(TaskModule):
    """Generator (``model:``) + PESQ-predicting discriminator (``task.discriminator``), manual optimisation.

    Task keys: ``discriminator`` (registry name + kwargs), ``adversarial`` / ``spectral`` (generator loss
    weights), ``d_lr`` (discriminator learning rate; default the recipe's ``optim.lr``), ``d_warmup``
    (batches in which only the discriminator learns).
    """

    def __init__(self, model, optim=None, scheduler=None, monitor="val_loss", mode="min", *,
                 discriminator: dict[str, Any] | None = None, adversarial: float = 1.0, spectral: float = 0.2,
                 d_lr: float | None = None, d_warmup: int = 0) -> None:
        super().__init__(model, optim, scheduler, monitor, mode)
        from speechdl.nn import build

        spec = dict(discriminator or {"name": "metric_discriminator"})
        self.disc = build(spec.pop("name"), **spec)
        self.adversarial, self.spectral, self.d_lr, self.d_warmup = adversarial, spectral, d_lr, int(d_warmup)
        self.register_buffer("d_steps", torch.zeros((), dtype=torch.long))   # in the checkpoint: warm-up resumes
        self.automatic_optimization = False

    def configure_optimizers(self):
        g = build_optimizer(self.model.parameters(), self.optim_cfg)
        d = build_optimizer(self.disc.parameters(), {**self.optim_cfg, **({"lr": self.d_lr} if self.d_lr else {})})
        return [g, d]

    def on_fit_start(self) -> None:
        super().on_fit_start()
        if self.trainer.ckpt_path is None and not getattr(self, "init_from", None):
            from speechdl.tasks.enhance.train import EnhanceTask

            data = getattr(getattr(self.trainer, "datamodule", None), "train_set", None)
            if data is not None:
                EnhanceTask.fit_norm(self, data)   # same measurement as the supervised task

    norm_items = 64

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """Noisy ``(B, N)`` -> enhanced ``(B, N)``."""
        return self.model(x)

    def _mag(self, wave: torch.Tensor) -> torch.Tensor:
        re, im = self.model.analysis(wave)
        return (re * re + im * im + 1e-10).sqrt()

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        g_opt, d_opt = self.optimizers()
        x, y = batch["x"], batch["target"]
        est = self.model(x)
        yn, en, xn = (t.detach().cpu().numpy().astype(np.float64) for t in (y, est, x))
        q_e = [normalised_pesq(a, b) for a, b in zip(yn, en)]
        q_n = [normalised_pesq(a, b) for a, b in zip(yn, xn)]
        keep = [i for i in range(len(q_e)) if q_e[i] is not None and q_n[i] is not None]
        mag_y, mag_x = self._mag(y), self._mag(x)
        d_loss = torch.zeros((), device=x.device)
        if keep:   # the judge: clean pairs score 1, enhanced and noisy pairs their measured PESQ
            k = torch.tensor(keep, device=x.device)
            qe = torch.tensor([q_e[i] for i in keep], dtype=x.dtype, device=x.device)
            qn = torch.tensor([q_n[i] for i in keep], dtype=x.dtype, device=x.device)
            mag_e = self._mag(est.detach())[k]
            d_loss = (torch.mean((self.disc(mag_y[k], mag_y[k]) - 1) ** 2)
                      + torch.mean((self.disc(mag_e, mag_y[k]) - qe) ** 2)
                      + torch.mean((self.disc(mag_x[k], mag_y[k]) - qn) ** 2))
            d_opt.zero_grad()
            self.manual_backward(d_loss)
            d_opt.step()
            self.d_steps += 1
        n = len(x)
        self.log("train_d_loss", d_loss.detach(), on_step=False, on_epoch=True, batch_size=n)
        if keep:
            self.log("train_pesq_norm", float(np.mean([q_e[i] for i in keep])), on_step=False, on_epoch=True,
                     batch_size=n)
        if int(self.d_steps) <= self.d_warmup:   # the judge learns first: a random judge misleads the generator
            return d_loss.detach()
        g_adv = torch.mean((self.disc(self._mag(est), mag_y) - 1) ** 2)
        g_loss = self.adversarial * g_adv + self.spectral * 100 * spectral_loss(self.model, est, y)
        g_opt.zero_grad()
        self.manual_backward(g_loss)
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        g_opt.step()
        self.log("train_loss", g_loss.detach(), on_step=True, on_epoch=True, prog_bar=True, batch_size=n)
        return g_loss.detach()

    def compute(self, batch, stage):
        x, y = batch["x"], batch["target"]
        est = self(x)
        sdr = si_sdr(y, est)
        loss = 100 * spectral_loss(self.model, est, y)
        metrics: dict[str, Any] = {"si_sdr": sdr.mean(), "si_sdri": (sdr - si_sdr(y, x)).mean()}
        if stage == "val":
            q = [normalised_pesq(a, b) for a, b in zip(y.double().cpu().numpy(), est.double().cpu().numpy())]
            q = [v for v in q if v is not None]
            if q:
                metrics["pesq"] = torch.tensor(1.0 + 3.5 * float(np.mean(q)))
        return loss, metrics

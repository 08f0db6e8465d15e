"""The ``vocoder_gan`` training task: HiFi-GAN's generator against multi-period + multi-scale discriminators.

Batches ``{"x": mel (B, T, 80), "target": wave (B, T * hop)}`` (dataset ``vocoder_segments``, ``output: gan``).
Each step, as in the paper: the discriminator on real vs a detached fake (least squares), then the generator on
``mel_weight * L1(mel(fake), mel(real)) + fm_weight * feature matching + adversarial``. ``adv_start`` steps of
mel loss alone come first (the discriminators wait: a cheap head start on a CPU). ``val_loss`` is the mel L1
of the validation crops (the supervised measure the best checkpoint is chosen by); ``val_d_loss``,
``val_g_adv`` are logged too. ``optim`` configures both optimizers (the paper: adamw, lr 2e-4, betas 0.8, 0.99,
exponential decay 0.999 per epoch); ``d_lr`` overrides the discriminators' rate.

Example:
    >>> import torch
    >>> task = VocoderGANTask({"name": "hifigan", "upsample_rates": [8, 8, 4], "upsample_kernel_sizes": [16, 16, 8],
    ...                        "upsample_initial_channel": 16, "resblock_kernel_sizes": [3],
    ...                        "resblock_dilation_sizes": [[1, 2]]}, discriminator={"width": 0.0625})
    >>> batch = {"x": torch.randn(2, 4, 80), "target": torch.randn(2, 1024) * 0.1}
    >>> losses = task.losses(batch)
    >>> sorted(losses), bool(losses["mel"] > 0)
    (['adv', 'd', 'fm', 'mel'], True)
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from speechdl.errors import ConfigError
from speechdl.train.tasks import TaskModule, register_task
from speechdl.train.tasks_generative import TwoOptimizerSchedules


@register_task("vocoder_gan")
class VocoderGANTask(TwoOptimizerSchedules, TaskModule):
    """HiFi-GAN training (``model:`` the generator; ``task.discriminator`` the D's kwargs).

    Args (recipe ``task:`` keys):
        discriminator: kwargs of ``hifigan_discriminator`` (``periods``, ``scales``, ``width``).
        mel_weight, fm_weight, adv_weight: loss weights (paper: 45, 2, 1).
        adv_start: optimizer steps of mel loss alone before the adversarial losses start.
        d_lr: the discriminators' learning rate (default ``optim.lr``).
    """

    task_label = "vocoder_gan"

    def __init__(self, model, optim=None, scheduler=None, monitor="val_loss", mode="min", *,
                 discriminator: dict[str, Any] | None = None, mel_weight: float = 45.0, fm_weight: float = 2.0,
                 adv_weight: float = 1.0, adv_start: int = 0, d_lr: float | None = None) -> None:
        super().__init__(model, optim, scheduler, monitor, mode)
        from speechdl.nn import build

        if not hasattr(self.model, "hop_length") or not hasattr(self.model, "n_mels"):
            raise ConfigError(f"model {model['name']!r}", "is not a mel -> waveform generator",
                              "use model: {name: hifigan, ...}")
        d = dict(discriminator or {})
        d.pop("name", None)
        self.discriminator = build("hifigan_discriminator", **d)
        self.w_mel, self.w_fm, self.w_adv = float(mel_weight), float(fm_weight), float(adv_weight)
        self.adv_start, self.d_lr = int(adv_start), d_lr
        self.automatic_optimization = False
        self._sched_interval = "none"

    def forward(self, mel: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:  # type: ignore[override]
        """Mel ``(B, T, 80)`` -> waveform ``(B, T * hop)``."""
        return self.model(mel)

    def mel_l1(self, fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
        """L1 distance of the log-Mel frames of two waveforms ``(B, N)`` (the vocoder front-end)."""
        from speechdl.tasks.vocoder.frontend import batch_mel

        return F.l1_loss(batch_mel(fake), batch_mel(real))

    def losses(self, batch: dict[str, torch.Tensor], adversarial: bool = True) -> dict[str, torch.Tensor]:
        """Every loss term of a batch without stepping: ``d`` (discriminators), ``mel``, ``fm``, ``adv``."""
        from speechdl.nn.hifigan import discriminator_loss, feature_matching_loss, generator_adv_loss

        real = batch["target"].float()
        fake = self.model(batch["x"].float())[:, : real.shape[1]]
        out = {"mel": self.mel_l1(fake, real)}
        if adversarial:
            real_logits, real_feats = self.discriminator(real)
            fake_logits_d, _ = self.discriminator(fake.detach())
            out["d"] = discriminator_loss(real_logits, fake_logits_d)
            fake_logits, fake_feats = self.discriminator(fake)
            out["fm"] = feature_matching_loss(real_feats, fake_feats)
            out["adv"] = generator_adv_loss(fake_logits)
        return out

    def on_fit_start(self) -> None:
        t = self.trainer
        if t.gradient_clip_val or t.accumulate_grad_batches != 1:
            raise ConfigError("task 'vocoder_gan'", "trainer.grad_clip / trainer.accumulate do not apply to manual "
                              "(two-optimizer) training", "set trainer.grad_clip=0 trainer.accumulate=1")

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        from speechdl.nn.hifigan import discriminator_loss, feature_matching_loss, generator_adv_loss

        opt_g, opt_d = self.optimizers()
        real = batch["target"].float()
        fake = self.model(batch["x"].float())[:, : real.shape[1]]
        adversarial = self.global_step // 2 >= self.adv_start   # two optimizers: global_step counts both
        n = len(real)
        zero = torch.zeros((), device=real.device)
        ld = lfm = ladv = zero
        if adversarial:
            real_logits, _ = self.discriminator(real)
            fake_logits, _ = self.discriminator(fake.detach())
            ld = discriminator_loss(real_logits, fake_logits)
            opt_d.zero_grad(set_to_none=True)
            self.manual_backward(ld)
            opt_d.step()
        self.toggle_optimizer(opt_g)
        lmel = self.mel_l1(fake, real)
        loss = self.w_mel * lmel
        if adversarial:
            _, real_feats = self.discriminator(real)
            fake_logits, fake_feats = self.discriminator(fake)
            lfm, ladv = feature_matching_loss(real_feats, fake_feats), generator_adv_loss(fake_logits)
            loss = loss + self.w_fm * lfm + self.w_adv * ladv
        opt_g.zero_grad(set_to_none=True)
        self.manual_backward(loss)
        opt_g.step()
        self.untoggle_optimizer(opt_g)
        if not adversarial:   # keep the two optimizers' step counts (and schedules) together
            opt_d.zero_grad(set_to_none=True)
            opt_d.step()
        for sched in self._schedulers("step"):
            sched.step()
        self.log("train_loss", loss.detach(), on_step=True, on_epoch=True, prog_bar=True, batch_size=n, sync_dist=True)
        for name, val in (("mel", lmel), ("fm", lfm), ("adv", ladv), ("d_loss", ld)):
            self.log(f"train_{name}", val.detach(), on_step=False, on_epoch=True, batch_size=n, sync_dist=True)

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        losses = self.losses(batch)
        n = len(batch["x"])
        self.log("val_loss", losses["mel"], batch_size=n, prog_bar=True, sync_dist=True)
        self.log("val_mel_l1", losses["mel"], batch_size=n, sync_dist=True)
        self.log("val_d_loss", losses["d"], batch_size=n, sync_dist=True)
        self.log("val_g_adv", losses["adv"], batch_size=n, sync_dist=True)

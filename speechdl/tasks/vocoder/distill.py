"""The ``vocoder_distill`` training task: a parallel IAF student (``iaf_student``) distilled from a frozen Gaussian
WaveNet teacher (``wavenet`` with ``output: gaussian``), ClariNet style (Ping, Peng and Chen 2019).

Batches ``{"x": mel (B, T, 80), "target": wave (B, T * hop)}`` (dataset ``vocoder_segments``, ``output: gan``).
Each step (:func:`distill_losses`): noise ``z ~ N(0, I)`` ``(B, T * hop)``; the student maps (mel, z) to a
waveform ``x`` in one parallel pass, with its Gaussian ``(μ_s, log σ_s)`` of every sample given the past noise;
the frozen teacher runs teacher-forced, in parallel, on ``x`` (same mel) and gives ``(μ_t, log σ_t)`` of every
next sample; the loss is ``kl_weight * (KL + reg * (log σ_s - log σ_t)²)`` (the closed-form per-sample KL of two
Gaussians, ClariNet's regularised form) ``+ stft_weight *`` the multi-resolution STFT magnitude loss of ``x``
against the real crop. The gradient reaches the student through the teacher's input too; the teacher's
weights never change. ``val_loss`` is the same total with a fixed noise per validation batch; ``val_mel_l1`` is
the mel L1 of HiFi-GAN's ``val_loss`` (so the two vocoders compare).

``task.teacher``: a ``vocoder`` bundle of a Gaussian WaveNet (``speechdl vocode export``) or its training run
directory (the best checkpoint). Its hop and mel bands must be the student's. It stays in eval mode (Lightning's
warning about modules in eval mode at the start of training counts the teacher's: intended).

Example:
    >>> import torch
    >>> from speechdl.nn import build
    >>> student = build("iaf_student", hop_length=16, upsample_scales=[4, 4], flows=2, layers=2, channels=8)
    >>> teacher = build("wavenet", output="gaussian", residual_channels=8, dilation_channels=8, skip_channels=8,
    ...                 layers=3, stacks=1, cond_dim=80, hop_length=16)
    >>> out = distill_losses(student, teacher, torch.randn(2, 80, 80), torch.randn(2, 1280) * 0.1)
    >>> sorted(out), tuple(out["wave"].shape)
    (['kl', 'log_sigma', 'loss', 'reg', 'stft', 'wave'], (2, 1280))
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from speechdl.errors import ConfigError
from speechdl.train.tasks import TaskModule, register_task


def distill_losses(student: torch.nn.Module, teacher: torch.nn.Module, mel: torch.Tensor,
                   target: torch.Tensor | None = None, z: torch.Tensor | None = None, *, reg: float = 4.0,
                   kl_weight: float = 1.0, stft_weight: float = 1.0,
                   generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
    """Every term of one distillation step (see the module docstring).

    Args:
        student: mel ``(B, T, F)`` (+ z) -> ``(x, μ_s, log σ_s)`` with ``return_stats=True``.
        teacher: ``teacher(x, mel)`` -> ``(B, N, 2)`` (μ, log σ) where ``[:, t]`` is about sample t + 1.
        mel: ``(B, T, F)``. target: the real waveform ``(B, >= N)`` (None: no STFT term). z: noise ``(B, N)``
            (None: drawn with ``generator``).
    Returns ``{"loss", "kl", "reg", "stft" (when a target is given), "log_sigma" (student's mean), "wave" (x)}``.
    """
    from speechdl.nn.iaf_student import distillation_kl
    from speechdl.nn.stft_loss import stft_magnitude_loss

    x, mu_s, log_sigma_s = student(mel, z, generator=generator, return_stats=True)
    kl, reg_term = distillation_kl(mu_s, log_sigma_s, teacher(x, mel), reg)
    out = {"kl": kl, "reg": reg_term, "log_sigma": log_sigma_s.mean().detach(), "wave": x}
    loss = kl_weight * (kl + reg_term)
    if target is not None and stft_weight > 0:
        out["stft"] = stft_magnitude_loss(x, target[:, : x.shape[1]].to(x.dtype))
        loss = loss + stft_weight * out["stft"]
    out["loss"] = loss
    return out


def load_teacher(path: str | os.PathLike) -> torch.nn.Module:
    """A frozen (eval, no gradients to its weights) Gaussian WaveNet from a vocoder bundle or a ``wavenet`` run."""
    p = Path(os.path.expandvars(str(path)))
    if (p / "bundle.json").is_file():
        from speechdl.pretrained.bundle import load_model

        _, model = load_model(p, "vocoder")
    elif (p / "config.yaml").is_file():
        from speechdl.pretrained.export import load_run

        model = load_run(p, ("wavenet",)).model
    else:
        raise ConfigError("task.teacher", f"{path} is neither a vocoder bundle nor a training run",
                          "train recipes/vocoder/wavenet_gaussian.yaml first, or pass its bundle")
    if getattr(model, "output", None) != "gaussian":
        raise ConfigError("task.teacher", f"{path} is not a Gaussian WaveNet",
                          "distil from a teacher trained with model.output: gaussian")
    for q in model.parameters():
        q.requires_grad_(False)
    return model.eval()


@register_task("vocoder_distill")
class VocoderDistillTask(TaskModule):
    """Probability density distillation of a Gaussian WaveNet into a parallel IAF student (``model:``).

    Args (recipe ``task:`` keys):
        teacher: the teacher's bundle or run directory (see the module docstring).
        reg: weight of ClariNet's ``(log σ_s - log σ_t)²`` term (paper: 4). kl_weight, stft_weight: loss weights.
    """

    def __init__(self, model, optim=None, scheduler=None, monitor="val_loss", mode="min", *,
                 teacher: str = "runs/vocoder/wavenet_gaussian_joe", reg: float = 4.0, kl_weight: float = 1.0,
                 stft_weight: float = 1.0) -> None:
        super().__init__(model, optim, scheduler, monitor, mode)
        if not hasattr(self.model, "flows") or not hasattr(self.model, "hop_length"):
            raise ConfigError(f"model {model['name']!r}", "is not a flow student", "use model: {name: iaf_student}")
        self.teacher = load_teacher(teacher)
        hop, mels = getattr(self.teacher, "hop_length", None), getattr(self.teacher, "cond_dim", None)
        if hop != self.model.hop_length or mels != self.model.n_mels:
            raise ConfigError("task.teacher", f"hop {hop} / mel bands {mels} differ from the student's "
                              f"({self.model.hop_length} / {self.model.n_mels})", "distil with the teacher's front-end")
        self.reg, self.kl_weight, self.stft_weight = float(reg), float(kl_weight), float(stft_weight)
        self._val_generator: torch.Generator | None = None
        # the teacher's weights have requires_grad=False: the optimizer (over all parameters) never moves them

    def train(self, mode: bool = True) -> VocoderDistillTask:
        """Train mode for the student only: the teacher stays in eval mode."""
        super().train(mode)
        self.teacher.eval()
        return self

    def forward(self, mel: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:  # type: ignore[override]
        """Mel ``(B, T, 80)`` -> the student's waveform ``(B, T * hop)`` (fresh noise)."""
        return self.model(mel)

    def compute(self, batch: dict[str, torch.Tensor], stage: str) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        mel, target = batch["x"].float(), batch["target"].float()
        gen = self._val_generator if stage == "val" else None
        out = distill_losses(self.model, self.teacher, mel, target, reg=self.reg, kl_weight=self.kl_weight,
                             stft_weight=self.stft_weight, generator=gen)
        metrics = {k: out[k].detach() for k in ("kl", "reg", "stft", "log_sigma") if k in out}
        if stage == "val":
            from speechdl.tasks.vocoder.frontend import batch_mel

            x = out["wave"].detach()
            metrics["mel_l1"] = (batch_mel(x) - batch_mel(target[:, : x.shape[1]])).abs().mean()
        return out["loss"], metrics

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        self._val_generator = torch.Generator().manual_seed(int(batch_idx))   # the same noise every epoch
        return super().validation_step(batch, batch_idx)

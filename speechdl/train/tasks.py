"""Task registry and the generic tasks ``classify``, ``regress`` and ``reconstruct``.

A task is a :class:`TaskModule` (a ``LightningModule``) that builds its model from the
architecture registry, computes a loss and metrics from a batch, and configures optimizer and
schedule from the recipe. Adding one is one decorated class::

    @register_task("my_task")
    class MyTask(TaskModule):
        def __init__(self, model, optim=None, scheduler=None, monitor="val_loss", mode="min", *, alpha=1.0):
            super().__init__(model, optim, scheduler, monitor, mode)
            self.alpha = alpha

        def compute(self, batch, stage):          # -> (loss, {"metric": tensor})
            out = self(batch["x"], batch.get("lengths"))
            return self.alpha * out.pow(2).mean(), {}

Its keyword-only arguments are the recipe's ``task:`` keys (checked before training starts).
If the model defines ``penalty()`` (L1/L2 weight penalties) it is added to the training loss.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from typing import Any

import lightning as L
import torch
import torch.nn.functional as F

from speechdl.catalog import TRAIN_TASKS
from speechdl.errors import ConfigError
from speechdl.nn._parts import main_output  # noqa: F401  (re-exported: tasks use it)
from speechdl.registry import Registry
from speechdl.train.optim import build_optimizer, build_scheduler
from speechdl.train.tasks_pretrain import check_pretrain

_TASKS = Registry("task", lazy=TRAIN_TASKS)
BASE_ARGS = ("model", "optim", "scheduler", "monitor", "mode")


def register_task(name: str) -> Callable[[type], type]:
    """Class decorator: make a :class:`TaskModule` subclass usable as ``task: {name: <name>}``."""
    return _TASKS.register(name)


def available_tasks() -> list[str]:
    """Registered task names."""
    return _TASKS.names()


def task_class(name: str) -> type[TaskModule]:
    """The class registered as ``name`` (ConfigError listing the valid names if unknown)."""
    return _TASKS.get(name)


def check_task_kwargs(name: str, kwargs: dict[str, Any]) -> None:
    """ConfigError if the recipe's ``task:`` keys do not fit the task's constructor."""
    from speechdl.nn.registry import check_kwargs

    cls = task_class(name)
    reserved = sorted(set(kwargs) & set(BASE_ARGS))
    if reserved:
        raise ConfigError(f"task {name!r}", f"{reserved[0]} is set by its own recipe section",
                          "move it out of task:")
    check_kwargs(cls.__init__, {**dict.fromkeys(BASE_ARGS), **kwargs}, f"task {name!r}")


def frame_mask(lengths: torch.Tensor | None, t: int, device=None) -> torch.Tensor | None:
    """(B, T) bool mask of valid frames, or None without lengths."""
    if lengths is None:
        return None
    return torch.arange(t, device=device or lengths.device)[None, :] < lengths[:, None]


class TaskModule(L.LightningModule):
    """Base of every task: model from the registry, optimizer + schedule, logging.

    Args:
        model: ``{"name": registry name, **constructor kwargs}``.
        optim / scheduler: :class:`OptimConfig` / :class:`SchedulerConfig` fields as dicts.
        monitor / mode: the metric that drives the ``plateau`` schedule.

    ``init_from`` is the weights file a fresh run started from (recipe ``init_from``), else None.
    """

    init_from: str | None = None

    def __init__(self, model: dict[str, Any], optim: dict[str, Any] | None = None,
                 scheduler: dict[str, Any] | None = None, monitor: str = "val_loss", mode: str = "min") -> None:
        super().__init__()
        self.save_hyperparameters()
        from speechdl.nn import build

        kwargs = {k: v for k, v in model.items() if k != "name"}
        self.model = build(model["name"], **kwargs)
        self._takes_lengths = "lengths" in inspect.signature(self.model.forward).parameters
        self.optim_cfg, self.sched_cfg = dict(optim or {}), dict(scheduler or {"name": "none"})
        self.monitor, self.mode = monitor, mode
        self.pretrain_cfg: dict[str, Any] | None = None   # set by tasks that take ``pretrain:``
        self.pretrain_losses: list[float] = []

    def on_fit_start(self) -> None:
        """Greedy layer-wise AE pretraining (``task.pretrain``) before a fresh (not resumed) run."""
        if self.pretrain_cfg is None or self.trainer.ckpt_path is not None:
            return
        from speechdl.train.tasks_pretrain import pretrain_from_datamodule

        self.pretrain_losses = pretrain_from_datamodule(self, self.pretrain_cfg)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """The model's main output for ``x`` ``(B, T, F)`` or ``(B, F)``."""
        out = self.model(x, lengths) if self._takes_lengths and lengths is not None else self.model(x)
        return main_output(out)

    def compute(self, batch: dict[str, torch.Tensor], stage: str) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Loss (scalar) and metrics of one batch; ``stage`` is ``train`` or ``val``."""
        raise NotImplementedError

    def _log_all(self, stage: str, loss: torch.Tensor, metrics: dict[str, torch.Tensor], batch_size: int) -> None:
        self.log(f"{stage}_loss", loss, on_step=stage == "train", on_epoch=True, prog_bar=True,
                 batch_size=batch_size, sync_dist=True)
        for k, v in metrics.items():
            self.log(f"{stage}_{k}", v, on_step=False, on_epoch=True, prog_bar=k == "acc", batch_size=batch_size,
                     sync_dist=True)

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        loss, metrics = self.compute(batch, "train")
        penalty = getattr(self.model, "penalty", None)
        if callable(penalty):
            pen = penalty()
            if torch.is_tensor(pen) or pen:
                loss = loss + pen
                metrics = {**metrics, "penalty": torch.as_tensor(pen).detach()}
        self._log_all("train", loss, metrics, len(batch["x"]))
        for i, value in enumerate(self.pretrain_losses):   # constant: shows up in the run summary
            self.log(f"pretrain_loss_l{i}", value, on_step=False, on_epoch=True, batch_size=len(batch["x"]))
        return loss

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        loss, metrics = self.compute(batch, "val")
        self._log_all("val", loss, metrics, len(batch["x"]))
        return loss

    def configure_optimizers(self):
        opt = build_optimizer(self.parameters(), self.optim_cfg)
        total = self.trainer.estimated_stepping_batches if self._trainer is not None else 1
        if not math.isfinite(total):   # max_epochs=-1 without max_steps: the schedule has no end to aim at
            raise ConfigError("recipe", "trainer.max_epochs=-1 trains without end, but the learning-rate schedule "
                              "needs the number of steps", "set trainer.max_steps or a finite trainer.max_epochs")
        total = int(total)
        sched = build_scheduler(opt, self.sched_cfg, total, self.monitor, self.mode)
        return opt if sched is None else {"optimizer": opt, "lr_scheduler": sched}


@register_task("classify")
class Classify(TaskModule):
    """Sequence- or frame-level classification.

    Output ``(B, C)`` with labels ``(B,)``, or ``(B, T, C)`` with frame labels ``(B, T)`` (padding
    frames labelled ``ignore_index``), or ``(B, T, C)`` with sequence labels ``(B,)``: then the
    frames are pooled (``pooling`` ``mean`` over valid frames, ``max`` or ``last`` valid frame).
    ``pretrain: {epochs, noise, ...}``: greedy layer-wise denoising-AE pretraining of a ``dense``
    model's hidden layers on the training inputs first (:mod:`speechdl.train.tasks_pretrain`).
    ``num_classes=1``: one logit, binary cross-entropy (``pos_weight`` weights the positives);
    otherwise cross-entropy (``label_smoothing``). Metric: ``acc``.
    """

    def __init__(self, model, optim=None, scheduler=None, monitor="val_loss", mode="min", *,
                 num_classes: int = 2, pooling: str = "mean", ignore_index: int = -100,
                 label_smoothing: float = 0.0, pos_weight: float | None = None,
                 pretrain: dict[str, Any] | None = None) -> None:
        super().__init__(model, optim, scheduler, monitor, mode)
        self.pretrain_cfg = check_pretrain(pretrain)
        if pooling not in ("mean", "max", "last"):
            raise ConfigError("task.pooling", f"expected mean, max or last, got {pooling!r}", "fix the recipe")
        self.num_classes, self.pooling, self.ignore_index = num_classes, pooling, ignore_index
        self.label_smoothing, self.pos_weight = label_smoothing, pos_weight

    def _pool(self, logits: torch.Tensor, lengths: torch.Tensor | None) -> torch.Tensor:
        """(B, T, ...) -> (B, ...) over the valid frames."""
        mask = frame_mask(lengths, logits.shape[1], logits.device)
        if mask is None:
            mask = torch.ones(logits.shape[:2], dtype=torch.bool, device=logits.device)
        m = mask.reshape(*mask.shape, *([1] * (logits.dim() - 2))).to(logits.dtype)
        if self.pooling == "mean":
            return (logits * m).sum(1) / m.sum(1).clamp_min(1)
        if self.pooling == "max":
            return logits.masked_fill(m == 0, float("-inf")).amax(1)
        last = (mask.sum(1) - 1).clamp_min(0)
        return logits[torch.arange(len(logits), device=logits.device), last]

    def compute(self, batch, stage):
        logits = self(batch["x"], batch.get("lengths"))
        y = batch["y"]
        binary = self.num_classes == 1
        if binary and logits.dim() > y.dim() and logits.shape[-1] == 1:
            logits = logits.squeeze(-1)
        lead = logits.shape if binary else logits.shape[:-1]
        if lead != y.shape:
            if len(lead) == y.dim() + 1 and lead[0] == y.shape[0]:
                logits = self._pool(logits, batch.get("lengths"))
            else:
                raise ValueError(f"classify: model output {tuple(logits.shape)} does not fit labels {tuple(y.shape)}")
        valid = y != self.ignore_index
        if binary:
            pw = None if self.pos_weight is None else torch.tensor(self.pos_weight, device=logits.device)
            loss = F.binary_cross_entropy_with_logits(logits[valid], y[valid].float(), pos_weight=pw)
            pred = (logits > 0).long()
        else:
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1).long(),
                                   ignore_index=self.ignore_index, label_smoothing=self.label_smoothing)
            pred = logits.argmax(-1)
        acc = (pred[valid] == y[valid]).float().mean()
        return loss, {"acc": acc}


@register_task("regress")
class Regress(TaskModule):
    """Regression with ``loss`` ``mse`` or ``l1``; padded frames (``lengths``) are masked. Metric: ``mae``.

    ``pretrain``: as for ``classify``."""

    def __init__(self, model, optim=None, scheduler=None, monitor="val_loss", mode="min", *,
                 loss: str = "mse", pretrain: dict[str, Any] | None = None) -> None:
        super().__init__(model, optim, scheduler, monitor, mode)
        if loss not in ("mse", "l1"):
            raise ConfigError("task.loss", f"expected mse or l1, got {loss!r}", "fix the recipe")
        self.loss = loss
        self.pretrain_cfg = check_pretrain(pretrain)

    def compute(self, batch, stage):
        pred, y = self(batch["x"], batch.get("lengths")), batch["y"].float()
        if pred.shape != y.shape and pred.numel() == y.numel():
            pred = pred.reshape(y.shape)
        return masked_error(pred, y, batch.get("lengths"), self.loss)


@register_task("reconstruct")
class Reconstruct(TaskModule):
    """Autoencoder: reproduce ``target`` (default: the input ``x``) from ``x``.

    ``noise_std > 0`` makes it a denoising autoencoder: Gaussian noise is added to the input during
    training only. Metrics: ``mae`` and ``snr_db`` (target power over error power).
    """

    def __init__(self, model, optim=None, scheduler=None, monitor="val_loss", mode="min", *,
                 loss: str = "mse", noise_std: float = 0.0) -> None:
        super().__init__(model, optim, scheduler, monitor, mode)
        if loss not in ("mse", "l1"):
            raise ConfigError("task.loss", f"expected mse or l1, got {loss!r}", "fix the recipe")
        self.loss, self.noise_std = loss, noise_std

    def compute(self, batch, stage):
        x = batch["x"]
        target = batch.get("target", x)
        if stage == "train" and self.noise_std > 0:
            x = x + self.noise_std * torch.randn_like(x)
        pred = self(x, batch.get("lengths"))
        loss, metrics = masked_error(pred, target, batch.get("lengths"), self.loss)
        err = (pred - target).detach().pow(2).sum()
        metrics["snr_db"] = 10 * torch.log10(target.detach().pow(2).sum().clamp_min(1e-12) / err.clamp_min(1e-12))
        return loss, metrics


def masked_error(pred: torch.Tensor, y: torch.Tensor, lengths: torch.Tensor | None,
                 kind: str) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """MSE or L1 over the valid frames of ``(B, T, ...)`` (all elements without lengths), and ``mae``."""
    if pred.shape != y.shape:
        raise ValueError(f"model output {tuple(pred.shape)} does not match target {tuple(y.shape)}")
    diff = pred - y
    if lengths is not None and diff.dim() >= 2:
        m = frame_mask(lengths, diff.shape[1], diff.device)
        diff = diff[m]
    loss = diff.pow(2).mean() if kind == "mse" else diff.abs().mean()
    return loss, {"mae": diff.detach().abs().mean()}

"""Trainer factory and the run: checkpoints, resume, early stopping, logs, devices, DDP.

:func:`train` runs a :class:`~speechdl.train.config.RecipeConfig`:

- ``out_dir/config.yaml``: the resolved recipe; ``out_dir/checkpoints/best-*.ckpt`` (best value of
  ``trainer.early_stopping.monitor``) and ``last.ckpt`` (end of every epoch, every
  ``trainer.checkpoint_every_steps`` steps / ``checkpoint_every_minutes`` inside an epoch, and at the
  end of the current step on Ctrl-C/SIGTERM; written atomically);
  ``out_dir/logs/version_N/metrics.csv`` (+ TensorBoard events when ``tensorboard`` is installed).
- Re-running with the same ``out_dir`` resumes from ``last.ckpt`` *exactly*: weights, optimizer,
  scheduler, the epoch's batch position, the random streams and the epoch's running metrics, so the
  run ends with the metrics of an uninterrupted one (:mod:`speechdl.train.resume`,
  :mod:`speechdl.train.faults`). Raising ``max_epochs`` extends a finished run.
- A non-finite training loss stops the run with a one-line ``TrainingDiverged`` error.
- ``init_from`` (a ``.ckpt``, a state-dict ``.pt`` or a bundle folder) starts a fresh run from those
  weights, copied by name and shape (fine-tuning, transfer); a resumed run ignores it.
- ``seed`` is applied with ``seed_everything``; ``deterministic`` turns on deterministic algorithms:
  the same recipe gives the same metrics on CPU.
- ``device: cuda`` uses mixed precision (``16-mixed``); CPU runs in fp32 (bf16 is slower there).
- ``devices: 2, strategy: ddp`` runs data-parallel processes (gloo on CPU, NCCL on GPUs); Lightning
  re-launches the same command line for each extra process. Several nodes: see docs/training.md.

Example:
    >>> import tempfile
    >>> cfg = RecipeConfig.load("recipes/toy/dense_frames.yaml",
    ...                         ["trainer.max_epochs=1", "data.n=400", f"out_dir={tempfile.mkdtemp()}"])
    >>> result = train(cfg)                                # doctest: +ELLIPSIS
    ...
    >>> 0.0 < result.summary["best_score"] < 1.0           # validation loss after one epoch
    True
"""

from __future__ import annotations

import importlib.util
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lightning as L
import torch
import yaml
from lightning.fabric.utilities.exceptions import MisconfigurationException
from lightning.pytorch.callbacks import Callback, ModelCheckpoint
from lightning.pytorch.callbacks import EarlyStopping as _LightningEarlyStopping
from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.trainer.states import TrainerStatus

from speechdl.errors import ConfigError
from speechdl.train.components import check_components
from speechdl.train.config import RecipeConfig
from speechdl.train.datamodule import RecipeDataModule
from speechdl.train.faults import AtomicCheckpointIO, FaultTolerance, StopRequested
from speechdl.train.optim import as_dict
from speechdl.train.tasks import TaskModule, task_class


class TrainingInterrupted(KeyboardInterrupt):
    """Training stopped by Ctrl-C or SIGTERM; ``checkpoint`` (None: none yet) holds step ``global_step``.
    Re-running the same command resumes from it exactly."""

    def __init__(self, checkpoint: str | None, global_step: int) -> None:
        super().__init__(f"interrupted at step {global_step}; checkpoint {checkpoint}")
        self.checkpoint, self.global_step = checkpoint, global_step


@dataclass
class RunResult:
    """What :func:`train` returns: the summary dict and the live trainer and task module."""

    summary: dict[str, Any]
    trainer: L.Trainer | None = None
    module: TaskModule | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def is_rank_zero() -> bool:
    """True in the launching process (before DDP starts) and on global rank 0."""
    return all(os.environ.get(k, "0") == "0" for k in ("RANK", "LOCAL_RANK", "NODE_RANK"))


def resolve_device(device: str, precision: str) -> tuple[str, str]:
    """(Lightning accelerator, precision) for ``cpu|cuda|auto`` and ``auto|<lightning precision>``."""
    cuda = torch.cuda.is_available()
    if device == "cuda" and not cuda:
        raise ConfigError("trainer.device=cuda", "CUDA is not available on this machine", "use --device cpu or auto")
    accel = "gpu" if device == "cuda" or (device == "auto" and cuda) else "cpu"
    if precision == "auto":
        precision = "16-mixed" if accel == "gpu" else "32-true"
    return accel, precision


def _loggers(out: Path) -> list:
    loggers: list = [CSVLogger(str(out), name="logs")]
    if importlib.util.find_spec("tensorboard") or importlib.util.find_spec("tensorboardX"):
        from lightning.pytorch.loggers import TensorBoardLogger

        loggers.append(TensorBoardLogger(str(out), name="tensorboard", default_hp_metric=False))
    return loggers


class EarlyStopping(_LightningEarlyStopping):
    """Early stopping that waits for the first validation: a run that ``max_steps`` ends inside its first epoch
    stops instead of failing on the missing metric; once validation has logged, a missing monitor still fails.
    (Named like Lightning's class: its checkpoint state key holds the class name, so runs resume across both.)"""

    def _run_early_stopping_check(self, trainer: L.Trainer) -> None:
        if not any(str(k).startswith("val_") for k in trainer.callback_metrics):
            return
        super()._run_early_stopping_check(trainer)


def build_trainer(cfg: RecipeConfig, callbacks: list[Callback] = ()) -> tuple[L.Trainer, dict[str, Callback]]:
    """A ``lightning.Trainer`` for ``cfg`` and its named speechdl callbacks (``checkpoint``, ...)."""
    t, es = cfg.trainer, cfg.trainer.early_stopping
    out = Path(cfg.out_dir)
    accel, precision = resolve_device(t.device, t.precision)
    has_val = float(cfg.data.kwargs.get("val_fraction", 0.2)) > 0
    monitor = es.monitor if has_val else None
    ckpt = ModelCheckpoint(dirpath=str(out / "checkpoints"), filename="best-{epoch:03d}-{step}", monitor=monitor,
                           mode=es.mode, save_top_k=1, auto_insert_metric_name=False, enable_version_counter=False)
    # last.ckpt at every epoch end (Lightning's save_last writes it only when the monitored metric improved),
    # overwriting a periodic one of that epoch
    # (when validation is not run every epoch, Lightning would save it only after validation: save at the
    # end of the training epoch, which comes after that epoch's validation when there is one)
    last = ModelCheckpoint(dirpath=str(out / "checkpoints"), filename="last", monitor=None, save_top_k=1,
                           auto_insert_metric_name=False, enable_version_counter=False,
                           save_on_train_epoch_end=True if t.val_every != 1 else None)
    faults = FaultTolerance(out / "checkpoints" / "last.ckpt", t.checkpoint_every_steps, t.checkpoint_every_minutes)
    named: dict[str, Callback] = {"checkpoint": ckpt, "last": last, "faults": faults}
    if es.patience is not None and has_val:
        named["early_stopping"] = EarlyStopping(monitor=es.monitor, mode=es.mode, patience=es.patience,
                                                min_delta=es.min_delta)
    progress = t.progress_bar if t.progress_bar is not None else sys.stderr.isatty()
    trainer = L.Trainer(
        default_root_dir=str(out), max_epochs=t.max_epochs, max_steps=t.max_steps,
        accelerator=accel, devices=t.devices, num_nodes=t.num_nodes, strategy=t.strategy, precision=precision,
        gradient_clip_val=t.grad_clip or None, gradient_clip_algorithm="norm",
        accumulate_grad_batches=t.accumulate, deterministic="warn" if t.deterministic else False,
        check_val_every_n_epoch=t.val_every, log_every_n_steps=t.log_every,
        callbacks=[*named.values(), *callbacks], logger=_loggers(out),
        enable_progress_bar=progress, enable_model_summary=progress,
        use_distributed_sampler=False,   # RecipeDataModule shards with its own seeded ShardSampler
        plugins=[AtomicCheckpointIO()],
    )
    return trainer, named


def _check_resume(cfg: RecipeConfig, saved: Path) -> None:
    """Refuse to resume a run whose task/model/data differ from the recipe's."""
    try:
        old = yaml.safe_load(saved.read_text()) or {}
    except (OSError, yaml.YAMLError):
        return
    new = cfg.to_dict()
    for key in ("task", "model", "data"):
        if old.get(key) != new[key]:
            raise ConfigError(f"{cfg.out_dir}", f"holds a run with a different {key} section",
                              "use another --out, or trainer.resume=false to start over")


def _quiet() -> None:
    """Silence Lightning's start-up chatter (device lines, tips) and known harmless warnings."""
    import logging
    import warnings

    for name in ("lightning.pytorch.utilities.rank_zero", "lightning.pytorch.accelerators.cuda",
                 "lightning.fabric.utilities.seed"):
        logging.getLogger(name).setLevel(logging.WARNING)
    for msg in (".*LeafSpec.*", ".*does not have many workers.*", ".*Checkpoint directory .* exists and is not empty.*",
                ".*resuming from a checkpoint that ended before the epoch ended.*",
                ".*smaller than the logging interval.*", ".*is not a TTY.*"):
        warnings.filterwarnings("ignore", message=msg)


def init_weights(model: torch.nn.Module, source: str) -> str:
    """Copy the matching tensors of ``source`` (``.ckpt``, state-dict ``.pt``, or a bundle folder's
    ``weights.pt``) into ``model``; returns the file used. ConfigError when nothing matches."""
    from speechdl.train.transfer import load_matching

    path = Path(source) / "weights.pt" if Path(source).is_dir() else Path(source)
    report = load_matching(model, path, prefix_map={"model.": ""})
    if not report.loaded:
        raise ConfigError("init_from", f"no tensor of {path} matches the model",
                          "point it at a checkpoint or bundle of the same architecture")
    if report.missing or report.mismatched:
        print(f"init_from {path}: {len(report.loaded)} tensors loaded, {len(report.missing)} left as initialised",
              file=sys.stderr)
    return str(path)


def train(cfg: RecipeConfig, callbacks: list[Callback] = ()) -> RunResult:
    """Run the recipe (resuming from ``out_dir/checkpoints/last.ckpt`` if present); return the summary.

    Raises :class:`TrainingInterrupted` after Ctrl-C / SIGTERM (a checkpoint was saved).
    """
    check_components(cfg)
    resolve_device(cfg.trainer.device, cfg.trainer.precision)   # fail before writing anything
    _quiet()
    out = Path(cfg.out_dir)
    last = out / "checkpoints" / "last.ckpt"
    resume = last if cfg.trainer.resume and last.exists() else None
    if resume is not None and (out / "config.yaml").exists():
        _check_resume(cfg, out / "config.yaml")
    if is_rank_zero():
        cfg.save(out / "config.yaml")

    det_state = (torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled())
    threads = torch.get_num_threads()
    if cfg.trainer.threads:
        torch.set_num_threads(cfg.trainer.threads)
    start = time.perf_counter()
    L.seed_everything(cfg.trainer.seed, workers=True, verbose=False)
    es = cfg.trainer.early_stopping
    module = task_class(cfg.task.name)(model=cfg.model.to_dict(), optim=as_dict(cfg.optim),
                                       scheduler=as_dict(cfg.scheduler), monitor=es.monitor, mode=es.mode,
                                       **cfg.task.kwargs)
    if cfg.init_from and resume is None:
        module.init_from = init_weights(getattr(module, "model", module), cfg.init_from)
    data = RecipeDataModule(cfg.data.name, cfg.data.kwargs, batch_size=cfg.trainer.batch_size,
                            num_workers=cfg.trainer.num_workers, seed=cfg.trainer.seed)
    trainer, named = build_trainer(cfg, list(callbacks))
    faults: FaultTolerance = named["faults"]
    faults.saved = str(resume) if resume else None
    try:
        trainer.fit(module, datamodule=data, ckpt_path=str(resume) if resume else None)
    except StopRequested as stop:
        raise TrainingInterrupted(*((stop.path, stop.step) if stop.path else _kept(last, faults))) from None
    except MisconfigurationException as err:   # a monitor name the task never logs: known only after validation
        if "monitored key" not in str(err):
            raise
        logged = sorted(k for k in trainer.callback_metrics if k.startswith("val_"))
        raise ConfigError("trainer.early_stopping.monitor", f"this task logs no metric {es.monitor!r}",
                          "use one of: " + ", ".join(logged or ["val_loss"])) from None
    except SystemExit:   # a second Ctrl-C (or a KeyboardInterrupt): Lightning stopped at once
        if trainer.state.status != TrainerStatus.INTERRUPTED:
            raise
        raise TrainingInterrupted(*_kept(last, faults)) from None
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(det_state[0], warn_only=det_state[1])
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, signal.default_int_handler)
    if trainer.state.status == TrainerStatus.INTERRUPTED:
        raise TrainingInterrupted(*_kept(last, faults))
    return RunResult(_summary(cfg, trainer, named, resume, time.perf_counter() - start), trainer, module)


def _kept(last: Path, faults: FaultTolerance) -> tuple[str | None, int]:
    """The checkpoint a re-run resumes from after a hard stop, and its global step."""
    if not last.exists():
        return None, 0
    try:
        step = int(torch.load(last, map_location="cpu", weights_only=False).get("global_step", 0))
    except Exception:   # noqa: BLE001 - a report, not a load: an unreadable file is reported as step 0
        step = 0
    return str(last), step


def _summary(cfg: RecipeConfig, trainer: L.Trainer, named: dict[str, Callback], resume: Path | None,
             seconds: float) -> dict[str, Any]:
    ckpt: ModelCheckpoint = named["checkpoint"]
    es = named.get("early_stopping")
    metrics = {k: round(float(v), 6) for k, v in sorted(trainer.callback_metrics.items()) if v.numel() == 1}
    best = ckpt.best_model_score
    return {
        "out_dir": str(cfg.out_dir),
        "epochs": trainer.current_epoch,
        "global_step": trainer.global_step,
        "monitor": ckpt.monitor,
        "best_score": None if best is None else round(float(best), 6),
        "best_checkpoint": ckpt.best_model_path or None,
        "last_checkpoint": named["last"].best_model_path or None,
        "stopped_early": bool(es is not None and es.stopped_epoch > 0),
        "resumed_from": str(resume) if resume else None,
        "seconds": round(seconds, 2),
        "metrics": metrics,
    }

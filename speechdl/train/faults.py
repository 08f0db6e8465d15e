"""Faults during training: periodic checkpoints, a clean stop on SIGINT/SIGTERM, a clear stop on divergence.

:class:`FaultTolerance` (one Lightning callback, added by :func:`~speechdl.train.trainer.build_trainer`):

- **Periodic checkpoints.** Every ``trainer.checkpoint_every_steps`` optimizer steps and/or every
  ``trainer.checkpoint_every_minutes``, ``out_dir/checkpoints/last.ckpt`` is rewritten inside the
  epoch (atomically: :class:`AtomicCheckpointIO` writes a temporary file in the same folder, syncs
  it and renames it), so a run killed with SIGKILL or by a power cut loses at most that much work.
  Checkpoints are written only at optimizer-step boundaries, never on an epoch's last batch (the
  epoch-end checkpoint follows it), and they change nothing in the training (resume is exact, see
  :mod:`speechdl.train.resume`).
- **Ctrl-C / SIGTERM** (``kill``, ``timeout``, a cluster scheduler): the first signal asks the run
  to stop at the end of the current step; it writes ``last.ckpt`` there and :func:`train` raises
  :class:`~speechdl.train.trainer.TrainingInterrupted` (the CLI exits 130). A second signal stops
  at once, keeping the last checkpoint written (the state in the middle of a step cannot be resumed
  exactly, so it is not saved). Re-running the same command continues exactly where it stopped.
- **Divergence.** A non-finite training loss stops the run before its backward pass with a one-line
  :class:`TrainingDiverged` (a :class:`~speechdl.errors.SpeechdlError`: CLI exit 2) naming the step.

Test hook: with ``SPEECHDL_TEST_PAUSE_AT_STEP=k`` in the environment, the run prints
``speechdl-test: paused at step k`` to stderr after optimizer step ``k`` and waits (up to 120 s) for
a stop signal, so a test can send a real signal at a known step.

Example:
    >>> cb = FaultTolerance("runs/x/checkpoints/last.ckpt", every_steps=500, every_minutes=None)
    >>> cb.every_steps, cb.stop_requested
    (500, False)
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.plugins.io import TorchCheckpointIO

from speechdl.errors import SpeechdlError, writing
from speechdl.train.resume import ResumableLoader

PAUSE_ENV = "SPEECHDL_TEST_PAUSE_AT_STEP"


class TrainingDiverged(SpeechdlError):
    """The training loss became NaN or infinite."""


class StopRequested(Exception):
    """Raised inside the loop after a signal: the checkpoint at ``path`` holds step ``step`` (``path`` None:
    nothing was written now; the newest existing checkpoint is kept)."""

    def __init__(self, path: str | None, step: int) -> None:
        super().__init__(f"stopped at step {step}; checkpoint {path}")
        self.path, self.step = path, step


class AtomicCheckpointIO(TorchCheckpointIO):
    """``torch.save`` to a temporary file beside the target, ``fsync``, then ``os.replace``: a checkpoint
    file is always either the old one or the new one, whole, even if the process is killed mid-write."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None) -> None:
        path = Path(path)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            with writing(path):   # a full disk: one OutputError line (exit 2), the previous checkpoint kept
                path.parent.mkdir(parents=True, exist_ok=True)
                with open(tmp, "wb") as f:
                    torch.save(checkpoint, f)
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)


def _progress(trainer: L.Trainer) -> Any:
    return trainer.fit_loop.epoch_loop.batch_progress


def _train_loader(trainer: L.Trainer) -> ResumableLoader | None:
    """The run's :class:`ResumableLoader` (None before the loader exists or for another kind of loader)."""
    combined = trainer.fit_loop._combined_loader
    for loader in (combined.flattened if combined is not None else []):
        if isinstance(loader, ResumableLoader):
            return loader
    return None


class FaultTolerance(Callback):
    """Periodic in-epoch checkpoints, a deferred stop on SIGINT/SIGTERM, a stop at the first non-finite loss.

    Args:
        path: the checkpoint to (re)write, ``out_dir/checkpoints/last.ckpt``.
        every_steps: optimizer steps between checkpoints (None: off). every_minutes: minutes (None: off).
    """

    def __init__(self, path: str | Path, every_steps: int | None = 500, every_minutes: float | None = None) -> None:
        self.path = Path(path)
        self.every_steps, self.every_minutes = every_steps, every_minutes
        self.stop_requested = False
        self.saved: str | None = None          # the newest checkpoint this run wrote or resumed from
        self._signal: str | None = None
        self._old_handlers: dict[int, Any] = {}
        self._next_step = 0
        self._last_time = time.monotonic()
        self._step_before = -1
        self._clean: tuple[int, int] | None = None    # (epoch, batch) whose end state is resumable
        self._mid_epoch_save = False
        self._pending_results: dict[str, Any] | None = None
        self._pending_loader: dict[str, Any] | None = None
        self._requested_in: int | None = None      # the epoch in which a stop request was first seen
        self._trainer: L.Trainer | None = None
        self._pause_at = int(os.environ.get(PAUSE_ENV, "-1") or -1)

    # -- signals ----------------------------------------------------------------------------------
    def _on_signal(self, signum: int, frame: Any) -> None:
        if self.stop_requested:        # the second one: stop now
            raise KeyboardInterrupt
        self.stop_requested = True
        self._signal = signal.Signals(signum).name
        if int(os.environ.get("LOCAL_RANK", "0")) == 0:
            print(f"speechdl: {self._signal}: stopping at the end of this step and saving a checkpoint "
                  "(again: stop at once, keeping the last checkpoint)", file=sys.stderr, flush=True)

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        loader = _train_loader(trainer)
        if self._pending_loader is not None and loader is not None:
            loader.resume_from(self._pending_loader)
        self._pending_loader = None
        self._next_step = self._next_mark(trainer.global_step)
        self._last_time = time.monotonic()
        if trainer.received_sigterm:                         # arrived before our handler: same meaning
            trainer._signal_connector.received_sigterm = False
            self.stop_requested = True
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old_handlers[sig] = signal.getsignal(sig)
                signal.signal(sig, self._on_signal)

    def teardown(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        if threading.current_thread() is threading.main_thread():
            for sig, handler in self._old_handlers.items():
                signal.signal(sig, handler if handler is not None else signal.SIG_DFL)
        self._old_handlers = {}

    # -- divergence -------------------------------------------------------------------------------
    def on_before_backward(self, trainer: L.Trainer, pl_module: L.LightningModule, loss: torch.Tensor) -> None:
        if bool(torch.isfinite(loss.detach()).all()):
            return
        value = "nan" if bool(torch.isnan(loss.detach()).any()) else "inf"
        resume = f"; re-running resumes from {self.saved}" if self.saved else ""
        raise TrainingDiverged("training", f"the loss became {value} at step {trainer.global_step + 1} "
                               f"(epoch {trainer.current_epoch}), so the run was stopped",
                               "lower optim.lr, set trainer.grad_clip (e.g. 1.0), or check the data for NaN/Inf"
                               + resume)

    # -- checkpoints and the deferred stop ----------------------------------------------------------
    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any,
                             batch_idx: int) -> None:
        self._step_before = trainer.global_step
        self._clean = None
        if self.stop_requested and self._requested_in is not None and trainer.current_epoch > self._requested_in \
                and _progress(trainer).current.ready >= trainer.num_training_batches \
                and self._agree(trainer, True, any_rank=True):
            # a stop asked for on an epoch's last batch, and this epoch has no other batch (e.g. one batch
            # per epoch): stop before this step; the epoch-end checkpoint is kept
            raise StopRequested(None, trainer.global_step)

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        if self._pending_results is not None:
            self._merge_epoch_results(trainer)
        stepped = trainer.global_step != self._step_before
        progress = _progress(trainer)
        if self.stop_requested and self._requested_in is None:
            self._requested_in = trainer.current_epoch
        resumable = stepped and not progress.is_last_batch and progress.current.processed < trainer.num_training_batches
        if stepped and trainer.global_step == self._pause_at:
            self._pause(trainer.global_step)
        if not resumable:
            return
        self._clean = (trainer.current_epoch, progress.current.processed)
        stop = self._agree(trainer, self.stop_requested, any_rank=True)
        due = self.every_steps is not None and trainer.global_step >= self._next_step
        if self.every_minutes is not None:
            due = due or self._agree(trainer, time.monotonic() - self._last_time >= 60 * self.every_minutes)
        if stop or due:
            self._save(trainer)
        if stop:
            raise StopRequested(str(self.path), trainer.global_step)

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        """A KeyboardInterrupt raised while the state is exactly a step's end (e.g. from another callback's
        ``on_train_batch_end``) is saved; one in the middle of a step is not (it could not resume exactly)."""
        if not isinstance(exception, KeyboardInterrupt) or self._clean is None:
            return
        progress = _progress(trainer)
        if self._clean == (trainer.current_epoch, progress.current.processed) and \
                progress.current.completed == progress.current.processed - 1:
            self._save(trainer)

    def _save(self, trainer: L.Trainer) -> None:
        self._mid_epoch_save = True
        try:
            trainer.save_checkpoint(self.path, weights_only=False)
        finally:
            self._mid_epoch_save = False
        self.saved = str(self.path)
        self._next_step = self._next_mark(trainer.global_step)
        self._last_time = time.monotonic()

    def _next_mark(self, step: int) -> int:
        return (step // self.every_steps + 1) * self.every_steps if self.every_steps else sys.maxsize

    @staticmethod
    def _agree(trainer: L.Trainer, flag: bool, any_rank: bool = False) -> bool:
        """The same decision on every process: any rank's flag (signals) or rank 0's (clocks)."""
        if trainer.world_size <= 1:
            return flag
        if any_rank:
            return bool(trainer.strategy.reduce_boolean_decision(flag, all=False))
        return bool(trainer.strategy.broadcast(flag, src=0))

    def _pause(self, step: int) -> None:
        print(f"speechdl-test: paused at step {step}", file=sys.stderr, flush=True)
        deadline = time.monotonic() + 120
        while not self.stop_requested and time.monotonic() < deadline:
            time.sleep(0.02)

    # -- the epoch's running metrics (train_loss_epoch, train_acc) across a mid-epoch resume --------
    def state_dict(self) -> dict[str, Any]:
        """The training loader's position and random state (every checkpoint) and, mid-epoch, the epoch's sums."""
        trainer, state = self._trainer, {}
        loader = _train_loader(trainer) if trainer is not None else None
        if loader is not None:
            state["loader"] = loader.checkpoint_state()
        if self._mid_epoch_save and trainer is not None:
            results = {}
            for key, metric in trainer.fit_loop.epoch_loop._results.items():
                if getattr(metric, "is_tensor", False) and metric.meta.on_epoch:
                    results[key] = {"value": metric.value.detach().clone(),
                                    "count": getattr(metric, "cumulated_batch_size", None)}
            state["epoch_results"] = results
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._pending_results = state_dict.get("epoch_results") or None
        self._pending_loader = state_dict.get("loader")

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        self._trainer = trainer

    def _merge_epoch_results(self, trainer: L.Trainer) -> None:
        """First step after a mid-epoch resume: add the saved sums to the fresh ones (``a + b`` is exact in
        either order, so the epoch means equal an uninterrupted run's to the last bit)."""
        saved, self._pending_results = self._pending_results, None
        results = trainer.fit_loop.epoch_loop._results
        for key, old in saved.items():
            metric = results.get(key)
            if metric is None or not getattr(metric, "is_tensor", False):
                continue
            value = old["value"].to(metric.value)
            if metric.meta.is_mean_reduction or metric.meta.is_sum_reduction:
                metric.value = value + metric.value
            elif metric.meta.is_max_reduction:
                metric.value = torch.maximum(value, metric.value)
            elif metric.meta.is_min_reduction:
                metric.value = torch.minimum(value, metric.value)
            if old.get("count") is not None and hasattr(metric, "cumulated_batch_size"):
                metric.cumulated_batch_size = old["count"].to(metric.cumulated_batch_size) + metric.cumulated_batch_size

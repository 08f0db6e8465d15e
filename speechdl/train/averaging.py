"""Checkpoint averaging: keep the N best checkpoints of a run and average their weights at the end.

Averaging the parameters of the last or best few epochs gives a model that is usually a little
better and steadier than any single one (ESPnet, fairseq, NeMo all do it for ASR).

* :class:`TopKCheckpoint`: a callback that keeps the ``k`` best checkpoints (by the monitored
  metric) in ``out_dir/checkpoints/top/``, next to the engine's own ``best-*.ckpt`` / ``last.ckpt``.
  A task returns it from ``configure_callbacks``.
* :func:`average_checkpoints`: element-wise mean of the floating-point tensors of several state
  dicts (integer buffers such as counters are taken from the last one).
* :func:`run_checkpoints`: the checkpoints of a run directory to average (top-k, else best / last).

Example:
    >>> import torch
    >>> avg = average_checkpoints([{"w": torch.tensor([1.0, 3.0]), "n": torch.tensor(1)},
    ...                            {"w": torch.tensor([3.0, 5.0]), "n": torch.tensor(2)}])
    >>> avg["w"].tolist(), int(avg["n"])
    ([2.0, 4.0], 2)
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.callbacks import Callback

from speechdl.errors import ConfigError

TOP_DIR = "top"


class TopKCheckpoint(Callback):
    """Keep the ``k`` best checkpoints of ``monitor`` (after every validation) in ``dirpath``, for averaging.

    Not a ``ModelCheckpoint`` subclass, so a task can return it from ``configure_callbacks`` without
    replacing the engine's own checkpointing. Its list of kept files is saved with the run (resume).
    """

    def __init__(self, dirpath: str | os.PathLike, k: int, monitor: str = "val_loss", mode: str = "min") -> None:
        self.dirpath, self.k, self.monitor, self.mode = Path(dirpath), int(k), monitor, mode
        self.kept: list[tuple[float, str]] = []

    def _better(self, a: float, b: float) -> bool:
        return a < b if self.mode == "min" else a > b

    def on_validation_end(self, trainer: Any, pl_module: Any) -> None:
        value = trainer.callback_metrics.get(self.monitor)
        if trainer.sanity_checking or value is None or self.k <= 0:
            return
        score = float(value)
        worst = max(self.kept, key=lambda x: x[0] if self.mode == "min" else -x[0]) if self.kept else None
        if len(self.kept) >= self.k and worst is not None and not self._better(score, worst[0]):
            return
        path = self.dirpath / f"{trainer.current_epoch:03d}-{trainer.global_step}.ckpt"
        trainer.save_checkpoint(path, weights_only=False)
        self.kept.append((score, str(path)))
        if len(self.kept) > self.k and worst is not None:
            self.kept.remove(worst)
            if trainer.is_global_zero and Path(worst[1]).exists() and worst[1] != str(path):
                Path(worst[1]).unlink()

    @property
    def state_key(self) -> str:
        return f"TopKCheckpoint[{self.monitor},{self.mode},{self.k}]"

    def state_dict(self) -> dict[str, Any]:
        return {"kept": list(self.kept)}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.kept = [tuple(x) for x in state_dict.get("kept", [])]


def load_state(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """The model state dict of a Lightning checkpoint (``state_dict``) or of a plain ``torch.save`` dict."""
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
    except (OSError, RuntimeError) as err:
        raise ConfigError(path, f"cannot read checkpoint ({err.__class__.__name__})", "check the path") from None
    return ckpt["state_dict"] if isinstance(ckpt, dict) and "state_dict" in ckpt else ckpt


def average_checkpoints(states: Sequence[dict[str, torch.Tensor] | str | os.PathLike]) -> dict[str, torch.Tensor]:
    """Element-wise mean of state dicts (or checkpoint paths) with the same keys and shapes."""
    if not states:
        raise ConfigError("checkpoint averaging", "no checkpoints", "train at least one epoch")
    loaded = [s if isinstance(s, dict) else load_state(s) for s in states]
    keys = list(loaded[-1])
    for i, sd in enumerate(loaded):
        if list(sd) != keys or any(sd[k].shape != loaded[-1][k].shape for k in keys):
            raise ConfigError(f"checkpoint {i}", "has other parameters than the last one",
                              "average checkpoints of one run")
    out: dict[str, Any] = {}
    for k in keys:
        last = loaded[-1][k]
        if torch.is_tensor(last) and last.is_floating_point():
            out[k] = (sum(sd[k].double() for sd in loaded) / len(loaded)).to(last.dtype)
        else:
            out[k] = last
    return out


def run_checkpoints(run_dir: str | os.PathLike, n: int | None = None) -> list[Path]:
    """Checkpoints of a training run to average: the (up to ``n``) kept in ``checkpoints/top/``
    ordered oldest first, else the best checkpoint, else ``last.ckpt``."""
    ck = Path(run_dir) / "checkpoints"
    top = sorted((ck / TOP_DIR).glob("*.ckpt"), key=lambda p: (p.stat().st_mtime, p.name))
    if top:
        return top[-n:] if n else top
    best = sorted(ck.glob("best-*.ckpt"), key=lambda p: p.stat().st_mtime)
    if best:
        return best[-1:]
    if (ck / "last.ckpt").exists():
        return [ck / "last.ckpt"]
    raise ConfigError(run_dir, "no checkpoint in checkpoints/", "pass the out_dir of a training run")

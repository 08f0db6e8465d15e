"""One bundle export for every task: a training run in, a bundle out; the task adds only its hooks.

:func:`load_run` reads what every export needs from a run directory (``speechdl train ... --out RUN``):
the resolved recipe, the checkpoint(s) (the best one, or the latest ``n`` kept ones averaged), the
task's payload stored in the checkpoint (tokenizer, front-end, speaker list, ...), the network rebuilt
with those weights, and the validation metrics of the chosen epoch. :func:`save_run_bundle` writes the
bundle with the common fields filled the same way for every task (model name and arguments, weights,
training data, metrics, the command that reproduces it). A task's ``export.py`` is then its hooks only:
VAD thresholds and post-processing, the ASR tokenizer / decoding / LM / segmenter component, the
speaker back-end (PLDA, AS-norm cohort, calibration).

Example:
    >>> from speechdl.errors import ConfigError
    >>> try:
    ...     load_run("speechdl/assets", ("vad",))       # not a run directory: a one-line error
    ... except ConfigError as err:
    ...     print(err)
    speechdl/assets: no readable config.yaml (not a training run directory) (pass the run's out_dir)
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from speechdl.pretrained.bundle import save_bundle


@dataclass
class TrainedRun:
    """What an export reads from a training run.

    Fields: ``path`` (run directory), ``config`` (resolved recipe), ``checkpoints`` (files used, oldest
    first; several are averaged), ``payload`` (the task's dict stored in the checkpoint under its task key,
    or ``{}``), ``model`` (the rebuilt network in eval mode), ``metrics`` (validation metrics of the chosen
    epoch, from the run's logs).
    """

    path: Path
    config: dict[str, Any]
    checkpoints: list[Path]
    payload: dict[str, Any]
    model: torch.nn.Module
    metrics: dict[str, Any]

    @property
    def model_name(self) -> str:
        """Registry name of the network (the recipe's ``model.name``)."""
        return self.config["model"]["name"]

    @property
    def model_kwargs(self) -> dict[str, Any]:
        """The network's constructor arguments (the recipe's ``model`` section without ``name``)."""
        return {k: v for k, v in self.config["model"].items() if k != "name"}


def checkpoint_metrics(run: Path, ckpt: Path) -> dict[str, float]:
    """Validation metrics of the checkpoint's epoch (``best-EEE-...``; ``last.ckpt``: the last epoch logged)."""
    files = sorted(Path(run).glob("logs/version_*/metrics.csv"))
    if not files:
        return {}
    m = re.match(r"best-(\d+)-", ckpt.name)
    rows: dict[float, dict[str, float]] = {}
    for f in files:  # a resumed run logs into a new version
        with f.open() as fh:
            for row in csv.DictReader(fh):
                vals = {k: round(float(v), 6) for k, v in row.items() if v not in ("", None) and k.startswith("val_")}
                if vals and row.get("epoch") not in ("", None):
                    rows.setdefault(float(row["epoch"]), {}).update(vals)
    if not rows:
        return {}
    epoch = float(m.group(1)) if m and float(m.group(1)) in rows else max(rows)
    return {"epoch": epoch, **rows[epoch]}


def _build_default(config: dict[str, Any]) -> torch.nn.Module:
    from speechdl.nn import build

    return build(config["model"]["name"], **{k: v for k, v in config["model"].items() if k != "name"})


def _strip_model_prefix(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k[len("model."):]: v for k, v in state.items() if k.startswith("model.")}


def load_run(run_dir: str | os.PathLike, tasks: Sequence[str], average: int | None = 1,
             payload_key: str | None = None,
             build: Callable[[dict[str, Any]], torch.nn.Module] = _build_default,
             rename: Callable[[dict[str, torch.Tensor]], dict[str, torch.Tensor]] = _strip_model_prefix
             ) -> TrainedRun:
    """Read a training run of one of ``tasks`` (recipe ``task.name``) for export.

    Args:
        average: how many of the kept top checkpoints to average (None: all; 1: the best, else last).
        payload_key: checkpoint key holding the task's payload (e.g. ``"asr"``); ``{}`` when None/absent.
        build: recipe -> the network the bundle holds (default: the registry architecture ``model.name``).
        rename: task-module state-dict keys -> the network's keys (default: drop ``model.``).
    The weights are loaded into the network before anything is written, so a mismatch fails first.
    """
    from speechdl.train.averaging import average_checkpoints, run_checkpoints
    from speechdl.train.config import run_config

    run = Path(run_dir)
    cfg = run_config(run, tuple(tasks))
    paths = run_checkpoints(run, average)
    last = torch.load(paths[-1], map_location="cpu", weights_only=False)
    state = average_checkpoints(paths) if len(paths) > 1 else last["state_dict"]
    model = build(cfg)
    model.load_state_dict(rename(state))
    payload = dict(last.get(payload_key) or {}) if payload_key else {}
    return TrainedRun(run, cfg, list(paths), payload, model.eval(), checkpoint_metrics(run, paths[-1]))


def save_run_bundle(run: TrainedRun, out: str | os.PathLike, *, task: str, frontend: dict[str, Any],
                    command: str, metrics: dict[str, Any] | None = None, card: str = "", **hooks: Any) -> Path:
    """Write the bundle of ``run`` (see :func:`speechdl.pretrained.save_bundle`).

    Common fields come from the run: model name and arguments, weights, training data (the recipe's
    ``data`` section), metrics (the run's, updated with ``metrics``), and ``reproduce`` (the training
    command, then ``command``: the export command). ``hooks``: the task's own fields (``thresholds``,
    ``post``, ``extra``, ``files``, ``half``).
    """
    names = ", ".join(p.name for p in run.checkpoints)
    what = f"average of {len(run.checkpoints)} checkpoints" if len(run.checkpoints) > 1 else "checkpoint"
    return save_bundle(out, task=task, model={"name": run.model_name, "kwargs": run.model_kwargs},
                       state_dict=run.model.state_dict(), frontend=frontend,
                       metrics={**run.metrics, **(metrics or {})}, data=dict(run.config.get("data") or {}),
                       reproduce=f"speechdl {task} train <recipe> --out {run.path}; {command}",
                       card=f"Weights: {what} `{names}` of run `{run.path}`.\n\n{card}".strip(), **hooks)

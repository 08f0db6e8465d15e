"""Greedy layer-wise autoencoder pretraining inside a recipe, before supervised fine-tuning.

``task: {name: classify, pretrain: {epochs: 5, noise: 0.2}}`` (or ``regress``) with a ``dense`` model:
when fitting starts (not when resuming), :func:`speechdl.train.pretrain.pretrain_layerwise` trains
one denoising autoencoder per hidden layer on the *training inputs* (labels unused) and copies its
encoder into that layer; the ordinary supervised training that follows fine-tunes all layers.

``pretrain`` keys: ``epochs`` (10), ``lr`` (1e-3), ``noise`` (0.1, Gaussian corruption std),
``mask_prob`` (0), ``num_layers`` (all hidden layers), ``batch_size`` (64), ``optimizer``
(``adam``|``sgd``), ``seed`` (default: ``trainer.seed``). The per-layer reconstruction losses are
kept in ``module.pretrain_losses`` and logged as ``pretrain_loss_l{i}`` (in the run summary).
"""

from __future__ import annotations

from typing import Any

import torch

from speechdl.errors import ConfigError

__all__ = ["PRETRAIN_KEYS", "check_pretrain", "pretrain_from_datamodule"]

PRETRAIN_KEYS = ("epochs", "lr", "noise", "mask_prob", "num_layers", "batch_size", "optimizer", "seed")


def check_pretrain(cfg: dict[str, Any] | None) -> dict[str, Any] | None:
    """Validate a recipe's ``task.pretrain`` mapping (ConfigError naming an unknown key)."""
    if cfg is None:
        return None
    if not isinstance(cfg, dict):
        raise ConfigError("task.pretrain", f"expected a mapping, got {cfg!r}", "e.g. pretrain: {epochs: 5, noise: 0.2}")
    unknown = sorted(set(cfg) - set(PRETRAIN_KEYS))
    if unknown:
        raise ConfigError("task.pretrain", f"unknown key {unknown[0]}", f"valid keys: {', '.join(PRETRAIN_KEYS)}")
    return dict(cfg)


def _training_inputs(dataset) -> torch.Tensor:
    """All input frames ``(N, F)`` of a dataset of ``{"x": (F,) or (T, F)}`` items (sequences flattened)."""
    frames = []
    for i in range(len(dataset)):
        x = torch.as_tensor(dataset[i]["x"]).float()
        frames.append(x.reshape(-1, x.shape[-1]))
    if not frames:
        raise ConfigError("task.pretrain", "the training set is empty", "use a larger dataset")
    return torch.cat(frames)


def pretrain_from_datamodule(module, cfg: dict[str, Any]) -> list[float]:
    """Run layer-wise pretraining of ``module.model`` on its trainer's training inputs; returns the losses."""
    from speechdl.train.pretrain import pretrain_layerwise

    trainer = module.trainer
    dm = getattr(trainer, "datamodule", None)
    if dm is None or getattr(dm, "train_set", None) is None:
        raise ConfigError("task.pretrain", "no training data to pretrain on", "run it through speechdl train")
    x = _training_inputs(dm.train_set).to(module.device)
    kwargs = dict(cfg)
    kwargs.setdefault("seed", getattr(dm, "seed", 0))
    return pretrain_layerwise(module.model, x, **kwargs)

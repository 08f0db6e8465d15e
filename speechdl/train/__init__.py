"""Training engine: recipes (YAML → dataclasses), task and dataset registries, the Lightning trainer.

The names below are imported on first use, so ``import speechdl.train.config`` (recipes, CLI
registration) does not pull in Lightning; tasks and datasets are found through the catalogue.

Example:
    >>> from speechdl.train import RecipeConfig, available_tasks
    >>> "classify" in available_tasks()
    True
"""

from typing import Any

_EXPORTS = {
    "check_components": "components", "Component": "config", "RecipeConfig": "config",
    "RecipeDataModule": "datamodule", "pad_collate": "datamodule",
    "available_datasets": "datasets", "build_dataset": "datasets", "register_dataset": "datasets",
    "TaskModule": "tasks", "available_tasks": "tasks", "register_task": "tasks", "task_class": "tasks",
    "RunResult": "trainer", "TrainingInterrupted": "trainer", "build_trainer": "trainer", "train": "trainer",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(f"speechdl.train.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'speechdl.train' has no attribute {name!r}")

"""Training engine: recipes (YAML → dataclasses), task and dataset registries, the Lightning trainer.

Example:
    >>> from speechdl.train import RecipeConfig, available_tasks
    >>> "classify" in available_tasks()
    True
"""

# built-in tasks and toy datasets beyond the generic ones: always registered
from speechdl.train import datasets_toy, tasks_generative, tasks_seq2seq  # noqa: F401,E402
from speechdl.train.components import check_components
from speechdl.train.config import Component, RecipeConfig
from speechdl.train.datamodule import RecipeDataModule, pad_collate
from speechdl.train.datasets import available_datasets, build_dataset, register_dataset
from speechdl.train.tasks import TaskModule, available_tasks, register_task, task_class
from speechdl.train.trainer import RunResult, TrainingInterrupted, build_trainer, train

__all__ = [
    "Component", "RecipeConfig", "RecipeDataModule", "RunResult", "TaskModule", "TrainingInterrupted",
    "available_datasets", "available_tasks", "build_dataset", "build_trainer", "check_components",
    "pad_collate", "register_dataset", "register_task", "task_class", "train",
]

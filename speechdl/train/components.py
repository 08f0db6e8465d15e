"""Check a recipe's named components against their registries before any work starts.

Kept apart from :mod:`speechdl.train.config` (pure dataclasses and YAML), which the optimiser and the
tasks import: checking needs the tasks, so living in ``config`` made an import circle.

Example:
    >>> from speechdl.train.config import RecipeConfig
    >>> cfg = RecipeConfig.from_dict({"task": {"name": "classify"}, "model": {"name": "dense", "in_dim": 4,
    ...     "out_dim": 2}, "data": {"name": "toy_frames", "dim": 4}})
    >>> check_components(cfg)
"""

from __future__ import annotations

from speechdl.errors import ConfigError
from speechdl.train.config import RecipeConfig


def check_components(cfg: RecipeConfig) -> None:
    """Import ``cfg.imports`` (optional: the catalogue finds speechdl's own names), then check
    task/model/data names and kwargs against their registries."""
    import importlib
    import os
    import sys

    if cfg.imports and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())   # modules of the project the command runs in
    for mod in cfg.imports:
        try:
            importlib.import_module(mod)
        except ImportError as err:
            raise ConfigError(f"imports: {mod}", f"cannot import ({err})",
                              "check the module name and PYTHONPATH") from None

    from speechdl.nn import registry
    from speechdl.train.datamodule import SPLIT_KEYS
    from speechdl.train.datasets import dataset_signature_target
    from speechdl.train.tasks import check_task_kwargs

    check_task_kwargs(cfg.task.name, cfg.task.kwargs)
    model_cls = registry._MODELS.get(cfg.model.name)
    registry.check_kwargs(model_cls.__init__, cfg.model.kwargs, f"model {cfg.model.name!r}")
    ds_kwargs = {k: v for k, v in cfg.data.kwargs.items() if k not in SPLIT_KEYS}
    registry.check_kwargs(dataset_signature_target(cfg.data.name), ds_kwargs, f"data {cfg.data.name!r}")
    frac = cfg.data.kwargs.get("val_fraction", SPLIT_KEYS["val_fraction"])
    if isinstance(frac, bool) or not isinstance(frac, int | float) or not 0 <= frac < 1:
        raise ConfigError("recipe", f"data.val_fraction: expected a number in [0, 1), got {frac!r}", "e.g. 0.2")
    for key, lo in (("max_epochs", -1), ("batch_size", 1), ("accumulate", 1), ("devices", 1), ("num_nodes", 1),
                    ("val_every", 1), ("log_every", 1)):
        if getattr(cfg.trainer, key) < lo:
            raise ConfigError("recipe", f"trainer.{key}: expected an integer >= {lo}, got {getattr(cfg.trainer, key)}",
                              "fix the recipe or the override")

"""The lecture's architectures, one family per module; every class is buildable by name from YAML.

Importing this package imports every module in it, so each family registers itself
(:func:`speechdl.nn.registry.register`) and its registered classes are exported here.

Example:
    >>> import torch
    >>> from speechdl.nn import build, available
    >>> "dense" in available()
    True
"""

import importlib
import pkgutil

from speechdl.nn.registry import _MODELS, available, build, check_kwargs, register

for _mod in pkgutil.iter_modules(__path__):
    if _mod.name != "registry" and not _mod.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_mod.name}")
globals().update({cls.__name__: cls for cls in _MODELS.values()})

__all__ = ["available", "build", "check_kwargs", "register", *sorted(cls.__name__ for cls in _MODELS.values())]

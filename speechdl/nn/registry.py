"""Name -> architecture registry, so that YAML recipes can build any model by name.

Every architecture class registers itself with :func:`register`; :func:`build` constructs it from a
name and keyword arguments, rejecting unknown arguments with a one-line :class:`ConfigError`.

Example:
    >>> from speechdl.nn import build
    >>> net = build("dense", in_dim=39, hidden=[12, 8, 4], out_dim=1)
    >>> type(net).__name__
    'DenseNet'
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from torch import nn

from speechdl.catalog import ARCHITECTURES
from speechdl.errors import ConfigError
from speechdl.registry import Registry

_MODELS = Registry("architecture", where="model", lazy=ARCHITECTURES)


def register(name: str) -> Callable[[type[nn.Module]], type[nn.Module]]:
    """Class decorator: make ``cls`` buildable as ``build(name, **kwargs)``."""
    return _MODELS.register(name)


def available() -> list[str]:
    """Registered model names (the catalogue's and any registered at run time)."""
    return _MODELS.names()


def check_kwargs(fn: Callable, kwargs: dict[str, Any], where: str) -> None:
    """Raise ConfigError if ``kwargs`` holds names that ``fn`` does not accept."""
    params = inspect.signature(fn).parameters
    if any(p.kind == p.VAR_KEYWORD for p in params.values()):
        return
    unknown = sorted(set(kwargs) - set(params) - {"self"})
    if unknown:
        valid = ", ".join(n for n in params if n != "self")
        raise ConfigError(where, f"unknown argument(s) {', '.join(unknown)}", f"valid: {valid}")
    missing = [n for n, p in params.items() if n != "self" and p.default is p.empty
               and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD) and n not in kwargs]
    if missing:
        raise ConfigError(where, f"missing argument(s) {', '.join(missing)}", "add them to the recipe")


def build(name: str, **kwargs: Any) -> nn.Module:
    """Construct the architecture registered as ``name`` (its module is imported on first use)."""
    cls = _MODELS.get(name)
    check_kwargs(cls.__init__, kwargs, f"model {name!r}")
    try:
        return cls(**kwargs)
    except (ValueError, TypeError, RuntimeError) as err:   # e.g. a negative layer size from a recipe: one line
        raise ConfigError(f"model {name!r}", f"cannot be built with {kwargs} ({type(err).__name__}: {err})",
                          "check the model's arguments in the recipe (model.*)") from None

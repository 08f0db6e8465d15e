"""Name -> object registries, lazy: how recipes, the CLI, the server and ``speechdl.load`` find things.

A :class:`Registry` holds objects registered by decorator (``@reg.register("name")``) and *lazy*
entries, ``name -> "module:attr"`` strings from :mod:`speechdl.catalog`, imported only when that
name is first asked for. So ``speechdl --help`` and recipes need no ``imports:`` list and import
nothing heavy: the catalogue is the one table of what exists.

Example:
    >>> reg = Registry("widget", lazy={"path": "pathlib:Path"})
    >>> @reg.register("round")
    ... class Round: ...
    >>> reg.get("round").__name__, reg.get("path").__name__, reg.names()
    ('Round', 'Path', ['path', 'round'])
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from typing import Any

from speechdl.errors import ConfigError


def import_object(spec: str) -> Any:
    """The object named by ``"package.module:attr"`` (``attr`` may be dotted)."""
    module, _, attr = spec.partition(":")
    obj: Any = importlib.import_module(module)
    for part in filter(None, attr.split(".")):
        obj = getattr(obj, part)
    return obj


class Registry:
    """Objects registered under unique names; unknown names raise a one-line :class:`ConfigError`.

    Args:
        kind: what is registered (for messages). where: the recipe key it is named under.
        lazy: ``{name: "module:attr"}`` entries imported on first use.
    """

    def __init__(self, kind: str, where: str | None = None, lazy: dict[str, str] | None = None) -> None:
        self.kind, self.where = kind, where or kind
        self._items: dict[str, Any] = {}
        self._lazy: dict[str, str] = dict(lazy or {})

    def register(self, name: str) -> Callable[[Any], Any]:
        """Decorator: register the decorated class or function as ``name``."""

        def deco(obj: Any) -> Any:
            if name in self._items and self._items[name] is not obj:
                raise ValueError(f"{self.kind} name {name!r} registered twice")
            self._items[name] = obj
            return obj

        return deco

    def add_lazy(self, name: str, spec: str) -> None:
        """Declare ``name`` as ``"module:attr"``, imported when first asked for."""
        self._lazy[name] = spec

    def names(self) -> list[str]:
        """Registered and declared names, sorted."""
        return sorted(set(self._items) | set(self._lazy))

    def spec(self, name: str) -> str | None:
        """The lazy ``"module:attr"`` of ``name`` (None if it was registered directly)."""
        return self._lazy.get(name)

    def get(self, name: str) -> Any:
        """The object registered as ``name`` (importing its module if it is a lazy entry)."""
        if name not in self._items and name in self._lazy:
            obj = import_object(self._lazy[name])
            self._items.setdefault(name, obj)   # its module's decorator may have registered it already
        if name not in self._items:
            raise ConfigError(f"{self.where} {name!r}", f"unknown {self.kind}",
                              f"choose one of: {', '.join(self.names())}")
        return self._items[name]

    def __contains__(self, name: object) -> bool:
        return name in self._items or name in self._lazy

    def values(self) -> Iterator[Any]:
        """The objects registered so far (lazy entries not yet imported are left out)."""
        return iter(list(self._items.values()))

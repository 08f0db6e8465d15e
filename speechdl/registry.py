"""A name -> object registry: how recipes find architectures, tasks and datasets by name.

Example:
    >>> reg = Registry("widget")
    >>> @reg.register("round")
    ... class Round: ...
    >>> reg.get("round").__name__, reg.names()
    ('Round', ['round'])
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from speechdl.errors import ConfigError


class Registry:
    """Objects registered under unique names; unknown names raise a one-line :class:`ConfigError`."""

    def __init__(self, kind: str, where: str | None = None) -> None:
        self.kind, self.where = kind, where or kind
        self._items: dict[str, Any] = {}

    def register(self, name: str) -> Callable[[Any], Any]:
        """Decorator: register the decorated class or function as ``name``."""

        def deco(obj: Any) -> Any:
            if name in self._items and self._items[name] is not obj:
                raise ValueError(f"{self.kind} name {name!r} registered twice")
            self._items[name] = obj
            return obj

        return deco

    def names(self) -> list[str]:
        """Registered names, sorted."""
        return sorted(self._items)

    def get(self, name: str) -> Any:
        """The object registered as ``name``."""
        if name not in self._items:
            raise ConfigError(f"{self.where} {name!r}", f"unknown {self.kind}",
                              f"choose one of: {', '.join(self.names())}")
        return self._items[name]

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def values(self) -> Iterator[Any]:
        """Registered objects."""
        return iter(list(self._items.values()))

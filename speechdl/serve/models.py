"""The served models: names fixed at start-up, pipelines loaded lazily once and cached.

Clients name a model (``POST /v1/vad``); the name must be one of the served bundle names, so a client
can never make the server open a path. What a route needs before loading (``inputs``, ``options``,
``streaming``) comes from the pipeline class; ``describe()`` loads the bundle.

Example:
    >>> table = ModelTable(("vad",))
    >>> table.names, table.info("vad")["inputs"], table.info("vad")["streaming"]
    (('vad',), 'audio', True)
    >>> table.get("vad").task
    'vad'
"""

from __future__ import annotations

import threading
from typing import Any

from speechdl.errors import ConfigError
from speechdl.serve.errors import ApiError


def served_names(models: tuple[str, ...] | None) -> tuple[str, ...]:
    """The bundle names to serve: ``models`` checked against the shipped ones, or all of them."""
    from speechdl.api import available

    shipped = [m["name"] for m in available()]
    if models is None:
        return tuple(shipped)
    unknown = [m for m in models if m not in shipped]
    if unknown:
        raise ConfigError("--models", f"unknown model(s) {', '.join(unknown)}",
                          f"choose from: {', '.join(shipped) or 'none shipped'}")
    if not models:
        raise ConfigError("--models", "no model named", f"choose from: {', '.join(shipped)}")
    return tuple(dict.fromkeys(models))


class ModelTable:
    """Served bundle names -> pipelines, loaded on first use (thread-safe, one load per model).

    ``pipelines``: ready-made pipelines served under their keys as well (tests, embedding applications).
    """

    def __init__(self, names: tuple[str, ...], pipelines: dict[str, Any] | None = None) -> None:
        self.names = tuple(dict.fromkeys([*names, *(pipelines or {})]))
        self._pipes: dict[str, Any] = dict(pipelines or {})
        self._failed: dict[str, str] = {}
        self._locks = {n: threading.Lock() for n in self.names}
        self._info: dict[str, dict[str, Any]] = {}

    def check(self, name: str) -> None:
        """ApiError 404 unless ``name`` is served."""
        if name not in self._locks:
            raise ApiError(404, f"unknown model {name[:80]!r}; served: {', '.join(self.names) or 'none'} "
                                "(GET /v1/tasks lists them)")

    def info(self, name: str) -> dict[str, Any]:
        """``{"name", "task", "inputs", "streaming", "options", "description"}`` without loading weights
        (from ``bundle.json`` and the pipeline class); ``"error"`` when the class cannot be imported."""
        self.check(name)
        if name not in self._info:
            from speechdl.api import pipeline_class, read_meta

            entry: dict[str, Any] = {"name": name}
            try:
                if name in self._pipes:  # given ready-made (tests, embedding applications)
                    cls = type(self._pipes[name])
                    entry["task"] = cls.task
                else:
                    _, meta = read_meta(name)
                    entry["task"] = meta["task"]
                    cls = pipeline_class(meta["task"])
                entry.update(inputs=cls.inputs, streaming=bool(cls.streaming), options=tuple(cls.options),
                             description=cls.description)
            except Exception as err:  # a task whose code is missing or broken is listed, not fatal
                entry.update(inputs="audio", streaming=False, options=(), description="",
                             error=f"{type(err).__name__}: {err}")
            self._info[name] = entry
        return self._info[name]

    def get(self, name: str) -> Any:
        """The loaded pipeline (ApiError 404 if not served, 503 if it cannot be loaded)."""
        self.check(name)
        if name in self._pipes:
            return self._pipes[name]
        with self._locks[name]:
            if name not in self._pipes and name not in self._failed:
                try:
                    from speechdl.api import load

                    self._pipes[name] = load(name)
                except Exception as err:  # SpeechdlError or a broken task module: 503, listed
                    self._failed[name] = f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
            if name in self._failed:
                raise ApiError(503, f"model {name!r} cannot be loaded ({self._failed[name]}); "
                                    "the server log and 'speechdl models' say more", "unavailable")
            return self._pipes[name]

    def describe(self, name: str) -> dict[str, Any]:
        """``pipeline.describe()`` (loads it); ``{"name", "task", "error"}`` if it cannot be loaded."""
        try:
            return self.get(name).describe()
        except ApiError as err:
            return {"name": name, "task": self.info(name).get("task"), "error": err.message}

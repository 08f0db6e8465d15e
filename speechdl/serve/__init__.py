"""HTTP API and web page for every model, generic over the registry (``speechdl serve``).

Nothing here knows a task: the routes, the OpenAPI description and the web page are built from each
served pipeline's declarations (``task``, ``inputs``, ``options``, ``streaming``, ``describe()``), so a
new application is served the moment its bundle is shipped. See ``docs/serve.md``.

Modules: :mod:`~speechdl.serve.config` (limits), :mod:`~speechdl.serve.errors` (one-line JSON errors),
:mod:`~speechdl.serve.uploads` (bounded uploads, audio checked before decoding),
:mod:`~speechdl.serve.models` (lazy, cached pipelines), :mod:`~speechdl.serve.workers` (bounded pool,
timeouts), :mod:`~speechdl.serve.app` (routes), :mod:`~speechdl.serve.stream` (WebSocket streaming),
:mod:`~speechdl.serve.cli` (``speechdl serve``).

Example:
    >>> from speechdl.serve.config import ServeConfig
    >>> ServeConfig(models=("vad",)).max_upload_bytes
    26214400
"""

from __future__ import annotations

from typing import Any

__all__ = ["create_app"]


def create_app(config: Any = None, pipelines: dict[str, Any] | None = None) -> Any:
    """The FastAPI application (see :func:`speechdl.serve.app.create_app`)."""
    from speechdl.serve.app import create_app as _create

    return _create(config, pipelines)

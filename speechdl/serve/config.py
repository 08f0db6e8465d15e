"""Limits and settings of the HTTP server (one frozen dataclass, filled by ``speechdl serve`` flags).

Example:
    >>> cfg = ServeConfig(models=("vad",), max_upload_mb=1, max_seconds=30)
    >>> cfg.max_upload_bytes, cfg.capacity
    (1048576, 18)
    >>> ServeConfig(workers=0)
    Traceback (most recent call last):
    ...
    speechdl.errors.ConfigError: --workers: expected an integer >= 1, got 0 (pass e.g. --workers 2)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from speechdl.errors import ConfigError


@dataclass(frozen=True)
class ServeConfig:
    """Server settings.

    Args:
        host, port: where uvicorn listens (loopback by default: exposing it is the user's decision).
        models: bundle names served (None: every shipped bundle). Clients can never name a path.
        max_upload_mb: largest request body (MiB); checked on ``Content-Length`` and while reading.
        max_seconds: longest audio accepted (s, per file and per stream), read from the header.
        workers: threads running models; queue: requests waiting beyond them (then 503).
        timeout: seconds a request may wait + run before a 504.
    """

    host: str = "127.0.0.1"
    port: int = 8000
    models: tuple[str, ...] | None = None
    max_upload_mb: float = 25.0
    max_seconds: float = 600.0
    workers: int = 2
    queue: int = 16
    timeout: float = 60.0

    def __post_init__(self) -> None:
        for name, lo in (("workers", 1), ("queue", 0), ("port", 0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < lo:
                raise ConfigError(f"--{name}", f"expected an integer >= {lo}, got {value!r}",
                                  f"pass e.g. --{name} {max(lo, 2)}")
        for name in ("max_upload_mb", "max_seconds", "timeout"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) \
                    or value <= 0:
                raise ConfigError(f"--{name.replace('_', '-')}", f"expected a positive number, got {value!r}",
                                  f"pass e.g. --{name.replace('_', '-')} 10")

    @property
    def max_upload_bytes(self) -> int:
        """``max_upload_mb`` in bytes."""
        return int(self.max_upload_mb * 1024 * 1024)

    @property
    def capacity(self) -> int:
        """Jobs admitted at once (running + waiting); one more is answered 503."""
        return self.workers + self.queue

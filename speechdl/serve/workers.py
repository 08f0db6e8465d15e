"""A bounded worker pool: at most ``workers`` models run at once, ``queue`` more wait, the rest get 503.

The event loop never runs a model: :meth:`WorkerPool.run` hands the job to a thread and waits at
most ``timeout`` seconds (then 504; a job still queued is cancelled, a running one finishes in the
background and only then frees its slot, so the bound on running work holds).

Example:
    >>> import asyncio
    >>> pool = WorkerPool(workers=1, queue=0, timeout=5)
    >>> asyncio.run(pool.run(sum, [1, 2, 3]))
    6
    >>> pool.close()
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from speechdl.serve.errors import ApiError


class WorkerPool:
    """Threads that run models, with admission control and a per-job timeout (seconds)."""

    def __init__(self, workers: int, queue: int, timeout: float) -> None:
        self.workers, self.capacity, self.timeout = workers, workers + queue, float(timeout)
        self._executor = ThreadPoolExecutor(workers, thread_name_prefix="speechdl-serve")
        self._lock = threading.Lock()
        self.busy = 0  # admitted jobs not finished (running or waiting)

    def _admit(self) -> None:
        with self._lock:
            if self.busy >= self.capacity:
                raise ApiError(503, f"the server is busy ({self.busy} requests running or waiting); "
                                    "retry in a moment", "busy")
            self.busy += 1

    def _release(self, _: Future | None = None) -> None:
        with self._lock:
            self.busy -= 1

    async def run(self, fn: Callable[..., Any], *args: Any, on_done: Callable[[], None] | None = None,
                  **kwargs: Any) -> Any:
        """``fn(*args, **kwargs)`` on a worker thread; ApiError 503 when full, 504 after the timeout.

        ``on_done`` runs exactly once, when the job has really ended (also after a timeout, or at once when
        it was not admitted): the place to remove its temporary files.
        """
        try:
            self._admit()
        except ApiError:
            if on_done is not None:
                on_done()
            raise
        try:
            future = self._executor.submit(fn, *args, **kwargs)
        except RuntimeError:  # the pool is shutting down
            self._release()
            if on_done is not None:
                on_done()
            raise ApiError(503, "the server is shutting down; retry later", "unavailable") from None
        future.add_done_callback(self._release)
        if on_done is not None:
            future.add_done_callback(lambda _: on_done())
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), self.timeout)
        except TimeoutError:
            future.cancel()
            raise ApiError(504, f"the request took longer than the {self.timeout:g} s allowed; send shorter "
                                "audio or retry when the server is less busy", "timeout") from None

    def close(self) -> None:
        """Stop accepting jobs; queued ones are cancelled."""
        self._executor.shutdown(wait=False, cancel_futures=True)

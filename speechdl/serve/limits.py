"""Request-body limit as ASGI middleware: by ``Content-Length`` before reading, then while reading.

A body announced larger than ``limit`` is answered 413 without reading a byte of it; a body without a
length (chunked) or lying about it is cut off at ``limit`` bytes with the same error.

Example:
    >>> from fastapi import FastAPI, Request
    >>> from fastapi.testclient import TestClient
    >>> app = FastAPI()
    >>> @app.post("/")
    ... async def echo(request: Request):
    ...     return {"n": len(await request.body())}
    >>> app.add_middleware(BodyLimit, limit=10)
    >>> c = TestClient(app)
    >>> c.post("/", content=b"12345").json(), c.post("/", content=b"x" * 11).status_code
    ({'n': 5}, 413)
"""

from __future__ import annotations

import json
from typing import Any

from speechdl.serve.errors import ApiError


class BodyTooLarge(ApiError):
    """The body went over the limit while it was being read."""


async def _send_error(send: Any, err: ApiError) -> None:
    body = json.dumps(err.body(), separators=(",", ":")).encode()
    await send({"type": "http.response.start", "status": err.status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


class BodyLimit:
    """ASGI middleware bounding HTTP request bodies to ``limit`` bytes (413 JSON beyond)."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app, self.limit = app, int(limit)

    def _too_large(self, size: int | None = None) -> ApiError:
        got = f" ({size} bytes announced)" if size is not None else ""
        return BodyTooLarge(413, f"request body over the {self.limit} bytes allowed{got}; send a smaller file "
                                 "(the server's --max-upload-mb)", "payload_too_large")

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None:
            try:
                size = int(length)
            except ValueError:
                size = -1
            if size < 0:
                await _send_error(send, ApiError(400, "invalid Content-Length header"))
                return
            if size > self.limit:
                await _send_error(send, self._too_large(size))
                return
        seen = 0

        async def limited_receive() -> Any:
            nonlocal seen
            message = await receive()
            if message.get("type") == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise self._too_large()
            return message

        await self.app(scope, limited_receive, send)

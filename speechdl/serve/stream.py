"""``/v1/{name}/stream``: a streaming model over a WebSocket.

Protocol (one JSON object per text message; every server message has an ``"event"``):

1. connect to ``/v1/vad/stream?format=s16&threshold=0.6`` (``format``: ``f32`` little-endian float32,
   the default, or ``s16`` little-endian int16; ``sample_rate``, when given, must be the model's;
   other query parameters are the model's options) and/or send first
   ``{"event": "start", "format": "s16", "sample_rate": 16000, "options": {...}}``;
   the server answers ``{"event": "ready", "name", "sample_rate", "format", "options"}``;
2. send binary frames of mono PCM at the model's rate, any length; each is answered
   ``{"event": "chunk", <Stream.forward_chunk output>}``;
3. send ``{"event": "end"}``; the server answers ``{"event": "end", <Stream.finish output>}`` and
   closes (1000).

An error is sent as ``{"event": "error", "error": {"type", "message"}}`` and the socket is closed with
code 4000 + the HTTP status it would have had (4400, 4404, 4413, 4422, 4503, 4504).

Example:
    >>> decode_pcm(b"\\x00\\x40" * 2, "s16").tolist()
    [0.5, 0.5]
    >>> decode_pcm(b"\\x00\\x00\\x80\\x3f", "f32").tolist()
    [1.0]
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
from fastapi import FastAPI, WebSocket, WebSocketDisconnect

from speechdl.errors import ConfigError
from speechdl.serve.errors import ApiError, from_exception

FORMATS = {"f32": "f32", "float32": "f32", "s16": "s16", "int16": "s16"}


def decode_pcm(data: bytes, fmt: str) -> np.ndarray:
    """Little-endian PCM bytes -> float32 samples in [-1, 1] (ApiError 400 on a partial sample or NaN)."""
    width = 4 if fmt == "f32" else 2
    if len(data) % width:
        raise ApiError(400, f"a binary frame of {len(data)} bytes is not a whole number of {fmt} samples "
                            f"({width} bytes each)")
    if fmt == "s16":
        return np.frombuffer(data, "<i2").astype(np.float32) / 32768.0
    x = np.frombuffer(data, "<f4").astype(np.float32)
    if not np.isfinite(x).all():
        raise ApiError(400, "the audio holds NaN or infinite samples; send finite float32 PCM")
    return x


class StreamSession:
    """One WebSocket stream: its settings, the model's :class:`~speechdl.api.Stream` and its state."""

    def __init__(self, server: Any, name: str, pipe: Any, query: dict[str, str]) -> None:
        self.server, self.name, self.pipe, self.query = server, name, pipe, query
        self.stream: Any = None
        self.state: Any = None
        self.format = "f32"
        self.samples = 0

    def configure(self, start: dict[str, Any]) -> dict[str, Any]:
        """Settings from the query merged with a ``start`` message -> the ``ready`` message."""
        settings = dict(self.query)
        options = start.get("options") or {}
        if not isinstance(options, dict):
            raise ApiError(400, '"options" must be a JSON object')
        for key in ("format", "sample_rate"):
            if key in start:
                settings[key] = start[key]
        fmt = FORMATS.get(str(settings.pop("format", "f32")).lower())
        if fmt is None:
            raise ApiError(400, "format must be f32 (little-endian float32) or s16 (little-endian int16)")
        rate = settings.pop("sample_rate", None)
        if rate is not None and str(rate) != str(self.pipe.sample_rate):
            raise ApiError(400, f"sample_rate {str(rate)[:20]} is not the model's {self.pipe.sample_rate} Hz; "
                                "resample on the client (or send a file to POST /v1/" + self.name + ")")
        settings.update(options)
        try:
            self.stream = self.pipe.stream(**settings)
            checked = self.pipe.check_options(settings)
        except ConfigError as err:
            raise ApiError(422, str(err), "invalid_option") from None
        self.state, self.format = self.stream.init_state(), fmt
        return {"event": "ready", "name": self.name, "sample_rate": self.pipe.sample_rate, "format": fmt,
                "options": {k: v for k, v in checked.items() if v is not None}}

    async def chunk(self, data: bytes) -> dict[str, Any]:
        """One binary frame -> the ``chunk`` message."""
        cfg = self.server.config
        if len(data) > cfg.max_upload_bytes:
            raise ApiError(413, f"a frame of {len(data)} bytes is over the {cfg.max_upload_bytes} allowed; "
                                "send smaller frames")
        samples = decode_pcm(data, self.format)
        self.samples += samples.size
        if self.samples > cfg.max_seconds * self.pipe.sample_rate:
            raise ApiError(413, f"the stream went over the {cfg.max_seconds:g} s allowed; open a new one")
        out, self.state = await self.server.pool.run(self.stream.forward_chunk, samples, self.state)
        return {"event": "chunk", **out}

    async def end(self) -> dict[str, Any]:
        """The ``end`` message (what the state still held)."""
        out = await self.server.pool.run(self.stream.finish, self.state)
        return {"event": "end", **out}


async def _serve(ws: WebSocket, server: Any, name: str) -> None:
    server.models.check(name)
    if not server.models.info(name).get("streaming"):
        raise ApiError(400, f"model {name!r} does not stream; POST a file to /v1/{name}")
    session = StreamSession(server, name, await server.pipeline(name), dict(ws.query_params))
    while True:
        message = await ws.receive()
        if message["type"] == "websocket.disconnect":
            return
        if message.get("bytes") is not None:
            if session.stream is None:
                await ws.send_json(session.configure({}))
            await ws.send_json(await session.chunk(message["bytes"]))
            continue
        try:
            event = json.loads(message.get("text") or "")
        except ValueError:
            raise ApiError(400, 'text messages must be JSON: {"event": "start" | "end", ...}') from None
        kind = event.get("event") if isinstance(event, dict) else None
        if kind == "start":
            if session.stream is not None:
                raise ApiError(400, '"start" must come first, before any audio, once')
            await ws.send_json(session.configure(event))
        elif kind == "end":
            if session.stream is None:
                await ws.send_json(session.configure({}))
            await ws.send_json(await session.end())
            await ws.close(1000)
            return
        else:
            raise ApiError(400, 'unknown message; send {"event": "start"}, binary PCM frames, then {"event": "end"}')


def add_stream_route(app: FastAPI, server: Any) -> None:
    """Add ``/v1/{name}/stream`` to ``app``."""

    @app.websocket("/v1/{name}/stream")
    async def stream(ws: WebSocket, name: str) -> None:
        await ws.accept()
        try:
            await _serve(ws, server, name)
        except WebSocketDisconnect:
            return
        except Exception as err:  # every failure is one JSON message and a close code, never a traceback
            api = from_exception(err)
            try:
                await ws.send_json({"event": "error", **api.body()})
                await ws.close(api.ws_close_code())
            except Exception:  # the client is gone
                return

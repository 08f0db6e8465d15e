"""The FastAPI application: ``/v1/tasks``, ``POST /v1/{name}``, ``/v1/{name}/stream``, ``/health``, ``/``.

Every route is generic: a served model's route, its OpenAPI body and its checks come from the
pipeline's declarations. Request bodies are parsed by hand so that every failure is one line of JSON
(:mod:`speechdl.serve.errors`) with the right status; nothing a client sends becomes a traceback.

Example:
    >>> from fastapi.testclient import TestClient
    >>> from speechdl.serve.config import ServeConfig
    >>> client = TestClient(create_app(ServeConfig(models=("vad",))))
    >>> client.get("/health").json()["status"]
    'ok'
    >>> r = client.post("/v1/nope", files={"audio": ("a.wav", b"x")})
    >>> r.status_code, r.json()["error"]["type"]
    (404, 'not_found')
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from speechdl import __version__
from speechdl.errors import ConfigError
from speechdl.serve.config import ServeConfig
from speechdl.serve.errors import ApiError, from_exception
from speechdl.serve.limits import BodyLimit
from speechdl.serve.models import ModelTable, served_names
from speechdl.serve.schema import INPUT_FIELDS, openapi_extra
from speechdl.serve.uploads import inspect_audio, new_workdir, remove_workdir, safe_name, save_upload
from speechdl.serve.workers import WorkerPool

STATIC = Path(__file__).resolve().parent / "static"
FORM_SLACK = 64 * 1024  # multipart framing and option fields on top of the audio bytes


def error_response(err: ApiError) -> JSONResponse:
    """``err`` as a JSON response (``Retry-After`` on 503)."""
    headers = {"Retry-After": "1"} if err.status == 503 else None
    return JSONResponse(err.body(), status_code=err.status, headers=headers)


def guarded(handler: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    """Wrap a route so that any exception becomes one line of JSON (never a traceback or HTML)."""
    @functools.wraps(handler)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return await handler(*args, **kwargs)
        except Exception as err:  # every failure is answered, none escapes to the ASGI server
            return error_response(from_exception(err))
    return wrapper


def scrub_value(value: Any, mapping: dict[str, str]) -> Any:
    """``value`` with every server path in ``mapping`` (temp files) replaced by what the client sent."""
    if isinstance(value, dict):
        return {k: scrub_value(v, mapping) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub_value(v, mapping) for v in value]
    if isinstance(value, str):
        for secret, shown in sorted(mapping.items(), key=lambda kv: -len(kv[0])):
            value = value.replace(secret, shown)
    return value


def _merge_options(query: list[tuple[str, str]], body: list[tuple[str, Any]]) -> dict[str, Any]:
    options: dict[str, Any] = {}
    for key, value in [*query, *body]:
        if key in options:
            raise ApiError(422, f"option {key[:40]!r} given twice (query and form fields are merged); "
                                "give it once", "invalid_option")
        options[key] = value
    return options


class Server:
    """State shared by the routes: config, served models, worker pool."""

    def __init__(self, config: ServeConfig, pipelines: dict[str, Any] | None = None) -> None:
        self.config = config
        names = served_names(config.models) if pipelines is None or config.models is not None else ()
        self.models = ModelTable(names, pipelines)
        self.pool = WorkerPool(config.workers, config.queue, config.timeout)

    async def pipeline(self, name: str) -> Any:
        """The loaded pipeline of ``name`` (404 / 503); loading runs off the event loop."""
        self.models.check(name)
        return await asyncio.to_thread(self.models.get, name)

    @staticmethod
    def check_options(pipe: Any, options: dict[str, Any]) -> dict[str, Any]:
        """``pipe.check_options`` with its ConfigError as a 422."""
        try:
            return pipe.check_options(options)
        except ConfigError as err:
            raise ApiError(422, str(err), "invalid_option") from None

    async def predict(self, request: Request, name: str) -> JSONResponse:
        """``POST /v1/{name}``: run one input (multipart audio or JSON text) -> ``Result.to_dict()``."""
        self.models.check(name)
        info = self.models.info(name)
        if "error" in info:
            raise ApiError(503, f"model {name!r} cannot be loaded ({info['error']})", "unavailable")
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        query = list(request.query_params.multi_items())
        if info["inputs"] == "text":
            return await self._predict_text(request, name, ctype, query)
        if ctype != "multipart/form-data":
            raise ApiError(415, f"Content-Type {ctype or '(none)'!r}: {name} takes a multipart/form-data upload "
                                f"with field(s) {', '.join(INPUT_FIELDS[info['inputs']])}")
        form = await request.form(max_files=4, max_fields=64, max_part_size=FORM_SLACK)
        fields = INPUT_FIELDS[info["inputs"]]
        uploads: dict[str, UploadFile] = {}
        strings: list[tuple[str, Any]] = []
        for key, value in form.multi_items():
            if isinstance(value, UploadFile):
                if key in uploads:
                    raise ApiError(400, f"file field {key!r} given twice; send one file per field")
                if key not in fields:
                    raise ApiError(400, f"unexpected file field {key[:40]!r}; {name} takes "
                                        f"{' and '.join(fields)} (one file each)")
                uploads[key] = value
            elif key in fields:
                raise ApiError(400, f"field {key!r} must be a file upload (multipart with a filename)")
            else:
                strings.append((key, value))
        missing = [f for f in fields if f not in uploads]
        if missing:
            raise ApiError(400, f"missing file field(s) {', '.join(missing)}; {name} takes "
                                f"{' and '.join(fields)} as multipart file uploads")
        pipe = await self.pipeline(name)
        opts = self.check_options(pipe, _merge_options(query, strings))
        workdir = new_workdir()
        handed = False
        try:
            scrub: dict[str, str] = {}
            paths = []
            for field in fields:
                label = safe_name(uploads[field].filename, default=field)
                path = await asyncio.to_thread(save_upload, uploads[field].file, workdir, field, label,
                                               self.config.max_upload_bytes)
                await asyncio.to_thread(inspect_audio, path, label, self.config.max_seconds)
                scrub[str(path)] = label
                paths.append(str(path))
            scrub[str(workdir)] = "<upload>"
            inputs = paths[0] if len(paths) == 1 else tuple(paths)
            handed = True
            try:
                result = await self.pool.run(lambda: pipe.run(inputs, **opts).to_dict(),
                                             on_done=lambda: remove_workdir(workdir))
            except ApiError:
                raise
            except Exception as err:
                raise from_exception(err, scrub) from None
            return JSONResponse(scrub_value(result, scrub))
        finally:
            if not handed:
                remove_workdir(workdir)

    async def _predict_text(self, request: Request, name: str, ctype: str,
                            query: list[tuple[str, str]]) -> JSONResponse:
        if ctype != "application/json":
            raise ApiError(415, f"Content-Type {ctype or '(none)'!r}: {name} takes a JSON body "
                                '{"text": "...", <options>}')
        raw = await request.body()
        try:
            body = json.loads(raw)
        except ValueError:
            raise ApiError(400, 'the body is not valid JSON; send {"text": "...", <options>}') from None
        if not isinstance(body, dict) or not isinstance(body.get("text"), str) or not body["text"].strip():
            raise ApiError(400, 'missing "text": send a JSON object {"text": "<non-empty string>", <options>}')
        text = body.pop("text")
        pipe = await self.pipeline(name)
        opts = self.check_options(pipe, _merge_options(query, list(body.items())))
        result = await self.pool.run(lambda: pipe.run(text, **opts).to_dict())
        return JSONResponse(result)


def create_app(config: ServeConfig | None = None, pipelines: dict[str, Any] | None = None) -> FastAPI:
    """The application serving ``config.models`` (every shipped bundle by default).

    ``pipelines``: ready-made :class:`~speechdl.api.Pipeline` s served under their keys (then only they,
    plus ``config.models`` when it is set): for tests and applications that build their own.
    """
    config = config or ServeConfig()
    server = Server(config, pipelines)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> Any:
        yield
        server.pool.close()

    app = FastAPI(title="speechdl", version=__version__, lifespan=lifespan,
                  description="Every speechdl model over HTTP: `GET /v1/tasks` lists them; `POST /v1/{name}` runs "
                              "one (multipart audio, or JSON for text tasks); `/v1/{name}/stream` streams "
                              "(WebSocket). Errors are `{\"error\": {\"type\", \"message\"}}`. See docs/serve.md.")
    app.state.server = server
    app.add_middleware(BodyLimit, limit=config.max_upload_bytes + FORM_SLACK)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = str(exc.detail)
        if exc.status_code == 404:
            message = f"no route {request.method} {request.url.path[:100]}; see /docs"
        elif exc.status_code == 405:
            message = f"method {request.method} not allowed on {request.url.path[:100]}; see /docs"
        return error_response(ApiError(exc.status_code, message))

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        return error_response(ApiError(422, f"{'.'.join(map(str, first.get('loc', [])))}: {first.get('msg', '')}"))

    @app.exception_handler(Exception)
    async def any_error(_: Request, exc: Exception) -> JSONResponse:
        return error_response(from_exception(exc))

    @app.get("/health", tags=["server"], summary="liveness, served models, queue use")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "version": __version__, "models": list(server.models.names),
                "busy": server.pool.busy, "capacity": server.pool.capacity}

    @app.get("/v1/tasks", tags=["server"], summary="describe() of every served model")
    @guarded
    async def tasks() -> Any:
        described = [await asyncio.to_thread(server.models.describe, n) for n in server.models.names]
        return {"models": described, "limits": {"max_upload_mb": config.max_upload_mb,
                                                "max_seconds": config.max_seconds, "timeout": config.timeout}}

    def model_route(name: str) -> Callable[[Request], Awaitable[Any]]:
        @guarded
        async def route(request: Request) -> Any:
            return await server.predict(request, name)
        return route

    for name in server.models.names:
        info = server.models.info(name)
        app.add_api_route(f"/v1/{name}", model_route(name), methods=["POST"], tags=["models"], name=f"run {name}",
                          summary=f"{name} ({info.get('task')}, {info['inputs']}): run once",
                          description=info.get("description") or info.get("error", ""),
                          openapi_extra=openapi_extra(info))

    @app.get("/v1/{name}", tags=["server"], summary="describe() of one model")
    @guarded
    async def describe(name: str) -> Any:
        return (await server.pipeline(name)).describe()

    @app.post("/v1/{name}", include_in_schema=False)
    @guarded
    async def any_model(request: Request, name: str) -> Any:  # the same handler: 404 for unknown names
        return await server.predict(request, name)

    from speechdl.serve.stream import add_stream_route

    add_stream_route(app, server)

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app

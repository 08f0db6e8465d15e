"""``speechdl serve``: the HTTP API and the web page on uvicorn (``127.0.0.1:8000`` by default).

Example:
    >>> import argparse
    >>> groups = argparse.ArgumentParser(prog="speechdl").add_subparsers()
    >>> register(groups)
    >>> args = groups.choices["serve"].parse_args(["--models", "vad,asr", "--port", "0"])
    >>> config_from_args(args).models, config_from_args(args).port
    (('vad', 'asr'), 0)
"""

from __future__ import annotations

import argparse
import os
import socket
from typing import Any

from speechdl.errors import ConfigError
from speechdl.serve.config import ServeConfig


def config_from_args(args: argparse.Namespace) -> ServeConfig:
    """The :class:`ServeConfig` of the parsed flags."""
    models = None
    if args.models:
        models = tuple(m.strip() for m in args.models.split(",") if m.strip())
    return ServeConfig(host=args.host, port=args.port, models=models, max_upload_mb=args.max_upload_mb,
                       max_seconds=args.max_seconds, workers=args.workers, queue=args.queue, timeout=args.timeout)


def _check_port(host: str, port: int) -> None:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as err:
        raise ConfigError("--host", f"cannot resolve {host!r} ({err.strerror or err})", "pass an address") from None
    family, _, _, _, addr = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(addr)
        except OSError as err:
            raise ConfigError(f"{host}:{port}", f"cannot listen here ({err.strerror or err})",
                              "pick another --port or stop the other server") from None


def serve_cmd(args: argparse.Namespace) -> int:
    """Handler of ``speechdl serve``."""
    import uvicorn

    from speechdl.serve.app import create_app

    config = config_from_args(args)
    _check_port(config.host, config.port)
    threads = args.threads or max(1, (os.cpu_count() or 1) // config.workers)
    import torch

    torch.set_num_threads(threads)
    app = create_app(config)
    if args.preload:
        for name in app.state.server.models.names:
            app.state.server.models.describe(name)
    print(f"speechdl: serving {', '.join(app.state.server.models.names)} on http://{config.host}:{config.port}/ "
          f"({config.workers} workers x {threads} threads; API docs at /docs)", flush=True)
    uvicorn.run(app, host=config.host, port=config.port, log_level=args.log_level,
                ws_max_size=config.max_upload_bytes + 1024, timeout_keep_alive=5,
                access_log=args.log_level in ("info", "debug"))
    return 0


def register(groups: Any) -> None:
    """Add ``speechdl serve``."""
    p = groups.add_parser("serve", help="HTTP API and web page for every model (FastAPI + uvicorn)",
                          description="Serve the shipped models over HTTP: the web page at /, the API under /v1 "
                                      "(GET /v1/tasks, POST /v1/NAME, WebSocket /v1/NAME/stream), /health and "
                                      "the OpenAPI docs at /docs. See docs/serve.md.")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: loopback only)")
    from speechdl.validate import flag

    p.add_argument("--port", type=flag("--port", "int", 0, 65535, example=8000), default=8000,
                   help="port (default: 8000; 0: any free port)")
    p.add_argument("--models", default=None, help="comma-separated bundle names to serve (default: all shipped)")
    p.add_argument("--max-upload-mb", type=flag("--max-upload-mb", "float", 0, 1e5, low_open=True, example=25),
                   default=25.0, help="largest upload in MiB (default: 25)")
    p.add_argument("--max-seconds", type=flag("--max-seconds", "float", 0, 86400, low_open=True, example=600),
                   default=600.0, help="longest audio in seconds (default: 600)")
    p.add_argument("--workers", type=flag("--workers", "int", 1, 256, example=2), default=2,
                   help="requests run at once (default: 2)")
    p.add_argument("--queue", type=flag("--queue", "int", 0, 100000, example=16), default=16,
                   help="requests waiting beyond the workers; then 503 (default: 16)")
    p.add_argument("--timeout", type=flag("--timeout", "float", 0, 86400, low_open=True, example=60), default=60.0,
                   help="seconds per request, waiting included; then 504 (default: 60)")
    p.add_argument("--threads", type=flag("--threads", "int", 0, 1024), default=0,
                   help="torch threads (default: CPU cores / workers)")
    p.add_argument("--preload", action="store_true", help="load every model before listening")
    p.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"],
                   help="uvicorn log level (default: info)")
    p.set_defaults(func=serve_cmd, subparser=p)

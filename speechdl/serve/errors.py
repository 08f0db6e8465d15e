"""One-line JSON errors: ``{"error": {"type": ..., "message": ...}}`` with the right HTTP status.

Every failure the server can meet maps to one :class:`ApiError`; :func:`from_exception` turns the
package's own errors (:mod:`speechdl.errors`) and anything unexpected into one, so a client never sees
a traceback or an HTML page.

Example:
    >>> from speechdl.errors import AudioError
    >>> e = from_exception(AudioError("/tmp/x/audio.wav", "cannot decode audio", "re-export it"),
    ...                    scrub={"/tmp/x/audio.wav": "a.wav"})
    >>> e.status, e.body()
    (400, {'error': {'type': 'bad_audio', 'message': 'a.wav: cannot decode audio (re-export it)'}})
"""

from __future__ import annotations

import logging
import os
from typing import Any

from speechdl.errors import AudioError, ConfigError, DataError, SpeechdlError, ToolError

log = logging.getLogger("speechdl.serve")

# HTTP status -> error type (the default type of an ApiError with that status)
TYPES = {400: "bad_request", 404: "not_found", 405: "method_not_allowed", 413: "payload_too_large",
         415: "unsupported_media_type", 422: "invalid_option", 500: "internal_error", 503: "unavailable",
         504: "timeout"}


class ApiError(Exception):
    """An HTTP error answered as one line of JSON (``status``; ``type``: a short machine name)."""

    def __init__(self, status: int, message: str, type: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message = int(status), " ".join(str(message).split())
        self.type = type or TYPES.get(self.status, "error")

    def body(self) -> dict[str, Any]:
        """The JSON body."""
        return {"error": {"type": self.type, "message": self.message}}

    def ws_close_code(self) -> int:
        """The WebSocket close code carrying the same status (4000 + HTTP status, e.g. 4404)."""
        return 4000 + self.status


def _scrub(text: str, scrub: dict[str, str] | None) -> str:
    for secret, shown in sorted((scrub or {}).items(), key=lambda kv: -len(kv[0])):
        text = text.replace(secret, shown)
    return text


def from_exception(err: BaseException, scrub: dict[str, str] | None = None) -> ApiError:
    """``err`` as an :class:`ApiError`; ``scrub`` replaces server paths (temp files) in the message."""
    if isinstance(err, ApiError):
        return err
    from starlette.exceptions import HTTPException

    if isinstance(err, HTTPException):  # raised by Starlette itself, e.g. on a malformed multipart body
        detail = str(err.detail).rstrip(".")
        if err.status_code == 400:
            detail = f"{detail}; send a multipart/form-data body with the audio file(s)"
        return ApiError(err.status_code, _scrub(detail, scrub))
    if isinstance(err, SpeechdlError):
        message = _scrub(str(err), scrub)
        if isinstance(err, AudioError):
            return ApiError(400, message, "bad_audio")
        if isinstance(err, ConfigError):
            return ApiError(422, message, "invalid_option")
        if isinstance(err, DataError):
            return ApiError(400, message, "bad_request")
        if isinstance(err, ToolError):
            return ApiError(503, message, "unavailable")
        return ApiError(400, message, "bad_request")
    if isinstance(err, MemoryError):
        return ApiError(503, "out of memory for this request; send a shorter input", "unavailable")
    first = _scrub(str(err).splitlines()[0] if str(err) else "", scrub)
    log.error("internal error: %s: %s", type(err).__name__, first,
              exc_info=err if os.environ.get("SPEECHDL_DEBUG") else None)
    return ApiError(500, f"{type(err).__name__}: {first} (a server bug; please report it)", "internal_error")

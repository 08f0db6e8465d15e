"""OpenAPI descriptions of a model's endpoint, built from its declared inputs and options.

The request body is parsed by hand (so that every error is one line of our JSON), which means FastAPI
cannot infer it; :func:`request_body` writes what it would have: a multipart form with the audio
file(s) and one field per :class:`~speechdl.api.Option`, or a JSON object for text tasks.

Example:
    >>> from speechdl.api import Option
    >>> body = request_body("audio_pair", (Option("threshold", "float", None, "accept above", maximum=1),))
    >>> schema = body["content"]["multipart/form-data"]["schema"]
    >>> schema["required"], schema["properties"]["threshold"]["type"]
    (['audio', 'audio2'], 'number')
"""

from __future__ import annotations

from typing import Any

_TYPES = {"float": "number", "int": "integer", "bool": "boolean", "str": "string"}

# which form fields carry the inputs of each kind
INPUT_FIELDS = {"audio": ("audio",), "audio_pair": ("audio", "audio2"), "text": ("text",)}

ERROR_RESPONSES = {
    str(code): {"description": text, "content": {"application/json": {"example": {
        "error": {"type": kind, "message": "one line: what, where, how to fix"}}}}}
    for code, kind, text in (
        (400, "bad_audio", "bad input: missing field, empty, truncated or corrupt audio, bad JSON"),
        (404, "not_found", "unknown model"),
        (413, "payload_too_large", "upload or audio duration over the server's limits"),
        (415, "unsupported_media_type", "wrong Content-Type, or the file is not a supported audio format"),
        (422, "invalid_option", "unknown option or a bad value (NaN, out of range, not a number)"),
        (503, "busy", "the worker queue is full (retry) or the model cannot be loaded"),
        (504, "timeout", "the request took longer than the server's timeout"),
    )}


def option_schema(option: Any) -> dict[str, Any]:
    """JSON schema of one :class:`~speechdl.api.Option`."""
    out: dict[str, Any] = {"type": _TYPES.get(option.kind, "string"), "description": option.help}
    if option.default is not None:
        out["default"] = option.default
    if option.minimum is not None:
        out["minimum"] = option.minimum
    if option.maximum is not None:
        out["maximum"] = option.maximum
    if option.choices:
        out["enum"] = list(option.choices)
    return out


def request_body(inputs: str, options: tuple[Any, ...]) -> dict[str, Any]:
    """The OpenAPI ``requestBody`` of ``POST /v1/{name}`` for a pipeline with these inputs/options."""
    props = {o.name: option_schema(o) for o in options}
    if inputs == "text":
        schema = {"type": "object", "required": ["text"],
                  "properties": {"text": {"type": "string", "description": "the input text"}, **props}}
        return {"required": True, "content": {"application/json": {"schema": schema}}}
    files = {f: {"type": "string", "format": "binary",
                 "description": "audio file (WAV, FLAC, OGG, MP3, ...; any rate, mono or not)"}
             for f in INPUT_FIELDS.get(inputs, ("audio",))}
    schema = {"type": "object", "required": list(files), "properties": {**files, **props}}
    return {"required": True, "content": {"multipart/form-data": {"schema": schema}}}


def openapi_extra(info: dict[str, Any]) -> dict[str, Any]:
    """``openapi_extra`` of a model's POST route (request body + error responses)."""
    return {"requestBody": request_body(info["inputs"], info["options"]), "responses": ERROR_RESPONSES}

"""The WebSocket stream gives the offline run's probabilities (the streaming guarantee, over the wire),
in float32 or int16 frames of any size, and every protocol error is one JSON message and a 4xxx close."""

from __future__ import annotations

import json

import numpy as np
import pytest
from starlette.websockets import WebSocketDisconnect

from speechdl import audio
from tests.serve.conftest import SAMPLE, pipeline_or_skip


def stream(client, frames, url="/v1/vad/stream", start=None):
    """Send ``start`` (if any), the binary frames and ``end``; return (messages, close code)."""
    out = []
    with client.websocket_connect(url) as ws:
        if start is not None:
            ws.send_text(json.dumps(start))
            out.append(ws.receive_json())
        for frame in frames:
            ws.send_bytes(frame)
            out.extend(_until(ws, "chunk"))
        ws.send_text(json.dumps({"event": "end"}))
        out.extend(_until(ws, "end"))
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
    return out, closed.value.code


def _until(ws, event):
    got = []
    while True:
        msg = ws.receive_json()
        got.append(msg)
        if msg["event"] in (event, "error"):
            return got


def probabilities(messages):
    chunks = [m for m in messages if m["event"] in ("chunk", "end")]
    frames = [p for m in chunks for p in m["probabilities"]]
    assert [m["first_frame"] for m in chunks] == list(np.cumsum([0] + [len(m["probabilities"]) for m in chunks])[:-1])
    return np.array(frames)


@pytest.mark.parametrize("fmt,chunk", [("f32", 1600), ("f32", 4999), ("s16", 320)])
def test_stream_probabilities_equal_the_offline_run(vad_client, fmt, chunk):
    offline = np.array(pipeline_or_skip("vad").run(str(SAMPLE), probabilities=True).probabilities)
    x, _ = audio.load(SAMPLE, sample_rate=16000)
    if fmt == "s16":
        pcm = np.round(x * 32768).clip(-32768, 32767).astype("<i2").tobytes()
        width = 2
    else:
        pcm = x.astype("<f4").tobytes()
        width = 4
    frames = [pcm[i:i + chunk * width] for i in range(0, len(pcm), chunk * width)]
    messages, code = stream(vad_client, frames, url=f"/v1/vad/stream?format={fmt}")
    assert code == 1000
    assert messages[0] == {"event": "ready", "name": "vad", "sample_rate": 16000, "format": fmt,
                           "options": {"probabilities": False}}
    got = probabilities(messages[1:])
    assert got.shape == offline.shape
    np.testing.assert_allclose(got, offline, atol=2e-4)   # both rounded to 4 digits


def test_settings_by_a_start_message(vad_client):
    messages, code = stream(vad_client, [np.zeros(3200, "<i2").tobytes()],
                            start={"event": "start", "format": "int16", "sample_rate": 16000,
                                   "options": {"threshold": 0.6}})
    assert code == 1000
    assert messages[0]["event"] == "ready" and messages[0]["format"] == "s16"
    assert messages[0]["options"]["threshold"] == 0.6
    assert messages[-1]["event"] == "end"
    assert sum(len(m["probabilities"]) for m in messages[1:]) == pytest.approx(3200 / 480, abs=1)


def error_of(client, url, send=()):
    with client.websocket_connect(url) as ws:
        msg = None
        for item in send:
            (ws.send_bytes if isinstance(item, bytes) else ws.send_text)(item)
        while msg is None or msg["event"] != "error":
            msg = ws.receive_json()
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
    assert set(msg) == {"event", "error"} and set(msg["error"]) == {"type", "message"}
    assert "Traceback" not in msg["error"]["message"] and "\n" not in msg["error"]["message"]
    return closed.value.code, msg["error"]["type"]


@pytest.mark.parametrize("url,send,code,kind", [
    ("/v1/nope/stream", (), 4404, "not_found"),
    ("/v1/vad/stream?format=mp3", (b"\x00\x00",), 4400, "bad_request"),
    ("/v1/vad/stream?sample_rate=8000", (b"\x00\x00\x00\x00",), 4400, "bad_request"),
    ("/v1/vad/stream?threshold=nan", (b"\x00\x00\x00\x00",), 4422, "invalid_option"),
    ("/v1/vad/stream?bogus=1", ('{"event": "end"}',), 4422, "invalid_option"),
    ("/v1/vad/stream", (b"\x00\x00\x00",), 4400, "bad_request"),                           # partial float32
    ("/v1/vad/stream", (np.array([np.nan] * 4, "<f4").tobytes(),), 4400, "bad_request"),
    ("/v1/vad/stream", ("not json",), 4400, "bad_request"),
    ("/v1/vad/stream", ('{"event": "dance"}',), 4400, "bad_request"),
    ("/v1/vad/stream", ('[1, 2]',), 4400, "bad_request"),
    ("/v1/vad/stream", ('{"event": "start", "options": [1]}',), 4400, "bad_request"),
])
def test_protocol_errors_are_one_json_message_and_a_close_code(vad_client, url, send, code, kind):
    assert error_of(vad_client, url, send) == (code, kind)


def test_start_after_audio_is_refused(vad_client):
    with vad_client.websocket_connect("/v1/vad/stream") as ws:
        ws.send_bytes(np.zeros(160, "<f4").tobytes())
        assert [ws.receive_json()["event"], ws.receive_json()["event"]] == ["ready", "chunk"]
        ws.send_text('{"event": "start"}')
        assert ws.receive_json()["error"]["type"] == "bad_request"


def test_streams_are_bounded_in_duration(tmp_path):
    from fastapi.testclient import TestClient

    from speechdl.serve import create_app
    from speechdl.serve.config import ServeConfig

    with TestClient(create_app(ServeConfig(models=("vad",), max_seconds=1.0))) as client:
        one_second = np.zeros(16000, "<f4").tobytes()
        assert error_of(client, "/v1/vad/stream", (one_second, b"\x00" * 4)) == (4413, "payload_too_large")


def test_models_that_do_not_stream_say_so(fake_client):
    assert error_of(fake_client, "/v1/echo/stream") == (4400, "bad_request")

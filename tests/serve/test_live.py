"""The real server (uvicorn, its own process): concurrent answers equal the Python ones (the worker pool
shares each pipeline between threads), a huge announced body is refused before it is sent, the
WebSocket works over a real socket; the server log stays free of tracebacks (checked by the fixture)."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlparse

import numpy as np
import pytest

from tests.serve.conftest import SAMPLE, pipeline_or_skip

pytestmark = pytest.mark.slow


def post_file(url: str, path=SAMPLE, fields=("audio",)) -> tuple[int, dict]:
    boundary = "b0undary"
    body = b"".join(f'--{boundary}\r\nContent-Disposition: form-data; name="{f}"; filename="{path.name}"\r\n\r\n'
                    .encode() + path.read_bytes() + b"\r\n" for f in fields) + f"--{boundary}--\r\n".encode()
    req = urllib.request.Request(url, data=body, headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    try:
        with urllib.request.urlopen(req, timeout=300) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as err:
        return err.code, json.load(err)


def without_file(d: dict) -> dict:
    return {k: v for k, v in d.items() if k not in ("file", "enroll", "test")}


@pytest.mark.parametrize("name,fields", [("vad", ("audio",)), ("asr", ("audio",)), ("speaker", ("audio", "audio2"))])
def test_concurrent_answers_equal_the_python_result(live_server, name, fields):
    url, _ = live_server
    pipe = pipeline_or_skip(name)
    expected = pipe.run(str(SAMPLE) if len(fields) == 1 else (str(SAMPLE), str(SAMPLE))).to_dict()
    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(lambda _: post_file(f"{url}/v1/{name}", fields=fields), range(6)))
    for status, body in answers:
        assert status == 200, body
        assert without_file(body) == without_file(expected)
    with urllib.request.urlopen(f"{url}/health") as r:
        assert json.load(r)["busy"] == 0


def test_a_huge_announced_body_is_refused_before_it_is_sent(live_server):
    url, _ = live_server
    u = urlparse(url)
    with socket.create_connection((u.hostname, u.port), timeout=30) as s:
        s.sendall(b"POST /v1/vad HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=x\r\n"
                  b"Content-Length: 1000000000000\r\n\r\n")
        reply = b""
        while chunk := s.recv(65536):   # the server answers and closes without waiting for the body
            reply += chunk
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413")
    assert json.loads(body)["error"]["type"] == "payload_too_large"


def test_websocket_over_a_real_socket(live_server):
    from websockets.sync.client import connect

    url, _ = live_server
    offline = pipeline_or_skip("vad").run(str(SAMPLE), probabilities=True).probabilities
    from speechdl import audio

    x, _ = audio.load(SAMPLE, sample_rate=16000)
    got = []
    with connect(url.replace("http://", "ws://") + "/v1/vad/stream", max_size=None) as ws:
        ws.send(json.dumps({"event": "start", "format": "f32", "sample_rate": 16000}))
        assert json.loads(ws.recv())["event"] == "ready"
        for i in range(0, len(x), 8000):
            ws.send(x[i:i + 8000].astype("<f4").tobytes())
            got += json.loads(ws.recv())["probabilities"]
        ws.send(json.dumps({"event": "end"}))
        end = json.loads(ws.recv())
        assert end["event"] == "end"
        got += end["probabilities"]
    np.testing.assert_allclose(got, offline, atol=2e-4)


def test_the_malformed_corpus_against_the_real_server(live_server):
    """Every malformed request of the corpus, over a real socket: same statuses and one-line JSON; the
    fixture then finds no traceback in the server's log."""
    import httpx2

    from tests.serve.test_malformed import CORPUS, check_error

    url, log = live_server
    with httpx2.Client(base_url=url, timeout=120) as client:
        for name, method, path, kwargs, status, kind in CORPUS:
            if name == "huge upload by content-length":   # a lying header: test_a_huge_announced_body_... sends it
                continue
            r = client.request(method, path, **kwargs)
            assert r.status_code == status, (name, r.text[:300])
            check_error(r, status, kind)
    assert "Traceback" not in log.read_text()

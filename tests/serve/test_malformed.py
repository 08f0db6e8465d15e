"""A corpus of malformed requests: each gets its status code and one line of JSON, never a traceback,
never HTML, never a 500; the server's log stays free of tracebacks; no temporary file is left behind."""

from __future__ import annotations

import io
import logging
import struct

import numpy as np
import pytest
import soundfile as sf

from tests.serve.conftest import SAMPLE

FLAC = SAMPLE.read_bytes()


def wav_bytes(seconds=1.0, rate=16000, declared=None, riff=None):
    """A 16-bit mono WAV; ``declared`` overrides the data chunk's size, ``riff`` the RIFF size."""
    pcm = (np.sin(np.arange(int(seconds * rate)) * 0.05) * 8000).astype("<i2").tobytes()
    data_size = len(pcm) if declared is None else declared
    riff_size = 36 + data_size if riff is None else riff
    return (b"RIFF" + struct.pack("<I", riff_size & 0xFFFFFFFF) + b"WAVE" + b"fmt "
            + struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16) + b"data"
            + struct.pack("<I", data_size & 0xFFFFFFFF) + pcm)


def flac_bytes(seconds):
    buf = io.BytesIO()
    sf.write(buf, np.zeros(int(seconds * 16000), np.float32), 16000, format="FLAC")
    return buf.getvalue()


def float_wav(scale=1.0, nan=False):
    """A 32-bit float WAV of 1 s (issue 13's hostile audio): samples times ``scale``, a NaN burst if ``nan``."""
    x = (np.sin(np.arange(16000) * 0.05) * 0.3 * scale).astype(np.float32)
    if nan:
        x[100:110] = np.nan
    buf = io.BytesIO()
    sf.write(buf, x, 16000, format="WAV", subtype="FLOAT")
    return buf.getvalue()


def mp3_claiming(frames=None):
    """A 1 s MP3 whose Xing header claims ``frames`` MPEG frames (None: the true count)."""
    buf = io.BytesIO()
    sf.write(buf, np.sin(np.arange(16000) * 0.05).astype(np.float32) * 0.3, 16000, format="MP3")
    b = bytearray(buf.getvalue())
    if frames is not None:
        i = max(b.find(b"Xing"), b.find(b"Info"))
        b[i + 8:i + 12] = struct.pack(">I", frames)
    return bytes(b)


def audio(content, name="a.wav", field="audio"):
    return {"files": {field: (name, content, "application/octet-stream")}}


class Chunked:
    """A multipart body (boundary XyZ) whose ``audio`` file part is ``total`` bytes, sent in pieces with no
    Content-Length; iterable again for every request that sends it."""

    def __init__(self, total: int, piece: int = 1 << 20) -> None:
        self.total, self.piece = total, piece

    def __iter__(self):
        yield b'--XyZ\r\nContent-Disposition: form-data; name="audio"; filename="big.wav"\r\n\r\nRIFF'
        sent = 4
        while sent < self.total:
            yield b"\x00" * min(self.piece, self.total - sent)
            sent += self.piece
        yield b"\r\n--XyZ--\r\n"


BIG = 25 * 1024 * 1024 + 70 * 1024
MULTI = "multipart/form-data; boundary=XyZ"

# (id, method, url, request kwargs, status, error type)
CORPUS = [
    ("empty body, no content type", "POST", "/v1/vad", {}, 415, "unsupported_media_type"),
    ("empty multipart body", "POST", "/v1/vad", {"content": b"", "headers": {"content-type": MULTI}}, 400, None),
    ("multipart without boundary", "POST", "/v1/vad",
     {"content": b"--x\r\n", "headers": {"content-type": "multipart/form-data"}}, 400, None),
    ("garbage multipart", "POST", "/v1/vad",
     {"content": b"--XyZ\r\nnonsense\r\n\r\n\r\n--XyZ--", "headers": {"content-type": MULTI}}, 400, None),
    ("json to an audio model", "POST", "/v1/vad", {"json": {"audio": "speechdl/assets/sample.flac"}}, 415, None),
    ("raw audio body", "POST", "/v1/vad", {"content": FLAC, "headers": {"content-type": "audio/flac"}}, 415, None),
    ("urlencoded form", "POST", "/v1/vad", {"data": {"audio": "/etc/passwd"}}, 415, None),
    ("text/plain", "POST", "/v1/vad", {"content": b"hello", "headers": {"content-type": "text/plain"}}, 415, None),
    ("huge upload by content-length", "POST", "/v1/vad",
     {"content": b"x", "headers": {"content-type": MULTI, "content-length": str(10**12)}}, 413, "payload_too_large"),
    ("huge upload in a file", "POST", "/v1/vad", audio(b"RIFF" + b"\x00" * BIG), 413, "payload_too_large"),
    ("huge chunked upload without length", "POST", "/v1/vad",
     {"content": Chunked(BIG), "headers": {"content-type": MULTI}}, 413, "payload_too_large"),
    ("empty file", "POST", "/v1/vad", audio(b""), 400, "bad_audio"),
    ("truncated flac", "POST", "/v1/vad", audio(FLAC[: len(FLAC) // 2], "a.flac"), 400, "bad_audio"),
    ("flac header only", "POST", "/v1/vad", audio(FLAC[:200], "a.flac"), 400, "bad_audio"),
    ("truncated wav", "POST", "/v1/vad", audio(wav_bytes()[:20000]), 400, "bad_audio"),
    ("wav header only", "POST", "/v1/vad", audio(wav_bytes()[:44]), 400, "bad_audio"),
    ("wav header claiming 2 GB", "POST", "/v1/vad", audio(wav_bytes(declared=2**31, riff=2**31 + 36)), 400,
     "bad_audio"),
    ("wav claiming 4 GB of data", "POST", "/v1/vad", audio(wav_bytes(declared=2**32 - 1)), 400, "bad_audio"),
    ("wav with zero channels", "POST", "/v1/vad",
     audio(wav_bytes()[:22] + b"\x00\x00" + wav_bytes()[24:]), 400, "bad_audio"),
    ("non-audio text", "POST", "/v1/vad", audio(b"hello, this is not audio" * 50, "a.wav"), 415, None),
    ("random bytes", "POST", "/v1/vad", audio(np.random.default_rng(0).bytes(50_000), "a.mp3"), 415, None),
    ("png named wav", "POST", "/v1/vad", audio(b"\x89PNG\r\n\x1a\n" + b"\x00" * 100), 415, None),
    ("riff but not wave", "POST", "/v1/vad", audio(b"RIFF\x10\x00\x00\x00AVI LIST" + b"\x00" * 64), 415, None),
    ("fake mp3 sync bytes", "POST", "/v1/vad", audio(b"\xff\xfb" + b"\x00" * 5000, "a.mp3"), 400, "bad_audio"),
    ("too long (header duration)", "POST", "/v1/vad", audio(flac_bytes(601), "long.flac"), 413, "payload_too_large"),
    ("unknown model", "POST", "/v1/whisper", audio(FLAC), 404, "not_found"),
    ("model name as a path", "POST", "/v1/..%2F..%2Fetc%2Fpasswd", audio(FLAC), 404, "not_found"),
    ("bundle directory as a name", "POST", "/v1/speechdl%2Fpretrained%2Fvad", audio(FLAC), 404, "not_found"),
    ("dot-dot model", "POST", "/v1/%2E%2E", audio(FLAC), 404, "not_found"),
    ("unknown route", "GET", "/v2/tasks", {}, 404, "not_found"),
    ("wrong method", "PUT", "/v1/vad", {}, 405, "method_not_allowed"),
    ("GET an unknown model", "GET", "/v1/nope", {}, 404, "not_found"),
    ("option NaN", "POST", "/v1/vad", {**audio(FLAC), "data": {"threshold": "nan"}}, 422, "invalid_option"),
    ("option inf", "POST", "/v1/vad", {**audio(FLAC), "data": {"min_silence": "inf"}}, 422, "invalid_option"),
    ("option -inf", "POST", "/v1/vad", {**audio(FLAC), "params": {"pad": "-inf"}}, 422, "invalid_option"),
    ("option string", "POST", "/v1/vad", {**audio(FLAC), "data": {"threshold": "high"}}, 422, "invalid_option"),
    ("option empty", "POST", "/v1/vad", {**audio(FLAC), "data": {"threshold": ""}}, 422, "invalid_option"),
    ("option out of range", "POST", "/v1/vad", {**audio(FLAC), "data": {"threshold": "5"}}, 422, "invalid_option"),
    ("option bool garbage", "POST", "/v1/vad", {**audio(FLAC), "data": {"probabilities": "maybe"}}, 422, None),
    ("unknown option", "POST", "/v1/vad", {**audio(FLAC), "data": {"beam": "4"}}, 422, "invalid_option"),
    ("option twice", "POST", "/v1/vad?pad=0.1", {**audio(FLAC), "data": {"pad": "0.2"}}, 422, "invalid_option"),
    ("option with NUL", "POST", "/v1/vad", {**audio(FLAC), "data": {"threshold": "0.5\x00"}}, 422, None),
    ("missing audio field", "POST", "/v1/vad", {"files": {"file": ("a.flac", FLAC)}}, 400, "bad_request"),
    ("options but no file", "POST", "/v1/vad",
     {"content": b'--XyZ\r\nContent-Disposition: form-data; name="threshold"\r\n\r\n0.5\r\n--XyZ--\r\n',
      "headers": {"content-type": MULTI}}, 400, "bad_request"),
    ("audio as a text field", "POST", "/v1/vad",
     {"files": {"x": ("a", b"")}, "data": {"audio": "/etc/passwd"}}, 400, "bad_request"),
    ("two audio files", "POST", "/v1/vad",
     {"files": [("audio", ("a.flac", FLAC)), ("audio", ("b.flac", FLAC))]}, 400, "bad_request"),
    ("extra file field", "POST", "/v1/vad",
     {"files": {"audio": ("a.flac", FLAC), "audio2": ("b.flac", FLAC)}}, 400, "bad_request"),
    ("path as filename, text inside", "POST", "/v1/vad", audio(b"root:x:0:0:root:/root:/bin/bash\n", "/etc/passwd"),
     415, None),
    ("path as filename, nothing inside", "POST", "/v1/vad", audio(b"", "/etc/hostname"), 400, "bad_audio"),
    # issue 13's hostile audio (tests/hostile), through the pipelines' one loading path
    ("float wav with NaN samples", "POST", "/v1/vad", audio(float_wav(nan=True)), 400, "bad_audio"),
    ("float wav of huge values", "POST", "/v1/vad", audio(float_wav(1e30)), 400, "bad_audio"),
    ("wav at 1 Hz", "POST", "/v1/vad", audio(wav_bytes(seconds=300, rate=1)), 400, "bad_audio"),
    ("wav at 2**31-1 Hz", "POST", "/v1/vad", audio(wav_bytes(seconds=1e-6, rate=2**31 - 1)), 400, "bad_audio"),
    ("wav with 1000 channels", "POST", "/v1/vad",
     audio(wav_bytes()[:22] + struct.pack("<H", 1000) + wav_bytes()[24:]), 400, "bad_audio"),
    ("mp3 claiming 2 minutes in 1 s", "POST", "/v1/vad", audio(mp3_claiming(3200), "a.mp3"), 400, "bad_audio"),
    ("mp3 claiming 10 hours in 1 s", "POST", "/v1/vad", audio(mp3_claiming(60000), "a.mp3"), 413, None),
    ("truncated mp3", "POST", "/v1/vad", audio(mp3_claiming()[:1000], "a.mp3"), 400, "bad_audio"),
]


def check_error(r, status, kind):
    assert r.status_code == status, (r.status_code, r.text[:500])
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert set(body) == {"error"} and set(body["error"]) == {"type", "message"}
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert "\n" not in r.text and "Traceback" not in r.text and "<html" not in r.text.lower()
    assert "speechdl-serve-" not in r.text   # no server temp path
    if kind:
        assert body["error"]["type"] == kind, body


@pytest.mark.parametrize("case", CORPUS, ids=[c[0] for c in CORPUS])
def test_malformed_request(vad_client, case, caplog, tmp_path, monkeypatch):
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    _, method, url, kwargs, status, kind = case
    with caplog.at_level(logging.DEBUG):
        r = vad_client.request(method, url, **kwargs)
    check_error(r, status, kind)
    assert not [rec for rec in caplog.records if rec.levelno >= logging.ERROR or rec.exc_info]
    assert list(tmp_path.iterdir()) == []   # the request's temporary files are gone
    if "/etc/passwd" in str(kwargs):
        assert "root:" not in r.text


def test_server_path_in_an_error_is_replaced_by_the_client_name(vad_client):
    r = vad_client.post("/v1/vad", **audio(FLAC[: len(FLAC) // 2], "my take.flac"))
    check_error(r, 400, "bad_audio")
    assert r.json()["error"]["message"].startswith("my take.flac: ")


def test_a_bug_is_a_500_json_line_without_traceback(fake_client, caplog):
    with caplog.at_level(logging.DEBUG):
        r = fake_client.post("/v1/broken", **audio(FLAC, "a.flac"))
    check_error(r, 500, "internal_error")
    assert "KeyError" in r.json()["error"]["message"]
    assert all(rec.exc_info is None for rec in caplog.records)


@pytest.mark.parametrize("kwargs,status", [
    ({"content": b"{not json", "headers": {"content-type": "application/json"}}, 400),
    ({"json": ["a list"]}, 400),
    ({"json": {"text": ""}}, 400),
    ({"json": {"text": 42}}, 400),
    ({"json": {"txt": "hello"}}, 400),
    ({"json": {"text": "hi", "repeat": "nan"}}, 422),
    ({"json": {"text": "hi", "repeat": 1.5}}, 422),
    ({"json": {"text": "hi", "colour": "red"}}, 422),
    (audio(FLAC, "a.flac"), 415),
    ({"content": b"hello", "headers": {"content-type": "text/plain"}}, 415),
])
def test_malformed_text_requests(fake_client, kwargs, status):
    check_error(fake_client.post("/v1/echo", **kwargs), status, None)


def test_timeout_is_504_and_a_full_queue_is_503(fake_client, tmp_path):
    """workers=1, queue=0: while the gate holds the only worker, another request is refused (503); requests
    that outlive the timeout are answered 504, and their files are removed once the model lets go."""
    import threading

    gate, server = fake_client.pipes["gate"], fake_client.server
    first: dict = {}
    worker = threading.Thread(target=lambda: first.update(r=fake_client.post("/v1/gate", **audio(FLAC, "a.flac"))))
    worker.start()
    assert gate.entered.wait(60)
    busy = fake_client.post("/v1/gate", **audio(FLAC, "b.flac"))
    check_error(busy, 503, "busy")
    assert busy.headers["retry-after"] == "1"
    gate.release.set()
    worker.join(60)
    assert first["r"].status_code == 200 and first["r"].json()["file"] == "a.flac"
    assert server.pool.busy == 0

    # one request running (held by the gate), one waiting: both outlive the timeout. The waiting one is
    # cancelled (it never runs); the running one finishes in the background and keeps its slot until then.
    gate.release.clear()
    gate.entered.clear()
    runs = len(gate.seen_paths)
    server.pool.timeout, server.pool.capacity = 3.0, 2
    held: dict = {}
    worker = threading.Thread(target=lambda: held.update(r=fake_client.post("/v1/gate", **audio(FLAC, "c.flac"))))
    worker.start()
    assert gate.entered.wait(60)
    waiting = fake_client.post("/v1/gate", **audio(FLAC, "d.flac"))
    check_error(waiting, 504, "timeout")
    worker.join(60)
    check_error(held["r"], 504, "timeout")
    assert server.pool.busy == 1 and len(gate.seen_paths) == runs + 1   # the waiting one never ran
    assert len(list(tmp_path.iterdir())) == 1                          # the running one's files are still there
    gate.release.set()
    for _ in range(600):
        if server.pool.busy == 0 and not list(tmp_path.iterdir()):
            break
        threading.Event().wait(0.05)
    assert server.pool.busy == 0 and list(tmp_path.iterdir()) == []
    assert len(gate.seen_paths) == runs + 1

"""The HTTP API answers exactly what Python answers: tasks listing, VAD (and ASR / speaker when they load),
options as form fields or query parameters, OpenAPI built from the declared options, text tasks by JSON."""

from __future__ import annotations

import pytest

from tests.serve.conftest import SAMPLE, pipeline_or_skip


def upload(path=SAMPLE, field="audio", name=None):
    return {field: (name or path.name, path.read_bytes(), "audio/flac")}


def without_file(d: dict) -> dict:
    return {k: v for k, v in d.items() if k not in ("file", "enroll", "test")}


def test_health_and_tasks_listing(vad_client):
    health = vad_client.get("/health").json()
    assert health["status"] == "ok" and health["models"] == ["vad"] and health["capacity"] == 18
    listed = vad_client.get("/v1/tasks").json()
    import speechdl

    assert listed["models"] == [speechdl.load("vad").describe()]
    assert listed["limits"] == {"max_upload_mb": 25.0, "max_seconds": 600.0, "timeout": 60.0}
    assert vad_client.get("/v1/vad").json() == listed["models"][0]


def test_vad_answer_equals_the_python_result(vad_client):
    expected = pipeline_or_skip("vad").run(str(SAMPLE)).to_dict()
    r = vad_client.post("/v1/vad", files=upload())
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["file"] == "sample.flac"   # the client's name, never the server's temp path
    assert without_file(got) == without_file(expected)
    assert len(got["segments"]) == 4            # three spoken lines, the last split at its comma


@pytest.mark.parametrize("where", ["form", "query"])
def test_options_as_form_fields_or_query_parameters(vad_client, where):
    opts = {"threshold": "0.6", "min_silence": "0.3", "probabilities": "true"}
    expected = pipeline_or_skip("vad").run(str(SAMPLE), threshold=0.6, min_silence=0.3,
                                           probabilities=True).to_dict()
    kwargs = {"data": opts} if where == "form" else {"params": opts}
    r = vad_client.post("/v1/vad", files=upload(), **kwargs)
    assert r.status_code == 200, r.text
    assert without_file(r.json()) == without_file(expected)
    assert r.json()["thresholds"]["onset"] == 0.6 and len(r.json()["probabilities"]) > 400


def test_other_formats_rates_and_channels_are_accepted(vad_client, tmp_path):
    import numpy as np

    from speechdl import audio

    x, _ = audio.load(SAMPLE, sample_rate=8000)
    stereo = tmp_path / "stereo8k.wav"
    audio.save(stereo, np.stack([x, x], axis=1), 8000)
    r = vad_client.post("/v1/vad", files=upload(stereo))
    assert r.status_code == 200, r.text
    expected = pipeline_or_skip("vad").run(str(stereo)).to_dict()
    assert without_file(r.json()) == without_file(expected)


def test_openapi_describes_every_model_with_its_options(vad_client):
    spec = vad_client.get("/openapi.json").json()
    body = spec["paths"]["/v1/vad"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert body["required"] == ["audio"]
    assert body["properties"]["threshold"] == {"type": "number", "description": body["properties"]["threshold"][
        "description"], "minimum": 0.001, "maximum": 0.999}
    assert body["properties"]["probabilities"]["type"] == "boolean"
    assert {"400", "404", "413", "415", "422", "503", "504"} <= set(spec["paths"]["/v1/vad"]["post"]["responses"])
    assert vad_client.get("/docs").status_code == 200


def test_page_and_its_files_are_served(vad_client):
    page = vad_client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    for src in ("/static/app.js", "/static/render.js", "/static/record.js", "/static/style.css"):
        assert src in page.text and vad_client.get(src).status_code == 200
    assert "http://" not in page.text and "https://" not in page.text   # no CDN


def test_text_tasks_take_json(fake_client):
    r = fake_client.post("/v1/echo", json={"text": "deep learning", "upper": True, "repeat": 2})
    assert r.status_code == 200, r.text
    assert r.json() == {"task": "echo", "text": "DEEP LEARNING DEEP LEARNING", "words": 4, "upper": True}
    r = fake_client.post("/v1/echo?repeat=3", json={"text": "a"})
    assert r.json()["text"] == "a a a"
    spec = fake_client.get("/openapi.json").json()["paths"]["/v1/echo"]["post"]["requestBody"]["content"]
    assert spec["application/json"]["schema"]["required"] == ["text"]


def test_the_model_never_sees_a_client_path_and_temp_files_are_removed(fake_client, tmp_path):
    gate = fake_client.pipes["gate"]
    gate.release.set()
    r = fake_client.post("/v1/gate", files=upload(name="../../etc/passwd"))
    assert r.status_code == 200, r.text
    assert r.json() == {"task": "gate", "file": "passwd", "seconds": 13.613437}
    assert gate.seen_paths[0].startswith(str(tmp_path)) and gate.seen_paths[0].endswith("/audio.flac")
    assert list(tmp_path.iterdir()) == []


def test_asr_answer_equals_the_python_result(vad_client):
    asr = pipeline_or_skip("asr")
    from fastapi.testclient import TestClient

    from speechdl.serve import create_app
    from speechdl.serve.config import ServeConfig

    with TestClient(create_app(ServeConfig(models=("asr",)))) as client:
        r = client.post("/v1/asr", files=upload())
    assert r.status_code == 200, r.text
    expected = asr.run(str(SAMPLE)).to_dict()
    assert without_file(r.json()) == without_file(expected)
    assert r.json()["text"] and all("text" in s for s in r.json()["segments"])


def test_speaker_answer_equals_the_python_result():
    spk = pipeline_or_skip("speaker")
    from fastapi.testclient import TestClient

    from speechdl.serve import create_app
    from speechdl.serve.config import ServeConfig

    with TestClient(create_app(ServeConfig(models=("speaker",)))) as client:
        files = {**upload(), **upload(field="audio2", name="other.flac")}
        r = client.post("/v1/speaker", files=files)
        missing = client.post("/v1/speaker", files=upload())
    assert r.status_code == 200, r.text
    expected = spk.run((str(SAMPLE), str(SAMPLE))).to_dict()
    assert without_file(r.json()) == without_file(expected)
    assert (r.json()["enroll"], r.json()["test"]) == ("sample.flac", "other.flac")
    assert missing.status_code == 400 and "audio2" in missing.json()["error"]["message"]

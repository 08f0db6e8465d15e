"""The application contract, checked for every shipped model by construction (driven by the registry).

Every bundle in ``speechdl/pretrained`` must: load through ``speechdl.load`` without importing Lightning;
survive a save/load round trip with identical results; give the same answer for a file and its waveform;
stream exactly like it runs offline (streaming tasks); export to ONNX within 1e-4 of torch; answer the
CLI with ``Result.to_json()`` and bad input with one line and exit 2; answer HTTP with the same JSON.
A new application that registers a pipeline and ships a bundle is tested here with no new test code.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import speechdl
from speechdl import audio
from speechdl.api import available, pipeline_class, read_meta

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "speechdl" / "assets" / "sample.flac"
MODELS = [m["name"] for m in available()]
pytestmark = pytest.mark.slow

_loaded: dict[str, speechdl.api.Pipeline] = {}


def pipe(name: str) -> speechdl.api.Pipeline:
    if name not in _loaded:
        _loaded[name] = speechdl.load(name)
    return _loaded[name]


def example_input(p: speechdl.api.Pipeline, path: Path = SAMPLE):
    return {"audio": str(path), "audio_pair": (str(path), str(path)), "text": "Deep learning in speech."}[p.inputs]


def comparable(d: dict) -> dict:
    """A result dict without the input names (a file and a waveform are named differently)."""
    return {k: v for k, v in d.items() if k not in ("file", "files", "enroll", "test", "inputs")}


def speechdl_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "speechdl.cli", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=300)


def test_every_shipped_bundle_has_a_registered_pipeline():
    assert {"vad", "asr", "speaker"} <= {m["task"] for m in available()}
    for name in MODELS:
        _, meta = read_meta(name)
        cls = pipeline_class(meta["task"])
        assert cls.task == meta["task"] and cls.inputs in ("audio", "audio_pair", "text")
        assert (ROOT / "speechdl" / "pretrained" / name / "MODEL_CARD.md").exists()


@pytest.mark.parametrize("name", MODELS)
def test_loading_for_inference_imports_no_lightning(name):
    code = f"import sys, speechdl; speechdl.load({name!r}); print('lightning' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("name", MODELS)
def test_bundle_round_trip_gives_the_same_result(name, tmp_path):
    from speechdl.pretrained.bundle import copy_bundle

    p = pipe(name)
    copy = speechdl.load(copy_bundle(p.path, tmp_path / name))
    assert type(copy) is type(p) and copy.sample_rate == p.sample_rate
    x = example_input(p)
    assert copy.run(x).to_dict() == p.run(x).to_dict()


@pytest.mark.parametrize("name", MODELS)
def test_file_and_waveform_give_the_same_result(name):
    p = pipe(name)
    if p.inputs == "text":
        pytest.skip("text task")
    wave, _ = audio.load(SAMPLE, sample_rate=p.sample_rate)
    x = wave if p.inputs == "audio" else (wave, wave)
    assert comparable(p.run(x).to_dict()) == comparable(p.run(example_input(p)).to_dict())


@pytest.mark.parametrize("name", MODELS)
def test_streaming_equals_offline(name):
    p = pipe(name)
    if not p.streaming:
        pytest.skip(f"{name} does not stream")
    field = p.stream_field
    wave, _ = audio.load(SAMPLE, sample_rate=p.sample_rate)
    offline = np.asarray(p.run(wave, **{field: True}).to_dict()[field], np.float32)
    rng = np.random.default_rng(0)
    stream = p.stream()
    state, got, i = stream.init_state(), [], 0
    while i < len(wave):
        n = int(rng.integers(1, 4000))
        out, state = stream.forward_chunk(wave[i:i + n], state)
        got += out[field]
        i += n
    got += stream.finish(state)[field]
    assert len(got) == len(offline)
    np.testing.assert_allclose(np.asarray(got, np.float32), offline, atol=2e-4)


@pytest.mark.parametrize("name", MODELS)
def test_onnx_export_matches_torch(name, tmp_path):
    report = pipe(name).export_onnx(tmp_path / f"{name}.onnx")
    assert Path(report["path"]).exists()
    assert report["max_abs_diff"] < 1e-4


@pytest.mark.parametrize("name", MODELS)
def test_cli_prints_the_python_json(name):
    p = pipe(name)
    x = example_input(p)
    args = [x] if isinstance(x, str) else list(x)
    out = speechdl_cli("run", name, *args, "--format", "json")
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stdout.strip().splitlines()[-1]) == p.run(x).to_dict()


def _bad_value(opt: speechdl.api.Option) -> str:
    if opt.kind in ("float", "int"):
        return "nan"
    if opt.kind == "bool":
        return "maybe"
    return "\u2603-not-a-choice" if opt.choices else "x" * 5000


@pytest.mark.parametrize("name", MODELS)
def test_cli_errors_are_one_line_with_exit_2(name, tmp_path, capsys):
    p = pipe(name)
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk" * 3)
    cases = [["run", name, str(tmp_path / "missing.wav")], ["run", name, str(junk)],
             ["run", name, str(SAMPLE), "--no-such-option", "1"]]
    cases += [["run", name, str(SAMPLE), f"--{o.name}", _bad_value(o)] for o in p.options]
    if p.inputs == "text":    # an input is the text itself: words it cannot use, then the same option cases
        flags = {f"--{o.name}" for o in p.options if o.kind == "bool"}   # a flag's next word is another text
        cases = [["run", name, "qzxqzx vvkkjj"], ["run", name, "   "]] + [
            [c[0], c[1], "speech", *c[3:]] for c in cases[2:] if c[3] not in flags]
    if p.inputs == "audio_pair":
        cases = [c + [str(SAMPLE)] if len(c) == 3 else c[:3] + [str(SAMPLE)] + c[3:] for c in cases]
    out = speechdl_cli(*cases[0])           # one real process: exit code and stderr as a user sees them
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr[-1000:]
    assert len(out.stderr.strip().splitlines()) == 1
    from speechdl.cli import main

    for args in cases:                       # the rest in-process (the same main(); no torch start-up each)
        capsys.readouterr()
        code = main(list(args))
        err = capsys.readouterr().err
        lines = err.strip().splitlines()
        assert code == 2, (args, err[-1000:])
        assert len(lines) == 1 and lines[0].startswith("speechdl: error:"), (args, err[-1000:])
        assert "Traceback" not in err


@pytest.mark.parametrize("name", MODELS)
def test_http_answers_with_the_python_json(name):
    from fastapi.testclient import TestClient

    from speechdl.serve import create_app

    p = pipe(name)
    with TestClient(create_app()) as client:
        listed = {t["name"]: t for t in client.get("/v1/tasks").json()["models"]}
        assert listed[name]["task"] == p.task
        x = example_input(p)
        if p.inputs == "text":
            r = client.post(f"/v1/{name}", json={"text": x})
            assert r.status_code == 200, r.text
            assert r.json() == p.run(x).to_dict()
            assert client.post(f"/v1/{name}", json={"text": "qzxqzx"}).status_code == 400
            return
        paths = [x] if isinstance(x, str) else list(x)
        files = {key: (Path(f).name, Path(f).read_bytes(), "audio/flac") for key, f in zip(("audio", "audio2"), paths)}
        r = client.post(f"/v1/{name}", files=files)
        assert r.status_code == 200, r.text
        assert comparable(r.json()) == comparable(p.run(x).to_dict())

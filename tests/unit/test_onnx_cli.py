"""``speechdl vad|asr|speaker export --onnx OUT.onnx [--model BUNDLE]``: graph written; errors one line, exit 2."""

from __future__ import annotations

import re

import numpy as np
import onnx
import pytest

from speechdl import audio
from speechdl.cli import main
from speechdl.onnx.session import OrtRunner

OUTPUTS = {"vad": ["probabilities", "logits"], "vad-lecture": ["probabilities", "logits"], "asr": ["log_probs"],
           "speaker": ["embedding"]}
TASK = {"vad": "vad", "vad-lecture": "vad", "asr": "asr", "speaker": "speaker"}


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.parametrize("name", ["vad-lecture", "asr", "speaker"])
def test_export_onnx_writes_the_waveform_graph(capsys, tmp_path, name):
    out = tmp_path / "nested" / f"{name}.onnx"
    code, stdout, _ = run_cli(capsys, TASK[name], "export", "--onnx", str(out), "--model", name)
    assert code == 0
    m = re.search(r"max \|onnxruntime - torch\| = ([0-9.e+-]+) on (\d+) and (\d+) samples", stdout)
    assert m and float(m.group(1)) < 1e-4 and stdout.startswith(f"onnx: {out}")
    assert [o.name for o in onnx.load(str(out)).graph.output] == OUTPUTS[name]
    wave = audio.load("speechdl/assets/sample.flac", sample_rate=16000, duration=2.0)[0]
    got = OrtRunner(out)(waveform=wave[None])
    assert all(np.isfinite(v).all() for v in got.values())


def test_vad_export_default_model_is_the_shipped_vad(capsys, tmp_path):
    code, stdout, _ = run_cli(capsys, "vad", "export", "--onnx", str(tmp_path / "v.onnx"))
    assert code == 0 and "outputs probabilities, logits" in stdout
    dims = onnx.load(str(tmp_path / "v.onnx")).graph.input[0].type.tensor_type.shape.dim
    assert dims[1].dim_param == "samples"


@pytest.mark.parametrize("args,message", [
    (["asr", "export", "--onnx", "{tmp}/x.onnx", "--model", "vad"], "is a 'vad' bundle, not an asr one"),
    (["speaker", "export", "--onnx", "{tmp}/x.onnx", "--model", "asr"], "is an 'asr' bundle, not a speaker one"),
    (["vad", "export", "--onnx", "{tmp}/x.onnx", "--model", "{tmp}/nowhere"], "no bundle here"),
    (["speaker", "export", "--onnx", "{tmp}"], "is a folder"),
    (["asr", "export"], "nothing to write"),
    (["speaker", "export", "some_run"], "nothing to write"),
    (["asr", "export", "--bundle", "{tmp}/b", "--onnx", "{tmp}/x.onnx"], "a run directory is exported with --bundle"),
])
def test_export_errors_are_one_line_with_exit_2(capsys, tmp_path, args, message):
    code, stdout, stderr = run_cli(capsys, *[a.format(tmp=tmp_path) for a in args])
    assert code == 2 and message in stderr
    assert stderr.count("\n") == 1 and "Traceback" not in stderr
    assert not (tmp_path / "x.onnx").exists()

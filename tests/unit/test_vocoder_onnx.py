"""ONNX of the parallel vocoders (issue 17): HiFi-GAN ``mel -> waveform`` and the flow student ``mel, z -> waveform``
equal their torch engines (tiny random weights); the autoregressive WaveNet teacher is a one-line error."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
import torch

import speechdl
from speechdl.errors import ConfigError
from speechdl.nn import build
from speechdl.onnx.session import OrtRunner
from speechdl.pretrained.bundle import save_bundle
from speechdl.tasks.vocoder.engine import NeuralVocoder
from speechdl.tasks.vocoder.frontend import VOCODER_FRONTEND
from speechdl.tasks.vocoder.onnx import TOLERANCE, export_vocoder

HIFIGAN = dict(upsample_initial_channel=16, resblock_kernel_sizes=[3], resblock_dilation_sizes=[[1, 3]],
               weight_norm=True)   # weight norm on: the export must fold it
STUDENT = dict(flows=2, layers=3, channels=8)


def bundle(tmp_path, name: str, kwargs: dict, scale: float = 0.0):
    """A vocoder bundle of a tiny ``name`` network, its weights moved by ``scale`` x N(0, 1) (0: as built)."""
    torch.manual_seed(0)
    net = build(name, **kwargs)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(torch.randn_like(p) * scale)
    return save_bundle(tmp_path / name, task="vocoder", model={"name": name, "kwargs": kwargs},
                       state_dict=net.state_dict(), frontend=VOCODER_FRONTEND.to_dict(),
                       post={"generation": "parallel", "temperature": 0.8, "seed": 3})


def mel(frames: int, seed: int = 5) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal((frames, 80)) - 4).astype(np.float32)


def check_graph(path: str, inputs: list[str]) -> None:
    model = onnx.load(path)
    assert model.opset_import[0].version == 17
    assert [i.name for i in model.graph.input] == inputs and [o.name for o in model.graph.output] == ["waveform"]
    dims = [d.dim_value or d.dim_param for d in model.graph.input[0].type.tensor_type.shape.dim]
    assert dims == [1, "frames", 80]


def test_hifigan_graph_equals_the_engine(tmp_path):
    pipe = speechdl.load(bundle(tmp_path, "hifigan", HIFIGAN))
    info = pipe.export_onnx(tmp_path / "hifigan.onnx")
    assert info["inputs"] == ["mel"] and info["max_abs_diff"] <= TOLERANCE and len(info["checked_frames"]) == 2
    check_graph(info["path"], ["mel"])
    m = mel(41)   # a third length, not one of the checks
    got = OrtRunner(info["path"])(mel=m[None])["waveform"]
    want = pipe.engine.synthesize(m)
    assert got.shape == (1, 41 * 256) and np.abs(got[0] - want).max() < 1e-4 and np.abs(want).max() > 1e-3


def test_student_graph_with_the_engine_noise_equals_the_engine(tmp_path):
    pipe = speechdl.load(bundle(tmp_path, "iaf_student", STUDENT, scale=0.05))
    info = pipe.export_onnx(tmp_path / "student.onnx")
    assert info["inputs"] == ["mel", "z"] and info["max_abs_diff"] <= TOLERANCE
    check_graph(info["path"], ["mel", "z"])
    eng, m = pipe.engine, mel(23)
    z = torch.randn(1, 23 * 256, generator=torch.Generator().manual_seed(eng.seed)) * eng.temperature
    run = OrtRunner(info["path"])
    got = run(mel=m[None], z=z.numpy())["waveform"]
    want = eng.synthesize(m)
    assert np.abs(got[0] - want).max() < 1e-4 and float(np.std(want)) > 1e-3
    other = run(mel=m[None], z=z.numpy() * 0.5)["waveform"]   # z is an input: other noise, other waveform
    assert np.abs(other - got).max() > 1e-3


def test_wavenet_teacher_is_a_one_line_error(tmp_path):
    net = build("wavenet", output="gaussian", residual_channels=8, dilation_channels=8, skip_channels=8, layers=3,
                stacks=1, cond_dim=80, hop_length=256)
    with pytest.raises(ConfigError, match="autoregressive") as err:
        export_vocoder(NeuralVocoder(net, kind="wavenet"), tmp_path / "wn.onnx")
    assert "\n" not in str(err.value) and not (tmp_path / "wn.onnx").exists()


def test_cli_export_onnx_of_a_bundle(tmp_path, capsys):
    from speechdl.cli import main

    b = bundle(tmp_path, "hifigan", HIFIGAN)
    assert main(["vocode", "export", "--model", str(b), "--onnx", str(tmp_path / "v.onnx")]) == 0
    assert "max |onnxruntime - torch|" in capsys.readouterr().out and (tmp_path / "v.onnx").is_file()
    assert main(["vocode", "export", "--model", str(b)]) == 2   # nothing to write
    assert "nothing to write" in capsys.readouterr().err
    assert main(["vocode", "export", "--onnx", str(tmp_path / "w.onnx")]) == 2   # no vocoder is shipped
    assert "no vocoder bundle is shipped" in capsys.readouterr().err and not (tmp_path / "w.onnx").exists()

"""speechdl.onnx.export / session: parity check, atomic writes, one-line errors."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
import torch

from speechdl.errors import ConfigError
from speechdl.onnx.export import check_signal, export_waveform_graph, max_diff, write_atomic
from speechdl.onnx.session import OrtRunner, session


class Frames(torch.nn.Module):
    """waveform (1, n) -> mean of each 160-sample hop (1, n // 160): a dynamic output axis."""

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.avg_pool1d(waveform.unsqueeze(1), 160).squeeze(1)


def reference(wave: np.ndarray) -> dict[str, np.ndarray]:
    return {"frames": wave[: len(wave) // 160 * 160].reshape(1, -1, 160).mean(-1)}


def one_line(err: pytest.ExceptionInfo) -> str:
    text = str(err.value)
    assert "\n" not in text and "Traceback" not in text
    return text


def test_export_checks_two_lengths_and_writes_a_loadable_graph(tmp_path):
    out = tmp_path / "sub" / "frames.onnx"
    info = export_waveform_graph(Frames(), out, 16000, ["frames"], {"frames": {1: "frames"}}, reference)
    assert info["path"] == str(out) and out.is_file() and info["bytes"] == out.stat().st_size
    assert info["checked_samples"] == [21920, 65760] and info["max_abs_diff"] < 1e-6
    model = onnx.load(str(out))
    assert model.opset_import[0].version == 17
    assert [i.name for i in model.graph.input] == ["waveform"]
    assert model.graph.input[0].type.tensor_type.shape.dim[1].dim_param == "samples"
    assert list(tmp_path.joinpath("sub").iterdir()) == [out]  # no temporary file left behind
    got = OrtRunner(out)(waveform=np.ones((1, 1000), np.float32))["frames"]
    np.testing.assert_allclose(got, np.ones((1, 6)), atol=1e-6)


def test_a_graph_that_differs_from_torch_is_refused_and_not_written(tmp_path):
    out = tmp_path / "bad.onnx"

    def wrong(wave: np.ndarray) -> dict[str, np.ndarray]:
        return {"frames": reference(wave)["frames"] + 1e-3}

    with pytest.raises(ConfigError) as err:
        export_waveform_graph(Frames(), out, 16000, ["frames"], {"frames": {1: "frames"}}, wrong)
    assert "differs from torch by 1.00e-03" in one_line(err) and not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_shape_mismatch_counts_as_infinitely_different():
    assert max_diff({"a": np.zeros((1, 3))}, {"a": np.zeros((1, 4))}) == float("inf")
    assert max_diff({"a": np.zeros((1, 3)), "b": np.ones(2)}, {"a": np.full((1, 3), 0.5)}) == 0.5


def test_in_memory_export_returns_the_bytes():
    info = export_waveform_graph(Frames(), None, 8000, ["frames"], {"frames": {1: "frames"}}, reference)
    assert info["path"] is None and isinstance(info["onnx"], bytes) and len(info["onnx"]) == info["bytes"]
    assert info["checked_samples"] == [10960, 32880]


def test_write_errors_and_session_errors_are_one_line(tmp_path):
    with pytest.raises(ConfigError, match="is a directory"):
        write_atomic(b"x", tmp_path)
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match="cannot write") as err:
        write_atomic(b"x", tmp_path / "file" / "below.onnx")  # a file where a folder should be
    one_line(err)
    with pytest.raises(ConfigError, match="ONNX file not found"):
        session(tmp_path / "missing.onnx")
    (tmp_path / "junk.onnx").write_bytes(b"not a graph")
    with pytest.raises(ConfigError, match="not a loadable ONNX graph") as err:
        session(tmp_path / "junk.onnx")
    one_line(err)
    info = export_waveform_graph(Frames(), None, 8000, ["frames"], {"frames": {1: "frames"}}, reference)
    with pytest.raises(ConfigError, match="missing input"):
        OrtRunner(info["onnx"])(wave=np.zeros((1, 10), np.float32))


def test_check_signals_are_speech_of_the_asked_length():
    a, b = check_signal(16000, 1.37, seed=0), check_signal(16000, 1.37, seed=1)
    assert a.dtype == np.float32 and len(a) == len(b) == 21920
    assert not np.array_equal(a, b) and 0.01 < float(np.abs(a).max()) <= 1.0
    assert len(check_signal(16000, 60.0)) == 960000  # longer than the sample: looped

"""Every shipped bundle exports to one ONNX graph (waveform in, front-end included) that equals its pipeline.

``Pipeline.export_onnx`` checks two lengths itself; here the written file is run again by onnxruntime on a
third input, the 13.6 s speech sample, and compared with what the pipeline gives on that file: VAD frame
probabilities, ASR CTC log-probabilities and the greedy transcript decoded from the graph's output,
speaker embeddings. Other architectures the task graphs accept are checked on small random models.
"""

from __future__ import annotations

import importlib

import numpy as np
import onnx
import pytest
import torch

import speechdl
from speechdl import audio
from speechdl.api import available
from speechdl.catalog import PIPELINES
from speechdl.errors import ConfigError
from speechdl.features import Frontend, FrontendConfig
from speechdl.nn import build
from speechdl.onnx.session import OrtRunner

SAMPLE = "speechdl/assets/sample.flac"
BUNDLES = {m["name"]: m["task"] for m in available()}


def pipeline_or_skip(name: str) -> speechdl.api.Pipeline:
    module = PIPELINES[BUNDLES[name]].split(":")[0]
    try:
        importlib.import_module(module)
    except ModuleNotFoundError as err:
        if err.name != module:
            raise
        pytest.skip(f"{module} does not exist yet (the {BUNDLES[name]} task is not on the contract)")
    return speechdl.load(name)


@pytest.fixture(scope="module")
def sample() -> np.ndarray:
    return audio.load(SAMPLE, sample_rate=16000)[0]


def export(name: str, tmp_path) -> tuple[speechdl.api.Pipeline, dict, OrtRunner]:
    pipe = pipeline_or_skip(name)
    info = pipe.export_onnx(tmp_path / f"{name}.onnx")
    assert info["path"] == str(tmp_path / f"{name}.onnx") and info["max_abs_diff"] < 1e-4
    model = onnx.load(info["path"])
    assert model.opset_import[0].version >= 17
    assert [i.name for i in model.graph.input] == ["waveform"]
    assert [d.dim_value or d.dim_param for d in model.graph.input[0].type.tensor_type.shape.dim] == [1, "samples"]
    return pipe, info, OrtRunner(info["path"])


def test_every_shipped_bundle_is_covered():
    assert {"vad", "asr", "speaker"} <= set(BUNDLES.values())
    assert set(BUNDLES) >= {"vad", "vad-lecture", "asr", "speaker"}


@pytest.mark.parametrize("name", [n for n, t in BUNDLES.items() if t == "vad"])
def test_vad_bundle_graph_gives_the_pipeline_probabilities(name, tmp_path, sample):
    pipe, info, run = export(name, tmp_path)
    assert info["outputs"] == ["probabilities", "logits"]
    got = run(waveform=sample[None])
    want = pipe.run(SAMPLE, probabilities=True)._probs
    assert got["probabilities"].shape == (1, len(want)) == (1, pipe.engine.frontend.num_frames(len(sample)))
    np.testing.assert_allclose(got["probabilities"][0], want, atol=1e-4)
    np.testing.assert_allclose(got["probabilities"], 1 / (1 + np.exp(-got["logits"])), atol=1e-6)


@pytest.mark.slow
@pytest.mark.parametrize("name", [n for n, t in BUNDLES.items() if t == "asr"])
def test_asr_bundle_graph_gives_the_log_probabilities_and_the_transcript(name, tmp_path, sample):
    from speechdl.tasks.asr.decode import CTCDecoder

    pipe, info, run = export(name, tmp_path)
    engine = pipe.engine
    logp = run(waveform=sample[None])["log_probs"]
    with torch.no_grad():
        x = Frontend(engine.cfg)(torch.from_numpy(sample)[None])
        want, n = engine.model(x, torch.tensor([x.shape[1]]))
    assert logp.shape == tuple(want.shape) and logp.shape[2] == info["vocab_size"]
    np.testing.assert_allclose(logp, want.numpy(), atol=1e-4)
    greedy = CTCDecoder(engine.tokenizer, 1, None, 0.0, 0.0)(torch.from_numpy(logp), n)[0]
    assert greedy == pipe.run(SAMPLE, beam=1, lm="none").text and len(greedy.split()) > 10


@pytest.mark.parametrize("name", [n for n, t in BUNDLES.items() if t == "speaker"])
def test_speaker_bundle_graph_gives_the_pipeline_embedding(name, tmp_path, sample):
    pipe, info, run = export(name, tmp_path)
    emb = run(waveform=sample[None])["embedding"]
    want = pipe.embed(SAMPLE)
    assert emb.shape == (1, info["dim"]) == (1, pipe.dim)
    np.testing.assert_allclose(emb[0], want, atol=1e-4)
    assert float(np.abs(want).max()) > 0.1  # a real embedding, not zeros


def test_other_ctc_and_speaker_architectures_export():
    from speechdl.tasks.asr.onnx import export_asr
    from speechdl.tasks.speaker.onnx import export_speaker

    torch.manual_seed(0)
    cfg = FrontendConfig.logmel()
    for kw in ({"cell": "gru", "subsample": 2}, {"bidirectional": False, "cmvn": False}):
        net = build("deepspeech2", in_dim=40, vocab_size=12, hidden_size=16, num_layers=2, conv_dim=32, **kw)
        assert export_asr(net.eval(), cfg, None)["max_abs_diff"] < 1e-4
    xvector = {"name": "xvector", "widths": [16, 16, 16, 16, 32], "padding": "valid"}
    for kw in ({"encoder": {"name": "resnet", "layers": [1, 1], "channels": [4, 8]}},
               {"encoder": xvector, "mean_norm": False}):
        net = build("speaker_net", in_dim=40, num_speakers=5, embed_dim=16, **kw)
        assert export_speaker(net.eval(), cfg, None)["max_abs_diff"] < 1e-4


@pytest.mark.parametrize("name,kwargs,cfg", [
    ("cnn1d", {"in_dim": 40, "out_dim": 1, "channels": [4], "kernel_size": 5, "norm": None}, FrontendConfig.logmel()),
    ("vad_crnn", {"in_dim": 40}, FrontendConfig.logmel()),
    ("rnn", {"in_dim": 40, "hidden_size": 8, "cell": "gru", "bidirectional": True, "out_dim": 1},
     FrontendConfig.logmel(preemphasis=0.97)),
    ("dense", {"in_dim": 39 * 5, "hidden": [8], "out_dim": 1}, FrontendConfig.mfcc39(stack=2)),
    ("band_norm_rnn", {"in_dim": 40, "tau": 3.0, "taps": 10, "hidden_size": 8, "out_dim": 1}, FrontendConfig.logmel()),
], ids=["cnn1d", "crnn", "bigru", "stacked_dense", "band_norm"])
def test_other_vad_architectures_export(name, kwargs, cfg):
    from speechdl.tasks.vad.onnx import export_vad
    from tests.vad_models import random_vad

    assert export_vad(random_vad(name, kwargs, cfg), None)["max_abs_diff"] < 1e-4


def test_attention_asr_has_no_graph_and_says_so_in_one_line():
    from speechdl.tasks.asr.onnx import export_asr

    las = build("las", in_dim=40, vocab_size=30, hidden_size=16, num_layers=1, conv_dim=32, dec_hidden=16)
    with pytest.raises(ConfigError, match="CTC deepspeech2 only") as err:
        export_asr(las.eval(), FrontendConfig.logmel(), None)
    assert "\n" not in str(err.value)

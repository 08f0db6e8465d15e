"""Streaming VAD equals offline VAD: features, numpy nets, probabilities and segments, any chunk size."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from speechdl.features import Frontend, FrontendConfig
from speechdl.features.incremental import FeaturePipeline
from speechdl.tasks.vad.net import numpy_net
from tests.vad_models import burst_signal, random_vad

WAVE = burst_signal(3.0, [(0.4, 1.1), (1.7, 2.6)], seed=3)
CHUNKS = [1, 160, 333, 4000, 100_000]

MODELS = {
    "dnn": ("dense", {"in_dim": 39, "hidden": [12, 8, 4], "dropout": [0.2, 0.1, 0.0], "out_dim": 1},
            FrontendConfig.mfcc39()),
    "stacked_dnn": ("dense", {"in_dim": 39 * 5, "hidden": [16], "out_dim": 1}, FrontendConfig.mfcc39(stack=2)),
    "lstm": ("rnn", {"in_dim": 40, "hidden_size": 16, "num_layers": 2, "cell": "lstm", "out_dim": 1},
             FrontendConfig.logmel()),
    "lstm_20ms": ("rnn", {"in_dim": 40, "hidden_size": 16, "num_layers": 1, "cell": "lstm", "out_dim": 1},
                  FrontendConfig.logmel(win_length=512, hop_length=320)),
    "rnn": ("rnn", {"in_dim": 40, "hidden_size": 12, "num_layers": 2, "cell": "rnn", "out_dim": 1},
            FrontendConfig.logmel()),
    "gru": ("rnn", {"in_dim": 39, "hidden_size": 12, "cell": "gru", "out_dim": 1, "proj_dim": 8,
                    "proj_activation": "relu"}, FrontendConfig.mfcc39()),
    "crnn": ("vad_crnn", {"in_dim": 40, "channels": [8, 8], "kernel_size": 3, "hidden_size": 8},
             FrontendConfig.logmel()),
    "band_norm": ("band_norm_rnn", {"in_dim": 40, "tau": 4.0, "taps": 12, "hidden_size": 8, "out_dim": 1},
                  FrontendConfig.logmel(win_length=512, hop_length=480)),
}


def _run_stream(vad, chunk):
    s = vad.stream()
    outs = [s.push(WAVE[i:i + chunk]) for i in range(0, len(WAVE), chunk)] + [s.flush()]
    assert [o.first_frame for o in outs] == list(np.cumsum([0] + [len(o.probabilities) for o in outs[:-1]]))
    return s, np.concatenate([o.probabilities for o in outs]), [e for o in outs for e in o.events]


@pytest.mark.parametrize("cfg", [FrontendConfig.mfcc39(), FrontendConfig.logmel(),
                                 FrontendConfig.mfcc39(stack=3, preemphasis=0.97)], ids=["mfcc39", "logmel", "stack"])
@pytest.mark.slow
@pytest.mark.parametrize("engine", ["numpy", "torch"])
def test_feature_pipeline_equals_the_offline_frontend(cfg, engine):
    ref = Frontend(cfg)(torch.from_numpy(WAVE)[None])[0].numpy()
    for chunk in (1, 160, 777, 100_000):
        pipe = FeaturePipeline(cfg, engine)
        out = np.concatenate([pipe.push(WAVE[i:i + chunk]) for i in range(0, len(WAVE), chunk)] + [pipe.flush()])
        assert out.shape == ref.shape
        np.testing.assert_allclose(out, ref, atol=1e-4 * max(1.0, float(np.abs(ref).max()) / 100), rtol=1e-5)


@pytest.mark.parametrize("key", ["dnn", "lstm", "gru", "rnn", "band_norm"])
def test_numpy_twin_equals_the_torch_model(key):
    name, kwargs, cfg = MODELS[key]
    vad = random_vad(name, kwargs, cfg)
    x = torch.randn(50, cfg.feature_dim) * 5
    with torch.no_grad():
        ref = vad.model(x[None])[0].numpy()
    net = numpy_net(vad.model)
    got, state = net(x.numpy(), net.init_state())
    np.testing.assert_allclose(got, ref, atol=1e-4)
    a, st = net(x[:17].numpy(), net.init_state())    # two chunks carry the state
    b, _ = net(x[17:].numpy(), st)
    np.testing.assert_allclose(np.concatenate([a, b]), ref, atol=1e-4)
    st, steps = net.init_state(), []
    for t in range(len(x)):   # one frame per call: the per-hop fast path (band_norm: the folded 1-layer LSTM)
        y, st = net(x[t:t + 1].numpy(), st)
        steps.append(y)
    np.testing.assert_allclose(np.concatenate(steps), ref, atol=1e-4)


@pytest.mark.slow
@pytest.mark.parametrize("key", list(MODELS))
def test_streaming_equals_offline_for_every_chunk_size(key):
    name, kwargs, cfg = MODELS[key]
    vad = random_vad(name, kwargs, cfg)
    offline = vad.probabilities(WAVE)
    with torch.no_grad():   # the whole-signal torch reference (no blocks at all)
        ref = torch.sigmoid(vad.model(Frontend(cfg)(torch.from_numpy(WAVE)[None])))[0].numpy()
    np.testing.assert_allclose(offline, ref, atol=1e-5)
    assert offline.std() > 0.02, "the test model must make input-dependent decisions"
    ref_segments = vad.segments(WAVE)
    for chunk in CHUNKS:
        s, probs, events = _run_stream(vad, chunk)
        assert probs.shape == offline.shape
        np.testing.assert_allclose(probs, offline, atol=1e-4)
        assert s.segments == ref_segments
        assert [e["time"] for e in events if e["event"] == "end"] == [r["end"] for r in ref_segments]
    assert (s.np_net is not None) == (key != "crnn")
    assert (s.fused is not None) == (key in ("dnn", "stacked_dnn"))   # the per-hop fused path is what ran


def test_latency_is_the_documented_lookahead():
    cfg = FrontendConfig.mfcc39()
    assert FeaturePipeline(cfg).latency == pytest.approx(0.016 + 0.04)
    assert FeaturePipeline(cfg.replace(stack=5)).latency == pytest.approx(0.016 + 0.09)
    assert FeaturePipeline(FrontendConfig.logmel()).latency == pytest.approx(0.016)
    # frames only leave once their look-ahead is there: 100 ms of audio -> 11 - 4 frames (minus the half window)
    pipe = FeaturePipeline(cfg)
    assert len(pipe.push(np.zeros(1600, np.float32))) == 1 + (1600 - 256) // 160 - 4
    assert len(pipe.flush()) == 11 - (1 + (1600 - 256) // 160 - 4)


def test_streaming_detects_the_bursts_of_a_trained_model():
    from tests.vad_models import trained_dense_vad

    vad = trained_dense_vad()
    wave = burst_signal(4.0, [(0.8, 1.9), (2.6, 3.4)], seed=7)
    s = vad.stream()
    events = []
    for i in range(0, len(wave), 160):
        events += s.push(wave[i:i + 160]).events
    events += s.flush().events
    segs = s.segments
    assert len(segs) == 2, segs
    for seg, (a, b) in zip(segs, [(0.8, 1.9), (2.6, 3.4)]):
        assert abs(seg["start"] - a) < 0.08 and abs(seg["end"] - b) < 0.08
    assert [e["event"] for e in events] == ["start", "end", "start", "end"]


@pytest.mark.parametrize("key", ["dnn", "lstm_20ms"])
def test_saturated_logits_stream_without_overflow(key):
    name, kwargs, cfg = MODELS[key]
    vad = random_vad(name, kwargs, cfg)
    last = vad.model.net.layers[-1] if key == "dnn" else vad.model.net.head
    with torch.no_grad():
        last.bias.fill_(-1e6)
    s = vad.stream()
    probs = np.concatenate([s.push(WAVE[i:i + 160]).probabilities for i in range(0, 16000, 160)])
    assert len(probs) > 40 and np.all(probs == 0.0)

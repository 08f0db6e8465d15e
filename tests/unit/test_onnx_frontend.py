"""The ONNX front-end (GraphFrontend) equals speechdl.features.Frontend for every kind of config, in onnxruntime.

Features are log-domain (ln or dB, then DCT, deltas): a DFT by matrix product rounds differently from the
FFT, so the error of a band is relative to the frame's energy. They are compared where a model sees them:
divided by the reference's per-feature standard deviation over the utterance (what a CMVN or a model's
input normalisation does), tolerance 1e-4. Each config is exported once and run on signals of several
lengths (the samples axis is dynamic).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from speechdl import audio
from speechdl.errors import ConfigError
from speechdl.features import Frontend, FrontendConfig
from speechdl.onnx.export import graph_bytes
from speechdl.onnx.frontend import GraphFrontend
from speechdl.onnx.session import OrtRunner

SAMPLE, _ = audio.load("speechdl/assets/sample.flac", sample_rate=16000)
RNG = np.random.default_rng(0)
SIGNALS = {
    "sample": SAMPLE,  # 13.6 s of real speech, digital silence included
    "noise_12345": (0.1 * RNG.standard_normal(12345)).astype(np.float32),
    "noise_3s": (0.3 * RNG.standard_normal(48007)).astype(np.float32),
    "speech_601": SAMPLE[20000:20601].copy(),
}
CONFIGS = {
    "logmel_ln": FrontendConfig.logmel(),
    "mfcc39_db": FrontendConfig.mfcc39(),
    "vad_logmel_hop480": FrontendConfig.logmel(n_fft=512, win_length=512, hop_length=480),
    "asr_logmel80": FrontendConfig.logmel(n_mels=80),
    "speaker_cmvn_utt": FrontendConfig.logmel(n_mels=80, cmvn="utterance"),
    "stacked_mfcc": FrontendConfig.mfcc39(stack=2),
    "preemph_reflect_hamming": FrontendConfig.logmel(preemphasis=0.97, pad_mode="reflect", window="hamming"),
    "no_center_povey_htk": FrontendConfig.logmel(center=False, window="povey", mel_scale="htk", mel_norm="none"),
    "magnitude_fmax_rect": FrontendConfig.mfcc39(power=1.0, f_min=20.0, f_max=7600.0, window="rect", deltas=1,
                                                 delta_window=3),
    "mfcc_8k": FrontendConfig.mfcc39(sample_rate=8000, n_fft=256, win_length=200, hop_length=80, n_mels=23),
}


def export(graph: torch.nn.Module) -> OrtRunner:
    data = graph_bytes(graph, torch.zeros(1, 4000), ["waveform"], ["features"],
                       {"waveform": {1: "samples"}, "features": {1: "frames"}})
    return OrtRunner(data)


def model_view_error(got: np.ndarray, ref: np.ndarray) -> float:
    """max |got - ref| / std_f(ref): the error after a per-feature normalisation (a model's input view)."""
    assert got.shape == ref.shape
    scale = np.maximum(ref.std(axis=1, keepdims=True), 1.0) if ref.shape[1] > 1 else 1.0
    return float((np.abs(got - ref) / scale).max())


@pytest.mark.parametrize("name", list(CONFIGS))
def test_onnx_frontend_equals_torch_on_every_length(name):
    cfg = CONFIGS[name]
    runner = export(GraphFrontend(cfg))
    fe = Frontend(cfg).eval()
    for sig, wave in SIGNALS.items():
        if cfg.sample_rate != 16000:
            wave = wave[: len(wave) // 2]
        with torch.no_grad():
            ref = fe(torch.from_numpy(wave)[None]).numpy()
        got = runner(waveform=wave[None])["features"]
        assert got.shape == (1, cfg.num_frames(len(wave)), cfg.feature_dim), sig
        assert model_view_error(got, ref) < 1e-4, (name, sig)
        assert np.abs(got - ref).max() < 5e-4, (name, sig)  # raw dB / ln units too (measured: 1.2e-4 at most)


def test_power_spectrum_kind_matches_relative_to_the_frame():
    cfg = FrontendConfig(kind="power", preemphasis=0.5)
    runner = export(GraphFrontend(cfg))
    wave = SIGNALS["noise_3s"]
    with torch.no_grad():
        ref = Frontend(cfg)(torch.from_numpy(wave)[None]).numpy()
    got = runner(waveform=wave[None])["features"]
    assert got.shape == ref.shape == (1, cfg.num_frames(len(wave)), 257)
    assert (np.abs(got - ref) / ref.max(axis=2, keepdims=True)).max() < 1e-5


def test_global_cmvn_statistics_travel_into_the_graph():
    cfg = FrontendConfig.logmel(cmvn="global")
    fe = Frontend(cfg).eval()
    frames = Frontend(FrontendConfig.logmel())(torch.from_numpy(SAMPLE)[None])
    fe.cmvn.accumulate(frames)
    fe.cmvn.finalize()
    wave = SIGNALS["noise_12345"]
    with torch.no_grad():
        ref = fe(torch.from_numpy(wave)[None]).numpy()
    got = export(GraphFrontend(cfg, fe))(waveform=wave[None])["features"]
    assert abs(float(ref.mean())) > 0.5  # the statistics are the sample's, not these signals': not zero mean
    assert np.abs(got - ref).max() < 1e-4
    with pytest.raises(ConfigError, match="needs the front-end holding its statistics") as err:
        GraphFrontend(cfg)
    assert "\n" not in str(err.value)


def test_shortest_signals_give_the_torch_frame_count():
    configs = (FrontendConfig.logmel(), FrontendConfig.logmel(pad_mode="reflect"), FrontendConfig.logmel(center=False))
    for cfg in configs:
        g = GraphFrontend(cfg)
        runner = export(g)
        wave = SIGNALS["noise_12345"][: g.min_samples]
        got = runner(waveform=wave[None])["features"]
        with torch.no_grad():
            ref = Frontend(cfg)(torch.from_numpy(wave)[None]).numpy()
        assert got.shape == ref.shape and got.shape[1] == cfg.num_frames(len(wave)) >= 1
        assert np.abs(got - ref).max() < 1e-4

"""Offline VAD inference: blockwise == whole signal, files == arrays, resampling, segments of a trained model."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from speechdl import audio
from speechdl.errors import AudioError
from speechdl.features import Frontend, FrontendConfig
from speechdl.tasks.vad.infer import VAD
from tests.vad_models import burst_signal, random_vad, trained_dense_vad

WAVE = burst_signal(4.0, [(0.6, 1.7), (2.5, 3.5)], seed=5)


@pytest.mark.parametrize("name,kwargs,cfg", [
    ("dense", {"in_dim": 39 * 3, "hidden": [8], "out_dim": 1}, FrontendConfig.mfcc39(stack=1)),
    ("rnn", {"in_dim": 40, "hidden_size": 8, "cell": "lstm", "out_dim": 1}, FrontendConfig.logmel()),
    ("cnn1d", {"in_dim": 40, "out_dim": 1, "channels": [4], "kernel_size": 5, "norm": None},
     FrontendConfig.logmel()),
    ("band_norm_rnn", {"in_dim": 40, "tau": 5.0, "taps": 30, "hidden_size": 8, "out_dim": 1}, FrontendConfig.logmel()),
], ids=["stacked_dnn", "lstm", "cnn1d_whole", "band_norm"])
def test_small_blocks_give_the_whole_signal_result(name, kwargs, cfg):
    vad = random_vad(name, kwargs, cfg)
    with torch.no_grad():
        ref = torch.sigmoid(vad.model(Frontend(cfg)(torch.from_numpy(WAVE)[None])))[0].numpy()
    small = VAD(vad.model, cfg.replace(chunk_seconds=0.37), vad.post)   # 11 blocks with odd boundaries
    np.testing.assert_allclose(small.probabilities(WAVE), ref, atol=1e-5)
    assert len(ref) == cfg.num_frames(len(WAVE))


def test_files_in_any_rate_and_format_match_arrays(tmp_path):
    vad = trained_dense_vad()
    audio.save(tmp_path / "a.flac", WAVE, 16000)
    stored, _ = audio.load(tmp_path / "a.flac")   # 16-bit FLAC: compare with what the file holds
    np.testing.assert_allclose(vad.probabilities(tmp_path / "a.flac"), vad.probabilities(stored), atol=1e-5)
    wave8k = audio.resample(WAVE, 16000, 8000)
    audio.save(tmp_path / "b.wav", np.stack([wave8k, wave8k], 1), 8000)    # stereo, 8 kHz
    p = vad.probabilities(tmp_path / "b.wav")
    assert abs(len(p) - len(WAVE) // 160) <= 2
    assert vad.segments(wave8k, sample_rate=8000) == vad.segments(tmp_path / "b.wav")
    with pytest.raises(AudioError):
        vad.probabilities(tmp_path / "missing.wav")


def test_trained_model_finds_the_speech():
    vad = trained_dense_vad()
    segs = vad.segments(WAVE)
    assert len(segs) == 2
    for seg, (a, b) in zip(segs, [(0.6, 1.7), (2.5, 3.5)]):
        assert abs(seg["start"] - a) < 0.08 and abs(seg["end"] - b) < 0.08
    p = vad.probabilities(WAVE)
    t = np.arange(len(p)) * vad.frame_hop
    assert p[(t > 0.8) & (t < 1.5)].mean() > 0.8 and p[(t > 1.9) & (t < 2.3)].mean() < 0.2

"""Inverse front-end: istft(stft(x)) == x, streaming == offline, mel -> linear, Griffin-Lim, log-Mel -> audio."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import speechdl
from speechdl import audio
from speechdl.errors import ConfigError
from speechdl.features import MFCC39, Frontend, FrontendConfig, PowerSpectrum
from speechdl.features.inverse import ISTFTStream, istft, stft
from speechdl.features.resynth import (
    features_to_linear,
    filterbank,
    griffin_lim,
    logmel_to_wave,
    mel_to_linear,
    spectral_convergence,
)

SAMPLE = Path(speechdl.__file__).parent / "assets" / "sample.flac"
CENTRED = {
    "default": FrontendConfig(),
    "reflect_hamming": FrontendConfig(pad_mode="reflect", window="hamming"),
    "preemphasis": FrontendConfig(preemphasis=0.97),
    "povey_400": FrontendConfig(window="povey", n_fft=400),
    "rect_half": FrontendConfig(window="rect", win_length=512, hop_length=256),
    "22k_1024": FrontendConfig(sample_rate=22050, n_fft=1024, win_length=1024, hop_length=256, n_mels=80),
    "short_blocks": FrontendConfig(chunk_seconds=0.05),
}


@pytest.fixture(scope="module")
def speech() -> torch.Tensor:
    x, _ = audio.load(SAMPLE, offset=1.0, duration=3.0)
    return torch.from_numpy(x)[None]


@pytest.mark.parametrize("name", list(CENTRED))
@pytest.mark.parametrize("n", [16000, 12345, 700])
def test_istft_inverts_stft(name, n):
    cfg = CENTRED[name]
    x = torch.rand(2, n, generator=torch.Generator().manual_seed(n)) * 2 - 1
    spec = stft(x, cfg)
    assert spec.shape == (2, cfg.num_frames(n), cfg.n_freqs) and spec.dtype == torch.complex64
    assert (istft(spec, cfg, length=n) - x).abs().max() < 1e-5
    ref = PowerSpectrum(cfg)(x)
    assert ((spec.abs() ** 2 - ref).abs().max() / ref.max()) < 1e-5        # the features' framing, exactly


def test_uncentred_istft_is_exact_where_a_window_covers():
    cfg = FrontendConfig(center=False)
    x = torch.randn(1, 9000, dtype=torch.float64)
    spec = stft(x, cfg)
    assert spec.shape[1] == cfg.num_frames(9000) == 54
    y = istft(spec, cfg, length=9000)
    first = (cfg.n_fft - cfg.win_length) // 2 + 1            # the periodic Hann window is 0 at its first sample
    last = (spec.shape[1] - 1) * cfg.hop_length + first + cfg.win_length - 1
    assert (y[:, first:last] - x[:, first:last]).abs().max() < 1e-10
    assert y[:, :first].abs().max() == 0 and y[:, last:].abs().max() == 0


@pytest.mark.parametrize("cfg", [FrontendConfig(preemphasis=0.97), FrontendConfig(center=False),
                                 FrontendConfig(win_length=512, hop_length=320)], ids=["pre", "uncentred", "hop320"])
@pytest.mark.parametrize("chunk", [1, 7, 1000])
def test_streaming_inverse_equals_offline(cfg, chunk):
    x = torch.randn(2, 11111, dtype=torch.float64)
    spec = stft(x, cfg)
    for length in (None, 11111):
        ref = istft(spec, cfg, length=length)
        s = ISTFTStream(cfg)
        parts = [s.push(spec[:, i:i + chunk]) for i in range(0, spec.shape[1], chunk)] + [s.flush(length)]
        out = torch.cat(parts, dim=1)
        assert out.shape == ref.shape and (out - ref).abs().max() < 1e-12
        assert sum(p.shape[1] for p in parts[:-1]) <= spec.shape[1] * cfg.hop_length


def test_istft_is_differentiable_and_checks_bins():
    cfg = FrontendConfig()
    spec = stft(torch.randn(1, 4000), cfg).detach().requires_grad_(True)
    istft(spec, cfg, length=4000).square().sum().backward()
    assert spec.grad is not None and torch.isfinite(spec.grad).all() and spec.grad.abs().max() > 0
    with pytest.raises(ConfigError, match="257"):
        istft(torch.zeros(1, 3, 129, dtype=torch.complex64), cfg)


@pytest.mark.parametrize("n_mels", [40, 80])
def test_mel_to_linear_nnls_fits_better_than_the_clamped_pseudo_inverse(speech, n_mels):
    cfg = FrontendConfig.logmel(n_mels=n_mels)
    power = stft(speech, cfg).abs() ** 2
    mel = power @ filterbank(cfg)
    fits = {}
    for method in ("pinv", "nnls"):
        lin = mel_to_linear(mel, cfg, method)
        assert lin.shape == power.shape and lin.min() >= 0
        fits[method] = float((lin @ filterbank(cfg) - mel).norm() / mel.norm())
    assert fits["nnls"] < 1e-3 < fits["pinv"]
    with pytest.raises(ConfigError, match="method"):
        mel_to_linear(mel, cfg, "lstsq")
    with pytest.raises(ConfigError, match="bands"):
        mel_to_linear(mel[..., :10], cfg)


def test_griffin_lim_converges_with_iterations_and_momentum(speech):
    cfg = FrontendConfig()
    mag = stft(speech, cfg).abs()
    sc = [spectral_convergence(mag, griffin_lim(mag, cfg, n_iter=k), cfg) for k in (0, 4, 16, 48)]
    assert sc[0] > sc[1] > sc[2] > sc[3] and sc[3] < 0.12
    classic = spectral_convergence(mag, griffin_lim(mag, cfg, n_iter=16, momentum=0.0), cfg)
    assert sc[2] < classic                                    # the fast algorithm beats the classic one
    a, b = griffin_lim(mag, cfg, n_iter=3, seed=5), griffin_lim(mag, cfg, n_iter=3, seed=5)
    assert torch.equal(a, b) and a.shape == (1, (mag.shape[1] - 1) * cfg.hop_length)
    with pytest.raises(ConfigError, match="momentum"):
        griffin_lim(mag, cfg, momentum=-0.5)


def test_resynthesised_speech_has_the_original_log_mel(speech):
    cfg = FrontendConfig.logmel(n_mels=80)
    fe = Frontend(cfg)
    logmel = fe(speech)
    wave = logmel_to_wave(logmel, cfg, n_iter=32, length=speech.shape[1])
    assert wave.shape == speech.shape
    again = fe(wave)
    loud = logmel > logmel.max() - 12.0                       # bands within about 50 dB of the peak
    err = (again - logmel).abs()[loud].mean()
    noise = fe(torch.randn_like(speech) * speech.std())       # a signal of the same energy, not the speech
    assert err < 0.25 < (noise - logmel).abs()[loud].mean()


def test_other_features_go_back_to_audio(speech):
    cfg = FrontendConfig.mfcc39()
    feats = MFCC39()(speech)
    wave = logmel_to_wave(feats, cfg, n_iter=4)              # statics of MFCC + deltas, through the DCT
    assert wave.shape == (1, (feats.shape[1] - 1) * cfg.hop_length) and torch.isfinite(wave).all()
    power_cfg = FrontendConfig(kind="power")
    assert torch.allclose(features_to_linear(Frontend(power_cfg)(speech), power_cfg), PowerSpectrum()(speech))
    stacked = FrontendConfig.logmel(stack=2)
    centre = Frontend(stacked)(speech)[..., 2 * 40:3 * 40]
    assert torch.allclose(features_to_linear(Frontend(stacked)(speech), stacked), mel_to_linear(centre.exp(), stacked))
    with pytest.raises(ConfigError, match="cmvn"):
        logmel_to_wave(feats, cfg.replace(cmvn="utterance"))

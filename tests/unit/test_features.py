"""Front-end behaviour: shapes, blockwise == whole, streaming == offline, CMVN, stacking, SpecAugment, config."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from speechdl.errors import ConfigError
from speechdl.features import (
    CMVN,
    MFCC39,
    FrameStack,
    Frontend,
    FrontendConfig,
    LogMel,
    SpecAugment,
    add_deltas,
    dct_matrix,
    extract_blocks,
    extract_file,
    stack_frames,
)
from tests.conftest import speechlike


def test_shapes_and_frame_count():
    wave = torch.from_numpy(np.stack([speechlike(1.0, seed=s) for s in range(3)]))
    assert LogMel()(wave).shape == (3, 101, 40)
    assert MFCC39()(wave).shape == (3, 101, 39)
    cfg = FrontendConfig.mfcc39(stack=2, cmvn="utterance")
    out = Frontend(cfg)(wave)
    assert out.shape == (3, 101, 39 * 5) and cfg.feature_dim == 195
    assert FrontendConfig(center=False).num_frames(16000) == 1 + (16000 - 512) // 160
    assert Frontend(FrontendConfig(center=False))(wave).shape[1] == 97


def test_short_and_empty_input():
    assert LogMel()(torch.zeros(1, 100)).shape == (1, 1, 40)
    assert LogMel()(torch.zeros(1, 0)).shape == (1, 1, 40)
    assert Frontend(FrontendConfig(center=False))(torch.zeros(1, 100)).shape == (1, 0, 40)


@pytest.mark.parametrize("center", [True, False])
def test_padded_batch_counts_only_valid_frames(center):
    """Utterance CMVN of a zero-padded row uses the frames of its own samples only (center=False included:
    ``1 + (n - n_fft) // hop`` frames, not ``1 + n // hop``), so it equals the unpadded features."""
    cfg = FrontendConfig.logmel(center=center, cmvn="utterance")
    fe = Frontend(cfg)
    short, long = speechlike(0.5, seed=1), speechlike(0.9, seed=2)
    batch = torch.zeros(2, len(long))
    batch[0, :len(short)], batch[1] = torch.from_numpy(short), torch.from_numpy(long)
    lengths = torch.tensor([len(short), len(long)])
    assert fe.frame_lengths(lengths).tolist() == [cfg.num_frames(len(short)), cfg.num_frames(len(long))]
    out = fe(batch, lengths)
    alone = fe(torch.from_numpy(short)[None])[0]
    assert torch.allclose(out[0, :len(alone)], alone, atol=1e-4)
    assert torch.allclose(out[1], fe(torch.from_numpy(long)[None])[0], atol=1e-4)
    assert out[0, len(alone):].abs().max() == 0
    n_fft = cfg.n_fft
    assert fe.frame_lengths(torch.tensor([0, n_fft - 1, n_fft, n_fft + 159, n_fft + 160])).tolist() == (
        [cfg.num_frames(n) for n in (0, n_fft - 1, n_fft, n_fft + 159, n_fft + 160)])


def test_blockwise_equals_single_block():
    x = torch.from_numpy(speechlike(7.3, seed=5)).unsqueeze(0)
    whole = Frontend(FrontendConfig.mfcc39(chunk_seconds=100.0))(x)
    for chunk in (0.5, 1.0, 3.33):
        blocky = Frontend(FrontendConfig.mfcc39(chunk_seconds=chunk))(x)
        assert blocky.shape == whole.shape
        assert (blocky - whole).abs().max() < 1e-3


@pytest.mark.parametrize("cfg", [FrontendConfig.logmel(), FrontendConfig.mfcc39(),
                                 FrontendConfig(pad_mode="reflect", preemphasis=0.97),
                                 FrontendConfig(center=False, window="povey", n_mels=23)])
@pytest.mark.parametrize("piece", [1, 159, 1000, 16001])
def test_streaming_equals_offline(cfg, piece):
    x = speechlike(2.5, seed=7)
    fe = Frontend(cfg)
    offline = fe(torch.from_numpy(x))
    if piece == 1:
        x = x[:3000]
        offline = fe(torch.from_numpy(x))
    streamed = extract_blocks(fe, (x[i:i + piece] for i in range(0, len(x), piece)))
    assert streamed.shape == offline.shape
    assert (streamed - offline).abs().max() < 1e-3


def test_extract_file_resamples_and_streams(tmp_path):
    from speechdl import audio

    x = speechlike(12.5, sr=8000, seed=2)
    path = tmp_path / "phone.wav"
    audio.save(path, x, 8000, subtype="FLOAT")
    feats = extract_file(path, FrontendConfig.mfcc39(chunk_seconds=2.0))
    wave16, _ = audio.load(path, sample_rate=16000)
    ref = MFCC39()(torch.from_numpy(wave16))[0].numpy()
    assert feats.shape == ref.shape == (1 + len(wave16) // 160, 39)
    assert np.abs(feats[5:-5] - ref[5:-5]).max() < 0.05 * np.abs(ref).max()


def test_dct_is_orthonormal_and_matches_scipy():
    from scipy.fft import dct

    x = np.random.default_rng(0).standard_normal((5, 40)).astype(np.float32)
    ours = torch.from_numpy(x) @ dct_matrix(40, 40)
    np.testing.assert_allclose(ours.numpy(), dct(x, type=2, norm="ortho"), atol=1e-5)


def test_deltas_of_ramp_and_constant():
    ramp = torch.arange(20.0).reshape(1, 20, 1) * 3
    out = add_deltas(ramp, order=2, window=2)
    assert out.shape == (1, 20, 3)
    assert torch.allclose(out[0, 2:-2, 1], torch.full((16,), 3.0))
    assert torch.allclose(out[0, 4:-4, 2], torch.zeros(12), atol=1e-6)
    assert torch.count_nonzero(add_deltas(torch.ones(1, 5, 2), 1)[..., 2:]) == 0


def test_cmvn_utterance_respects_lengths():
    x = torch.randn(2, 30, 4) * 3 + 5
    lengths = torch.tensor([30, 12])
    y = CMVN("utterance")(x, lengths)
    assert y[1, :12].mean(0).abs().max() < 1e-5
    assert (y[1, :12].std(0, unbiased=False) - 1).abs().max() < 1e-4
    assert y[1, 12:].abs().max() == 0


def test_cmvn_global_statistics_are_saved_with_the_model(tmp_path):
    rng = torch.Generator().manual_seed(0)
    data = torch.randn(8, 50, 3, generator=rng) * torch.tensor([1.0, 2.0, 4.0]) + torch.tensor([0.0, 5.0, -3.0])
    cmvn = CMVN("global", dim=3)
    for batch in data.split(3):
        cmvn.accumulate(batch)
    cmvn.finalize()
    assert torch.allclose(cmvn.mean, data.reshape(-1, 3).mean(0), atol=1e-4)
    torch.save(cmvn.state_dict(), tmp_path / "cmvn.pt")
    fresh = CMVN("global", dim=3)
    fresh.load_state_dict(torch.load(tmp_path / "cmvn.pt"))
    out = fresh(data).reshape(-1, 3)
    assert out.mean(0).abs().max() < 1e-4 and (out.std(0, unbiased=False) - 1).abs().max() < 1e-3
    with pytest.raises(ConfigError):
        CMVN("global", dim=3).finalize()


def test_stacking_context_and_stride():
    x = torch.arange(10.0).reshape(1, 5, 2)
    y = stack_frames(x, 1)
    assert y.shape == (1, 5, 6)
    assert y[0, 2].tolist() == [2.0, 3.0, 4.0, 5.0, 6.0, 7.0]
    assert y[0, 0].tolist() == [0.0, 1.0, 0.0, 1.0, 2.0, 3.0]
    assert FrameStack(2, stride=2)(x).shape == (1, 3, 10)


def test_specaugment_masks_in_training_only():
    x = torch.ones(4, 200, 40)
    aug = SpecAugment(freq_masks=2, freq_width=10, time_masks=2, time_width=30)
    a = aug.train()(x, generator=torch.Generator().manual_seed(1))
    b = aug.train()(x, generator=torch.Generator().manual_seed(1))
    assert torch.equal(a, b)
    masked = (a == 0).float().mean().item()
    assert 0.0 < masked < 0.8
    assert torch.equal(aug.eval()(x), x)


@pytest.mark.parametrize("bad", [dict(kind="cqt"), dict(win_length=1024), dict(n_mfcc=50, kind="mfcc"),
                                 dict(deltas=3), dict(f_max=9000), dict(hop_length=0), dict(cmvn="yes")])
def test_config_rejects_bad_values(bad):
    with pytest.raises(ConfigError) as info:
        FrontendConfig(**bad)
    assert "\n" not in str(info.value)


def test_config_round_trip_and_unknown_keys():
    cfg = FrontendConfig.mfcc39(stack=3)
    assert FrontendConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ConfigError, match="unknown key"):
        FrontendConfig.from_dict({"n_mel": 40})


def test_frontend_gradients_flow_to_waveform():
    x = torch.from_numpy(speechlike(0.5)).unsqueeze(0).requires_grad_(True)
    LogMel()(x).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_magnitude_log_mel_has_finite_gradients_on_digital_silence():
    # the vocoder losses take log-Mel of |X| (power 1): sqrt's derivative at an exactly zero bin was infinite
    from speechdl.tasks.vocoder.frontend import batch_mel

    wave = torch.zeros(2, 4096)
    wave[1, 2048:] = torch.randn(2048) * 0.1      # one silent item, one half-silent
    wave.requires_grad_(True)
    mel = batch_mel(wave)
    mel.sum().backward()
    assert torch.isfinite(wave.grad).all()
    assert wave.grad[1, 2048:].abs().sum() > 0   # the loud half still gets a gradient
    with torch.no_grad():                         # and the values are those of the gradient-free path
        torch.testing.assert_close(mel, batch_mel(wave.detach()))

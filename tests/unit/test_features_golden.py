"""Golden comparisons of the front-end with librosa and python_speech_features."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from speechdl.features import MFCC39, Frontend, FrontendConfig, LogMel, PowerSpectrum, mel_filterbank
from tests.conftest import speechlike

librosa = pytest.importorskip("librosa")
psf = pytest.importorskip("python_speech_features")

STFT = dict(n_fft=512, win_length=400, hop_length=160)


@pytest.fixture(scope="module")
def signal():
    x = speechlike(3.0, seed=3)
    x[:4000] *= 1e-4  # a near-silent stretch exercises the log floor
    return x


@pytest.mark.slow
def test_power_spectrum_matches_librosa(signal):
    ref = np.abs(librosa.stft(signal, pad_mode="constant", **STFT)) ** 2
    ours = PowerSpectrum()(torch.from_numpy(signal))[0].numpy().T
    assert ours.shape == ref.shape
    np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-6 * ref.max())


@pytest.mark.parametrize("sr,n_fft,n_mels,fmin,fmax", [(16000, 512, 40, 0, None), (8000, 256, 23, 64, 3800),
                                                         (22050, 1024, 80, 0, 8000)])
@pytest.mark.parametrize("htk", [False, True])
def test_mel_filterbank_matches_librosa(sr, n_fft, n_mels, fmin, fmax, htk):
    ref = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax, htk=htk).T
    ours = mel_filterbank(sr, n_fft, n_mels, fmin, fmax, scale="htk" if htk else "slaney").numpy()
    np.testing.assert_allclose(ours, ref, atol=1e-6)


@pytest.mark.parametrize("n_mels", [40, 64, 80])
def test_logmel_matches_librosa_within_1e4(signal, n_mels):
    mel = librosa.feature.melspectrogram(y=signal, sr=16000, n_mels=n_mels, pad_mode="constant", **STFT)
    ref = np.log(np.maximum(mel, 1e-10)).T
    ours = LogMel(n_mels=n_mels)(torch.from_numpy(signal))[0].numpy()
    assert ours.shape == ref.shape == (301, n_mels)
    assert np.abs(ours - ref).max() <= 1e-4


def test_logmel_reflect_padding_matches_librosa(signal):
    mel = librosa.feature.melspectrogram(y=signal, sr=16000, n_mels=40, pad_mode="reflect", **STFT)
    ours = Frontend(FrontendConfig(pad_mode="reflect"))(torch.from_numpy(signal))[0].numpy()
    assert np.abs(ours - np.log(np.maximum(mel, 1e-10)).T).max() <= 1e-4


def test_mfcc_matches_librosa(signal):
    db = librosa.power_to_db(librosa.feature.melspectrogram(y=signal, sr=16000, n_mels=40, pad_mode="constant",
                                                            **STFT), top_db=None)
    ref = librosa.feature.mfcc(S=db, n_mfcc=13).T
    ours = MFCC39()(torch.from_numpy(signal))[0, :, :13].numpy()
    # float32 rounding on values up to ~500 (c0): compare relative to the scale of each coefficient
    scale = np.abs(ref).max(axis=0)
    assert (np.abs(ours - ref).max(axis=0) / scale).max() < 1e-5


def test_deltas_match_psf_and_librosa(signal):
    feats = MFCC39()(torch.from_numpy(signal))[0].numpy()
    static, d1, d2 = feats[:, :13], feats[:, 13:26], feats[:, 26:]
    np.testing.assert_allclose(d1, psf.delta(static, 2), atol=1e-4)
    np.testing.assert_allclose(d2, psf.delta(psf.delta(static, 2), 2), atol=1e-4)
    ref_d1 = librosa.feature.delta(static.T, width=5, mode="nearest")
    np.testing.assert_allclose(d1, ref_d1.T, atol=1e-4)
    np.testing.assert_allclose(d2, librosa.feature.delta(ref_d1, width=5, mode="nearest").T, atol=1e-4)


def test_hamming_window_power_matches_librosa(signal):
    ref = np.abs(librosa.stft(signal, window="hamming", pad_mode="constant", **STFT)) ** 2
    ours = Frontend(FrontendConfig(kind="power", window="hamming"))(torch.from_numpy(signal))[0].numpy().T
    np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-6 * ref.max())

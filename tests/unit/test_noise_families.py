"""Synthetic noise families, the family-aware noise draw and channel effects (numpy only, no espeak)."""

from __future__ import annotations

import json
import sys
import types

import numpy as np
import pytest
from scipy import signal

from speechdl import audio
from speechdl.data.synth import channel, noise, sfx_signals
from speechdl.data.synth.noise_families import DEFAULT_FAMILIES, FAMILIES, SYNTH_FAMILIES, TEST_FAMILIES, draw_noise
from speechdl.errors import ConfigError

SR = 16000
N = 4 * SR
GENERATORS = [(fam, g) for fam, gens in SYNTH_FAMILIES.items() for g in gens]
SEEDS = range(6)


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))


def _band_share(x: np.ndarray, lo: float, hi: float) -> float:
    f, p = signal.welch(x, SR, nperseg=1024)
    return float(p[(f >= lo) & (f < hi)].sum() / p.sum())


def _frame_db(x: np.ndarray, hop: int = 1600) -> np.ndarray:
    fr = x[: len(x) // hop * hop].reshape(-1, hop).astype(np.float64)
    return 10 * np.log10(np.mean(fr ** 2, axis=1) + 1e-12)


def _tonality(x: np.ndarray) -> float:
    """Median spectral flatness of the loud frames (within 10 dB of the loudest): ~0.56 white, << 0.1 tonal."""
    _, _, s = signal.spectrogram(x, SR, nperseg=512)
    s = s + 1e-12
    e = s.sum(axis=0)
    loud = e >= e.max() / 10
    flat = np.exp(np.mean(np.log(s[:, loud]), axis=0)) / np.mean(s[:, loud], axis=0)
    return float(np.median(flat))


def _peakiness(x: np.ndarray) -> float:
    """Largest ratio of the power spectrum to its running median (31 bins of ~4 Hz): ~2 noise, >> 10 tones."""
    from scipy import ndimage

    f, p = signal.welch(x, SR, nperseg=4096)
    sel = f >= 30
    return float((p[sel] / ndimage.median_filter(p, size=31, mode="nearest")[sel]).max())


def _many(gen, seeds=SEEDS) -> list[np.ndarray]:
    return [gen(N, SR, np.random.default_rng(s)) for s in seeds]


def test_families_are_the_fixed_names():
    assert set(DEFAULT_FAMILIES) == {"weather", "animals", "vehicles", "music", "clicks", "stationary", "babble"}
    assert set(FAMILIES) == set(DEFAULT_FAMILIES) | {"signals"}          # signals: opt-in, train-only
    assert set(TEST_FAMILIES) == {"weather", "animals", "vehicles", "music", "clicks"}
    assert set(SYNTH_FAMILIES) == set(FAMILIES) and all(SYNTH_FAMILIES.values())


@pytest.mark.parametrize("fam,gen", GENERATORS, ids=[g.__name__ for _, g in GENERATORS])
def test_generator_shape_unit_rms_and_determinism(fam, gen):
    a = gen(N, SR, np.random.default_rng(7))
    assert a.shape == (N,) and a.dtype == np.float32 and np.isfinite(a).all()
    assert _rms(a) == pytest.approx(1.0, rel=1e-3)
    np.testing.assert_array_equal(a, gen(N, SR, np.random.default_rng(7)))
    b = gen(N, SR, np.random.default_rng(8))
    assert np.abs(a - b).max() > 0.1
    for n in (0, 1, 37, 1000):                      # short and empty requests keep their length
        y = gen(n, SR, np.random.default_rng(0))
        assert y.shape == (n,) and np.isfinite(y).all()
    for rate in (8000, 44100):                      # other rates: finite, unit RMS, nothing above Nyquist to alias
        y = gen(rate, rate, np.random.default_rng(1))
        assert y.shape == (rate,) and _rms(y) == pytest.approx(1.0, rel=1e-3)


def test_birdsong_chirps_live_between_1_5_and_8_khz_and_come_in_syllables():
    for x in _many(SYNTH_FAMILIES["animals"][0]):
        assert _band_share(x, 1500, 8001) > 0.85
        assert _tonality(x) < 0.1                              # FM tones, not noise
        assert np.std(_frame_db(x)) > 6                         # syllables and gaps, not a steady tone


def test_insects_are_pulsed_tones_above_3_khz():
    from speechdl.data.synth.sfx_nature import insects

    for x in _many(insects):
        assert _band_share(x, 3000, 8001) > 0.75
        assert _band_share(x, 0, 1000) < 0.02


def test_frogs_are_low_and_tonal():
    from speechdl.data.synth.sfx_nature import frogs

    for x in _many(frogs):
        assert _band_share(x, 0, 2000) > 0.9
        assert _tonality(x) < 0.1


def test_engine_rumble_sits_below_300_hz():
    from speechdl.data.synth.sfx_machines import engine

    for x in _many(engine):
        assert _band_share(x, 0, 300) > 0.9


def test_passing_vehicle_rises_then_falls():
    from speechdl.data.synth.sfx_machines import passing

    for x in _many(passing, range(10)):
        e = np.convolve(_frame_db(x), np.ones(3) / 3, "valid")
        k = int(np.argmax(e))
        assert 0.2 < k / len(e) < 0.8
        assert e[k] - e[0] > 6 and e[k] - e[-1] > 6


def test_weather_sounds_have_their_bands_and_wind_gusts():
    from speechdl.data.synth.sfx_nature import rain, stream, thunder, wind

    for s in SEEDS:
        rng = np.random.default_rng(s)
        w, r, t, st = wind(N, SR, rng), rain(N, SR, rng), thunder(N, SR, rng), stream(N, SR, rng)
        assert _band_share(w, 0, 2000) > 0.9 and np.std(_frame_db(w)) > 1.0     # gusty, not steady
        assert _band_share(r, 0, 300) < 0.05 and _peakiness(r) < 5              # droplets ring briefly: no tones
        assert _band_share(t, 0, 300) > 0.8                                     # rumble
        assert _band_share(st, 200, 5000) > 0.8


@pytest.mark.parametrize("name", ["typing", "mouse", "knocks"])
def test_clicks_are_impulsive(name):
    from speechdl.data.synth import sfx_machines

    gen = getattr(sfx_machines, name)
    for x in _many(gen):
        x64 = x.astype(np.float64)
        crest = np.abs(x64).max() / _rms(x)
        kurtosis = np.mean(x64 ** 4) / np.mean(x64 ** 2) ** 2
        assert crest > 8 and kurtosis > 8, (crest, kurtosis)
    white = SYNTH_FAMILIES["stationary"][0](N, SR, np.random.default_rng(0))
    assert np.abs(white).max() / _rms(white) < 6                    # the measure separates them


def test_music_is_tonal_fans_are_steady_machines_whine():
    for x in _many(SYNTH_FAMILIES["music"][0]):
        assert _tonality(x) < 0.05
    from speechdl.data.synth.sfx_machines import fan, machine

    for x in _many(fan):
        assert np.std(_frame_db(x)) < 1.0 and _peakiness(x) < 4
    for x in _many(machine):
        assert np.std(_frame_db(x)) < 1.5 and _peakiness(x) > 10


def test_babble_like_is_speech_band_and_modulated():
    gen = SYNTH_FAMILIES["babble"][0]
    for x in _many(gen):
        assert _band_share(x, 100, 4000) > 0.9
        assert np.std(_frame_db(x, 160)) > 1.0                          # syllable-rate modulation


def _peaks_hz(x: np.ndarray, count: int) -> list[float]:
    f, p = signal.welch(x, SR, nperseg=8192)
    return sorted(float(f[i]) for i in np.argsort(p)[::-1][:count])


def test_phone_tones_sit_on_the_standard_frequencies():
    pairs = [(350, 440), (440, 480), (480, 620), (400, 450)]
    dtmf = set(sfx_signals.DTMF_LOW) | set(sfx_signals.DTMF_HIGH)
    kinds = set()
    for seed in range(20):
        x = sfx_signals.phone_tones(N, SR, np.random.default_rng(seed))
        top = _peaks_hz(x, 2)
        match = [p for p in pairs if all(abs(a - b) < 4 for a, b in zip(top, p))]
        if match:
            kinds.add(match[0])
        else:                                                       # DTMF: every strong peak is a DTMF row/column
            kinds.add("dtmf")
            assert all(min(abs(t - d) for d in dtmf) < 8 for t in top), top
    assert len(kinds) >= 4


def test_sirens_sweep_beeps_switch_buzzers_are_low_and_harmonic():
    for x in _many(sfx_signals.siren):
        _, _, s = signal.spectrogram(x, SR, nperseg=512)
        loud = s.sum(axis=0) > 0.1 * s.sum(axis=0).max()
        assert _tonality(x) < 0.05 and np.ptp(np.argmax(s[:, loud], axis=0)) >= 3    # the pitch moves
    for x in _many(sfx_signals.beeps):
        assert _tonality(x) < 0.05
    switched = [np.ptp(_frame_db(x, 320)) > 30 for x in _many(sfx_signals.beeps)]
    assert sum(switched) >= 4                                       # most beep patterns switch fully off
    for x in _many(sfx_signals.buzzer):
        assert _band_share(x, 0, 400) > 0.15 and _peakiness(x) > 10


def test_the_default_draw_never_picks_an_opt_in_family():
    from speechdl.data.augment import AugmentConfig

    assert "signals" not in AugmentConfig().families
    got = {draw_noise(DEFAULT_FAMILIES, SR, SR, np.random.default_rng(s))[1]["family"] for s in range(80)}
    assert got == set(DEFAULT_FAMILIES)
    got = {draw_noise(FAMILIES, SR, SR, np.random.default_rng(s), p_mix=0)[1]["family"] for s in range(80)}
    assert "signals" in got


# ---------------------------------------------------------------- the bank and draw_noise


def _write_bank(root, rows_files):
    rows = []
    for name, family, source in rows_files:
        audio.save(root / name, noise.colored_noise(SR, "pink", np.random.default_rng(len(rows))) * 0.1, SR)
        row = {"audio": name, "kind": "noise", "source": source, "duration": 1.0}
        if family:
            row["family"] = family
        rows.append(row)
    (root / "manifest.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")


@pytest.fixture()
def bank_dir(tmp_path):
    _write_bank(tmp_path, [("rain.wav", "weather", "rainpkg"), ("wind.wav", "weather", "windpkg"),
                           ("bird.wav", "animals", "birdpkg"), ("tune.wav", "music", "midi"),
                           ("mystery.wav", None, "unknownpkg")])
    return tmp_path


def test_bank_reads_family_and_filters(bank_dir):
    bank = noise.load_noise_bank(bank_dir)
    fam = {f.path.rsplit("/", 1)[-1]: f.family for f in bank}
    assert fam["rain.wav"] == "weather" and fam["tune.wav"] == "music"
    kept = noise.load_noise_bank(bank_dir, families=["weather"])
    assert sorted(f.path.rsplit("/", 1)[-1] for f in kept) == ["rain.wav", "wind.wav"]
    assert noise.load_noise_bank(bank_dir, families=[]) == []
    assert noise.NoiseFile("a.wav", "s", 1.0).family is None         # old positional callers unchanged


def test_bank_family_falls_back_to_family_of_source(bank_dir, monkeypatch):
    fake = types.ModuleType("speechdl.data.noise_bank")
    fake.family_of_source = lambda source: {"unknownpkg": "clicks"}.get(source)
    monkeypatch.setitem(sys.modules, "speechdl.data.noise_bank", fake)
    bank = {f.path.rsplit("/", 1)[-1]: f.family for f in noise.load_noise_bank(bank_dir)}
    assert bank["mystery.wav"] == "clicks" and bank["bird.wav"] == "animals"   # the row's field wins
    monkeypatch.setitem(sys.modules, "speechdl.data.noise_bank", None)          # module absent: no family
    bank = {f.path.rsplit("/", 1)[-1]: f.family for f in noise.load_noise_bank(bank_dir)}
    assert bank["mystery.wav"] is None


def test_draw_noise_respects_the_family_list(bank_dir):
    bank = noise.load_noise_bank(bank_dir)
    seen_kinds, seen_files = set(), set()
    for seed in range(60):
        allowed = [["weather"], ["animals", "clicks"], ["music", "vehicles", "stationary"]][seed % 3]
        x, info = draw_noise(allowed, SR, SR, np.random.default_rng(seed), bank=bank, p_real=0.6)
        assert x.shape == (SR,) and x.dtype == np.float32 and _rms(x) == pytest.approx(1.0, rel=1e-3)
        for part in (info, info.get("mixed_with")):
            if part is None:
                continue
            assert part["family"] in allowed
            seen_kinds.add(part["kind"])
            if part["kind"] == "real":
                name = part["file"].rsplit("/", 1)[-1]
                seen_files.add(name)
                assert {"rain.wav": "weather", "wind.wav": "weather", "bird.wav": "animals",
                        "tune.wav": "music"}[name] == part["family"]
            else:
                assert part["file"] is None and part["kind"].startswith("synthetic:")
        if "mixed_with" in info:
            assert info["mixed_with"]["family"] != info["family"] and -10 <= info["mixed_with"]["gain_db"] <= 0
    assert "mystery.wav" not in seen_files and {"rain.wav", "bird.wav", "tune.wav"} <= seen_files
    assert "real" in seen_kinds and any(k.startswith("synthetic:") for k in seen_kinds)


def test_draw_noise_real_probability_and_fallback(bank_dir):
    bank = noise.load_noise_bank(bank_dir)
    for seed in range(10):
        _, always = draw_noise(["weather"], SR, SR, np.random.default_rng(seed), bank=bank, p_real=1.0, p_mix=0)
        _, never = draw_noise(["weather"], SR, SR, np.random.default_rng(seed), bank=bank, p_real=0.0, p_mix=0)
        _, none_there = draw_noise(["clicks"], SR, SR, np.random.default_rng(seed), bank=bank, p_real=1.0)
        assert always["kind"] == "real" and never["kind"] != "real" and none_there["kind"] != "real"
        assert none_there["kind"] in {f"synthetic:{g.__name__}" for g in SYNTH_FAMILIES["clicks"]}


def test_draw_noise_is_deterministic_and_checks_names():
    a, ia = draw_noise(TEST_FAMILIES, N, SR, np.random.default_rng(3))
    b, ib = draw_noise(TEST_FAMILIES, N, SR, np.random.default_rng(3))
    np.testing.assert_array_equal(a, b)
    assert ia == ib
    with pytest.raises(ConfigError, match="unknown noise family 'rain'"):
        draw_noise(["weather", "rain"], SR, SR, np.random.default_rng(0))
    with pytest.raises(ConfigError, match="no noise family"):
        draw_noise([], SR, SR, np.random.default_rng(0))


# ---------------------------------------------------------------- channel effects


@pytest.mark.parametrize("effect", channel.EFFECTS)
@pytest.mark.parametrize("rate", [8000, 16000, 44100])
def test_every_effect_keeps_length_and_finiteness(effect, rate):
    x = noise.colored_noise(rate, "pink", np.random.default_rng(0))
    for seed in range(3):
        y, info = channel.random_channel(x, rate, np.random.default_rng(seed), effects=[effect], p_second=0)
        assert y.shape == x.shape and y.dtype == np.float32 and np.isfinite(y).all()
        assert [e["name"] for e in info["effects"]] == [effect] and _rms(y) > 0
        np.testing.assert_array_equal(y, channel.apply_effect(x, rate, info["effects"][0]))   # a record replays
    empty, _ = channel.random_channel(np.zeros(0, np.float32), rate, np.random.default_rng(0), effects=[effect])
    assert empty.shape == (0,)


def _spectrum_share(x, lo, hi, total=True):
    f = np.fft.rfftfreq(len(x), 1 / SR)
    p = np.abs(np.fft.rfft(x)) ** 2
    return float(p[(f >= lo) & (f < hi)].sum() / (p.sum() if total else 1.0))


def test_telephone_and_low_rate_remove_their_bands():
    x = noise.colored_noise(N, "white", np.random.default_rng(0))
    y, _ = channel.random_channel(x, SR, np.random.default_rng(0), effects=["telephone"], p_second=0)
    assert _spectrum_share(x, 0, 300) > 0.03 and _spectrum_share(y, 0, 250) < 0.003
    assert _spectrum_share(y, 4100, 8001) < 1e-4
    assert _spectrum_share(channel.low_rate(x, SR, 8000), 4100, 8001) < 1e-4
    assert _spectrum_share(channel.low_rate(x, SR, 11025), 5700, 8001) < 1e-4
    assert _spectrum_share(channel.low_rate(x, SR, 11025), 4000, 5000) > 0.1


def test_codec_eq_companding_quantise_and_clip():
    x = noise.colored_noise(N, "pink", np.random.default_rng(1))
    lossless = channel.lossy_codec(x, SR, np.random.default_rng(0), cutoff_hz=9000, bits=30, mask_db=-300, p_drop=0)
    np.testing.assert_allclose(lossless, x, atol=1e-4)                       # the frame scheme reconstructs
    y = channel.lossy_codec(x, SR, np.random.default_rng(0), cutoff_hz=3500, bits=2, mask_db=-20, p_drop=0.3)
    assert _spectrum_share(y, 3700, 8001) < 1e-3 and 0 < _rms(y - x) / _rms(x) < 0.7
    shelf = channel.eq(x, SR, low_db=12.0, high_db=0.0, low_hz=200.0)
    gain_db = 10 * np.log10(_spectrum_share(shelf, 20, 80, total=False) / _spectrum_share(x, 20, 80, total=False))
    assert gain_db == pytest.approx(12.0, abs=1.5)
    assert _spectrum_share(shelf, 2000, 8000, False) == pytest.approx(_spectrum_share(x, 2000, 8000, False), rel=0.1)
    for law in ("mu", "a"):                                                   # G.711: ~38 dB SNR on noise
        c = channel.compand(x, law)
        assert 30 < 20 * np.log10(_rms(x) / _rms(c - x)) < 45
    q = channel.quantise(x, 4)
    assert len(np.unique(q)) <= 15
    clipped = channel.soft_clip(x * 10, 1.0)
    assert np.abs(clipped).max() <= _rms(x * 10) * 1.0 + 1e-3


def test_random_channel_is_deterministic_and_signal_independent():
    s = noise.colored_noise(SR, "pink", np.random.default_rng(0))
    n = noise.colored_noise(SR, "white", np.random.default_rng(1))
    names = set()
    for seed in range(30):
        ys, info_s = channel.random_channel(s, SR, np.random.default_rng(seed))
        _, info_n = channel.random_channel(n, SR, np.random.default_rng(seed))
        assert info_s == info_n                                   # same channel for speech and noise
        np.testing.assert_array_equal(ys, channel.random_channel(s, SR, np.random.default_rng(seed))[0])
        names.update(e["name"] for e in info_s["effects"])
        assert 1 <= len(info_s["effects"]) <= 2
    assert names == set(channel.EFFECTS)

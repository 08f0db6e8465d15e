"""The enhancement training mixes: clean items, the narrow-band group, the noise-file split."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from speechdl.data.synth.noise import noise_split_of
from speechdl.tasks.enhance.clean_cache import narrow_rows, write_cache
from speechdl.tasks.enhance.data import EnhanceMixes

SR = 16000


def _cache(tmp_path, groups=("real", "narrow")):
    """Five clips per group; every clip of group k is a tone at amplitude 0.1 * (k + 1)."""
    t = np.arange(SR) / SR
    clips = [(f"{g}{i}", "s", g, ((k + 1) * 0.1 * np.sin(2 * np.pi * 300 * t)).astype(np.float32))
             for k, g in enumerate(groups) for i in range(5)]
    write_cache(tmp_path / "cache", clips)
    return str(tmp_path / "cache")


def test_a_clean_item_is_its_own_target(tmp_path):
    ds = EnhanceMixes(_cache(tmp_path), None, crop_seconds=0.5, families=("stationary",), noise_dirs=(),
                      p_reverb=0.0, p_clean=1.0, items=2)
    noisy, clean, info = ds.mix(np.random.default_rng(0))
    assert np.array_equal(noisy, clean) and np.any(clean) and info["snr_db"] == float("inf")
    ds.p_clean = 0.0
    noisy, clean, info = ds.mix(np.random.default_rng(0))
    assert not np.array_equal(noisy, clean) and np.isfinite(info["snr_db"])


@pytest.mark.parametrize("p_narrow, want", [(1.0, 0.2), (0.0, 0.1)])
def test_the_narrow_group_is_drawn_with_its_probability(tmp_path, p_narrow, want):
    ds = EnhanceMixes(_cache(tmp_path), None, crop_seconds=0.5, families=("stationary",), noise_dirs=(),
                      p_synth=0.0, p_narrow=p_narrow)
    rng = np.random.default_rng(1)
    peaks = {round(float(np.abs(ds._draw_crop(rng)[0]).max()), 1) for _ in range(20)}
    assert peaks == {want}


def test_a_missing_group_falls_back_to_one_the_cache_has(tmp_path):
    ds = EnhanceMixes(_cache(tmp_path, groups=("synth",)), None, crop_seconds=0.5, families=("stationary",),
                      noise_dirs=(), p_synth=0.0, p_narrow=0.5)
    rng = np.random.default_rng(2)
    assert all(np.abs(ds._draw_crop(rng)[0]).max() > 0.05 for _ in range(10))


def test_narrow_rows_take_every_nth_clip_of_the_studio_dialogue_only(tmp_path):
    rows = [(f"flight-of-the-amazon-queen/q{i}.mp3", "flight-of-the-amazon-queen") for i in range(7)]
    rows += [("drascula/d.ogg", "drascula"), ("warzone2100-data/w.ogg", "warzone2100-data"),
             ("beneath-a-steel-sky/b0.wav", "beneath-a-steel-sky")]
    with open(tmp_path / "manifest.jsonl", "w") as fh:
        for audio, source in rows:
            fh.write(json.dumps({"audio": audio, "source": source, "sample_rate": 11025, "kind": "speech"}) + "\n")
            (tmp_path / audio).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / audio).write_bytes(b"x")
    got = [r["audio"] for r in narrow_rows(tmp_path, every=3)]
    assert got == ["flight-of-the-amazon-queen/q0.mp3", "flight-of-the-amazon-queen/q3.mp3",
                   "flight-of-the-amazon-queen/q6.mp3"]
    assert len(narrow_rows(tmp_path, every=1)) == 8


def test_noise_split_keeps_validation_noise_files_out_of_training(tmp_path):
    bank = tmp_path / "bank"
    bank.mkdir()
    names = {"train": None, "eval": None}
    for i in range(200):   # one file name of each split
        name = f"n{i}.flac"
        names[noise_split_of(name)] = names[noise_split_of(name)] or name
        if all(names.values()):
            break
    with open(bank / "manifest.jsonl", "w") as fh:
        for name in names.values():
            sf.write(bank / name, np.random.default_rng(0).standard_normal(SR).astype(np.float32) * 0.1, SR)
            fh.write(json.dumps({"audio": name, "kind": "noise", "family": "weather", "duration": 1.0}) + "\n")
    cache = _cache(tmp_path)
    for split in ("train", "eval"):
        ds = EnhanceMixes(cache, None, crop_seconds=0.5, families=("weather",), noise_dirs=(str(bank),),
                          p_real=1.0, noise_split=split)
        rng = np.random.default_rng(3)
        files = {ds.mix(rng)[2]["noise_file"] for _ in range(8)}
        assert {f.rsplit("/", 1)[-1] for f in files} == {names[split]}


def test_a_channel_colours_the_target_too(tmp_path):
    ds = EnhanceMixes(_cache(tmp_path), None, crop_seconds=0.5, families=("stationary",), noise_dirs=(),
                      p_reverb=0.0, p_clean=1.0, p_channel=1.0)
    noisy, clean, info = ds.mix(np.random.default_rng(4))
    assert info["channel"] and np.array_equal(noisy, clean)
    ds.p_channel = 0.0
    assert "channel" not in ds.mix(np.random.default_rng(4))[2]

"""The VAD's leave-one-family-out protocol: folds hold out what they claim, conditions do what they say."""

from __future__ import annotations

import numpy as np
import pytest

from speechdl.data.augment import DEFAULT_FAMILIES, TEST_FAMILIES, AugmentConfig, augment_wave
from speechdl.errors import ConfigError
from speechdl.tasks.vad import folds as F
from speechdl.tasks.vad.data import split_of

SR = 16000


def test_every_family_is_held_out_exactly_once():
    speech = [s for s, _ in F.FOLDS]
    noise = [n for _, n in F.FOLDS]
    assert sorted(speech) == sorted(F.SPEECH_FAMILIES)
    assert sorted(noise) == sorted(TEST_FAMILIES)
    assert not set(F.TRAIN_ONLY_SPEECH) & set(speech)


@pytest.mark.parametrize("fold", range(len(F.FOLDS)))
def test_fold_recipe_keeps_the_held_out_families_out_of_training_and_selection(fold):
    held_speech, held_noise = F.FOLDS[fold]
    base = {"data": {"name": "vad_frames", "augment": {"p_noise": 0.9}}, "out_dir": "runs/x/lstm"}
    r = F.fold_recipe(base, fold, parts="/p")
    d = r["data"]
    for key in ("manifests", "val_manifests"):
        assert f"/p/{held_speech}" not in d[key]
        assert "/p/synth" in d[key]
        assert len(d[key]) == len(F.SPEECH_FAMILIES) - 1 + len(F.TRAIN_ONLY_SPEECH)
    assert (d["split"], d["val_split"]) == ("train", "dev")
    for key in ("augment", "val_augment"):
        assert held_noise not in d[key]["families"]
        assert set(d[key]["families"]) == set(DEFAULT_FAMILIES) - {held_noise}
    assert d["augment"]["p_noise"] == 0.9
    assert r["out_dir"] == f"runs/vad_lofo/lstm/{F.fold_name(fold)}"
    assert base["data"]["augment"] == {"p_noise": 0.9}          # the base recipe is not modified


def test_the_shipped_recipe_uses_every_family():
    d = F.fold_recipe({"data": {}}, None, parts="/p")["data"]
    assert {f"/p/{s}" for s in F.SPEECH_FAMILIES} <= set(d["manifests"])
    assert set(d["augment"]["families"]) == set(DEFAULT_FAMILIES)


def test_an_opt_in_family_named_by_the_recipe_stays_in_every_fold():
    base = {"data": {"augment": {"families": [*DEFAULT_FAMILIES, "signals"]}}}
    for fold in (*range(len(F.FOLDS)), None):
        d = F.fold_recipe(base, fold, parts="/p")["data"]
        assert "signals" in d["augment"]["families"] and "signals" in d["val_augment"]["families"]


def test_dev_split_is_a_fixed_tenth():
    ids = [f"rec-{i:05d}" for i in range(5000)]
    dev = [i for i in ids if split_of(i) == "dev"]
    assert 0.08 < len(dev) / len(ids) < 0.12
    assert dev == [i for i in ids if split_of(i) == "dev"]          # deterministic
    assert {split_of(i, dev_every=1) for i in ids[:20]} == {"dev"}


def test_augment_config_rejects_unknown_keys_and_families():
    with pytest.raises(ConfigError, match="unknown key"):
        AugmentConfig.from_dict({"p_nois": 0.5})
    with pytest.raises(ConfigError, match="families"):
        AugmentConfig.from_dict({"families": ["traffic"]})
    assert AugmentConfig.from_dict({"families": ["music", "clicks"]}).without("music").families == ("clicks",)


def _speech(n=SR * 2):
    t = np.arange(n) / SR
    x = (np.sin(2 * np.pi * 150 * t) * (np.sin(2 * np.pi * 4 * t) > 0)).astype(np.float32)
    return x, np.abs(x) > 0


def test_noise_at_the_asked_snr_and_level():
    x, active = _speech()
    cfg = AugmentConfig(families=("stationary",), p_noise=1.0, p_noise_only=0.0, p_reverb=0.0, p_channel=0.0,
                        snr_range=(0.0, 0.0), level_db=(-12.0, -12.0))
    y, info = augment_wave(x, active, SR, np.random.default_rng(3), cfg)
    assert info["noise"]["family"] == "stationary" and not info["noise_only"]
    assert abs(20 * np.log10(np.abs(y).max()) + 12.0) < 1e-3
    speech = x * (np.dot(y, x) / np.dot(x, x))          # the speech part of the output (noise is independent)
    noise = y - speech
    snr = 10 * np.log10(np.mean(speech[active] ** 2) / np.mean(noise ** 2))
    assert abs(snr) < 1.0


def test_noise_only_crops_carry_no_speech_and_are_flagged():
    x, active = _speech()
    cfg = AugmentConfig(families=("stationary",), p_noise_only=1.0, p_reverb=0.0, p_channel=0.0)
    y, info = augment_wave(x, active, SR, np.random.default_rng(0), cfg)
    assert info["noise_only"]
    assert abs(np.corrcoef(y, x)[0, 1]) < 0.05            # the tone is gone


@pytest.mark.parametrize("held", TEST_FAMILIES)
def test_draws_never_leave_the_allowed_families(held):
    cfg = AugmentConfig(p_noise=1.0, p_noise_only=0.0, p_reverb=0.0, p_channel=0.0).without(held, "babble")
    x, active = _speech(SR)
    for seed in range(12):
        _, info = augment_wave(x, active, SR, np.random.default_rng(seed), cfg)
        fams = [info["noise"]["family"]] + ([info["noise"]["mixed_with"]["family"]]
                                            if isinstance(info["noise"].get("mixed_with"), dict) else [])
        assert held not in fams and set(fams) <= set(cfg.families)


def test_same_generator_same_condition():
    x, active = _speech()
    cfg = AugmentConfig(families=("stationary", "clicks"), p_channel=0.5)
    a, ia = augment_wave(x, active, SR, np.random.default_rng(7), cfg)
    b, ib = augment_wave(x, active, SR, np.random.default_rng(7), cfg)
    c, _ = augment_wave(x, active, SR, np.random.default_rng(8), cfg)
    assert np.array_equal(a, b) and ia == ib and not np.array_equal(a, c)


def test_noise_only_test_items_are_all_non_speech_of_the_held_out_family():
    items = list(F.fold_test_items(1, "noise", "/nonexistent", noise_items=3, noise_seconds=1.0))
    assert len(items) == 3
    for _, wave, labels in items:
        assert wave.shape == (SR,) and np.isfinite(wave).all() and np.abs(wave).max() > 1e-3
        assert labels.shape == (1 + SR // 160,) and not labels.any()
    again = list(F.fold_test_items(1, "noise", "/nonexistent", noise_items=3, noise_seconds=1.0))
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(items, again, strict=True))


def test_lofo_benchmark_pools_noise_only_false_alarms_at_each_folds_own_threshold(monkeypatch):
    """Two folds whose bundles carry different thresholds: the pooled noise-only false-alarm share is the
    share of all noise frames each fold's model calls speech at its own threshold (not at a mean threshold)."""
    import argparse
    import importlib.util
    import sys
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "benchmarks" / "vad_lofo.py"
    spec = importlib.util.spec_from_file_location("bench_vad_lofo", path)
    L = importlib.util.module_from_spec(spec)
    sys.modules["bench_vad_lofo"] = L
    spec.loader.exec_module(L)

    class Fake:                               # scores: a constant per fold, threshold per fold
        def __init__(self, level, threshold):
            self.name, self.threshold, self.level, self.post = "m", threshold, level, None

        def scorer(self, wave):
            return np.full(1 + wave.size // 160, self.level, np.float32)

    per_fold = {0: Fake(0.5, 0.4), 1: Fake(0.5, 0.6)}      # fold 0 calls all noise speech, fold 1 none
    monkeypatch.setattr(L, "fold_systems", lambda args, fold, make: [per_fold[fold]])
    y = (np.arange(101) % 2).astype(np.float32)

    def items(fold, cond, *a, **k):
        return iter([("x", np.zeros(16000, np.float32), np.zeros(101, np.float32) if cond == "noise" else y)])

    monkeypatch.setattr(L.F, "fold_test_items", items)
    args = argparse.Namespace(folds="0,1", max_recordings=None, noise_dirs=(), lofo_models=["m"],
                              tune_baselines=False, noise_items=1)
    report = L.run_lofo(args, {}, lambda: 0.0)
    assert [report["folds"][F.fold_name(f)]["m"]["noise_fa"] for f in (0, 1)] == [1.0, 0.0]
    assert report["pooled"]["m"]["noise"]["fa_noise_only"] == 0.5     # a mean threshold 0.5 would give 1.0


def test_lofo_benchmark_reports_false_alarms_after_each_systems_own_segment_rules(monkeypatch):
    """A system whose noise-only scores are 100 ms blips: raw frames count them as false alarms; its segment rules
    (speech >= 250 ms) drop them, so the post figures are 0 in the fold and pooled, and speech that lasts stays."""
    import argparse
    import importlib.util
    import sys
    from pathlib import Path

    from speechdl.tasks.vad.post import PostConfig

    path = Path(__file__).resolve().parents[2] / "benchmarks" / "vad_lofo.py"
    spec = importlib.util.spec_from_file_location("bench_vad_lofo_post", path)
    L = importlib.util.module_from_spec(spec)
    sys.modules["bench_vad_lofo_post"] = L
    spec.loader.exec_module(L)
    n = 101
    blips = np.zeros(n, np.float32)
    blips[20:30] = blips[60:70] = 0.9                          # two 100 ms blips
    speech = np.zeros(n, np.float32)
    speech[30:80] = 1.0                                         # 500 ms of speech

    class Blippy:
        name, threshold = "m", 0.5
        post = PostConfig(smoothing="none", min_speech=0.25, min_silence=0.1, pad=0.0)

        def scorer(self, wave):
            return blips if wave[0] == 0 else speech

    monkeypatch.setattr(L, "fold_systems", lambda args, fold, make: [Blippy()])

    def items(fold, cond, *a, **k):
        if cond == "noise":
            return iter([("n", np.zeros(16000, np.float32), np.zeros(n, np.float32))])
        return iter([("s", np.ones(16000, np.float32), speech)])

    monkeypatch.setattr(L.F, "fold_test_items", items)
    args = argparse.Namespace(folds="0", max_recordings=None, noise_dirs=(), lofo_models=["m"],
                              tune_baselines=False, noise_items=1)
    report = L.run_lofo(args, {}, lambda: 0.0)
    r = report["folds"][F.fold_name(0)]["m"]
    assert r["noise_fa"] == pytest.approx(20 / n) and r["noise_fa_post"] == 0.0
    assert report["pooled"]["m"]["noise_post"]["fa_noise_only"] == 0.0
    assert report["pooled"]["m"]["noisy_post"]["f1"] == 1.0
    assert r["noisy"]["f1_post"] == r["noisy"]["f1"] == 1.0
    assert "FA % noise-only post" in L.lofo_tables(report)


def test_the_base_recipes_manifests_are_extra_train_only_parts_of_every_fold():
    base = {"data": {"manifests": ["bass", "synth_engines"]}}
    for fold in (*range(len(F.FOLDS)), None):
        d = F.fold_recipe(base, fold, parts="/p")["data"]
        assert {"/p/bass", "/p/synth_engines"} <= set(d["manifests"])
        assert d["val_manifests"] == d["manifests"]
        if fold is not None:
            assert f"/p/{F.FOLDS[fold][0]}" not in d["manifests"]
    assert base["data"]["manifests"] == ["bass", "synth_engines"]
    with pytest.raises(ConfigError, match="'drascula' is a test family"):
        F.fold_recipe({"data": {"manifests": ["drascula"]}}, 0, parts="/p")


def test_post_decisions_keep_the_systems_hysteresis_width_at_its_threshold():
    """The segment rules follow the system's threshold but keep their own onset-offset gap (0 here, not the
    PostConfig default of 0.15), so a tail at 0.45 ends the segment at threshold 0.5."""
    import importlib.util
    import sys
    from pathlib import Path
    from types import SimpleNamespace

    from speechdl.tasks.vad.post import PostConfig

    path = Path(__file__).resolve().parents[2] / "benchmarks" / "vad_lofo.py"
    spec = importlib.util.spec_from_file_location("bench_vad_lofo_gap", path)
    L = importlib.util.module_from_spec(spec)
    sys.modules["bench_vad_lofo_gap"] = L
    spec.loader.exec_module(L)
    p = np.r_[np.full(10, 0.1), np.full(10, 0.9), np.full(10, 0.45), np.full(10, 0.1)].astype(np.float32)
    rules = dict(smoothing="none", min_speech=0.0, min_silence=0.0, pad=0.0)
    no_gap = SimpleNamespace(threshold=0.5, post=PostConfig(onset=0.6, offset=0.6, **rules))
    wide = SimpleNamespace(threshold=0.5, post=PostConfig(onset=0.6, offset=0.4, **rules))
    assert int(L.post_decisions([p], no_gap).sum()) == 10
    assert int(L.post_decisions([p], wide).sum()) == 20            # gap 0.2: offset 0.3 keeps the 0.45 tail

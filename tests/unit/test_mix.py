"""``data mix``: clean clips -> labelled recordings; determinism, energy labels, selection, noise split."""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from speechdl import audio
from speechdl.data import mix
from speechdl.data.manifests import load_manifests, manifest_stats
from speechdl.data.mix import MixConfig, build, load_clips, select_clips
from speechdl.data.select import parse_select
from speechdl.data.synth import mixer, noise
from speechdl.data.synth.mixer import Conditions
from speechdl.errors import ConfigError, DataError
from tests.conftest import speechlike
from tests.vad_fixtures import clip_manifest

SOURCES = {"srcA": ["a1", "a2"], "srcB": ["b1"]}
CLEAN = Conditions(p_clean=1.0, p_reverb=0.0, p_telephone=0.0, level_range=(-6.0, -6.0))


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> Path:
    return clip_manifest(tmp_path_factory.mktemp("clips"), SOURCES)


def _cfg(manifest: Path, **kw) -> MixConfig:
    base = dict(manifest=str(manifest), hours=0.01, seed=5, noise_dir=None, babble=False,
                min_duration=10.0, max_duration=14.0)
    return MixConfig(**{**base, **kw})


def _fingerprint(out: Path) -> dict[str, str]:
    fp = {p.name: hashlib.md5(p.read_bytes()).hexdigest() for p in sorted((out / "audio").iterdir())}
    for name in ("recordings.jsonl.gz", "supervisions.jsonl.gz", "conditions.jsonl.gz"):
        text = gzip.decompress((out / name).read_bytes()).replace(str(out.resolve()).encode(), b"OUT")
        fp[name] = hashlib.md5(text).hexdigest()
    return fp


def test_same_seed_same_corpus_any_workers_other_seed_differs(clips, tmp_path):
    s1 = build(_cfg(clips), tmp_path / "a", workers=1)
    s2 = build(_cfg(clips), tmp_path / "b", workers=2)
    assert s1["files"] == s2["files"] >= 2 and s1["utterances"] == s2["utterances"] > 0
    assert _fingerprint(tmp_path / "a") == _fingerprint(tmp_path / "b")
    build(_cfg(clips, seed=6), tmp_path / "c", workers=1)
    key = "supervisions.jsonl.gz"
    assert _fingerprint(tmp_path / "a")[key] != _fingerprint(tmp_path / "c")[key]
    again = build(_cfg(clips), tmp_path / "a", workers=1)            # complete: nothing to do
    assert again["generated"] == 0 and again["resumed"]
    with pytest.raises(DataError, match="other settings"):
        build(_cfg(clips, seed=7), tmp_path / "a", workers=1)


def test_labels_are_the_clean_clip_energy_intervals(clips, tmp_path):
    out = tmp_path / "m"
    build(_cfg(clips, hours=0.012, conditions=CLEAN), out, workers=1)
    recs, sups = load_manifests(out)
    by_id = {c.id: c for c in load_clips(clips)}
    checked = 0
    for s in sups:
        speech = s.custom["speech"]
        clip = by_id[s.custom["clip"]]
        wav, _ = audio.load(clip.path, sample_rate=16000)
        ref = mixer.speech_intervals(wav, 16000, rel_db=mix.REL_DB)
        assert len(speech) == len(ref) >= 2           # at least the 0.25 s gap inside each clip splits it
        assert speech[0][0] >= 0.2 and all(a < b for a, b in speech)
        shift = speech[0][0] - ref[0][0]
        assert s.custom["clip_offset"] == pytest.approx(ref[0][0], abs=1e-3)
        for (a, b), (ra, rb) in zip(speech, ref):
            assert a == pytest.approx(ra + shift, abs=2e-4) and b == pytest.approx(rb + shift, abs=2e-4)
        # the mixed (clean-condition) audio has energy inside the intervals and none between clips
        x, sr = audio.load(recs[s.recording_id].sources[0].source)
        for a, b in speech:
            assert np.sqrt(np.mean(x[int(a * sr):int(b * sr)] ** 2)) > 1e-3
        checked += 1
    assert checked >= 4
    for r in recs:
        x, sr = audio.load(r.sources[0].source)
        # first..last speech sample of each clip (times are rounded to 0.1 ms: allow 2 samples)
        spans = [(s.start - 2e-4, s.end + 2e-4) for s in sups if s.recording_id == r.id]
        if spans:
            assert np.abs(x[~mixer.interval_mask(spans, len(x), sr)]).max() < 1e-6   # pauses: digital silence
    stats = manifest_stats(recs, sups)
    assert 0.1 < stats["speech_fraction"] < 0.9 and stats["speakers"] >= 2 and stats["utterances"] == len(sups)


def test_selection_keeps_only_the_chosen_sources_and_speakers(clips, tmp_path):
    all_clips = load_clips(clips)
    assert len(all_clips) == 9 and all_clips[0].get("source") in SOURCES
    assert {c.get("source") for c in select_clips(all_clips, ["source=srcB"])} == {"srcB"}
    kept = select_clips(all_clips, ["source!=srcB", "speaker!=a1"])
    assert {c.get("speaker") for c in kept} == {"a2"} and len(kept) == 3
    assert parse_select("speaker=a1,b1") == ("speaker", True, frozenset({"a1", "b1"}))
    for bad in ("speaker", "=x", "speaker="):
        with pytest.raises(ConfigError, match="--select"):
            parse_select(bad)
    build(_cfg(clips, select=("source=srcA", "speaker!=a2")), tmp_path / "sel", workers=1)
    _, sups = load_manifests(tmp_path / "sel")
    assert {(s.custom["source"], s.speaker) for s in sups} == {("srcA", "a1")}
    with pytest.raises(DataError, match="no clip"):
        build(_cfg(clips, select=("source=nowhere",)), tmp_path / "none", workers=1)


def _noise_dir(root: Path, n: int = 24) -> Path:
    rows = []
    for i in range(n):
        name = f"noises/n{i:02d}.wav"
        audio.save(root / name, speechlike(1.0, 16000, seed=100 + i) * 0.1, 16000)
        rows.append({"audio": name, "kind": "noise", "source": f"s{i % 3}", "duration": 1.0})
    (root / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root


def test_noise_split_is_disjoint_stable_and_used_by_the_mix(clips, tmp_path):
    nd = _noise_dir(tmp_path / "bank")
    everything = {f.path for f in noise.load_noise_bank(nd)}
    train = {f.path for f in noise.load_noise_bank(nd, "train")}
    held = {f.path for f in noise.load_noise_bank(nd, "eval")}
    assert train and held and train.isdisjoint(held) and train | held == everything
    assert all(noise.noise_split_of(p) == noise.noise_split_of(Path(p).name) for p in held)
    with pytest.raises(ValueError):
        noise.load_noise_bank(nd, "test")
    cond = Conditions(p_clean=0.0, snr_range=(0.0, 20.0))
    build(_cfg(clips, hours=0.04, noise_dir=str(nd), noise_split="eval", conditions=cond), tmp_path / "ev", workers=1)
    rows = [json.loads(line) for line in gzip.open(tmp_path / "ev" / "conditions.jsonl.gz", "rt")]
    used = {r["noise"]["file"] for r in rows if r.get("noise", {}).get("kind") == "real"}
    assert used and used <= held
    assert all(r["noise"]["snr_db"] is None or 0 <= r["noise"]["snr_db"] <= 20 for r in rows)


def test_interrupted_build_resumes_to_the_same_corpus(clips, tmp_path, monkeypatch):
    build(_cfg(clips), tmp_path / "ref", workers=1)
    real = mix.make_recording

    def crash_on_1(cfg, index, duration, out_dir):
        if index == 1:
            raise KeyboardInterrupt
        return real(cfg, index, duration, out_dir)

    monkeypatch.setattr(mix, "make_recording", crash_on_1)
    with pytest.raises(KeyboardInterrupt):
        build(_cfg(clips), tmp_path / "x", workers=1)
    monkeypatch.setattr(mix, "make_recording", real)
    s = build(_cfg(clips), tmp_path / "x", workers=1)
    assert s["resumed"] and s["generated"] == s["files"] - 1
    assert _fingerprint(tmp_path / "x") == _fingerprint(tmp_path / "ref")


def test_bad_settings_are_config_errors(clips, tmp_path):
    with pytest.raises(ConfigError, match="--hours"):
        build(_cfg(clips, hours=0), tmp_path / "o")
    with pytest.raises(ConfigError, match="--noise-split"):
        build(_cfg(clips, noise_split="test"), tmp_path / "o")
    assert not (tmp_path / "o").exists()


def test_condition_options_shared_by_synth_and_mix():
    import argparse

    from speechdl.data.synth.cli import add_condition_options, conditions_from_args

    p = argparse.ArgumentParser()
    add_condition_options(p)
    assert conditions_from_args(p.parse_args(["--clean"])) == Conditions(p_clean=1.0, p_reverb=0.0, p_telephone=0.0)
    noisy = conditions_from_args(p.parse_args(["--p-clean", "0", "--snr-range", "0,20"]))
    assert noisy.p_clean == 0.0 and noisy.snr_range == (0.0, 20.0)
    with pytest.raises(ConfigError, match="--p-clean"):
        conditions_from_args(p.parse_args(["--p-clean", "2"]))

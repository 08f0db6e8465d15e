"""The synthetic corpus builder: determinism, exact speech intervals, resume and refusal."""

from __future__ import annotations

import gzip
import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest

from speechdl import audio
from speechdl.data.manifests import load_manifests
from speechdl.data.synth import builder, mixer
from speechdl.data.synth.builder import SynthConfig, build
from speechdl.errors import ConfigError, DataError

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None,
                                reason="espeak-ng not on PATH (sudo apt-get install espeak-ng)")


def _cfg(**kw) -> SynthConfig:
    base = dict(hours=0.02, seed=7, languages=("en", "de"), noise_dir=None,
                min_duration=10.0, max_duration=20.0)
    return SynthConfig(**{**base, **kw})


def _fingerprint(out: Path) -> dict[str, str]:
    """Checksums of every audio file and of the manifests' JSON (output folder name blanked)."""
    fp = {p.name: hashlib.md5(p.read_bytes()).hexdigest() for p in sorted((out / "audio").iterdir())}
    for name in ("recordings.jsonl.gz", "supervisions.jsonl.gz", "conditions.jsonl.gz"):
        fp[name] = hashlib.md5(gzip.decompress((out / name).read_bytes()).replace(str(out.resolve()).encode(),
                                                                                     b"OUT")).hexdigest()
    return fp


@pytest.mark.slow
def test_same_seed_same_corpus_any_workers_and_different_seed_differs(tmp_path):
    s1 = build(_cfg(), tmp_path / "a", workers=1)
    s2 = build(_cfg(), tmp_path / "b", workers=2)
    assert s1["files"] == s2["files"] >= 3 and s1["hours"] == pytest.approx(0.02)
    assert _fingerprint(tmp_path / "a") == _fingerprint(tmp_path / "b")
    # the conditions file is byte-identical, gzip header included
    gz = "conditions.jsonl.gz"
    assert (tmp_path / "a" / gz).read_bytes() == (tmp_path / "b" / gz).read_bytes()
    build(_cfg(seed=8), tmp_path / "c", workers=2)
    fa, fc = _fingerprint(tmp_path / "a"), _fingerprint(tmp_path / "c")
    assert fa["supervisions.jsonl.gz"] != fc["supervisions.jsonl.gz"]
    assert set(fa.values()).isdisjoint(fc.values())


def test_manifests_hold_text_speaker_language_and_speech_intervals(tmp_path):
    build(_cfg(hours=0.03), tmp_path, workers=2)
    recs, sups = load_manifests(tmp_path)
    assert len(recs) >= 4 and len(sups) >= len(recs)
    total = sum(r.duration for r in recs)
    assert total == pytest.approx(0.03 * 3600, abs=0.05)
    for s in sups:
        rec = recs[s.recording_id]
        speech = s.custom["speech"]
        assert s.text and s.language in ("en", "de") and s.speaker.startswith("espeak:")
        assert speech[0][0] == pytest.approx(s.start, abs=1e-3) and speech[-1][1] == pytest.approx(s.end, abs=1e-3)
        assert all(a < b for a, b in speech) and all(b1 <= a2 for (_, b1), (a2, _) in zip(speech, speech[1:]))
        assert 0.1 < s.start and s.end < rec.duration - 0.1            # leading and trailing silence
        assert set(s.custom["conditions"]) <= {"reverb", "noise", "telephone", "gain_db"}
    wav, sr = audio.load(recs[0].sources[0].source)
    assert sr == 16000 and len(wav) == recs[0].num_samples


def test_intervals_are_where_the_clean_signal_has_energy(tmp_path):
    clean = mixer.Conditions(p_clean=1.0, p_reverb=0.0, p_telephone=0.0)
    build(_cfg(conditions=clean, hours=0.02), tmp_path, workers=2)
    recs, sups = load_manifests(tmp_path)
    checked = 0
    for rec in recs:
        ivs = [iv for s in sups if s.recording_id == rec.id for iv in s.custom["speech"]]
        if not ivs:
            continue
        wav, sr = audio.load(rec.sources[0].source)
        inside = mixer.interval_mask(ivs, len(wav), sr)
        e = wav.astype(np.float64) ** 2
        assert e[inside].sum() > 0.999 * e.sum()                         # all energy is inside
        assert e[inside].mean() > 1000 * max(e[~inside].mean(), 1e-12)    # > 30 dB contrast
        # a 10 ms frame at the start and end of every interval carries speech
        for a, b in ivs:
            i, j = int(a * sr), int(b * sr)
            assert np.abs(wav[i:i + 160]).max() > 1e-3 and np.abs(wav[j - 160:j]).max() > 1e-3
        checked += 1
    assert checked >= 2


@pytest.mark.slow
def test_interrupted_build_resumes_to_the_same_corpus(tmp_path, monkeypatch):
    build(_cfg(), tmp_path / "ref", workers=1)
    real = builder.make_recording

    def crash_on_2(cfg, index, duration, out_dir):
        if index == 2:
            raise KeyboardInterrupt
        return real(cfg, index, duration, out_dir)

    monkeypatch.setattr(builder, "make_recording", crash_on_2)
    with pytest.raises(KeyboardInterrupt):
        build(_cfg(), tmp_path / "x", workers=1)
    assert not (tmp_path / "x" / "recordings.jsonl.gz").exists()
    monkeypatch.setattr(builder, "make_recording", real)
    s = build(_cfg(), tmp_path / "x", workers=1)
    assert s["resumed"] and s["generated"] == s["files"] - 2
    fx, fr = _fingerprint(tmp_path / "x"), _fingerprint(tmp_path / "ref")
    fx = {k: v for k, v in fx.items()}
    assert fx == fr
    again = build(_cfg(), tmp_path / "x", workers=1)                    # complete: nothing to do
    assert again["generated"] == 0 and _fingerprint(tmp_path / "x") == fr


def test_refuses_to_mix_corpora(tmp_path):
    build(_cfg(hours=0.005), tmp_path / "a", workers=1)
    with pytest.raises(DataError, match="other settings"):
        build(_cfg(hours=0.005, seed=9), tmp_path / "a", workers=1)
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "notes.txt").write_text("mine")
    with pytest.raises(DataError, match="not empty"):
        build(_cfg(hours=0.005), tmp_path / "b", workers=1)
    (tmp_path / "c").write_text("a file")
    with pytest.raises(DataError, match="not a directory"):
        build(_cfg(hours=0.005), tmp_path / "c", workers=1)


@pytest.mark.parametrize("kw,option", [({"hours": 0}, "--hours"), ({"seed": -1}, "--seed"),
                                       ({"sample_rate": 100}, "--sample-rate"), ({"languages": ("xx",)}, "--languages"),
                                       ({"conditions": mixer.Conditions(snr_range=(30.0, 0.0))}, "--snr-range")])
def test_bad_settings_are_config_errors(tmp_path, kw, option):
    with pytest.raises(ConfigError, match=option):
        build(_cfg(**kw), tmp_path / "o", workers=1)
    assert not (tmp_path / "o").exists()


def test_plan_adds_up_and_depends_only_on_seed():
    d = builder.plan(_cfg(hours=0.5, min_duration=10, max_duration=30))
    assert sum(d) == pytest.approx(1800, abs=0.01) and all(1.0 <= x <= 30 for x in d)
    assert d == builder.plan(_cfg(hours=0.5, min_duration=10, max_duration=30))
    assert d != builder.plan(_cfg(hours=0.5, seed=1, min_duration=10, max_duration=30))

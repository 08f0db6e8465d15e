"""Flite / Festival talkers and the vocal-tract warp: real audio, rate and pitch direction, ids, splits, errors."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from speechdl.data.synth import engines as E
from speechdl.data.synth import voices as V
from speechdl.data.synth.builder import SynthConfig, build
from speechdl.data.synth.cli import parse_engines
from speechdl.data.synth.mixer import speech_intervals
from speechdl.data.synth.warp import vtl_warp, wsola
from speechdl.errors import ConfigError, ToolError

SENTENCE = "The committee will meet again on Tuesday to discuss the budget for next year."


def _installed(b: E.BaseVoice) -> bool:
    try:
        E.check_engine(b.engine, [b.name] if b.engine == "festival" else [])
    except ToolError:
        return False
    return True


def _voice(key: str, rate: int | None = None, pitch: int | None = None, warp: float = 1.0) -> V.Voice:
    b = E.BASE[key]
    return V.Voice(b.engine, "en", b.name, "", b.sex, int(b.f0 or 0) if pitch is None else pitch,
                   int(round(b.wpm)) if rate is None else rate, warp)


def _needs(key: str):
    return pytest.mark.skipif(not _installed(E.BASE[key]), reason=f"{key} not installed ({E.BASE[key].apt})")


def _speech_seconds(x: np.ndarray, sr: int) -> float:
    ivs = speech_intervals(x, sr)
    return ivs[-1][1] - ivs[0][0]


def _f0(x: np.ndarray, sr: int) -> float:
    """Median autocorrelation F0 (Hz) of the voiced 40 ms frames."""
    n, hop, out = int(0.04 * sr), int(0.01 * sr), []
    peak = float(np.abs(x).max())
    for i in range(0, len(x) - n, hop):
        f = x[i:i + n] * np.hanning(n)
        if np.sqrt(np.mean(f ** 2)) < 0.02 * peak:
            continue
        ac = np.correlate(f, f, "full")[n - 1:]
        lo, hi = sr // 400, sr // 60
        k = lo + int(np.argmax(ac[lo:hi]))
        if ac[k] > 0.4 * ac[0]:
            out.append(sr / k)
    return float(np.median(out))


def _centroid(x: np.ndarray, sr: int) -> float:
    p = np.abs(np.fft.rfft(x)) ** 2
    return float((p * np.fft.rfftfreq(len(x), 1 / sr)).sum() / p.sum())


@pytest.mark.parametrize("key", list(E.BASE))
def test_every_engine_voice_speaks_a_sentence_at_16k(key):
    if not _installed(E.BASE[key]):
        pytest.skip(f"{key} not installed")
    x, sr = E.render(SENTENCE, _voice(key))
    assert sr == 16000 and x.dtype == np.float32 and np.isfinite(x).all()
    assert float(np.sqrt(np.mean(x ** 2))) > 0.01                     # not silent
    words = len(SENTENCE.split())
    assert words * 60 / 300 < _speech_seconds(x, sr) < words * 60 / 90   # 90-300 words per minute


@pytest.mark.parametrize("key", ["flite:awb", "festival:kal_diphone", "festival:cmu_us_slt_arctic_hts"])
def test_a_faster_rate_gives_shorter_speech(key):
    if not _installed(E.BASE[key]):
        pytest.skip(f"{key} not installed")
    slow = _speech_seconds(*E.render(SENTENCE, _voice(key, rate=130)))
    fast = _speech_seconds(*E.render(SENTENCE, _voice(key, rate=210)))
    assert fast < 0.8 * slow and fast / slow == pytest.approx(130 / 210, rel=0.15)


@pytest.mark.parametrize("key", ["flite:awb", "festival:ked_diphone"])
def test_the_pitch_setting_moves_f0(key):
    if not _installed(E.BASE[key]):
        pytest.skip(f"{key} not installed")
    low = _f0(*E.render(SENTENCE, _voice(key, pitch=85)))
    high = _f0(*E.render(SENTENCE, _voice(key, pitch=150)))
    assert low == pytest.approx(85, rel=0.15) and high == pytest.approx(150, rel=0.15)


def _vowel(sr: int = 16000, seconds: float = 1.0, f0: float = 120.0) -> np.ndarray:
    """A glottal pulse train through two formant resonators (500 and 1500 Hz)."""
    from scipy import signal

    x = np.zeros(int(sr * seconds))
    x[:: int(sr / f0)] = 1.0
    for fc in (500.0, 1500.0):
        b, a = signal.iirpeak(fc, 5.0, fs=sr)
        x = signal.lfilter(b, a, x)
    return (x / np.abs(x).max()).astype(np.float32)


def test_warp_keeps_duration_and_moves_the_spectrum():
    x = _vowel()
    c0 = _centroid(x, 16000)
    up, down = vtl_warp(x, 16000, 1.15), vtl_warp(x, 16000, 0.87)
    assert len(up) == len(down) == len(x)
    assert _centroid(up, 16000) == pytest.approx(1.15 * c0, rel=0.05)
    assert _centroid(down, 16000) == pytest.approx(0.87 * c0, rel=0.05)
    assert _f0(up, 16000) == pytest.approx(120 * 1.15, rel=0.05)
    np.testing.assert_array_equal(vtl_warp(x, 16000, 1.0), x)
    with pytest.raises(ValueError):
        vtl_warp(x, 16000, 2.0)


def test_wsola_stretches_without_changing_pitch():
    x = _vowel(seconds=0.5)
    y = wsola(x, int(1.5 * len(x)), 16000)
    assert len(y) == int(1.5 * len(x)) and _f0(y, 16000) == pytest.approx(120, rel=0.03)


@_needs("flite:slt")
def test_warped_engine_voice_keeps_its_duration_and_rises():
    plain = _voice("flite:slt")
    x, sr = E.render(SENTENCE, plain)
    y, _ = E.render(SENTENCE, _voice("flite:slt", warp=1.1))
    assert len(y) == len(x) and _centroid(y, sr) > 1.04 * _centroid(x, sr)


def test_voice_ids_round_trip_for_every_engine():
    pool = E.voice_pool(["en", "de"], seed=3, piper=True, engines=("flite", "festival"))
    every = [*pool["en"], *pool["de"], V.Voice("espeak", "en", "en-us", "m3", "M", 40, 150, 0.95)]
    assert {v.engine for v in every} == {"espeak", "piper", "flite", "festival"}
    assert all(E.parse_voice_id(v.id) == v for v in every)
    assert len({v.id for v in pool["en"]}) == len(pool["en"])           # distinct talkers
    assert pool["de"] == V.voice_pool(["de"], seed=3)["de"]                 # English-only engines
    assert V.voice_pool(["en"], seed=3)["en"] == [v for v in pool["en"] if v.engine == "espeak"]  # espeak unchanged
    with pytest.raises(ToolError, match="not a synthetic voice id"):
        E.parse_voice_id("flite:nobody:s100:p0:w1.00")


def test_eval_voices_are_never_train_voices():
    train = E.engine_pool(E.EXTRA_ENGINES, seed=0, split="train")
    held = E.engine_pool(E.EXTRA_ENGINES, seed=0, split="eval")
    assert {v.engine for v in held} == {"flite", "festival"} and len(held) == 32 and len(train) == 80
    assert not {v.id for v in train} & {v.id for v in held}
    assert not {v.base for v in train} & {v.base for v in held}
    speaker = {"kal16": "kal", "kal_diphone": "kal", "slt": "slt", "cmu_us_slt_arctic_hts": "slt"}
    assert not {speaker.get(v.base, v.base) for v in train} & {speaker.get(v.base, v.base) for v in held}
    whole = E.voice_pool(["en"], 0, engines=("flite",), split="eval")["en"]
    assert {v.base for v in whole if v.engine == "flite"} == {"rms"}


def test_missing_engines_name_their_apt_package(monkeypatch, tmp_path):
    monkeypatch.setattr(E.shutil, "which", lambda name: None)
    with pytest.raises(ToolError, match="sudo apt-get install flite"):
        E.check_engine("flite")
    monkeypatch.setattr(E.shutil, "which", lambda name: "/usr/bin/" + name)
    monkeypatch.setattr(E, "FESTIVAL_VOICE_DIRS", (str(tmp_path),))
    with pytest.raises(ToolError, match="festival voice ked_diphone: not installed .*festvox-kdlpc16k"):
        E.check_engine("festival", ["ked_diphone"])
    with pytest.raises(ToolError, match="unknown engine"):
        E.check_engine("sam")


def test_engines_option_and_config():
    assert parse_engines("espeak") == (False, ())
    assert parse_engines("festival, espeak ,piper") == (True, ("festival",))
    assert parse_engines("espeak", piper=True) == (True, ())
    with pytest.raises(ConfigError, match="espeak must be listed"):
        parse_engines("flite")
    with pytest.raises(ConfigError, match="unknown engine sam"):
        parse_engines("espeak,sam")
    assert "engines" not in SynthConfig(hours=1).to_dict()                     # older synth.json still resume
    assert SynthConfig(hours=1, engines=("flite",)).to_dict()["engines"] == ["flite"]
    with pytest.raises(ConfigError):
        SynthConfig(hours=1, engines=("piper",)).validate()


@pytest.mark.skipif(not all(_installed(b) for b in E.BASE.values()) or shutil.which("espeak-ng") is None,
                    reason="espeak-ng, flite, festival or a festvox voice not installed")
def test_build_with_engines_uses_held_out_talkers_and_resumes(tmp_path):
    cfg = SynthConfig(hours=0.01, seed=2, noise_dir=None, voice_split="eval", engines=("flite", "festival"),
                      min_duration=10.0, max_duration=12.0)
    s = build(cfg, tmp_path, workers=1)
    from speechdl.data.manifests import load_manifests

    _, sups = load_manifests(tmp_path)
    held = {v.id for v in E.voice_pool(["en"], 2, split="eval", engines=("flite", "festival"))["en"]}
    speakers = {x.speaker for x in sups}
    assert speakers <= held and {x.split(":")[0] for x in speakers} & {"flite", "festival"}
    assert all(x.custom["voice"]["engine"] in ("espeak", "flite", "festival") for x in sups)
    again = build(cfg, tmp_path, workers=1)
    assert again["resumed"] and again["generated"] == 0 and again["files"] == s["files"]


@pytest.mark.parametrize("args,needle", [
    (["--engines", "flite"], "--engines: espeak must be listed"),
    (["--engines", "espeak,sam"], "--engines: unknown engine sam"),
])
def test_cli_bad_engines_exit_2_with_one_line(tmp_path, capsys, args, needle):
    from speechdl.cli import main

    rc = main(["data", "synth", "--hours", "0.01", "--out", str(tmp_path / "o"), "--noise-dir", "none", *args])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and needle in err and not (tmp_path / "o").exists()


def test_cli_missing_engine_names_the_apt_package(tmp_path, capsys, monkeypatch):
    from speechdl.cli import main

    monkeypatch.setattr(V, "check_espeak", lambda: "/usr/bin/espeak-ng")
    monkeypatch.setattr(E.shutil, "which", lambda name: None)
    rc = main(["data", "synth", "--hours", "0.01", "--out", str(tmp_path / "o"), "--noise-dir", "none",
               "--engines", "espeak,festival"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and err.endswith("festival: not found on PATH (install it: sudo apt-get install festival)")
    assert len(err.splitlines()) == 1 and not (tmp_path / "o").exists()


@_needs("festival:ked_diphone")
def test_a_festival_scheme_error_is_one_tool_error_and_the_process_recovers(monkeypatch):
    monkeypatch.setitem(E.BASE, "festival:nobody", E.BaseVoice("festival", "nobody", "M", 150.0, None, "train", "x"))
    monkeypatch.setattr(E, "check_engine", lambda *a, **k: None)
    with pytest.raises(ToolError, match="festival: wrote no audio: SIOD ERROR: unbound variable : voice_nobody"):
        E.render("Hello there.", V.Voice("festival", "en", "nobody", "", "M", 0, 150))
    x, sr = E.render("Still here.", _voice("festival:ked_diphone"))
    assert sr == 16000 and len(x) > 8000

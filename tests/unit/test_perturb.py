"""Pseudo-speakers: change_voice moves F0 and formants as asked, variant_ratios, the CLI verb."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from lhotse import Recording, RecordingSet, SupervisionSegment, SupervisionSet
from lhotse.audio import AudioSource
from scipy.signal import lfilter

from speechdl import audio
from speechdl.cli import main
from speechdl.data import pseudo_speakers
from speechdl.data.manifests import load_manifests, save_manifests
from speechdl.data.perturb import change_voice, pitch_median, variant_ratios

SR = 16000


def voice(f0: float = 120.0, seconds: float = 1.0, formants=((700, 80), (1200, 100), (2600, 150))) -> np.ndarray:
    """Glottal pulse train at ``f0`` (spectral tilt) through resonators; ``(seconds * SR,)`` float32."""
    n = int(seconds * SR)
    x = np.zeros(n)
    x[np.arange(0, n, SR / f0).astype(int)] = 1.0
    x = lfilter([1.0], [1.0, -0.95], x)
    for freq, bw in formants:
        r, th = math.exp(-math.pi * bw / SR), 2 * math.pi * freq / SR
        x = lfilter([1 - r], [1.0, -2 * r * math.cos(th), r * r], x)
    return (0.5 * x / np.abs(x).max()).astype(np.float32)


def first_formant(x: np.ndarray) -> float:
    import parselmouth
    from parselmouth.praat import call

    formant = parselmouth.Sound(x.astype(np.float64), SR).to_formant_burg(max_number_of_formants=5,
                                                                          maximum_formant=5500)
    return call(formant, "Get quantile", 1, 0, 0, "Hertz", 0.5)


def centroid(x: np.ndarray) -> float:
    power = np.abs(np.fft.rfft(x * np.hanning(len(x)))) ** 2
    freqs = np.fft.rfftfreq(len(x), 1 / SR)
    band = freqs < 5000
    return float((power[band] * freqs[band]).sum() / power[band].sum())


@pytest.mark.parametrize("ratio", [0.8, 1.25])
def test_pitch_moves_by_ratio_and_length_is_kept(ratio):
    x = voice()
    y = change_voice(x, SR, ratio, 1.0)
    assert y.shape == x.shape and y.dtype == np.float32
    assert pitch_median(y, SR) / pitch_median(x, SR) == pytest.approx(ratio, rel=0.05)
    assert np.abs(y).max() < 1.0


@pytest.mark.parametrize("ratio", [0.87, 1.15])
def test_formants_move_in_the_direction_of_the_ratio_with_pitch_kept(ratio):
    x = voice()
    y = change_voice(x, SR, 1.0, ratio)
    assert pitch_median(y, SR) / pitch_median(x, SR) == pytest.approx(1.0, rel=0.03)
    f1 = first_formant(y) / first_formant(x)
    assert (f1 - 1) * (ratio - 1) > 0 and f1 == pytest.approx(ratio, rel=0.05)
    assert (centroid(y) / centroid(x) - 1) * (ratio - 1) > 0


def test_output_is_peak_limited_and_odd_inputs_fall_back():
    loud = voice() / 0.5 * 0.999
    assert np.abs(change_voice(loud, SR, 1.3, 1.15)).max() <= 0.99 + 1e-6
    noise = np.random.default_rng(0).normal(0, 0.1, SR).astype(np.float32)   # unvoiced: formants only
    y = change_voice(noise, SR, 1.3, 1.1)
    assert y.shape == noise.shape and np.isfinite(y).all() and y.std() > 0.01
    short = noise[:800]                                                       # 50 ms: returned unchanged
    np.testing.assert_array_equal(change_voice(short, SR, 1.3, 1.1), short)
    np.testing.assert_array_equal(change_voice(np.zeros(SR, np.float32), SR, 1.3, 1.1), np.zeros(SR))


def test_variant_ratios_deterministic_in_range_and_distinct():
    for speaker in ("fotaq:joe", "fillets-nl:big_fish", "x"):
        pairs = [variant_ratios(speaker, k) for k in range(1, 7)]
        assert pairs == [variant_ratios(speaker, k) for k in range(1, 7)]
        logs = [(0.0, 0.0)] + [(math.log(p), math.log(f)) for p, f in pairs]
        for p, f in pairs:
            assert 0.75 <= p <= 1.35 and 0.85 <= f <= 1.18
        for i in range(len(logs)):
            for j in range(i + 1, len(logs)):
                assert math.dist(logs[i], logs[j]) >= 0.05
        assert all(math.dist(logs[0], a) >= 0.12 for a in logs[1:4])   # the first variants keep full spacing
    assert variant_ratios("a", 1) != variant_ratios("b", 1)
    assert len({variant_ratios("crowded", k, (0.95, 1.05), (0.97, 1.03)) for k in range(1, 5)}) == 4
    with pytest.raises(ValueError):
        variant_ratios("a", 0)


@pytest.fixture
def tiny_manifest(tmp_path):
    """Two speakers, three utterances; one recording holds two supervisions, one has no speaker."""
    recs = []
    for rid, f0, seconds in (("r1", 110.0, 2.5), ("r2", 210.0, 1.2)):
        path = tmp_path / "src" / f"{rid}.wav"
        path.parent.mkdir(exist_ok=True)
        audio.save(path, voice(f0, seconds), SR)
        recs.append(Recording(rid, [AudioSource("file", [0], str(path))], SR, int(seconds * SR), seconds))
    sups = [SupervisionSegment("u1", "r1", 0.0, 1.0, text="one", language="en", speaker="a", gender="M"),
            SupervisionSegment("u2", "r1", 1.2, 1.3, text="two", language="en", speaker="a"),
            SupervisionSegment("u3", "r2", 0.0, 1.2, text="drie", language="nl", speaker="b",
                               custom={"source": "s"}),
            SupervisionSegment("u4", "r2", 0.0, 1.2, text="none")]
    return save_manifests(tmp_path / "m", RecordingSet.from_recordings(recs), SupervisionSet.from_segments(sups))


def test_cli_round_trip_and_resume(tiny_manifest, tmp_path, capsys, monkeypatch):
    out = tmp_path / "pseudo"
    argv = ["data", "pseudo-speakers", str(tiny_manifest), "--copies", "2", "--out", str(out), "--format", "json"]
    work, calls = pseudo_speakers._work, []

    def crash_on_third(job):
        calls.append(job)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return work(job)

    monkeypatch.setattr(pseudo_speakers, "_work", crash_on_third)
    assert main(argv) == 130                                  # interrupted after two files
    monkeypatch.setattr(pseudo_speakers, "_work", work)
    capsys.readouterr()
    assert main(argv) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["utterances"] == 6 and summary["speakers"] == 4 and summary["source_speakers"] == 2
    assert summary["generated"] == 4 and summary["resumed"]
    assert summary["hours"] == pytest.approx(2 * 3.5 / 3600, rel=1e-3)
    recs, sups = load_manifests(out)
    by_id = {s.id: s for s in sups}
    assert set(by_id) == {f"u{i}~v{k}" for i in (1, 2, 3) for k in (1, 2)}
    assert {s.speaker for s in sups} == {"a~v1", "a~v2", "b~v1", "b~v2"}
    assert by_id["u3~v2"].text == "drie" and by_id["u3~v2"].language == "nl"
    assert by_id["u3~v2"].custom["source"] == "s" and by_id["u1~v1"].custom["pseudo"]["gender"] == "M"
    p, f = variant_ratios("a", 2)
    assert by_id["u2~v2"].custom["pseudo"]["pitch_ratio"] == pytest.approx(p, abs=1e-4)
    for s, want in (("u1~v1", 1.0), ("u2~v2", 1.3), ("u3~v1", 1.2)):
        assert by_id[s].duration == pytest.approx(want, abs=1e-3)
        wave, rate = audio.load(recs[s].sources[0].source)
        assert rate == SR and len(wave) == recs[s].num_samples == round(want * SR)
        assert np.abs(wave).max() > 0.05
    # variant 1 of speaker a has a new F0 close to the ratio
    assert pitch_median(audio.load(recs["u1~v1"].sources[0].source)[0], SR) == pytest.approx(
        110.0 * variant_ratios("a", 1)[0], rel=0.05)
    # a complete set is not redone
    before = (out / "audio" / "u1~v1.flac").stat().st_mtime_ns
    assert main(argv) == 0
    assert json.loads(capsys.readouterr().out)["generated"] == 0
    assert (out / "audio" / "u1~v1.flac").stat().st_mtime_ns == before


def test_cli_source_without_speakers_is_one_line(tmp_path, capsys):
    path = tmp_path / "r.wav"
    audio.save(path, voice(), SR)
    recs = RecordingSet.from_recordings([Recording("r", [AudioSource("file", [0], str(path))], SR, SR, 1.0)])
    src = save_manifests(tmp_path / "m", recs, SupervisionSet.from_segments([SupervisionSegment("s", "r", 0, 1.0)]))
    for source, message in ((src, "no supervision with a speaker"), (tmp_path / "missing", "manifest not found")):
        assert main(["data", "pseudo-speakers", str(source), "--copies", "1", "--out", str(tmp_path / "o")]) == 2
        captured = capsys.readouterr()
        err = captured.err.strip().splitlines()
        assert captured.out == "" and len(err) == 1 and err[0].startswith("speechdl: error:") and message in err[0]
    assert not (tmp_path / "o").exists()

"""`speechdl vad eval`: reference labels from manifests, metrics of stub scorers, the CLI verb."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest
from lhotse import Recording, RecordingSet, SupervisionSegment, SupervisionSet

from speechdl import audio
from speechdl.data.manifests import save_manifests
from speechdl.errors import ConfigError
from speechdl.tasks.vad import evaluate as E
from tests.conftest import speechlike

# recording id -> (seconds, speech intervals written as custom["speech"] or as the supervision span)
LAYOUT = {"a": (3.0, [(0.5, 1.2), (2.0, 2.6)]), "b": (2.0, [(0.3, 1.5)]), "c": (1.5, [])}


def _energy(wave: np.ndarray) -> np.ndarray:
    """Stub scorer: log energy of the 10 ms frame around each frame centre (higher = speech)."""
    n = E.num_frames(wave.size)
    padded = np.pad(wave, (80, 240))
    frames = np.lib.stride_tricks.sliding_window_view(padded, 160)[::160][:n]
    return np.log10(1e-8 + (frames ** 2).mean(axis=1))


@pytest.fixture
def manifest(tmp_path):
    """Speech-like bursts exactly on the speech intervals, digital silence elsewhere.

    ``a`` uses ``custom["speech"]`` inside one supervision, ``b`` a plain supervision span,
    ``c`` has no supervision (all non-speech) and is stored at 8 kHz.
    """
    recs, sups = [], []
    for i, (rid, (dur, speech)) in enumerate(LAYOUT.items()):
        x = np.zeros(int(dur * 16000), np.float32)
        for a, b in speech:
            x[int(a * 16000):int(b * 16000)] = speechlike(b - a, seed=i) + 0.05
        sr = 8000 if rid == "c" else 16000
        path = tmp_path / f"{rid}.wav"
        audio.save(path, audio.resample(x, 16000, sr), sr, subtype="FLOAT")
        recs.append(Recording.from_file(path, recording_id=rid))
        if rid == "a":
            sups.append(SupervisionSegment("a1", "a", 0.4, 2.3, custom={"speech": [list(s) for s in speech]}))
        elif speech:
            sups += [SupervisionSegment(f"{rid}{k}", rid, a, b - a) for k, (a, b) in enumerate(speech)]
    return save_manifests(tmp_path / "m", RecordingSet.from_recordings(recs), SupervisionSet.from_segments(sups))


def _oracle_labels() -> dict[int, np.ndarray]:
    """Expected labels keyed by 16 kHz sample count (each recording has a different length)."""
    out = {}
    for dur, speech in LAYOUT.values():
        n = int(dur * 16000)
        out[n] = E.centre_labels(speech, E.num_frames(n))
    return out


def test_centre_labels_by_hand():
    y = E.centre_labels([(0.015, 0.04)], 6)  # centres 0, 10, 20, 30, 40, 50 ms
    assert y.tolist() == [0, 0, 1, 1, 0, 0]
    assert E.num_frames(16000) == 101 and E.num_frames(159) == 1


def test_references_use_custom_speech_then_spans_then_nothing(manifest):
    refs = {rid: (wave, y) for rid, wave, y in E.iter_references(manifest)}
    assert set(refs) == {"a", "b", "c"}
    wave_a, ya = refs["a"]
    assert wave_a.size == 48000 and ya.size == 301
    assert ya.sum() == pytest.approx(70 + 60, abs=2)  # 0.7 s + 0.6 s, not the 1.9 s supervision span
    assert ya[60] == 1 and ya[150] == 0 and ya[230] == 1
    assert refs["b"][1].sum() == pytest.approx(120, abs=2)
    wave_c, yc = refs["c"]
    assert wave_c.size == 24000 and yc.sum() == 0  # 8 kHz file resampled to 16 kHz
    assert [rid for rid, _, _ in E.iter_references(manifest, limit=2, max_seconds=1.0)] == ["a", "b"]


def test_oracle_scorer_is_perfect(manifest):
    oracle = _oracle_labels()
    r = E.evaluate(manifest, lambda w: oracle[w.size] * 0.9 + 0.05, threshold=0.5)
    assert (r["accuracy"], r["precision"], r["recall"], r["f1"], r["roc_auc"], r["eer"]) == (1, 1, 1, 1, 1, 0)
    assert r["recordings"] == 3 and r["frames"] == 301 + 201 + 151
    assert r["speech_fraction"] == pytest.approx(sum(y.sum() for y in oracle.values()) / 653)
    assert r["hours"] == pytest.approx(6.5 / 3600)


def test_inverted_and_energy_scorers(manifest):
    oracle = _oracle_labels()
    inverted = E.evaluate(manifest, lambda w: 1 - oracle[w.size], threshold=0.5)
    assert inverted["roc_auc"] == 0 and inverted["f1"] == 0 and inverted["eer"] == 1
    r = E.evaluate(manifest, _energy, threshold=-4.0)
    assert r["roc_auc"] > 0.97 and r["f1"] > 0.9 and r["eer"] < 0.05


def test_scorer_length_is_checked(manifest):
    oracle = _oracle_labels()
    r = E.evaluate(manifest, lambda w: oracle[w.size][:-1], threshold=0.5)  # one frame short: edge-padded
    assert r["f1"] == 1 and r["frames"] == 653
    with pytest.raises(ConfigError, match="expected 301"):
        E.evaluate(manifest, lambda w: np.zeros(w.size // 320), threshold=0.5)


def test_plot_is_written(manifest, tmp_path):
    r = E.evaluate(manifest, _energy, threshold=-4.0, plot=tmp_path / "roc.png", name="energy")
    assert (tmp_path / "roc.png").read_bytes()[:4] == b"\x89PNG" and r["plot"].endswith("roc.png")


def test_cli_verb_json_and_text(manifest, tmp_path, capsys):
    parser = argparse.ArgumentParser(prog="speechdl vad")
    verbs = parser.add_subparsers(dest="verb")
    E.add_eval(verbs)
    args = parser.parse_args(["eval", str(manifest), "--threshold", "-4", "--format", "json",
                              "--plot", str(tmp_path / "p.png")])
    assert args.model is None and args.func is E.run_eval
    assert E.run_eval(args, scorer=_energy) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["threshold"] == -4 and out["f1"] > 0.9 and (tmp_path / "p.png").exists()
    args = parser.parse_args(["eval", str(manifest), "--threshold", "-4"])
    assert E.run_eval(args, scorer=_energy) == 0
    text = capsys.readouterr().out
    assert "roc_auc" in text and "f1" in text and "%" in text


def _bench_module():
    import importlib.util
    import sys
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "benchmarks" / "vad.py"
    spec = importlib.util.spec_from_file_location("bench_vad", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_vad"] = module  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(module)
    return module


def _energy_system(bench):
    return bench.System("energy", _energy, lambda x: bench._timed_calls(_energy, x, 160), 160, params=0)


def test_benchmark_quick_on_tiny_sets(manifest, tmp_path, capsys):
    bench = _bench_module()
    argv = ["--quick", "--baselines-only", "--eval", str(manifest), str(manifest), "--dev", str(manifest),
            "--webrtc-modes", "0", "3", "--plot", str(tmp_path / "rd.png"), "--out", str(tmp_path / "r.json")]
    assert bench.main(argv, extra=[_energy_system(bench)]) == 0
    text = capsys.readouterr().out
    assert "webrtc-0" in text and "silero" in text and "energy" in text and "ROC-AUC" in text
    report = json.loads((tmp_path / "r.json").read_text())
    assert (tmp_path / "rd.png").read_bytes()[:4] == b"\x89PNG"
    (name, results), = report["sets"].items()  # the same dir twice -> one set name
    assert set(results) == {"webrtc-0", "webrtc-3", "silero", "energy"}
    energy = results["energy"]
    assert energy["roc_auc"] > 0.97 and energy["f1"] > 0.9
    assert report["systems"]["energy"]["threshold"] == energy["threshold"] != 0.5  # tuned on dev
    assert report["systems"]["webrtc-3"]["binary"] and report["systems"]["webrtc-3"]["threshold"] == 0.5
    assert results["webrtc-0"]["roc_auc"] > 0.8 and results["silero"]["roc_auc"] > 0.6
    silero = report["systems"]["silero"]
    assert silero["params"] > 100_000 and "divided by 3.2" in silero["streaming"]["unit"]
    assert 0 < report["systems"]["webrtc-0"]["streaming"]["us_per_10ms"] < silero["streaming"]["us_per_10ms"]
    assert report["config"]["max_recordings"] == 3 and results["energy"]["hours"] <= 15 / 3600


def test_benchmark_fails_clearly_without_sets(tmp_path, capsys):
    bench = _bench_module()
    assert bench.main(["--quick", "--eval", str(tmp_path / "nope"), "--dev", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "set not found" in err and str(tmp_path) in err


@pytest.fixture
def tiny_bundle(tmp_path):
    """An untrained MFCC39 -> Dense 8 -> 1 VAD bundle (the real inference path, tiny weights)."""
    import torch

    from speechdl.features import FrontendConfig
    from speechdl.pretrained import save_bundle
    from speechdl.tasks.vad.net import FrameModel

    torch.manual_seed(0)
    model = FrameModel("dense", {"in_dim": 39, "hidden": [8], "out_dim": 1})
    return save_bundle(tmp_path / "tiny", task="vad", model={"name": "dense", "kwargs": model.kwargs},
                       state_dict=model.state_dict(), frontend=FrontendConfig.mfcc39().to_dict(),
                       thresholds={"onset": 0.4})


def test_eval_verb_loads_a_bundle(manifest, tiny_bundle, capsys):
    parser = argparse.ArgumentParser(prog="speechdl vad")
    E.add_eval(parser.add_subparsers(dest="verb"))
    args = parser.parse_args(["eval", str(manifest), "--model", str(tiny_bundle), "--format", "json"])
    assert args.func(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["threshold"] == 0.4 and out["frames"] == 653 and 0 <= out["roc_auc"] <= 1


def test_benchmark_quick_with_a_bundle(manifest, tiny_bundle, tmp_path, capsys):
    bench = _bench_module()
    argv = ["--quick", "--eval", str(manifest), "--dev", str(manifest), "--model", f"tiny={tiny_bundle}",
            "--webrtc-modes", "3", "--no-silero", "--plot", "", "--format", "json"]
    assert bench.main(argv) == 0
    report = json.loads(capsys.readouterr().out)
    (results,) = report["sets"].values()
    assert set(results) == {"tiny", "webrtc-3"} and 0 <= results["tiny"]["roc_auc"] <= 1
    tiny = report["systems"]["tiny"]
    assert tiny["params"] == sum(p.numel() for p in E.load_vad(tiny_bundle).model.parameters()) >= 39 * 8 + 8 + 8 + 1
    assert tiny["bytes"] > 1000 and tiny["streaming"]["us_per_10ms"] > 0
    assert "10 ms per call" == tiny["streaming"]["unit"]


def test_to_grid_interpolates_a_20ms_model_onto_the_10ms_frames():
    p = np.array([0.0, 1.0, 0.0], np.float32)
    assert E.to_grid(p, 0.02, 6).tolist() == [0.0, 0.5, 1.0, 0.5, 0.0, 0.0]
    assert E.to_grid(p, 0.01, 3).tolist() == p.tolist()


def test_a_20ms_bundle_is_scored_on_the_10ms_grid(manifest, tmp_path, capsys):
    from speechdl.features import FrontendConfig
    from speechdl.pretrained import save_bundle
    from speechdl.tasks.vad.net import FrameModel

    model = FrameModel("rnn", {"in_dim": 40, "hidden_size": 8, "cell": "lstm", "out_dim": 1})
    cfg = FrontendConfig.logmel(win_length=512, hop_length=320)
    bundle = save_bundle(tmp_path / "b20", task="vad", model={"name": "rnn", "kwargs": model.kwargs},
                         state_dict=model.state_dict(), frontend=cfg.to_dict())
    vad = E.load_vad(bundle)
    wave = np.random.default_rng(0).standard_normal(16000).astype(np.float32) * 0.1
    assert vad.probabilities(wave).size == 1 + 16000 // 320
    assert E.grid_scorer(vad)(wave).size == E.num_frames(16000)
    parser = argparse.ArgumentParser(prog="speechdl vad")
    E.add_eval(parser.add_subparsers(dest="verb"))
    args = parser.parse_args(["eval", str(manifest), "--model", str(bundle), "--format", "json"])
    assert args.func(args) == 0
    assert json.loads(capsys.readouterr().out)["frames"] == 653

"""``speechdl vad detect|train|export``: formats parse, errors exit 2, a tiny train -> export -> detect run."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import yaml
from lhotse import Recording, RecordingSet, SupervisionSegment, SupervisionSet
from lhotse.audio import AudioSource

from speechdl import audio
from speechdl.cli import main
from speechdl.data.manifests import save_manifests
from speechdl.features import FrontendConfig
from speechdl.pretrained import save_bundle
from tests.vad_models import burst_signal, trained_dense_vad

BURSTS = [(0.6, 1.7), (2.5, 3.5)]


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    vad = trained_dense_vad()
    out = tmp_path_factory.mktemp("bundle") / "vad"
    return save_bundle(out, task="vad", model={"name": "dense", "kwargs": vad.model.kwargs},
                       state_dict=vad.model.state_dict(), frontend=FrontendConfig.mfcc39().to_dict(),
                       thresholds={"onset": 0.5, "offset": 0.35},
                       post={"min_speech": 0.1, "min_silence": 0.1, "pad": 0.0})


@pytest.fixture(scope="module")
def wav(tmp_path_factory):
    path = tmp_path_factory.mktemp("audio") / "talk 1.wav"
    audio.save(path, burst_signal(4.0, BURSTS, seed=5), 16000)
    return path


def _detect(capsys, *args):
    assert main(["vad", "detect", *map(str, args)]) == 0
    return capsys.readouterr().out


def _close(segs, ref=BURSTS, tol=0.08):
    return len(segs) == len(ref) and all(abs(s[0] - a) < tol and abs(s[1] - b) < tol for s, (a, b) in zip(segs, ref))


def test_json_has_segments_hop_and_probabilities(capsys, bundle, wav):
    out = _detect(capsys, wav, wav, "--model", bundle, "--format", "json", "--probabilities")
    lines = [json.loads(line) for line in out.splitlines()]
    assert len(lines) == 2 and lines[0]["file"] == str(wav) and lines[0]["frame_hop"] == 0.01
    assert len(lines[0]["probabilities"]) == 1 + 64000 // 160 and lines[0]["duration"] == 4.0
    assert _close([(s["start"], s["end"]) for s in lines[0]["segments"]])


def test_rttm_audacity_textgrid_and_text_parse(capsys, bundle, wav):
    rttm = _detect(capsys, wav, "--model", bundle, "--format", "rttm").splitlines()
    fields = [line.split() for line in rttm]
    assert all(f[0] == "SPEAKER" and f[1] == "talk_1" and f[2] == "1" and f[7] == "speech" and len(f) == 10
               for f in fields)
    assert _close([(float(f[3]), float(f[3]) + float(f[4])) for f in fields])
    labels = [line.split("\t") for line in _detect(capsys, wav, "--model", bundle, "--format", "audacity").splitlines()]
    assert all(lab[2] == "speech" for lab in labels) and _close([(float(a), float(b)) for a, b, _ in labels])
    grid = _detect(capsys, wav, "--model", bundle, "--format", "textgrid")
    assert grid.startswith('File type = "ooTextFile"') and 'class = "IntervalTier"' in grid
    spans = re.findall(r"xmin = ([\d.]+)\s+xmax = ([\d.]+)\s+text = \"(\w+)\"", grid)
    assert [t for _, _, t in spans] == ["silence", "speech", "silence", "speech", "silence"]
    assert float(spans[0][0]) == 0 and float(spans[-1][1]) == 4.0
    assert all(float(spans[i][1]) == float(spans[i + 1][0]) for i in range(len(spans) - 1))  # contiguous
    assert _close([(float(a), float(b)) for a, b, t in spans if t == "speech"])
    text = _detect(capsys, wav, "--model", bundle).splitlines()
    assert len(text) == 2 and text[0].startswith(str(wav))


def test_options_change_the_decision_and_plot_is_a_png(capsys, bundle, wav, tmp_path):
    merged = json.loads(_detect(capsys, wav, "--model", bundle, "--format", "json", "--min-silence", "0.85"))
    assert len(merged["segments"]) == 1 and merged["segments"][0]["end"] > 3.4     # the 0.8 s gap is filled
    plain = json.loads(_detect(capsys, wav, "--model", bundle, "--format", "json"))
    none = json.loads(_detect(capsys, wav, "--model", bundle, "--format", "json", "--min-speech", "2.0"))
    assert none["segments"] == []
    padded = json.loads(_detect(capsys, wav, "--model", bundle, "--format", "json", "--pad", "0.2"))
    assert [round(s["start"] + 0.2, 3) for s in padded["segments"]] == [s["start"] for s in plain["segments"]]
    _detect(capsys, wav, "--model", bundle, "--plot", tmp_path / "p.png", "--out-dir", tmp_path / "o",
            "--format", "rttm")
    assert (tmp_path / "p.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "o" / "talk 1.rttm").read_text().count("SPEAKER") == 2


@pytest.mark.parametrize("case", ["missing", "corrupt", "threshold", "bundle", "export"])
def test_user_errors_exit_2_with_one_line(capsys, bundle, wav, tmp_path, case):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF....not audio at all")
    argv = {"missing": ["vad", "detect", str(tmp_path / "nope.wav"), "--model", str(bundle)],
            "corrupt": ["vad", "detect", str(bad), "--model", str(bundle)],
            "threshold": ["vad", "detect", str(wav), "--model", str(bundle), "--threshold", "1.5"],
            "bundle": ["vad", "detect", str(wav), "--model", str(tmp_path)],
            "export": ["vad", "export", str(tmp_path), "--bundle", str(tmp_path / "b")]}[case]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("speechdl: error:") and "Traceback" not in err[0]


def _manifest(root, n=4):
    recs, sups = [], []
    for i in range(n):
        bursts = [(0.4 + 0.2 * i, 1.4 + 0.1 * i), (2.0, 2.8 - 0.1 * i)]
        path = root / f"r{i}.wav"
        x = burst_signal(3.2, bursts, seed=20 + i)
        audio.save(path, x, 16000)
        recs.append(Recording(f"r{i}", [AudioSource("file", [0], str(path))], 16000, len(x), len(x) / 16000))
        sups.append(SupervisionSegment(f"r{i}-s", f"r{i}", 0.0, 3.2, channel=0, custom={"speech": bursts}))
    return save_manifests(root / "m", RecordingSet.from_recordings(recs), SupervisionSet.from_segments(sups))


def test_tiny_end_to_end_train_export_detect(tmp_path, capsys, wav):
    manifest = _manifest(tmp_path)
    recipe = {"task": {"name": "vad"},
              "model": {"name": "dense", "in_dim": 39, "hidden": [8], "out_dim": 1},
              "data": {"name": "vad_frames", "manifests": [str(manifest)], "val_manifests": str(manifest),
                       "frontend": "mfcc39", "crop_seconds": 1.5},
              "optim": {"name": "adam", "lr": 0.02},
              "trainer": {"max_epochs": 25, "batch_size": 4, "seed": 0, "threads": 1}}
    (tmp_path / "r.yaml").write_text(yaml.safe_dump(recipe))
    run = tmp_path / "run"
    assert main(["vad", "train", str(tmp_path / "r.yaml"), "--out", str(run), "--format", "json"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["metrics"]["val_acc"] > 0.9 and summary["metrics"]["val_auc"] > 0.95
    assert main(["vad", "export", str(run), "--bundle", str(tmp_path / "b"), "--onnx", str(tmp_path / "m.onnx")]) == 0
    assert "max |onnxruntime - torch|" in capsys.readouterr().out
    meta = json.loads((tmp_path / "b" / "bundle.json").read_text())
    assert meta["frontend"] == FrontendConfig.mfcc39().to_dict() and "val_f1" in meta["metrics"]
    out = json.loads(_detect(capsys, wav, "--model", tmp_path / "b", "--format", "json", "--probabilities"))
    p = np.array(out["probabilities"])
    t = np.arange(len(p)) * 0.01
    assert p[(t > 0.8) & (t < 1.5)].mean() > 0.7 and p[(t > 1.9) & (t < 2.3)].mean() < 0.3
    assert _close([(s["start"], s["end"]) for s in out["segments"]], tol=0.15)


def test_calibrate_writes_a_fitted_copy_and_refuses_bad_input(tmp_path, capsys, bundle, wav):
    """``vad calibrate``: a new bundle whose onset and segment rules were fitted to the manifest (the source bundle
    untouched), F1 after segmentation not below the bundle's own rules there; an existing --out and a manifest
    without any speech frame are one-line errors (exit 2)."""
    from speechdl.tasks.vad.infer import load_vad
    from speechdl.tasks.vad.post import PostConfig

    manifest = _manifest(tmp_path)
    original = (bundle / "bundle.json").read_text()
    out = tmp_path / "fitted"
    assert main(["vad", "calibrate", str(manifest), "--model", str(bundle), "--out", str(out), "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["recordings"] == 4 and 0 < report["fitted_onset"] < 1
    assert report["f1_after_segments"] >= report["f1_after_segments_before"]   # the bundle itself is a candidate
    assert (bundle / "bundle.json").read_text() == original and not (tmp_path / "fitted.partial").exists()
    assert load_vad(str(out)).post == PostConfig.from_dict(report["post"])
    assert "Recalibrated" in (out / "MODEL_CARD.md").read_text()
    segs = json.loads(_detect(capsys, wav, "--model", out, "--format", "json"))["segments"]
    assert _close([(s["start"], s["end"]) for s in segs], tol=0.2)
    assert main(["vad", "calibrate", str(manifest), "--model", str(bundle), "--out", str(tmp_path / "t"),
                 "--threshold-only", "--format", "json"]) == 0
    kept = load_vad(str(tmp_path / "t")).post
    assert kept.min_speech == PostConfig.from_dict(json.loads(original)["post"]).min_speech == 0.1
    capsys.readouterr()
    for argv in (["vad", "calibrate", str(manifest), "--model", str(bundle), "--out", str(out)],   # exists
                 ["vad", "calibrate", str(_no_speech_manifest(tmp_path)), "--model", str(bundle),
                  "--out", str(tmp_path / "x")]):
        assert main(argv) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "Traceback" not in err[0]


def _no_speech_manifest(root):
    path = root / "quiet.wav"
    x = burst_signal(1.0, [], seed=3)
    audio.save(path, x, 16000)
    rec = Recording("q", [AudioSource("file", [0], str(path))], 16000, len(x), len(x) / 16000)
    sup = SupervisionSegment("q-s", "q", 0.0, 1.0, channel=0, custom={"speech": []})
    return save_manifests(root / "m_quiet", RecordingSet.from_recordings([rec]), SupervisionSet.from_segments([sup]))

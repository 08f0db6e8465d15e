"""``speechdl kws``: detect, enroll / detect --custom, eval and export on a small bundle; bad input is one line
and exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from speechdl import audio
from speechdl.cli import main
from speechdl.features import FrontendConfig
from speechdl.nn import build
from speechdl.pretrained.bundle import save_bundle
from speechdl.tasks.kws.vocab import LABELS

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "speechdl" / "assets" / "sample.flac"
SR = 16000


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    d = tmp_path_factory.mktemp("kws")
    torch.manual_seed(0)
    kwargs = {"in_dim": 40, "out_dim": 22, "channels": [4, 8], "fc": [16], "num_frames": 101}
    net = build("cnn_fc", **kwargs).eval()
    neg = d / "negatives.npy"
    np.save(neg, np.random.default_rng(0).standard_normal((64, 16)).astype(np.float16))
    return save_bundle(d / "bundle", task="kws", model={"name": "cnn_fc", "kwargs": kwargs},
                       state_dict=net.state_dict(), frontend=FrontendConfig.logmel().to_dict(),
                       thresholds={"keyword": 0.5}, extra={"labels": list(LABELS)}, files={"negatives.npy": neg})


def _tone(path, f, seconds=0.6):
    t = np.arange(int(seconds * SR)) / SR
    audio.save(path, (0.3 * np.sin(2 * np.pi * f * t) * np.hanning(len(t))).astype(np.float32), SR)
    return str(path)


def test_detect_prints_the_pipeline_json(bundle, capsys):
    assert main(["kws", "detect", str(SAMPLE), "--model", str(bundle), "--format", "json"]) == 0
    r = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert r["task"] == "kws" and r["label"] in LABELS and isinstance(r["events"], list) and r["frame_hop"] == 0.1
    assert main(["kws", "detect", str(SAMPLE), "--model", str(bundle), "--threshold", "0.99"]) == 0
    assert "sample.flac" in capsys.readouterr().out


def test_enroll_writes_a_store_that_detect_uses(bundle, tmp_path, capsys):
    recs = [_tone(tmp_path / f"r{i}.flac", 700 + 15 * i) for i in range(3)]
    store = tmp_path / "kw.json"
    for method in ("head", "template"):
        assert main(["kws", "enroll", "hey beep", *recs, "--model", str(bundle), "--store", str(store),
                     "--method", method, "--format", "json"]) == 0
        out = json.loads(capsys.readouterr().out)
        assert out["keyword"] == "hey beep" and out["method"] == method and out["keywords"] == 1
    saved = json.loads(store.read_text())
    assert [k["name"] for k in saved["keywords"]] == ["hey beep"] and saved["keywords"][0]["method"] == "template"
    assert main(["kws", "detect", recs[0], "--model", str(bundle), "--custom", str(store), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["task"] == "kws"


def test_eval_reports_accuracy_per_condition(bundle, tmp_path, capsys):
    rows = [{"audio": Path(_tone(tmp_path / f"w{i}.flac", 400 + 100 * i)).name, "label": lab, "speaker": "s"}
            for i, lab in enumerate(["yes", "no", "stop", "banana"])]
    (tmp_path / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert main(["kws", "eval", str(tmp_path), "--model", str(bundle), "--conditions", "clean", "--format",
                 "json"]) == 0
    r = json.loads(capsys.readouterr().out)[0]
    assert r["condition"] == "clean" and r["items"] == 4 and 0.0 <= r["accuracy"] <= 1.0


@pytest.mark.parametrize("args", [
    ["kws", "detect", "missing.wav"],
    ["kws", "detect", str(SAMPLE), "--threshold", "2"],
    ["kws", "eval", "/nonexistent/words"],
])
def test_bad_input_is_one_line_and_exit_2(args, bundle, capsys):
    if args[1] != "detect" or "--threshold" in args:
        args = [*args, "--model", str(bundle)]
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("speechdl: error:")


def test_enroll_refuses_silent_recordings(bundle, tmp_path, capsys):
    silent = tmp_path / "silent.flac"
    audio.save(silent, np.zeros(SR, np.float32), SR)
    assert main(["kws", "enroll", "x", str(silent), "--model", str(bundle), "--store", str(tmp_path / "s.json")]) == 2
    assert "recordings with sound" in capsys.readouterr().err


@pytest.mark.slow
def test_train_export_detect_end_to_end(tmp_path, capsys):
    """``speechdl kws train`` on a recipe, ``speechdl kws export`` (threshold on dev words, negatives.npy),
    then ``speechdl kws detect`` with the bundle: the real code path, on tones standing in for two words."""
    rows = []
    for s in range(30):                       # 30 talkers: the speaker split leaves a few for dev
        for lab, f in (("yes", 500), ("stop", 1500), ("banana", 3000)):
            name = f"{lab}_{s}.flac"
            _tone(tmp_path / name, f * (1 + 0.01 * (s % 7)), 0.4 + 0.01 * s)
            rows.append({"audio": name, "label": lab, "speaker": f"talker{s}"})
    (tmp_path / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    run, bundle = tmp_path / "run", tmp_path / "bundle"
    quiet = ('{"p_noise": 0.5, "p_noise_only": 0.1, "p_reverb": 0.0, "p_channel": 0.0, "p_real": 0.0, '
             '"families": ["stationary"], "noise_dirs": []}')
    assert main(["kws", "train", str(ROOT / "recipes/kws/res8_real.yaml"), "--out", str(run), "--format", "json",
                 f"data.manifests=[{tmp_path}]", f"data.augment={quiet}", "data.p_warp=0.0", "trainer.max_epochs=4",
                 "trainer.batch_size=16", "model.channels=[8,8,8]", "trainer.progress_bar=false"]) == 0
    capsys.readouterr()
    assert main(["kws", "export", str(run), "--bundle", str(bundle), "--format", "json"]) == 0
    meta = json.loads((bundle / "bundle.json").read_text())
    assert meta["task"] == "kws" and 0.2 <= meta["thresholds"]["keyword"] <= 0.95
    assert np.load(bundle / "negatives.npy").shape[1] == 8
    capsys.readouterr()
    assert main(["kws", "detect", str(tmp_path / "yes_3.flac"), "--model", str(bundle), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["label"] in LABELS

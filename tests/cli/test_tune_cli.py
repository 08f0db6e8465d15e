"""``speechdl tune``: results table / JSON, best recipe trainable by ``speechdl train``, errors as one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from speechdl.cli import main
from speechdl.train import RecipeConfig

ROOT = Path(__file__).resolve().parents[2]
RECIPE = ROOT / "recipes" / "toy" / "dense_frames.yaml"
FAST = ["data.n=400", "trainer.max_epochs=3", "trainer.threads=1"]


@pytest.fixture(autouse=True)
def _in_repo(monkeypatch):
    monkeypatch.chdir(ROOT)   # the recipe imports tests.unit.train_toy_models


def test_tune_json_maximize_then_train_best(tmp_path, capsys):
    study = tmp_path / "study"
    # options before and after the overrides; net size as a choice of layer lists for speechdl.nn "dense"
    args = ["tune", str(RECIPE), "--trials", "3", "--param", "model.hidden=choice([12,8,4],[32,16],[])", *FAST,
            "model.name=dense",
            "--param", "optim.lr=float(1e-3,3e-2,log)", "--metric", "val_acc", "--direction", "maximize",
            "--study-dir", str(study), "--format", "json"]
    assert main(args) == 0
    captured = capsys.readouterr()
    res = json.loads(captured.out)
    assert res["metric"] == "val_acc" and res["direction"] == "maximize" and res["ran"] == 3
    done = [r for r in res["trials"] if r["state"] == "complete"]
    assert [r["val_acc"] for r in done] == sorted((r["val_acc"] for r in done), reverse=True)
    assert res["best"]["val_acc"] == done[0]["val_acc"] > 0.8
    assert captured.err.count("trial ") == 3                       # one progress line per trial on stderr
    best = RecipeConfig.load(study / "best.yaml")
    assert best.trainer.early_stopping.monitor == "val_acc" and best.trainer.early_stopping.mode == "max"
    assert best.optim.lr == pytest.approx(res["best"]["params"]["optim.lr"])
    assert best.model.name == "dense" and best.model.kwargs["hidden"] == res["best"]["params"]["model.hidden"]
    assert all(r["params"]["model.hidden"] in ([12, 8, 4], [32, 16], []) for r in res["trials"])

    assert main(["train", str(study / "best.yaml"), "trainer.max_epochs=1", "--format", "json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["monitor"] == "val_acc" and Path(summary["out_dir"]) == study / "best_run"


def test_tune_text_table_and_resume(tmp_path, capsys):
    args = ["tune", str(RECIPE), "--param", "model.hidden=[4,16]", "--param", "trainer.batch_size=int(16,64)",
            *FAST, "--study-dir", str(tmp_path / "s"), "--trials", "2"]
    assert main(args) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["trial", "model.hidden", "trainer.batch_size", "val_loss", "state", "epochs",
                                "seconds"]
    assert len([x for x in lines[2:] if x.split() and x.split()[0].isdigit()]) == 2
    assert any(x.startswith("best: trial") for x in lines)
    assert main([*args[:-1], "3"]) == 0                           # same command, --trials 3: one more trial
    out = capsys.readouterr()
    assert "(1 run now, 3 finished)" in out.out and out.err.count("trial ") == 1


@pytest.mark.parametrize("extra, words", [
    (["--param", "model.hidden=int(64,8)"], "empty range"),
    (["--param", "model.hiden=[4,8]"], "unknown argument(s) hiden"),
    (["--param", "model.hidden=16"], "unknown search space"),
    (["--param", "model.hidden=[4,8]", "trainer.max_epoch=3"], "unknown key trainer.max_epoch"),
    (["--param", "model.hidden=[4,8]", "--trials", "0"], "option trials: expected an integer in [1, 100000]"),
    (["--param", "model.hidden=[4,8]", "--bogus"], "unknown option"),
    ([], "nothing to search"),
])
def test_bad_param_one_line_exit_2(tmp_path, capsys, extra, words):
    study = tmp_path / "bad"
    assert main(["tune", str(RECIPE), *extra, "--study-dir", str(study)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err and words in err, err
    assert not study.exists()   # rejected before any trial

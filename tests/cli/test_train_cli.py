"""``speechdl train``: summary table / JSON, and bad recipes as one line with exit code 2."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from speechdl.cli import main

ROOT = Path(__file__).resolve().parents[2]
RECIPE = ROOT / "recipes" / "toy" / "dense_frames.yaml"
FAST = ["trainer.max_epochs=2", "data.n=400", "trainer.progress_bar=false"]


@pytest.fixture(autouse=True)
def _in_repo(monkeypatch):
    monkeypatch.chdir(ROOT)   # the recipe imports tests.unit.train_toy_models


def test_train_prints_json_summary_and_saves_config(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", str(RECIPE), *FAST, "--out", str(out), "--format", "json"]) == 0
    s = json.loads(capsys.readouterr().out)
    assert s["epochs"] == 2 and s["global_step"] == 2 * 5 and s["monitor"] == "val_loss"
    assert Path(s["last_checkpoint"]).exists() and Path(s["best_checkpoint"]).exists()
    assert s["metrics"]["val_acc"] > 0.8
    assert (out / "config.yaml").exists() and list((out / "logs").glob("version_*/metrics.csv"))


def test_train_text_table(tmp_path, capsys):
    assert main(["train", str(RECIPE), *FAST, "trainer.max_epochs=1", "--out", str(tmp_path / "r")]) == 0
    text = capsys.readouterr().out
    assert "best val_loss" in text and "last checkpoint" in text and "epochs" in text


@pytest.mark.parametrize("args, words", [
    (["trainer.max_epoch=3"], ["unknown key trainer.max_epoch", "max_epochs"]),
    (["trainer.batch_size=big"], ["trainer.batch_size", "expected an integer"]),
    (["model.name=nonexistent"], ["unknown architecture"]),
    (["model.hiden=3"], ["unknown argument(s) hiden"]),
    (["oops"], ["expected key=value"]),
])
def test_bad_recipe_one_line_exit_2(tmp_path, capsys, args, words):
    out = tmp_path / "bad"
    assert main(["train", str(RECIPE), *args, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err and all(w in err for w in words), err
    assert not out.exists()   # rejected before any work


def test_missing_recipe_and_cuda_unavailable(tmp_path, capsys):
    assert main(["train", str(tmp_path / "none.yaml")]) == 2
    assert "recipe not found" in capsys.readouterr().err
    import torch

    if not torch.cuda.is_available():
        assert main(["train", str(RECIPE), *FAST, "--device", "cuda", "--out", str(tmp_path / "c")]) == 2
        assert "CUDA is not available" in capsys.readouterr().err


def test_subprocess_exit_code_and_no_traceback(tmp_path):
    import subprocess
    import sys

    bad = tmp_path / "r.yaml"
    shutil.copy(RECIPE, bad)
    proc = subprocess.run([sys.executable, "-m", "speechdl.cli", "train", str(bad), "trainer.seed=x"],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 2 and proc.stderr.strip().count("\n") == 0 and "trainer.seed" in proc.stderr

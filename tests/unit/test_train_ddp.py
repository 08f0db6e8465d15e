"""DDP equivalence: 2 processes × batch 4 (gloo, CPU) train to the same weights as 1 process × batch 8."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from speechdl.train import RecipeConfig, train
from tests.unit import train_toy_models  # noqa: F401  (registers tiny_mlp)

ROOT = Path(__file__).resolve().parents[2]
RECIPE = """
imports: [tests.unit.train_toy_models]
task: {name: classify, num_classes: 2}
model: {name: tiny_mlp, in_dim: 8, out_dim: 2, hidden: 8}   # no dropout, no batch norm
data: {name: toy_frames, n: 80, dim: 8, noise: 1.0}           # 64 train items: 8 global batches of 8
optim: {name: sgd, lr: 0.1, momentum: 0.9}
trainer: {max_epochs: 2, batch_size: 8, threads: 1, progress_bar: false, seed: 5}
"""


def _state(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path, weights_only=False, map_location="cpu")["state_dict"]


@pytest.mark.slow
def test_ddp_two_processes_match_one_process(tmp_path):
    recipe = tmp_path / "ddp.yaml"
    recipe.write_text(RECIPE)
    single = train(RecipeConfig.load(recipe, [f"out_dir={tmp_path / 'one'}"]))
    proc = subprocess.run(
        [sys.executable, "-m", "speechdl.cli", "train", str(recipe), "trainer.devices=2", "trainer.strategy=ddp",
         "trainer.batch_size=4", "--out", str(tmp_path / "two"), "--format", "json"],
        capture_output=True, text=True, cwd=ROOT, timeout=180)
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["global_step"] == single.summary["global_step"] == 16
    a, b = _state(Path(single.summary["last_checkpoint"])), _state(tmp_path / "two" / "checkpoints" / "last.ckpt")
    diff = max(float((a[k] - b[k]).abs().max()) for k in a)
    ckpt_vs_live = max(float((a[k] - v).abs().max()) for k, v in single.module.state_dict().items() if k in a)
    print(f"DDP vs single-process max abs weight difference: {diff:.3g}")
    assert diff < 1e-5 and ckpt_vs_live == 0.0 and single.summary["metrics"]["val_acc"] > 0.8   # it did learn
    assert abs(summary["metrics"]["val_loss"] - single.summary["metrics"]["val_loss"]) < 1e-5

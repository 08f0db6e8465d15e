"""Run every recipe under ``recipes/`` once (through ``speechdl train``) and print a Markdown table.

    python recipes/measure.py                       # all recipes, runs in a temporary directory
    python recipes/measure.py recipes/gan/*.yaml    # some of them

Columns: recipe, task, model, the recipe's headline metric at the end of training, the best
validation loss and the wall time of the training (the ``seconds`` of the run summary).
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent
# the number a reader cares about, per task (first one present in the summary's metrics)
HEADLINE = {"classify": ["val_acc"], "seq2seq": ["val_ter"], "wavenet": ["val_bits", "val_acc"],
            "gan": ["val_fd", "val_snr_db"], "reconstruct": ["val_snr_db"], "regress": ["val_mae"]}


def run(recipe: Path, out: Path) -> dict:
    """Train ``recipe`` into ``out``; return the summary dict (plus ``wall``: seconds including start-up)."""
    from speechdl.cli import main

    buf = io.StringIO()
    start = time.perf_counter()
    with contextlib.redirect_stdout(buf):
        code = main(["train", str(recipe), "--out", str(out), "--format", "json", "trainer.progress_bar=false"])
    if code != 0:
        raise SystemExit(f"{recipe}: exit code {code}")
    summary = json.loads(buf.getvalue().strip().splitlines()[-1])
    summary["wall"] = time.perf_counter() - start
    return summary


def main(argv: list[str]) -> None:
    recipes = [Path(a) for a in argv] or sorted(ROOT.glob("*/*.yaml"))
    print("| recipe | task | model | metric | best val_loss | train s |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for i, recipe in enumerate(recipes):
            raw = yaml.safe_load(recipe.read_text())
            s = run(recipe, Path(tmp) / f"r{i}")
            task = raw["task"]["name"]
            keys = [k for k in HEADLINE.get(task, []) if k in s["metrics"]]
            metric = ", ".join(f"{k} {s['metrics'][k]:.3f}" for k in keys[:1]) or "-"
            rel = recipe.resolve().relative_to(ROOT) if recipe.resolve().is_relative_to(ROOT) else recipe
            print(f"| `{rel}` | {task} | {raw['model']['name']} | {metric} | {s['best_score']} | {s['seconds']:.1f} |",
                  flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])

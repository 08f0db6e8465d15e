"""``speechdl train RECIPE.yaml [key=value ...] [--device cpu|cuda|auto] [--out DIR] [--format json]``."""

from __future__ import annotations

import argparse
import sys

from speechdl.console import add_format_option, emit
from speechdl.train.config import RecipeConfig
from speechdl.train.trainer import TrainingInterrupted, is_rank_zero, train


def register(groups) -> None:
    """Add the ``train`` verb (a group with no sub-verbs)."""
    p = groups.add_parser("train", help="train a model from a YAML recipe (resumes an interrupted run)",
                          description="Train from a recipe. Overrides use dotted keys, e.g. trainer.max_epochs=5 "
                                      "optim.lr=1e-3 model.hidden=[64,64]. Re-running with the same output "
                                      "directory resumes from its last checkpoint.")
    p.add_argument("recipe", help="YAML recipe (see docs/training.md and recipes/)")
    p.add_argument("overrides", nargs="*", metavar="key=value", help="recipe overrides (values parsed as YAML)")
    p.add_argument("--device", choices=["cpu", "cuda", "auto"], default=None, help="overrides trainer.device")
    p.add_argument("--out", default=None, help="output directory (overrides out_dir)")
    add_format_option(p)
    p.set_defaults(func=run_train, subparser=p)


def run_train(args: argparse.Namespace) -> int:
    """Handler of ``speechdl train``."""
    overrides = list(args.overrides)
    if args.device:
        overrides.append(f"trainer.device={args.device}")
    if args.out:
        overrides.append(f"out_dir={args.out}")
    cfg = RecipeConfig.load(args.recipe, overrides)
    try:
        result = train(cfg)
    except TrainingInterrupted as stop:
        if is_rank_zero():
            print(f"speechdl: interrupted at step {stop.global_step}; checkpoint saved to {stop.checkpoint}; "
                  "run the same command again to resume", file=sys.stderr)
        return 130
    if result.trainer is not None and not result.trainer.is_global_zero:
        return 0
    s = result.summary
    rows = [
        {"item": "best " + str(s["monitor"]), "value": s["best_score"]},
        {"item": "epochs", "value": s["epochs"]},
        {"item": "steps", "value": s["global_step"]},
        {"item": "stopped early", "value": s["stopped_early"]},
        {"item": "resumed from", "value": s["resumed_from"] or "-"},
        {"item": "best checkpoint", "value": s["best_checkpoint"] or "-"},
        {"item": "last checkpoint", "value": s["last_checkpoint"] or "-"},
        {"item": "seconds", "value": s["seconds"]},
        *({"item": k, "value": v} for k, v in s["metrics"].items()),
    ]
    emit(s, args.format, table=rows)
    return 0

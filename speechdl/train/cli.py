"""``speechdl train RECIPE.yaml [key=value ...] [--device cpu|cuda|auto] [--out DIR] [--format json]``."""

from __future__ import annotations

import argparse
import sys

from speechdl.console import add_format_option, emit
from speechdl.errors import ConfigError
from speechdl.train.config import RecipeConfig


def register(groups) -> None:
    """Add the ``train`` verb (a group with no sub-verbs)."""
    p = groups.add_parser("train", help="train a model from a YAML recipe (resumes an interrupted run)",
                          description="Train from a recipe. Overrides use dotted keys, e.g. trainer.max_epochs=5 "
                                      "optim.lr=1e-3 model.hidden=[64,64]. Re-running with the same output "
                                      "directory resumes from its last checkpoint.")
    p.add_argument("recipe", help="YAML recipe (see docs/training.md and recipes/)")
    # REMAINDER: overrides and options may come in any order after the recipe
    p.add_argument("overrides", nargs=argparse.REMAINDER, metavar="key=value",
                   help="recipe overrides (values parsed as YAML), e.g. trainer.max_epochs=5")
    _add_options(p)
    p.set_defaults(func=run_train, subparser=p)


def add_task_train_verb(verbs, task: str, example: str) -> None:
    """``speechdl <task> train RECIPE [key=value ...]``: the same as ``speechdl train`` for that task's recipes."""
    folder = example.rsplit("/", 1)[0]
    p = verbs.add_parser("train", help=f"train from a recipe ({folder}/*.yaml), resumable",
                         description=f"Same as 'speechdl train' for {task.upper()} recipes; "
                                     f"then 'speechdl {task} export'.")
    p.add_argument("recipe", help=f"YAML recipe, e.g. {example}")
    p.add_argument("overrides", nargs=argparse.REMAINDER, metavar="key=value", help="recipe overrides")
    _add_options(p)
    p.set_defaults(func=run_train, subparser=p)


def _add_options(p: argparse.ArgumentParser) -> None:
    from speechdl import validate

    p.add_argument("--device", choices=["cpu", "cuda", "auto"], default=None, help="overrides trainer.device")
    p.add_argument("--out", default=None, type=validate.dir_arg("--out"), help="output directory (overrides out_dir)")
    add_format_option(p)


class _Quiet(argparse.ArgumentParser):
    def error(self, message: str) -> None:      # one line through the CLI's error path, exit 2
        raise ConfigError("speechdl train", message, "see speechdl train --help")


def _split_remainder(args: argparse.Namespace) -> list[str]:
    """Pull ``--device/--out/--format`` out of the overrides that follow the recipe."""
    extra = _Quiet(prog="speechdl train", add_help=False)
    _add_options(extra)
    extra.set_defaults(format=None)
    ns, rest = extra.parse_known_args(args.overrides)
    for key in ("device", "out", "format"):
        if getattr(ns, key) is not None:
            setattr(args, key, getattr(ns, key))
    unknown = [r for r in rest if r.startswith("-")]
    if unknown:
        raise ConfigError(f"option {unknown[0]}", "unknown option", "valid: --device, --out, --format, key=value")
    return rest


def run_train(args: argparse.Namespace) -> int:
    """Handler of ``speechdl train`` (Lightning is imported here, not when the verb is registered)."""
    from speechdl.train.trainer import TrainingInterrupted, is_rank_zero, train

    overrides = _split_remainder(args)
    if args.device:
        overrides.append(f"trainer.device={args.device}")
    if args.out:
        overrides.append(f"out_dir={args.out}")
    cfg = RecipeConfig.load(args.recipe, overrides)
    try:
        result = train(cfg)
    except TrainingInterrupted as stop:
        if is_rank_zero():
            if stop.checkpoint is None:
                print("speechdl: interrupted before any checkpoint was written; the same command starts over",
                      file=sys.stderr)
            else:
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

"""``speechdl tune RECIPE.yaml --trials N --param KEY=SPACE ... [key=value ...]``: meta-parameter search.

Options may come before or after the overrides. See :mod:`speechdl.train.tune` for the grammar.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from speechdl import validate
from speechdl.console import add_format_option, emit, format_table
from speechdl.errors import ConfigError

SPACE_HELP = ("search space of one recipe key (repeatable): KEY=[a,b,c] | KEY=choice(a,b,c) | "
              "KEY=int(low,high[,log]) | KEY=float(low,high[,log]); values are YAML, e.g. "
              "model.hidden=[[12,8,4],[32,16]] trainer.batch_size=int(8,128,log) optim.lr=float(1e-4,1e-2,log)")


def register(groups) -> None:
    """Add the ``tune`` verb (a group with no sub-verbs)."""
    p = groups.add_parser("tune", help="meta-parameter search (Optuna TPE + median pruning) over recipe keys",
                          description="Train the recipe once per trial with sampled values of the --param keys "
                                      "into STUDY_DIR/trial_N/, print the trials best first and write the best "
                                      "recipe to STUDY_DIR/best.yaml. The study is kept in STUDY_DIR/study.db: "
                                      "the same command again resumes it up to --trials finished trials.")
    p.add_argument("recipe", help="YAML recipe (see docs/training.md)")
    p.add_argument("overrides", nargs=argparse.REMAINDER, metavar="key=value",
                   help="recipe overrides applied to every trial (values parsed as YAML)")
    _add_options(p)
    p.set_defaults(func=run_tune, subparser=p)


def _add_options(p: argparse.ArgumentParser, defaults: bool = True) -> None:
    d = (lambda v: v) if defaults else (lambda v: None)
    p.add_argument("--trials", type=validate.flag("--trials", "int", 1, 100000, example=10), default=d(10),
                   help="finished trials the study should hold (default 10)")
    p.add_argument("--param", action="append", default=None, metavar="KEY=SPACE", help=SPACE_HELP)
    p.add_argument("--metric", default=None, help="metric to optimise (default: trainer.early_stopping.monitor)")
    p.add_argument("--direction", choices=["minimize", "maximize"], default=None,
                   help="default: from trainer.early_stopping.mode")
    p.add_argument("--study-dir", default=None, type=validate.dir_arg("--study-dir"),
                   help="study directory (default: <out_dir>_tune)")
    p.add_argument("--timeout", type=validate.flag("--timeout", "float", 0, 10**9, low_open=True, example=3600),
                   default=None, help="start no new trial after this many seconds")
    p.add_argument("--seed", type=validate.flag("--seed", "int", 0, 2**32 - 1), default=d(0),
                   help="sampler seed (default 0)")
    p.add_argument("--no-prune", action="store_true", default=d(False), help="run every trial to the end")
    p.add_argument("--device", choices=["cpu", "cuda", "auto"], default=None, help="overrides trainer.device")
    add_format_option(p)
    if not defaults:
        p.set_defaults(format=None)


class _Quiet(argparse.ArgumentParser):
    def error(self, message: str) -> None:      # one line through the CLI's error path, exit 2
        raise ConfigError("speechdl tune", message, "see speechdl tune --help")


def _split_remainder(args: argparse.Namespace) -> list[str]:
    """Pull the options out of the overrides that follow the recipe (argparse REMAINDER keeps them)."""
    extra = _Quiet(prog="speechdl tune", add_help=False)
    _add_options(extra, defaults=False)
    ns, rest = extra.parse_known_args(args.overrides)
    for key, value in vars(ns).items():
        if key == "param" and value:
            args.param = [*(args.param or []), *value]
        elif value is not None and key != "param":
            setattr(args, key, value)
    unknown = [r for r in rest if r.startswith("-")]
    if unknown:
        raise ConfigError(f"option {unknown[0]}", "unknown option",
                          "valid: --trials, --param, --metric, --direction, --study-dir, --timeout, --seed, "
                          "--no-prune, --device, --format, key=value")
    return rest


def _table(result: dict[str, Any]) -> list[dict[str, Any]]:
    metric = result["metric"]
    keys = list(dict.fromkeys(k for r in result["trials"] for k in r["params"]))

    def cell(v: Any) -> Any:
        return "-" if v is None else json.dumps(v, separators=(",", ":")) if isinstance(v, list | dict) else v
    return [{"trial": r["trial"], **{k: cell(r["params"].get(k)) for k in keys},
             metric: cell(r[metric]), "state": r["state"], "epochs": r["epochs"], "seconds": cell(r["seconds"])}
            for r in result["trials"]]


def _progress(row: dict[str, Any]) -> None:
    metric = next(k for k in row if k not in ("trial", "params", "state", "epochs", "seconds", "error"))
    params = " ".join(f"{k}={json.dumps(v, separators=(',', ':'))}" for k, v in row["params"].items())
    extra = f" ({row['error']})" if row.get("error") else ""
    print(f"trial {row['trial']}: {row['state']} {metric}={row[metric]} epochs={row['epochs']} "
          f"{row['seconds']}s  {params}{extra}", file=sys.stderr, flush=True)


def run_tune(args: argparse.Namespace) -> int:
    """Handler of ``speechdl tune``."""
    from speechdl.train.tune import tune  # imports optuna only when the verb runs

    overrides = _split_remainder(args)
    if args.device:
        overrides.append(f"trainer.device={args.device}")
    try:
        result = tune(args.recipe, args.param or [], trials=args.trials, overrides=overrides, metric=args.metric,
                      direction=args.direction, study_dir=args.study_dir, timeout=args.timeout, seed=args.seed,
                      prune=not args.no_prune, on_trial=_progress)
    except KeyboardInterrupt:
        print("speechdl: interrupted; the study is saved: run the same command again to resume it", file=sys.stderr)
        return 130
    if args.format == "json":
        emit(result, "json")
        return 0
    print(format_table(_table(result)))
    best = result["best"]
    if best:
        print(f"\nbest: trial {best['trial']} {result['metric']}={best[result['metric']]}  "
              f"({result['ran']} run now, {result['finished']} finished)  recipe: {best['recipe']}")
        print(f"train it: speechdl train {best['recipe']}")
    return 0

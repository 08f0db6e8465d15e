"""Meta-parameter optimisation ("batch size, net size"): an Optuna study over recipe keys.

Each trial trains the recipe (base + ``key=value`` overrides + the sampled parameters) with the
ordinary engine (:func:`speechdl.train.train`) into ``<study_dir>/trial_<n>/``; its objective is the
best value of the monitored metric. A :class:`PruningCallback` reports the metric after every
validation so that Optuna's ``MedianPruner`` stops trials that are worse than the median of the
earlier trials at the same epoch. The study lives in ``<study_dir>/study.db`` (SQLite): running the
same search again resumes it and runs only the trials still missing to reach ``trials`` finished
(complete or pruned) trials. The best trial's resolved recipe is written to ``<study_dir>/best.yaml``.

Search-space grammar of one parameter (``key=SPACE``; values are YAML):

- ``key=[a,b,c]`` or ``key=choice(a,b,c)``: categorical (``model.hidden=[[12,8,4],[32,16]]``)
- ``key=int(8,128)``, ``key=int(8,128,log)``: integer range (inclusive), optionally log-uniform
- ``key=float(1e-4,1e-2)``, ``key=float(1e-4,1e-2,log)``: float range, optionally log-uniform

Example:
    >>> parse_param("trainer.batch_size=int(8,128,log)")
    Param(key='trainer.batch_size', kind='int', choices=(), low=8, high=128, log=True)
    >>> parse_param("model.hidden=[[12,8,4],[32,16]]").choices
    ([12, 8, 4], [32, 16])
    >>> import tempfile
    >>> study = tune("recipes/toy/dense_frames.yaml", ["model.hidden=[4,16]"], trials=2, study_dir=tempfile.mkdtemp(),
    ...              overrides=["trainer.max_epochs=1", "data.n=300"])   # doctest: +ELLIPSIS
    ...
    >>> len(study["trials"])
    2
"""

from __future__ import annotations

import contextlib
import json
import math
import re
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import lightning as L
import optuna
import yaml
from lightning.pytorch.callbacks import Callback

from speechdl.errors import ConfigError, SpeechdlError
from speechdl.train.components import check_components
from speechdl.train.config import RecipeConfig, parse_value
from speechdl.train.trainer import train

STUDY_NAME = "speechdl"
_RANGE = re.compile(r"^(int|float|choice)\((.*)\)$", re.S)
_SCALARS = (type(None), bool, int, float, str)


@dataclass(frozen=True)
class Param:
    """One searched recipe key: ``kind`` ``choice`` (``choices``) or ``int``/``float`` (``low``..``high``)."""

    key: str
    kind: Literal["choice", "int", "float"]
    choices: tuple[Any, ...] = ()
    low: float | int | None = None
    high: float | int | None = None
    log: bool = False

    def spec(self) -> str:
        """Canonical text of the search space (stored with the study, compared on resume)."""
        if self.kind == "choice":
            return f"{self.key}=choice({', '.join(json.dumps(c) for c in self.choices)})"
        return f"{self.key}={self.kind}({self.low},{self.high}{',log' if self.log else ''})"

    def probes(self) -> list[Any]:
        """The values checked against the recipe before any trial runs (every choice; both ends)."""
        return list(self.choices) if self.kind == "choice" else [self.low, self.high]

    def suggest(self, trial: optuna.Trial) -> Any:
        """Sample this parameter in ``trial``; returns the recipe value (lists decoded)."""
        if self.kind == "int":
            return trial.suggest_int(self.key, int(self.low), int(self.high), log=self.log)
        if self.kind == "float":
            return trial.suggest_float(self.key, float(self.low), float(self.high), log=self.log)
        if all(isinstance(c, _SCALARS) for c in self.choices):
            return trial.suggest_categorical(self.key, list(self.choices))
        # Optuna stores only scalars: lists/mappings travel as their compact JSON text
        encoded = [json.dumps(c, separators=(",", ":")) for c in self.choices]
        return json.loads(trial.suggest_categorical(self.key, encoded))


def parse_param(text: str) -> Param:
    """Parse ``key=SPACE`` (see the module docstring); raises a one-line ConfigError."""
    key, sep, space = text.partition("=")
    key, space = key.strip(), space.strip()
    where = f"--param {text}"
    if not sep or not key or any(not p for p in key.split(".")) or not space:
        raise ConfigError(where, "expected key=SPACE with a dotted key",
                          "e.g. model.hidden=[16,32,64], trainer.batch_size=int(8,128,log), "
                          "optim.lr=float(1e-4,1e-2,log)")
    match = _RANGE.match(space)
    if space.startswith("[") or (match and match.group(1) == "choice"):
        inner = space if space.startswith("[") else f"[{match.group(2)}]"
        try:
            choices = yaml.safe_load(inner)
        except yaml.YAMLError:
            raise ConfigError(where, "cannot parse the list of choices", "write YAML values, e.g. [16,32,64]") from None
        if not isinstance(choices, list) or not choices:
            raise ConfigError(where, "a categorical parameter needs at least one choice", "e.g. model.hidden=[16,32]")
        choices = [parse_value(c) if isinstance(c, str) else c for c in choices]   # "1e-3" -> 0.001
        if len({json.dumps(c, sort_keys=True) for c in choices}) != len(choices):
            raise ConfigError(where, "repeated choice", "list every value once")
        return Param(key, "choice", choices=tuple(choices))
    if not match:
        raise ConfigError(where, f"unknown search space {space!r}",
                          "use [a,b,c], choice(a,b,c), int(low,high[,log]) or float(low,high[,log])")
    kind, args = match.group(1), [a.strip() for a in match.group(2).split(",")]
    log = len(args) == 3 and args[2] == "log"
    if len(args) not in (2, 3) or (len(args) == 3 and not log):
        raise ConfigError(where, f"{kind}() takes low, high and optionally 'log'", f"e.g. {kind}(1,10,log)")
    bounds = [parse_value(a) for a in args[:2]]
    if kind == "int":
        if not all(isinstance(b, int) and not isinstance(b, bool) for b in bounds):
            raise ConfigError(where, f"int() bounds must be integers, got {args[0]}, {args[1]}", "e.g. int(8,128)")
    elif not all(isinstance(b, int | float) and not isinstance(b, bool) and math.isfinite(b) for b in bounds):
        raise ConfigError(where, f"float() bounds must be numbers, got {args[0]}, {args[1]}", "e.g. float(1e-4,1e-2)")
    low, high = bounds if kind == "int" else (float(bounds[0]), float(bounds[1]))
    if low > high:
        raise ConfigError(where, f"empty range: low {low} > high {high}", "swap the bounds")
    if log and low <= 0:
        raise ConfigError(where, f"a log range needs low > 0, got {low}", "raise the lower bound or drop 'log'")
    return Param(key, kind, low=low, high=high, log=log)


def parse_params(texts: Sequence[str | Param]) -> list[Param]:
    """Parse several ``--param`` texts (Param objects pass through); refuses an empty or repeated key."""
    params = [t if isinstance(t, Param) else parse_param(t) for t in texts]
    if not params:
        raise ConfigError("tune", "nothing to search", "add at least one --param, e.g. --param model.hidden=[8,32]")
    keys = [p.key for p in params]
    for k in keys:
        if keys.count(k) > 1:
            raise ConfigError(f"--param {k}", "given twice", "search each key once")
    return params


def _as_overrides(values: dict[str, Any]) -> list[str]:
    return [f"{k}={json.dumps(v)}" for k, v in values.items()]   # JSON is YAML: parse_value reads it back


def resolve(recipe: str | Path, overrides: Sequence[str], values: dict[str, Any]) -> RecipeConfig:
    """The recipe with ``overrides`` then the parameter ``values`` (dotted keys) applied; checked."""
    cfg = RecipeConfig.load(recipe, [*overrides, *_as_overrides(values)])
    check_components(cfg)
    return cfg


def validate(recipe: str | Path, overrides: Sequence[str], params: Sequence[Param]) -> RecipeConfig:
    """Check the base recipe, then every parameter's probe values, before any trial runs."""
    base = resolve(recipe, overrides, {})
    if base.trainer.devices * base.trainer.num_nodes != 1 or base.trainer.strategy != "auto":
        raise ConfigError("tune", "trials run in one process", "drop trainer.devices/num_nodes/strategy overrides")
    for p in params:
        for v in p.probes():
            try:
                resolve(recipe, overrides, {p.key: v})
            except ConfigError as err:
                raise ConfigError(f"--param {p.key}={json.dumps(v)}", err.what, err.fix) from None
    return base


class PruningCallback(Callback):
    """Report ``monitor`` to an Optuna trial after every validation; raise ``TrialPruned`` when told.

    ``trial`` needs only ``report(value, step)`` and ``should_prune()``. ``epochs`` counts the
    validations reported (the trial's epochs so far).
    """

    def __init__(self, trial: Any, monitor: str) -> None:
        self.trial, self.monitor = trial, monitor
        self.epochs = 0

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        value = trainer.callback_metrics.get(self.monitor)
        if value is None:
            return
        value, epoch = float(value), trainer.current_epoch
        self.epochs = epoch + 1
        self.trial.report(value, step=epoch)
        if self.trial.should_prune():
            raise optuna.TrialPruned(f"epoch {epoch}: {self.monitor}={value:.4g} worse than the median")


def _row(t: optuna.trial.FrozenTrial, metric: str, minimize: bool) -> dict[str, Any]:
    state = {"COMPLETE": "complete", "PRUNED": "pruned", "FAIL": "failed"}.get(t.state.name, t.state.name.lower())
    value = t.value if t.state == optuna.trial.TrialState.COMPLETE else None
    if value is None and t.intermediate_values:     # pruned: its best value before it was stopped
        seq = t.intermediate_values.values()
        value = min(seq) if minimize else max(seq)
    seconds = t.duration.total_seconds() if t.duration else t.user_attrs.get("seconds")
    return {"trial": t.number, "params": t.user_attrs.get("values", dict(t.params)),
            metric: None if value is None else round(float(value), 6), "state": state,
            "epochs": t.user_attrs.get("epochs", len(t.intermediate_values)),
            "seconds": None if seconds is None else round(float(seconds), 2),
            **({"error": t.user_attrs["error"]} if "error" in t.user_attrs else {})}


def _sorted_rows(study: optuna.Study, metric: str, minimize: bool) -> list[dict[str, Any]]:
    """Best first: complete trials by value, then pruned ones by their best reported value, then failed."""
    rank = {"complete": 0, "pruned": 1}
    rows = [_row(t, metric, minimize) for t in study.trials]

    def key(r: dict[str, Any]) -> tuple:
        v = r[metric]
        return (rank.get(r["state"], 2), v is None, 0 if v is None else (v if minimize else -v), r["trial"])
    return sorted(rows, key=key)


def _write_best(path: Path, trial: optuna.trial.FrozenTrial, metric: str, study_dir: Path,
                base: RecipeConfig) -> None:
    """Write the best trial's resolved recipe (``out_dir`` → ``<study_dir>/best_run``) atomically.

    The settings only the search imposes (``resume``, ``progress_bar``) go back to the recipe's.
    """
    raw = json.loads(json.dumps(trial.user_attrs["config"]))
    raw["out_dir"] = str(study_dir / "best_run")
    raw["trainer"].update(resume=base.trainer.resume, progress_bar=base.trainer.progress_bar)
    RecipeConfig.from_dict(raw, where=str(path))     # it must load
    header = (f"# best trial {trial.number} of {study_dir / 'study.db'}: {metric}={trial.value:.6g}\n"
              f"# params: {json.dumps(trial.user_attrs.get('values', trial.params))}\n"
              f"# speechdl train {path}\n")
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(header + yaml.safe_dump(raw, sort_keys=False))
    tmp.replace(path)


@contextlib.contextmanager
def _quiet_optuna() -> Iterator[None]:
    """Silence Optuna's own log lines (study created, trial failed): trials are reported via ``on_trial``."""
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    try:
        yield
    finally:
        optuna.logging.set_verbosity(verbosity)


def tune(recipe: str | Path, params: Sequence[str | Param], trials: int, overrides: Sequence[str] = (),
         metric: str | None = None, direction: Literal["minimize", "maximize"] | None = None,
         study_dir: str | Path | None = None, timeout: float | None = None, seed: int = 0, prune: bool = True,
         on_trial: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Run (or resume) a study until ``trials`` trials have finished; return the results.

    ``metric``/``direction`` default to the recipe's ``trainer.early_stopping.monitor``/``mode``
    (given, they become that monitor, so the best checkpoint follows the tuned metric).
    ``study_dir`` defaults to ``<recipe out_dir>_tune``. ``timeout`` (seconds) stops starting new
    trials. ``on_trial`` receives each finished trial's row. Returns ``{"study_dir", "metric",
    "direction", "ran", "finished", "trials": rows best first, "best": {...} | None}``.
    Raises ConfigError before any trial for a bad parameter or recipe key.
    """
    if trials < 1:
        raise ConfigError("--trials", f"expected a positive number, got {trials}", "e.g. --trials 8")
    params = parse_params(params)
    base = validate(recipe, overrides, params)
    es = base.trainer.early_stopping
    metric = metric or es.monitor
    direction = direction or ("minimize" if es.mode == "min" else "maximize")
    if direction not in ("minimize", "maximize"):
        raise ConfigError("--direction", f"expected minimize or maximize, got {direction!r}", None)
    overrides = ["trainer.progress_bar=false", *overrides, f"trainer.early_stopping.monitor={metric}",
                 f"trainer.early_stopping.mode={'min' if direction == 'minimize' else 'max'}", "trainer.resume=false"]
    study_dir = Path(study_dir or f"{base.out_dir}_tune")
    study_dir.mkdir(parents=True, exist_ok=True)
    identity = {"base": {k: v for k, v in resolve(recipe, overrides, {}).to_dict().items() if k != "out_dir"},
                "params": [p.spec() for p in params], "metric": metric, "direction": direction}

    storage = f"sqlite:///{(study_dir / 'study.db').resolve()}"
    with _quiet_optuna():
        study = optuna.create_study(storage=storage, study_name=STUDY_NAME, direction=direction,
                                    load_if_exists=True)
    stored = study.user_attrs.get("identity")
    if stored is None:
        study.set_user_attr("identity", json.loads(json.dumps(identity)))
    elif stored != json.loads(json.dumps(identity)):
        changed = next(k for k in identity if json.loads(json.dumps(identity[k])) != stored.get(k))
        raise ConfigError(study_dir, f"holds a study with a different {changed}",
                          "use another --study-dir, or repeat the original command to resume it")
    for t in study.trials:              # trials of an interrupted run: never finished
        if t.state in (optuna.trial.TrialState.RUNNING, optuna.trial.TrialState.WAITING):
            study.tell(t.number, state=optuna.trial.TrialState.FAIL)
    done_states = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    finished = sum(t.state in done_states for t in study.trials)
    # seed + trials so far: a resumed run does not replay the random start-up samples of the first run
    study.sampler = optuna.samplers.TPESampler(seed=seed + len(study.trials), n_startup_trials=5)
    study.pruner = (optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=1) if prune
                    else optuna.pruners.NopPruner())
    minimize = direction == "minimize"

    def objective(trial: optuna.Trial) -> float:
        start = time.perf_counter()
        values = {p.key: p.suggest(trial) for p in params}
        trial.set_user_attr("values", values)
        out = study_dir / f"trial_{trial.number}"
        if out.exists():                # left by a deleted study.db: start clean
            shutil.rmtree(out)
        pruning = PruningCallback(trial, metric)
        try:
            cfg = resolve(recipe, [*overrides, f"out_dir={out}"], values)
            trial.set_user_attr("config", json.loads(json.dumps(cfg.to_dict())))
            summary = train(cfg, [pruning]).summary
            trial.set_user_attr("epochs", summary["epochs"])
            if summary["best_score"] is None or not math.isfinite(summary["best_score"]):
                logged = ", ".join(summary["metrics"]) or "nothing"
                raise SpeechdlError("tune", f"metric {metric} has no finite value (logged: {logged})",
                                    "choose --metric among the logged validation metrics")
            return float(summary["best_score"])
        except optuna.TrialPruned:
            trial.set_user_attr("epochs", pruning.epochs)
            raise
        except Exception as err:
            trial.set_user_attr("epochs", pruning.epochs)
            trial.set_user_attr("error", " ".join(f"{type(err).__name__}: {err}".split())[:300])
            raise
        finally:
            trial.set_user_attr("seconds", round(time.perf_counter() - start, 2))

    def report(study_: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        if on_trial is not None:
            on_trial(_row(trial, metric, minimize))

    before = len(study.trials)
    remaining = max(0, trials - finished)
    if remaining:
        with _quiet_optuna():
            study.optimize(objective, n_trials=remaining, timeout=timeout, catch=(Exception,), callbacks=[report])
    ran = len(study.trials) - before
    completes = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if ran and not completes:
        first = next(t for t in study.trials[before:] if t.state == optuna.trial.TrialState.FAIL
                     or t.state == optuna.trial.TrialState.PRUNED)
        raise SpeechdlError(study_dir, f"no trial completed; trial {first.number}: "
                                       f"{first.user_attrs.get('error', first.state.name.lower())}",
                            "fix the recipe (see trial_*/ logs) and run again")
    best = None
    if completes:
        bt = study.best_trial
        _write_best(study_dir / "best.yaml", bt, metric, study_dir, base)
        best = {"trial": bt.number, metric: round(float(bt.value), 6), "params": bt.user_attrs.get("values"),
                "recipe": str(study_dir / "best.yaml")}
    return {"study_dir": str(study_dir), "study_db": str(study_dir / "study.db"), "metric": metric,
            "direction": direction, "ran": ran,
            "finished": sum(t.state in done_states for t in study.trials),
            "trials": _sorted_rows(study, metric, minimize), "best": best}

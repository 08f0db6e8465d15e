"""Recipe configuration: dataclasses for a training run, YAML loading, ``key=value`` overrides.

A recipe is a YAML file with the sections ``task``, ``model``, ``data`` (each a registry ``name``
plus that constructor's keyword arguments), ``optim``, ``scheduler``, ``trainer`` and ``out_dir``.
Every key and every type is checked *before* any work starts; a mistake raises one
:class:`~speechdl.errors.ConfigError` line naming the key, what was expected and the valid keys.

Example:
    >>> cfg = RecipeConfig.from_dict({"task": {"name": "classify"},
    ...     "model": {"name": "dense", "in_dim": 39, "hidden": [8], "out_dim": 2},
    ...     "data": {"name": "toy_frames"}}, overrides=["trainer.max_epochs=3", "optim.lr=1e-2"])
    >>> cfg.trainer.max_epochs, cfg.optim.lr, cfg.model.kwargs["hidden"]
    (3, 0.01, [8])
"""

from __future__ import annotations

import copy
import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from speechdl.errors import ConfigError
from speechdl.validate import read_text


@dataclass
class Component:
    """A registry entry: ``name`` and the keyword arguments of its constructor (YAML: flat mapping)."""

    name: str
    kwargs: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, **copy.deepcopy(self.kwargs)}


@dataclass
class OptimConfig:
    """Optimizer: ``adam`` | ``adamw`` | ``sgd`` and its hyperparameters."""

    name: Literal["adam", "adamw", "sgd"] = "adam"
    lr: float = 1e-3
    weight_decay: float = 0.0
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    momentum: float = 0.0          # sgd only
    nesterov: bool = False         # sgd only


@dataclass
class SchedulerConfig:
    """Learning-rate schedule.

    ``none``; ``cosine`` (linear warm-up for ``warmup_steps`` then cosine to ``min_lr``, per step);
    ``warmup_linear`` (warm-up then linear decay to ``min_lr``, per step); ``onecycle`` (per step,
    peak ``optim.lr``); ``step`` (×``gamma`` every ``step_size`` epochs); ``exponential``
    (×``gamma`` every epoch); ``plateau`` (×``factor`` after ``patience`` epochs without
    improvement of the monitored metric).
    """

    name: Literal["none", "cosine", "warmup_linear", "onecycle", "step", "exponential", "plateau"] = "none"
    warmup_steps: int = 0
    min_lr: float = 0.0
    step_size: int = 10
    gamma: float = 0.1
    factor: float = 0.5
    patience: int = 2
    pct_start: float = 0.3         # onecycle: fraction of steps spent increasing


@dataclass
class EarlyStoppingConfig:
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` validations (None: off).

    ``monitor``/``mode`` also choose the "best" checkpoint and drive the ``plateau`` scheduler.
    """

    monitor: str = "val_loss"
    mode: Literal["min", "max"] = "min"
    patience: int | None = None
    min_delta: float = 0.0


@dataclass
class TrainerConfig:
    """Everything about the loop: length, batching, determinism, devices, logging.

    ``batch_size`` is per process: the global batch is ``batch_size × devices × num_nodes``.
    ``grad_clip`` is the max global gradient norm (0: off). ``precision`` ``auto`` means fp32 on CPU
    and ``16-mixed`` on CUDA. ``device`` ``auto`` picks CUDA when available.
    ``checkpoint_every_steps`` / ``checkpoint_every_minutes`` bound the work a killed run loses: ``last.ckpt``
    is rewritten inside epochs after that many optimizer steps / minutes (whichever comes first).
    """

    max_epochs: int = 10
    max_steps: int = -1
    batch_size: int = 32
    grad_clip: float = 0.0
    accumulate: int = 1
    early_stopping: EarlyStoppingConfig = field(default_factory=EarlyStoppingConfig)
    seed: int = 0
    deterministic: bool = True
    precision: Literal["auto", "32-true", "32", "16-mixed", "bf16-mixed", "64-true"] = "auto"
    device: Literal["cpu", "cuda", "auto"] = "cpu"
    devices: int = 1
    num_nodes: int = 1
    strategy: Literal["auto", "ddp", "ddp_spawn"] = "auto"
    val_every: int = 1
    log_every: int = 10
    num_workers: int = 0
    threads: int | None = None         # torch intra-op threads per process (None: torch's default)
    progress_bar: bool | None = None   # None: on when stderr is a terminal
    resume: bool = True                # continue from out_dir/checkpoints/last.ckpt when present
    checkpoint_every_steps: int | None = 500        # rewrite last.ckpt inside an epoch (None: only at epoch ends)
    checkpoint_every_minutes: float | None = None   # ... and/or after this much wall time

    def __post_init__(self) -> None:
        steps, minutes = self.checkpoint_every_steps, self.checkpoint_every_minutes
        if steps is not None and (isinstance(steps, bool) or not isinstance(steps, int) or steps < 1):
            raise ConfigError("trainer.checkpoint_every_steps", f"expected an integer >= 1 or null, got {steps!r}",
                              "e.g. 500; null writes last.ckpt only at epoch ends")
        if minutes is not None and not (isinstance(minutes, int | float) and 0 < minutes < float("inf")):
            raise ConfigError("trainer.checkpoint_every_minutes", f"expected a number > 0 or null, got {minutes!r}",
                              "e.g. 10; null turns time-based checkpoints off")


@dataclass
class RecipeConfig:
    """A whole training run (see the module docstring)."""

    task: Component
    model: Component
    data: Component
    optim: OptimConfig = field(default_factory=OptimConfig)
    scheduler: SchedulerConfig = field(default_factory=SchedulerConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    out_dir: str = "runs/default"
    init_from: str | None = None   # fresh runs start from these weights (.ckpt, state-dict .pt or bundle dir)
    imports: list[str] = field(default_factory=list)   # modules to import first (they may register models)

    # ----------------------------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, raw: dict[str, Any], overrides: list[str] | tuple[str, ...] = (),
                  where: str = "recipe") -> RecipeConfig:
        """Build from a mapping after applying ``key=value`` overrides; checks keys and types."""
        if not isinstance(raw, dict):
            raise ConfigError(where, "a recipe must be a YAML mapping", "see docs/training.md")
        from speechdl.paths import expand

        raw = copy.deepcopy(raw)
        for item in overrides:
            apply_override(raw, item)
        return _convert(cls, expand(raw), "", where)

    @classmethod
    def load(cls, path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> RecipeConfig:
        """Read a YAML recipe file (see :meth:`from_dict`)."""
        path = Path(path)
        text = read_text(path, "recipe")   # a missing, binary or undecodable file: one ConfigError line
        try:
            raw = yaml.safe_load(text)
        except yaml.YAMLError as err:
            msg = " ".join(str(err).split())
            raise ConfigError(path, f"cannot read recipe ({msg})", "fix the YAML syntax") from None
        return cls.from_dict(raw if raw is not None else {}, overrides, where=str(path))

    def to_dict(self) -> dict[str, Any]:
        """Plain mapping in the recipe layout (round-trips through :meth:`from_dict`)."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            out[f.name] = v.to_dict() if isinstance(v, Component) else _plain(v)
        return out

    def save(self, path: str | Path) -> None:
        """Write the resolved config as YAML, atomically."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(yaml.safe_dump(self.to_dict(), sort_keys=False))
        tmp.replace(path)


def run_config(run_dir: str | Path, tasks: tuple[str, ...] | list[str] = ()) -> dict[str, Any]:
    """The resolved recipe (``config.yaml``) of a training run directory as a plain mapping.

    ConfigError when the directory holds none, or (``tasks`` given) when its task is not one of them.
    """
    run = Path(run_dir)
    try:
        cfg = yaml.safe_load((run / "config.yaml").read_text()) or {}
    except (OSError, yaml.YAMLError):
        raise ConfigError(run, "no readable config.yaml (not a training run directory)",
                          "pass the run's out_dir") from None
    task = (cfg.get("task") or {}).get("name")
    if tasks and task not in tasks:
        raise ConfigError(run, f"task is {task!r}, not {' or '.join(tasks)}", f"export a {tasks[0]} run")
    return cfg


# --------------------------------------------------------------------------------------------------
def parse_value(text: str) -> Any:
    """A command-line value as YAML (``3``, ``1e-3``, ``[8, 8]``, ``true``, ``null``, ``adam``)."""
    try:
        value = yaml.safe_load(text) if text.strip() else ""
    except yaml.YAMLError:
        return text
    if isinstance(value, str):
        try:   # YAML 1.1 reads "1e-3" as a string
            return float(value) if any(c.isdigit() for c in value) and value.strip() == value else value
        except ValueError:
            return value
    return value


def apply_override(raw: dict[str, Any], item: str) -> None:
    """Apply one ``dotted.key=value`` override to the raw recipe mapping in place."""
    key, sep, text = item.partition("=")
    key = key.strip()
    if not sep or not key or any(not part for part in key.split(".")):
        raise ConfigError(f"override {item!r}", "expected key=value with a dotted key",
                          "e.g. trainer.max_epochs=5 or model.hidden=[64,64]")
    node = raw
    parts = key.split(".")
    for i, part in enumerate(parts[:-1]):
        nxt = node.get(part)
        if nxt is None:
            nxt = node[part] = {}
        if not isinstance(nxt, dict):
            raise ConfigError(f"override {item!r}", f"{'.'.join(parts[:i + 1])} is not a section",
                              "override a key of a section, e.g. trainer.max_epochs=5")
        node = nxt
    node[parts[-1]] = parse_value(text)


def _plain(v: Any) -> Any:
    if dataclasses.is_dataclass(v):
        return {f.name: _plain(getattr(v, f.name)) for f in dataclasses.fields(v)}
    if isinstance(v, tuple | list):
        return [_plain(x) for x in v]
    return v


def _describe(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(str(a) for a in typing.get_args(tp))
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(a) for a in typing.get_args(tp))
    if origin in (list, tuple):
        args = typing.get_args(tp)
        return f"a list of {len(args)} {_describe(args[0])}s" if origin is tuple else f"a list of {_describe(args[0])}"
    if tp is type(None):
        return "null"
    if dataclasses.is_dataclass(tp):
        return "a mapping"
    return {int: "an integer", float: "a number", bool: "true/false", str: "a string"}.get(tp, str(tp))


def _check_value(tp: Any, value: Any, key: str, where: str) -> Any:
    """Return ``value`` converted to ``tp`` or raise a ConfigError naming ``key``."""
    def bad() -> ConfigError:
        return ConfigError(where, f"{key}: expected {_describe(tp)}, got {value!r}", "fix the recipe or the override")

    origin = typing.get_origin(tp)
    if origin is Literal:
        if value not in typing.get_args(tp):
            raise bad()
        return value
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(tp):
            try:
                return _check_value(arg, value, key, where)
            except ConfigError:
                continue
        raise bad()
    if origin in (list, tuple):
        if not isinstance(value, list | tuple):
            raise bad()
        args = typing.get_args(tp)
        if origin is tuple:
            if len(value) != len(args):
                raise bad()
            return tuple(_check_value(a, v, f"{key}[{i}]", where) for i, (a, v) in enumerate(zip(args, value)))
        return [_check_value(args[0], v, f"{key}[{i}]", where) for i, v in enumerate(value)]
    if tp is type(None):
        if value is not None:
            raise bad()
        return None
    if tp is bool:
        if not isinstance(value, bool):
            raise bad()
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad()
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise bad()
        try:
            number = float(value)
        except ValueError:
            raise bad() from None
        if number != number or number in (float("inf"), float("-inf")):   # NaN / infinities: one line, no crash
            raise ConfigError(where, f"{key}: expected a finite number, got {value!r}",
                              "fix the recipe or the override")
        return number
    if tp is str:
        if not isinstance(value, str):
            raise bad()
        return value
    if tp is Component:
        return _component(value, key, where)
    if dataclasses.is_dataclass(tp):
        return _convert(tp, value, key + ".", where)
    return value


def _component(value: Any, key: str, where: str) -> Component:
    if isinstance(value, str):
        value = {"name": value}
    if not isinstance(value, dict) or not isinstance(value.get("name"), str):
        raise ConfigError(where, f"{key}: expected a mapping with a 'name' key", f"e.g. {key}: {{name: ...}}")
    kwargs = {k: v for k, v in value.items() if k != "name"}
    return Component(value["name"], kwargs)


def _convert(cls: type, raw: Any, prefix: str, where: str) -> Any:
    """Build dataclass ``cls`` from ``raw``, rejecting unknown keys and wrong types."""
    if not isinstance(raw, dict):
        raise ConfigError(where, f"{prefix.rstrip('.') or 'recipe'}: expected a mapping, got {raw!r}",
                          "fix the recipe")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = [k for k in raw if k not in names]
    if unknown:
        section = prefix.rstrip(".") or "the recipe"
        raise ConfigError(where, f"unknown key {prefix}{unknown[0]}", f"valid keys of {section}: " + ", ".join(names))
    values = {}
    for f in dataclasses.fields(cls):
        if f.name in raw:
            values[f.name] = _check_value(hints[f.name], raw[f.name], prefix + f.name, where)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(where, f"missing key {prefix}{f.name}", f"add a '{f.name}:' section to the recipe")
    return cls(**values)

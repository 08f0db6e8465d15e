"""Transfer learning: load matching weights from another model, freeze/unfreeze parts, per-part learning rates.

Typical use (a speaker model's encoder reused for a new task)::

    report = load_matching(model, "runs/spk/last.ckpt", prefix_map={"model.": ""})
    print(report)                              # table: loaded / missing / unexpected / shape mismatch
    freeze(model, ["encoder.*"])               # train only the new head first
    opt = torch.optim.Adam(param_groups(model, {"head.*": 1e-3}, default_lr=1e-4))

Names and patterns: parameters are selected by shell-style globs (:mod:`fnmatch`) matched against
module names from ``model.named_modules()`` *and* full parameter names. A pattern selects a
parameter if it matches the parameter's full name or any of its dotted prefixes, so ``"layers.0"``
selects ``layers.0.weight`` and ``layers.0.bias``; ``"encoder.*"`` everything inside ``encoder``.
"""

from __future__ import annotations

import fnmatch
import os
import pickle
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from speechdl.errors import ConfigError

__all__ = ["TransferReport", "load_matching", "read_state_dict", "freeze", "unfreeze", "param_groups",
           "frozen_parameters"]


@dataclass
class TransferReport:
    """What :func:`load_matching` did. ``str(report)`` is a readable table.

    Attributes:
        loaded: model names whose tensors were copied in full.
        missing: model names not loaded (not in the source, or skipped for shape).
        unexpected: (renamed) source names the model has no use for.
        mismatched: ``(name, source_shape, model_shape)`` where names match but shapes do not.
        partial: names of mismatched tensors whose overlapping slice was copied (``strict_shapes=False``).
        renamed: ``{source_name: model_name}`` for names changed by ``prefix_map``.
        source: a description of the source (path or "dict").
    """

    loaded: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    mismatched: list[tuple[str, tuple[int, ...], tuple[int, ...]]] = field(default_factory=list)
    partial: list[str] = field(default_factory=list)
    renamed: dict[str, str] = field(default_factory=dict)
    source: str = "dict"

    def __str__(self) -> str:
        rows: list[tuple[str, str, str]] = [(n, "loaded", "") for n in self.loaded]
        mism = {n: (s, m) for n, s, m in self.mismatched}
        for n in self.missing:
            if n in mism:
                s, m = mism[n]
                rows.append((n, "shape mismatch", f"source {list(s)} vs model {list(m)}"))
            else:
                rows.append((n, "missing", "not in source"))
        for n in self.partial:
            s, m = mism[n]
            rows.append((n, "partial", f"overlap of source {list(s)} into model {list(m)}"))
        rows += [(n, "unexpected", "not in model") for n in self.unexpected]
        w = max([len("name"), *(len(r[0]) for r in rows)])
        head = (f"transfer from {self.source}: {len(self.loaded)} loaded, {len(self.partial)} partial, "
                f"{len(self.missing)} missing ({len(self.mismatched) - len(self.partial)} shape mismatch), "
                f"{len(self.unexpected)} unexpected")
        lines = [head, f"{'name':<{w}}  {'status':<14}  note", f"{'-' * w}  {'-' * 14}  ----"]
        lines += [f"{n:<{w}}  {st:<14}  {note}".rstrip() for n, st, note in rows]
        return "\n".join(lines)

    @property
    def ok(self) -> bool:
        """True when every model tensor was loaded in full."""
        return not self.missing and not self.partial


def _torch_load(path: Path) -> Any:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        # Lightning checkpoints may pickle hyper-parameters (dataclasses, paths): load them in full.
        # Only load checkpoints you trust (full unpickling can run code).
        return torch.load(path, map_location="cpu", weights_only=False)


def read_state_dict(source: str | os.PathLike | Mapping[str, Any]) -> tuple[dict[str, Tensor], str]:
    """The flat ``{name: tensor}`` state dict in ``source`` and a description of where it came from.

    ``source`` is a path to a Lightning ``.ckpt`` (its ``"state_dict"``), a ``torch.save`` of a state
    dict / of a dict holding one under ``"state_dict"``, ``"model_state_dict"`` or ``"model"``, or such a
    dict itself. Raises ConfigError (one line) for a missing or unreadable file or a file without weights.
    """
    where = "dict"
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        where = str(path)
        if not path.is_file():
            raise ConfigError(path, "checkpoint not found", "check the path (a Lightning .ckpt or a state_dict .pt)")
        try:
            obj = _torch_load(path)
        except Exception as e:  # noqa: BLE001 - any failure to unpickle is a bad file for the user
            msg = str(e).splitlines()[0][:120] if str(e) else type(e).__name__
            raise ConfigError(path, f"unreadable checkpoint ({msg})",
                              "pass a file written by torch.save or a Lightning .ckpt") from None
    else:
        obj = source
    if isinstance(obj, nn.Module):
        obj = obj.state_dict()
    if not isinstance(obj, Mapping):
        raise ConfigError(where, f"checkpoint holds a {type(obj).__name__}, not a state dict",
                          "save model.state_dict() or use a Lightning .ckpt")
    for key in ("state_dict", "model_state_dict", "model"):
        if isinstance(obj.get(key), Mapping):
            obj = obj[key]
            break
    tensors = {k: v for k, v in obj.items() if isinstance(v, Tensor)}
    if not tensors:
        raise ConfigError(where, "checkpoint holds no tensors", "save model.state_dict() or use a Lightning .ckpt")
    return tensors, where


def _rename(name: str, prefix_map: Mapping[str, str] | None) -> str:
    """Replace the longest matching prefix of ``name`` from ``prefix_map`` (e.g. ``{"model.": ""}``)."""
    if not prefix_map:
        return name
    for old in sorted(prefix_map, key=len, reverse=True):
        if name.startswith(old):
            return prefix_map[old] + name[len(old):]
    return name


def load_matching(model: nn.Module, source: str | os.PathLike | Mapping[str, Any],
                  prefix_map: Mapping[str, str] | None = None, strict_shapes: bool = True) -> TransferReport:
    """Copy into ``model`` every source tensor whose (renamed) name and shape match; report the rest.

    Args:
        model: the model to fill (parameters and buffers, in place, no gradient tracking).
        source: checkpoint path (Lightning ``.ckpt`` or plain state dict ``.pt``) or a state dict.
        prefix_map: source-name prefix rewrites, longest prefix first, e.g. ``{"model.": ""}`` strips a
            LightningModule's attribute prefix, ``{"encoder.": "frontend."}`` moves a block.
        strict_shapes: True (default): tensors whose shapes differ are skipped and reported. False:
            when the number of dimensions agrees the overlapping leading slice is copied (e.g. an
            output layer grown from 10 to 12 classes keeps its 10 trained rows), reported as partial.

    Returns:
        a :class:`TransferReport`. Raises ConfigError for missing/unreadable checkpoints.
    """
    src, where = read_state_dict(source)
    report = TransferReport(source=where)
    target = model.state_dict()
    used: set[str] = set()
    renamed: dict[str, str] = {}
    for name in src:
        new = _rename(name, prefix_map)
        if new != name:
            report.renamed[name] = new
        if new in renamed:
            raise ConfigError(where, f"prefix_map maps both {renamed[new]!r} and {name!r} to {new!r}",
                              "make the prefix rewrites one-to-one")
        renamed[new] = name
    with torch.no_grad():
        for name, dst in target.items():
            if name not in renamed:
                report.missing.append(name)
                continue
            val = src[renamed[name]]
            used.add(name)
            if val.shape == dst.shape:
                dst.copy_(val)
                report.loaded.append(name)
                continue
            report.mismatched.append((name, tuple(val.shape), tuple(dst.shape)))
            if not strict_shapes and val.dim() == dst.dim() and val.dim() > 0:
                idx = tuple(slice(0, min(a, b)) for a, b in zip(val.shape, dst.shape))
                dst[idx].copy_(val[idx])
                report.partial.append(name)
            else:
                report.missing.append(name)
    report.unexpected = [n for n in renamed if n not in used]
    return report


# ---------------------------------------------------------------- freezing and parameter groups

def _as_patterns(patterns: str | Iterable[str]) -> list[str]:
    return [patterns] if isinstance(patterns, str) else list(patterns)


def _candidates(name: str) -> list[str]:
    """``"a.b.c"`` -> ``["a", "a.b", "a.b.c"]``: the names a pattern may match to select it."""
    parts = name.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


def _selected(name: str, pattern: str) -> bool:
    return any(fnmatch.fnmatchcase(c, pattern) for c in _candidates(name))


def _require_matches(model: nn.Module, patterns: list[str], what: str) -> None:
    names = [n for n, _ in model.named_parameters()] + [n for n, _ in model.named_modules() if n]
    for pat in patterns:
        if not any(_selected(n, pat) for n in names):
            top = ", ".join(n for n, _ in model.named_children())
            raise ConfigError(f"{what} pattern {pat!r}", "matches no module or parameter",
                              f"top-level modules are: {top or '(none)'}")


def _force_eval(module: nn.Module, _inputs: Any) -> None:
    """Forward pre-hook of frozen BatchNorm/Dropout: keep them in eval mode whatever ``model.train()`` says."""
    module.training = False


_EVAL_TYPES = (nn.modules.batchnorm._BatchNorm, nn.modules.dropout._DropoutNd, nn.AlphaDropout)


def _set_requires_grad(model: nn.Module, patterns: list[str], flag: bool, eval_modules: bool) -> list[str]:
    changed = []
    for name, p in model.named_parameters():
        if any(_selected(name, pat) for pat in patterns):
            p.requires_grad_(flag)
            changed.append(name)
    if eval_modules:
        for name, mod in model.named_modules():
            if not name or not isinstance(mod, _EVAL_TYPES) or not any(_selected(name, pat) for pat in patterns):
                continue
            for hid, hook in list(mod._forward_pre_hooks.items()):
                if hook is _force_eval:
                    del mod._forward_pre_hooks[hid]
            if flag:
                mod.train(model.training)
            else:
                mod.eval()
                mod.register_forward_pre_hook(_force_eval)
    return changed


def freeze(model: nn.Module, patterns: str | Iterable[str], eval_modules: bool = True) -> list[str]:
    """Stop training the selected parts: ``requires_grad=False`` on every selected parameter.

    With ``eval_modules`` (default) selected BatchNorm modules stop updating their running statistics
    and selected Dropout modules stop dropping: they are put in eval mode and *stay* there through later
    ``model.train()`` calls (a forward pre-hook), until :func:`unfreeze`. Returns the frozen parameter
    names. A pattern that matches nothing raises ConfigError (a typo would silently freeze nothing).
    """
    pats = _as_patterns(patterns)
    _require_matches(model, pats, "freeze")
    return _set_requires_grad(model, pats, False, eval_modules)


def unfreeze(model: nn.Module, patterns: str | Iterable[str] = "*") -> list[str]:
    """Undo :func:`freeze` for the selected parts (default: everything); BatchNorm/Dropout follow the model's mode."""
    pats = _as_patterns(patterns)
    _require_matches(model, pats, "unfreeze")
    return _set_requires_grad(model, pats, True, True)


def frozen_parameters(model: nn.Module) -> list[str]:
    """Names of parameters with ``requires_grad=False``."""
    return [n for n, p in model.named_parameters() if not p.requires_grad]


def param_groups(model: nn.Module, lrs: Mapping[str, float], default_lr: float) -> list[dict[str, Any]]:
    """Optimizer parameter groups with a learning rate per part of the model.

    Each trainable parameter goes to the first pattern in ``lrs`` (in order) that selects it, else to a
    ``"default"`` group with ``default_lr``; frozen parameters (``requires_grad=False``) are left out,
    and empty groups dropped. Each group is ``{"params", "lr", "name"}`` (the name is the pattern), ready
    for ``torch.optim.Adam(param_groups(...))``. A pattern matching nothing raises ConfigError.
    """
    pats = list(lrs)
    _require_matches(model, pats, "learning-rate")
    buckets: dict[str, list[nn.Parameter]] = {p: [] for p in [*pats, "default"]}
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        key = next((pat for pat in pats if _selected(name, pat)), "default")
        buckets[key].append(p)
    lr_of = {**{p: float(lrs[p]) for p in pats}, "default": float(default_lr)}
    return [{"params": ps, "lr": lr_of[k], "name": k} for k, ps in buckets.items() if ps]

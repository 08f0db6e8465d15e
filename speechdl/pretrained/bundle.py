"""Bundles: what inference loads. A directory with three files:

- ``bundle.json``: ``format_version``, ``task``, ``model`` (``name`` + ``kwargs`` of the registry
  architecture), ``frontend`` (the full FrontendConfig dict: inference never guesses it),
  ``thresholds`` / ``post`` (post-processing defaults), ``metrics``, ``data`` (training data summary),
  ``weights`` (file, dtype, parameter count, sha256), ``reproduce`` (the command) and ``created``.
- ``weights.pt``: the state dict (float32, or float16 when ``half=True``: loaded back as float32).
- ``MODEL_CARD.md``: data and licences, metrics, the command that reproduces it.

:func:`save_bundle` writes into a temporary sibling directory and renames it into place (atomic).
:func:`load_bundle` takes a path or the name of a bundle shipped in ``speechdl/pretrained/<name>/``.

Example:
    >>> import tempfile, torch
    >>> out = tempfile.mkdtemp() + "/b"
    >>> _ = save_bundle(out, task="vad", model={"name": "dense", "kwargs": {"in_dim": 2}},
    ...                 state_dict={"w": torch.ones(2)}, frontend={"kind": "mfcc"})
    >>> b = load_bundle(out)
    >>> b.meta["task"], b.state_dict["w"].tolist()
    ('vad', [1.0, 1.0])
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from speechdl.errors import ConfigError, write_fault, writing
from speechdl.pretrained.locate import SHIPPED_DIR, resolve_bundle, shipped_bundles  # noqa: F401

FORMAT_VERSION = 1
FILES = ("bundle.json", "weights.pt", "MODEL_CARD.md")


@dataclass
class Bundle:
    """A loaded bundle: its directory, ``bundle.json`` contents and float32 state dict."""

    path: Path
    meta: dict[str, Any]
    state_dict: dict[str, torch.Tensor]

    @property
    def card(self) -> str:
        """The model card text."""
        p = self.path / "MODEL_CARD.md"
        return p.read_text() if p.exists() else ""


def _card(meta: dict[str, Any], extra: str) -> str:
    lines = [f"# {meta['task']} bundle: {meta['model']['name']}", ""]
    lines += ["## Model", f"- architecture: `{meta['model']['name']}` {json.dumps(meta['model']['kwargs'])}",
              f"- parameters: {meta['weights']['parameters']}", f"- front-end: {json.dumps(meta['frontend'])}", ""]
    lines += ["## Data", *(f"- {k}: {v}" for k, v in (meta.get("data") or {}).items()), ""]
    lines += ["## Metrics", *(f"- {k}: {v}" for k, v in (meta.get("metrics") or {}).items()), ""]
    lines += ["## Reproduce", "```", meta.get("reproduce") or "(not recorded)", "```", ""]
    return "\n".join(lines) + (extra.strip() + "\n" if extra else "")


def save_bundle(
    out: str | os.PathLike,
    *,
    task: str,
    model: dict[str, Any],
    state_dict: dict[str, torch.Tensor],
    frontend: dict[str, Any],
    thresholds: dict[str, float] | None = None,
    post: dict[str, Any] | None = None,
    metrics: dict[str, Any] | None = None,
    data: dict[str, Any] | None = None,
    reproduce: str | None = None,
    card: str = "",
    half: bool = False,
    extra: dict[str, Any] | None = None,
    files: dict[str, str | os.PathLike] | None = None,
) -> Path:
    """Write a bundle directory atomically and return its path.

    Args:
        out: the bundle directory (replaced if it exists).
        task: task name (``vad``). model: ``{"name": registry name, "kwargs": {...}}``.
        state_dict: weights (tensors). frontend: ``FrontendConfig.to_dict()``.
        thresholds, post: decision defaults. metrics, data: summaries for the card.
        reproduce: command that rebuilds it. card: extra Markdown for MODEL_CARD.md (e.g. licences).
        half: store floating tensors as float16 (half the size; loaded back as float32).
        files: ``{name in the bundle: source file}`` copied in (e.g. an ASR bundle's language model).
    """
    out = Path(out)
    if "name" not in model or "kwargs" not in model:
        raise ConfigError("save_bundle", "model must be {'name': ..., 'kwargs': {...}}", "pass both keys")
    sd = {k: (v.detach().cpu().half() if half and v.is_floating_point() else v.detach().cpu().clone())
          for k, v in state_dict.items()}
    buf = io.BytesIO()
    torch.save(sd, buf)
    raw = buf.getvalue()
    meta = {
        "format_version": FORMAT_VERSION, "task": task, "model": model, "frontend": frontend,
        "thresholds": thresholds or {}, "post": post or {}, "metrics": metrics or {}, "data": data or {},
        "weights": {"file": "weights.pt", "dtype": "float16" if half else "float32",
                    "parameters": int(sum(v.numel() for v in sd.values() if v.is_floating_point())),
                    "sha256": hashlib.sha256(raw).hexdigest()},
        "reproduce": reproduce, "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **(extra or {}),
    }
    with writing(out):
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        (tmp / "weights.pt").write_bytes(raw)
        (tmp / "bundle.json").write_text(json.dumps(meta, indent=2) + "\n")
        (tmp / "MODEL_CARD.md").write_text(_card(meta, card))
        for name, src in (files or {}).items():
            shutil.copyfile(src, tmp / name)
        os.chmod(tmp, 0o755)
        old = None
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old.", dir=out.parent))
            os.replace(out, old / "b")
        os.replace(tmp, out)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException as err:
        shutil.rmtree(tmp, ignore_errors=True)
        fault = write_fault(err, out)   # a full disk: one OutputError line, no half-written bundle left
        if fault is not None:
            raise fault from None
        raise
    return out


def load_bundle(name_or_path: str | os.PathLike = "vad") -> Bundle:
    """Load a bundle (path or shipped name); checks the format version and the weights' checksum."""
    path = resolve_bundle(name_or_path)
    try:
        meta = json.loads((path / "bundle.json").read_text())
    except (OSError, ValueError) as err:
        raise ConfigError(path / "bundle.json", f"unreadable ({err})", "re-export the bundle") from None
    version = meta.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ConfigError(path, f"bundle format {version!r} is newer than this speechdl ({FORMAT_VERSION})",
                          "upgrade speechdl")
    wfile = path / meta.get("weights", {}).get("file", "weights.pt")
    try:
        raw = wfile.read_bytes()
    except OSError:
        raise ConfigError(wfile, "weights file missing", "re-export the bundle") from None
    want = meta.get("weights", {}).get("sha256")
    if want and hashlib.sha256(raw).hexdigest() != want:
        raise ConfigError(wfile, "checksum mismatch (corrupt or edited weights)", "re-export the bundle")
    sd = torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)
    sd = {k: (v.float() if v.is_floating_point() else v) for k, v in sd.items()}
    return Bundle(path, meta, sd)


def load_model(name_or_path: str | os.PathLike, task: str) -> tuple[Bundle, torch.nn.Module]:
    """Load a bundle of ``task`` and build its registered architecture with the bundle's weights.

    Returns ``(bundle, model)`` (the model in eval mode); ConfigError when the bundle is of another task.
    """
    from speechdl.nn import build

    b = load_bundle(name_or_path)
    if b.meta.get("task") != task:
        raise ConfigError(b.path, f"is a {b.meta.get('task')!r} bundle, not a {task} one", f"pass a {task} bundle")
    model = build(b.meta["model"]["name"], **b.meta["model"]["kwargs"])
    model.load_state_dict(b.state_dict)
    return b, model.eval()



def copy_bundle(src: str | os.PathLike, out: str | os.PathLike) -> Path:
    """Re-save bundle ``src`` as ``out`` through :func:`load_bundle` / :func:`save_bundle` (a round trip).

    Same weights (dtype kept), metadata, model card and extra files (LM, PLDA, cohort, ...); only
    ``created`` changes. Used by the contract test to prove that a bundle survives its own format.
    """
    b = load_bundle(src)
    known = {"format_version", "task", "model", "frontend", "thresholds", "post", "metrics", "data", "weights",
             "reproduce", "created"}
    files = {p.name: p for p in b.path.iterdir() if p.is_file() and p.name not in ("bundle.json", "weights.pt")}
    return save_bundle(out, task=b.meta["task"], model=b.meta["model"], state_dict=b.state_dict,
                       frontend=b.meta["frontend"], thresholds=b.meta.get("thresholds"), post=b.meta.get("post"),
                       metrics=b.meta.get("metrics"), data=b.meta.get("data"), reproduce=b.meta.get("reproduce"),
                       half=b.meta.get("weights", {}).get("dtype") == "float16",
                       extra={k: v for k, v in b.meta.items() if k not in known}, files=files)

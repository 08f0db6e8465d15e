"""The two data roots, so recipes, benchmarks and docs name no build machine's folders.

- ``SPEECHDL_DATA``: where the *input* corpora are (``real_dev/`` and the like). Default: the first of
  ``../shared/data`` (beside the repository) and ``./shared_data`` that exists, else ``./shared_data``.
- ``SPEECHDL_WORK``: where built working data goes (mixed training sets, caches, trial lists), in
  folders per task (``vad/``, ``asr/``, ``speaker/``). Default: ``./data``.

Recipes and bundle metadata write ``${SPEECHDL_DATA}/...`` and ``${SPEECHDL_WORK}/...``; :func:`expand`
resolves them (the recipe loader applies it to every string), so a clone resolves the same recipe.

Example:
    >>> import os
    >>> os.environ["SPEECHDL_WORK"] = "/tmp/w"
    >>> expand("${SPEECHDL_WORK}/vad/dev")
    '/tmp/w/vad/dev'
    >>> expand({"manifests": ["${SPEECHDL_WORK}/a", 3]})
    {'manifests': ['/tmp/w/a', 3]}
    >>> del os.environ["SPEECHDL_WORK"]
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

_REPO = Path(__file__).resolve().parents[1]
_VAR = re.compile(r"\$\{(SPEECHDL_DATA|SPEECHDL_WORK)\}")


def data_root() -> Path:
    """Root of the input corpora (``$SPEECHDL_DATA``, else ``../shared/data`` beside the repo if present)."""
    env = os.environ.get("SPEECHDL_DATA")
    if env:
        return Path(env)
    for cand in (_REPO.parent / "shared" / "data", Path.cwd().parent / "shared" / "data"):
        if cand.is_dir():
            return cand
    return Path("shared_data")


def work_root() -> Path:
    """Root of built working data (``$SPEECHDL_WORK``, default ``./data``)."""
    return Path(os.environ.get("SPEECHDL_WORK") or "data")


def real_dev() -> Path:
    """The real recordings folder ``<data root>/real_dev`` (may not exist: callers check)."""
    return data_root() / "real_dev"


def work_dir(task: str) -> Path:
    """``<work root>/<task>``: where a task's built data lives."""
    return work_root() / task


def expand(value: Any) -> Any:
    """``value`` with ``${SPEECHDL_DATA}`` / ``${SPEECHDL_WORK}`` replaced in every string (dicts, lists)."""
    if isinstance(value, str):
        roots = {"SPEECHDL_DATA": str(data_root()), "SPEECHDL_WORK": str(work_root())}
        return _VAR.sub(lambda m: roots[m.group(1)], value)
    if isinstance(value, dict):
        return {k: expand(v) for k, v in value.items()}
    if isinstance(value, list):
        return [expand(v) for v in value]
    return value

"""Where bundles are: shipped names and bundle directories (no torch import, so listing is cheap).

Example:
    >>> "vad" in shipped_bundles()
    True
    >>> resolve_bundle("vad").name
    'vad'
"""

from __future__ import annotations

import os
from pathlib import Path

from speechdl.errors import ConfigError

SHIPPED_DIR = Path(__file__).resolve().parent


def shipped_bundles() -> list[str]:
    """Names of the bundles shipped inside the package (``speechdl/pretrained/<name>/bundle.json``)."""
    return sorted(p.parent.name for p in SHIPPED_DIR.glob("*/bundle.json"))


def resolve_bundle(name_or_path: str | os.PathLike) -> Path:
    """Directory of a bundle given as a path or a shipped name; ConfigError if there is none."""
    p = Path(name_or_path)
    if (p / "bundle.json").is_file():
        return p
    if p.name == "bundle.json" and p.is_file():
        return p.parent
    shipped = SHIPPED_DIR / str(name_or_path)
    if "/" not in str(name_or_path) and (shipped / "bundle.json").is_file():
        return shipped
    names = ", ".join(shipped_bundles()) or "none shipped yet"
    raise ConfigError(str(name_or_path), "no bundle here (a directory with bundle.json, or a shipped name)",
                      f"pass a bundle directory or a shipped name ({names})")

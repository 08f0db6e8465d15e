"""Pretrained bundles: format, registry and the small bundles shipped with the package.

Example:
    >>> from speechdl.pretrained import shipped_bundles
    >>> isinstance(shipped_bundles(), list)
    True
"""

from speechdl.pretrained.bundle import (
    FORMAT_VERSION,
    Bundle,
    load_bundle,
    load_model,
    resolve_bundle,
    save_bundle,
    shipped_bundles,
)

__all__ = ["FORMAT_VERSION", "Bundle", "load_bundle", "load_model", "resolve_bundle", "save_bundle", "shipped_bundles"]

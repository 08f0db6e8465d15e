"""Pretrained bundles: format, registry and the small bundles shipped with the package."""

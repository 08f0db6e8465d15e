"""``speechdl data import`` and ``speechdl data info`` (placeholder: being written)."""


def add_verbs(verbs) -> None:
    """Add ``import`` and ``info`` to the ``data`` verbs."""

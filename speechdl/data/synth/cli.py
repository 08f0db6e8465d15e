"""``speechdl data synth`` (placeholder: being written)."""


def add_verbs(verbs) -> None:
    """Add ``synth`` to the ``data`` verbs."""

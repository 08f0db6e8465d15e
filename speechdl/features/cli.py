"""``speechdl features extract`` (placeholder: being written)."""


def register(groups) -> None:
    """Add the ``features`` group."""
    groups.add_parser("features", help="feature extraction")

"""speechdl: the toolkit of "Deep Learning in Speech Technology".

Front-ends (FFT, Mel filterbank, MFCC, frame stacking), architectures and applications
(VAD, ASR, speaker verification, ...) in one tested PyTorch package. One way in for every
application: ``speechdl.load(name)`` returns a pipeline (see :mod:`speechdl.api`).

Importing the package imports neither torch nor Lightning; ``load`` imports what the task needs.

Example:
    >>> import speechdl
    >>> speechdl.load("vad").task
    'vad'
"""

from typing import Any

__version__ = "0.1.0"
__all__ = ["__version__", "available", "load"]


def __getattr__(name: str) -> Any:
    if name in ("load", "available"):
        from speechdl import api

        return getattr(api, name)
    raise AttributeError(f"module 'speechdl' has no attribute {name!r}")

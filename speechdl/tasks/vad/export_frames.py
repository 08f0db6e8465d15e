"""``speechdl vad export-frames``: a manifest's frames as the lecture's CSV (39 MFCC+Δ+ΔΔ, then 0/1).

The verb is added to the ``vad`` group by :func:`add_export_frames` (called from ``vad/cli.py``).

Example:
    $ speechdl vad export-frames /data/vad/dev --out my_dataset.csv --max-frames 100000
    >>> import numpy as np
    >>> data = np.loadtxt("my_dataset.csv", delimiter=",")  # doctest: +SKIP
    >>> X, y = data[:, :39], data[:, 39]  # doctest: +SKIP
"""

from __future__ import annotations

import argparse

from speechdl.console import START_OVER, add_format_option, emit, interruptible, progress


def run_export_frames(args: argparse.Namespace) -> int:
    """Handler of ``speechdl vad export-frames``."""
    from speechdl.errors import ConfigError
    from speechdl.tasks.vad.data import export_frames

    if args.max_frames is not None and args.max_frames < 1:
        raise ConfigError("--max-frames", f"must be >= 1 (got {args.max_frames})", "e.g. --max-frames 100000")
    with interruptible(f"vad export-frames into {args.out}", "recordings", "nothing was written; " + START_OVER):
        summary = export_frames(args.manifest, args.out, max_frames=args.max_frames, seed=args.seed,
                                progress=lambda it, **kw: progress(it, enabled=args.format != "json", **kw))
    emit(summary, args.format)
    return 0


def add_export_frames(verbs) -> None:
    """Add ``export-frames`` to the ``vad`` verbs (an argparse subparsers object)."""
    p = verbs.add_parser(
        "export-frames", help="write a manifest's frames as CSV: 39 MFCC+delta+delta-delta columns, then the 0/1 label",
        description="Compute the lecture's 39 features (13 MFCC + delta + delta-delta, 10 ms frames) of every "
                    "recording of MANIFEST and write one CSV row per frame with its speech label (1 when the "
                    "frame centre lies in a speech interval), loadable with numpy.loadtxt(path, delimiter=',').")
    p.add_argument("manifest", nargs="+", help="manifest directory (or several)")
    from speechdl import validate

    p.add_argument("--out", required=True, type=validate.file_arg("--out"), help="CSV file to write (e.g. "
                   "my_dataset.csv)")
    p.add_argument("--max-frames", type=validate.flag("--max-frames", "int", 1, 10**12, example=100000), default=None,
                   help="keep at most this many frames (a seeded random subset over all recordings)")
    p.add_argument("--seed", type=validate.flag("--seed", "int", 0, 2**32 - 1), default=0,
                   help="seed of the --max-frames subset")
    add_format_option(p)
    p.set_defaults(func=run_export_frames)

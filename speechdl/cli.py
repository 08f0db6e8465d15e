"""``speechdl <group> <verb>``: dispatch only.

Each room registers its verbs (``register(subparsers)``); a verb's handler receives the parsed
arguments and returns an exit code. Errors a user can cause print one line and exit 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from speechdl import __version__
from speechdl.errors import SpeechdlError

# group name -> module that defines ``register(subparsers)``
GROUPS = {
    "features": "speechdl.features.cli",
    "data": "speechdl.data.cli",
    "train": "speechdl.train.cli",
    "tune": "speechdl.train.tune_cli",
    "vad": "speechdl.tasks.vad.cli",
    "asr": "speechdl.tasks.asr.cli",
    "speaker": "speechdl.tasks.speaker.cli",
}


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (every group and verb)."""
    parser = argparse.ArgumentParser(
        prog="speechdl",
        description="speechdl: deep learning for speech (front-ends, VAD, ASR, speakers, ...)",
    )
    parser.add_argument("--version", action="version", version=f"speechdl {__version__}")
    groups = parser.add_subparsers(dest="group", metavar="GROUP")
    for module in GROUPS.values():
        importlib.import_module(module).register(groups)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        (args.subparser if hasattr(args, "subparser") else parser).print_help()
        return 0 if args.group is None else 2
    try:
        return int(args.func(args) or 0)
    except SpeechdlError as err:
        print(f"speechdl: error: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("speechdl: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())

"""``speechdl <group> <verb>``: dispatch only.

The groups are listed in :data:`speechdl.catalog.CLI_GROUPS`; a group's module (``register(subparsers)``)
is imported only when that group is on the command line, so ``speechdl --help`` and ``--version``
import neither torch nor Lightning. A verb's handler receives the parsed arguments and returns an
exit code. Errors a user can cause print one line and exit 2.

Example:
    >>> main(["--version"])
    Traceback (most recent call last):
    ...
    SystemExit: 0
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from speechdl import __version__
from speechdl.catalog import CLI_GROUPS
from speechdl.console import Interrupted
from speechdl.errors import FULL_DISK, ConfigError, SpeechdlError, write_fault


class Parser(argparse.ArgumentParser):
    """argparse with its usage errors as one line (:class:`ConfigError`, exit 2) instead of the usage text;
    every group's and verb's parser is one (argparse builds sub-parsers with the class of their parent)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise ConfigError(self.prog, message, f"see {self.prog} --help")


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The argument parser; only the group named in ``argv`` (all groups when None) is imported."""
    parser = Parser(
        prog="speechdl",
        description="speechdl: deep learning for speech (front-ends, VAD, ASR, speakers, ...)",
    )
    parser.add_argument("--version", action="version", version=f"speechdl {__version__}")
    groups = parser.add_subparsers(dest="group", metavar="GROUP")
    chosen = None if argv is None else next((a for a in argv if not a.startswith("-")), "")
    for name, (module, help_line) in CLI_GROUPS.items():
        if chosen is None or name == chosen:
            importlib.import_module(module).register(groups)
        else:   # a stub for --help: the real group is built only when chosen
            groups.add_parser(name, help=help_line, add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code."""
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        parser = build_parser(argv)
        try:
            args = parser.parse_args(argv)
        except ConfigError as err:   # a file named like an option (-take1.wav) is read as one: say so
            dashed = next((a for a in argv if a.startswith("-") and len(a) > 1 and os.path.exists(a)), None)
            if dashed is None:
                raise
            raise ConfigError(err.where, err.what, f"{dashed!r} was read as an option: write ./{dashed} or put -- "
                              "before it") from None
        if not getattr(args, "func", None):
            (args.subparser if hasattr(args, "subparser") else parser).print_help()
            return 0 if args.group is None else 2
        return int(args.func(args) or 0)
    except SpeechdlError as err:
        print(f"speechdl: error: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt as err:   # a long loop says how far it got (console.interruptible)
        print(f"speechdl: interrupted: {err}" if isinstance(err, Interrupted) else "speechdl: interrupted",
              file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except OSError as err:   # a full disk met by a writer without its own check: still one line, exit 2
        fault = write_fault(err) if err.errno in FULL_DISK else None
        if fault is None:
            return _internal(err)
        print(f"speechdl: error: {fault}", file=sys.stderr)
        return fault.exit_code
    except Exception as err:  # a bug, not a user error: one line, the traceback only on request
        return _internal(err)


def _internal(err: Exception) -> int:
    """A bug, not a user error: one line, the traceback only with ``SPEECHDL_DEBUG=1`` (called in ``except``)."""
    if os.environ.get("SPEECHDL_DEBUG"):
        raise err
    print(f"speechdl: internal error: {type(err).__name__}: {err} "
          "(please report it; SPEECHDL_DEBUG=1 shows the traceback)", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())

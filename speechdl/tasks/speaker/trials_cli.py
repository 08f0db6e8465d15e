"""``speechdl speaker trials MANIFEST_DIR... --out LIST``: a verification trial list from speaker-labelled manifests.

Every pair of the chosen utterances of one speaker (at most ``--max-per-speaker``, drawn with ``--seed``) is
a target trial; ``--nontargets-per-target`` times as many cross-speaker pairs, drawn uniformly, are the
non-target trials (:func:`speechdl.tasks.speaker.trials.make_trials`). The list is written in the VoxCeleb
format (``1 a.wav b.wav``), atomically, with paths relative to ``--root`` when given, else absolute.

Example:
    speechdl speaker trials data/speaker/real_eval --out data/speaker/real_eval/trials.txt
"""

from __future__ import annotations

import argparse
from typing import Any

from speechdl.console import add_format_option, emit


def run_trials(args: argparse.Namespace) -> int:
    """Handler of ``speechdl speaker trials``."""
    from speechdl.errors import ConfigError
    from speechdl.tasks.speaker.data import read_speaker_utterances
    from speechdl.tasks.speaker.trials import make_trials, write_trials

    if args.max_per_speaker < 2:
        raise ConfigError("--max-per-speaker", f"must be at least 2, got {args.max_per_speaker}", "e.g. 20")
    if args.nontargets_per_target <= 0:
        raise ConfigError("--nontargets-per-target", f"must be above 0, got {args.nontargets_per_target}", "e.g. 4")
    aliases = {}
    for spec in args.alias:
        label, sep, same = spec.partition("=")
        if not (sep and label and same):
            raise ConfigError(f"--alias {spec!r}", "expected LABEL=SAME", "e.g. --alias asterisk-es:allison="
                              "asterisk-en:allison")
        aliases[label] = same
    rows = read_speaker_utterances(args.manifests)
    trials = make_trials(rows, args.max_per_speaker, args.nontargets_per_target, seed=args.seed,
                         aliases=aliases or None)
    path = write_trials(trials, args.out, args.root)
    targets = sum(t.target for t in trials)
    speakers = {aliases.get(r["speaker"], r["speaker"]) for r in rows}
    rep = {"written_to": str(path), "trials": len(trials), "targets": targets, "nontargets": len(trials) - targets,
           "speakers": len(speakers), "files": len({f for t in trials for f in (t.enroll, t.test)}),
           "seed": args.seed}
    emit(rep, args.format)
    return 0


def add_trials_verb(verbs: Any) -> None:
    """Add ``trials`` to the ``speechdl speaker`` verbs (``verbs``: its subparsers)."""
    p = verbs.add_parser("trials", help="make a trial list from speaker-labelled manifests",
                         description=__doc__.split("\n\n")[1].replace("``", "'"))
    p.add_argument("manifests", nargs="+", metavar="MANIFEST_DIR",
                   help="lhotse manifest directories of speaker-labelled whole-file utterances")
    from speechdl import validate

    p.add_argument("--out", required=True, metavar="LIST", type=validate.file_arg("--out"), help="trial list to write")
    p.add_argument("--max-per-speaker", type=validate.flag("--max-per-speaker", "int", 2, 10**6, example=20),
                   default=20, metavar="N", help="utterances per speaker (default 20)")
    p.add_argument("--nontargets-per-target", type=validate.flag("--nontargets-per-target", "float", 0, 10**4,
                                                                 low_open=True, example=4), default=4.0, metavar="R",
                   help="non-target trials per target trial (default 4)")
    p.add_argument("--seed", type=validate.flag("--seed", "int", 0, 2**32 - 1), default=0,
                   help="random draws (default 0)")
    p.add_argument("--alias", nargs="*", default=[], metavar="LABEL=SAME",
                   help="speaker labels that are the same person as another label")
    p.add_argument("--root", default=None, metavar="DIR",
                   help="write paths relative to this folder (default: absolute paths)")
    add_format_option(p)
    p.set_defaults(func=run_trials)

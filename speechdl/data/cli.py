"""The ``speechdl data`` verbs: import, info, select, synth, mix, merge, pseudo-speakers, pseudo-label, noise-bank,
teacher-embed."""

from __future__ import annotations

from speechdl.data import manifest_cli, mix_cli, noise_bank, pseudo_label, pseudo_speakers
from speechdl.data.synth import cli as synth_cli


def register(groups) -> None:
    """Add the ``data`` group and its verbs to the top-level subparsers."""
    p = groups.add_parser("data", help="manifests: import corpora, inspect, build a synthetic corpus")
    verbs = p.add_subparsers(dest="verb", metavar="VERB")
    p.set_defaults(subparser=p)
    manifest_cli.add_verbs(verbs)   # import, info
    synth_cli.add_verbs(verbs)      # synth
    mix_cli.add_verbs(verbs)        # mix, merge
    pseudo_speakers.add_verbs(verbs)  # pseudo-speakers
    noise_bank.add_verbs(verbs)       # noise-bank
    pseudo_label.add_verbs(verbs)     # pseudo-label
    from speechdl.tasks.speaker import teacher

    teacher.add_verbs(verbs)          # teacher-embed

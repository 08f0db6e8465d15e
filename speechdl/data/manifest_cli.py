"""``speechdl data import ...`` and ``speechdl data info``: bring a corpus in, summarise a manifest.

Example (shell)::

    speechdl data import folder ~/recordings --out manifests/mine
    speechdl data import kaldi ~/kaldi/egs/x/data/train --out manifests/train
    speechdl data import recipe librispeech ~/corpora/LibriSpeech --out manifests/librispeech
    speechdl data import recipe musan ~/corpora/musan --out manifests/musan --opt parts=noise
    speechdl data import real-dev ../shared/data/real_dev --out manifests/real_dev
    speechdl data info manifests/librispeech/dev-clean --format json
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from speechdl import validate
from speechdl.console import START_OVER, add_format_option, emit, interruptible
from speechdl.data import importers
from speechdl.data.manifests import hours_text as _hours
from speechdl.data.manifests import load_manifests, manifest_stats, stats_table
from speechdl.errors import ConfigError


def _info(args: argparse.Namespace) -> int:
    recordings, supervisions = load_manifests(args.manifest)
    stats = manifest_stats(recordings, supervisions)
    emit({"manifest": str(args.manifest), **stats}, args.format, table=stats_table(stats))
    return 0


def _report(out: Path, imported: importers.Imported, fmt: str) -> int:
    path = imported.save(out)
    stats = manifest_stats(imported.recordings, imported.supervisions)
    for where, why in imported.skipped[:5]:
        print(f"speechdl: skipped {where}: {why}", file=sys.stderr)
    if len(imported.skipped) > 5:
        print(f"speechdl: skipped {len(imported.skipped) - 5} more files", file=sys.stderr)
    data = {"out": str(path), **stats, "skipped": [{"path": p, "reason": r} for p, r in imported.skipped]}
    rows = [{"field": "written to", "value": str(path)}, *stats_table(stats),
            {"field": "skipped", "value": len(imported.skipped)}]
    emit(data, fmt, table=rows)
    return 0


def _nothing_written(what: str, noun: str = "files"):
    """Ctrl-C while a corpus is scanned: one line, exit 130; the manifests are written only at the end."""
    return interruptible(what, noun, "nothing was written; " + START_OVER)


def _import_folder(args: argparse.Namespace) -> int:
    with _nothing_written(f"data import folder {args.dir}"):
        imported = importers.import_folder(args.dir, speaker=args.speaker, language=args.language,
                                           show_progress=True)
    return _report(args.out, imported, args.format)


def _import_kaldi(args: argparse.Namespace) -> int:
    with _nothing_written(f"data import kaldi {args.datadir}"):
        imported = importers.import_kaldi(args.datadir, sample_rate=args.sample_rate)
    return _report(args.out, imported, args.format)


def _import_real_dev(args: argparse.Namespace) -> int:
    kinds = tuple(args.kind) if args.kind else ("speech", "noise")
    with _nothing_written(f"data import real-dev {args.dir}", "rows"):
        imported = importers.import_real_dev(args.dir, kinds=kinds, show_progress=True)
    return _report(args.out, imported, args.format)


def parse_opts(pairs: list[str] | None) -> dict[str, str]:
    """``["key=value", ...]`` to a dict; raises :class:`ConfigError` on a pair without ``=``."""
    opts: dict[str, str] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(None, f"bad --opt {pair!r}", "write --opt key=value")
        opts[key.strip()] = value
    return opts


def _import_recipe(args: argparse.Namespace) -> int:
    with interruptible(f"data import recipe {args.name}", "splits", START_OVER):
        written = importers.import_recipe(args.name, args.corpus_dir, args.out, corpus_arg=args.corpus_arg,
                                          **parse_opts(args.opt))
    rows, data = [], {"out": str(args.out), "splits": {}}
    for split, path in written.items():
        if path.is_dir():
            stats = manifest_stats(*load_manifests(path))
            data["splits"][split] = {"path": str(path), **stats}
            rows.append({"split": split, "path": str(path), "hours": _hours(stats["hours"]),
                         "utterances": stats["utterances"], "speakers": stats["speakers"]})
        else:
            data["splits"][split] = {"path": str(path)}
            rows.append({"split": split, "path": str(path), "hours": "", "utterances": "", "speakers": ""})
    emit(data, args.format, table=rows)
    return 0


def add_verbs(verbs) -> None:
    """Add ``import`` (folder, kaldi, recipe, real-dev) and ``info`` to the ``data`` verbs."""
    p = verbs.add_parser("import", help="import a corpus into lhotse manifests")
    p.set_defaults(subparser=p)
    kinds = p.add_subparsers(dest="source", metavar="SOURCE")

    f = kinds.add_parser("folder", help="a folder of audio files with optional same-name .txt transcripts")
    f.add_argument("dir", type=Path, help="folder to scan (recursive)")
    f.add_argument("--speaker", choices=["parent", "none"], default="parent",
                   help="speaker id: the file's parent folder name, or none")
    f.add_argument("--language", default=None, help="language of the transcripts (e.g. en)")
    f.set_defaults(func=_import_folder)

    k = kinds.add_parser("kaldi", help="a Kaldi data directory (wav.scp, segments, text, utt2spk, ...)")
    k.add_argument("datadir", type=Path, help="the data directory")
    k.add_argument("--sample-rate", type=validate.flag("--sample-rate", "int", *validate.SAMPLE_RATES, example=16000),
                   default=None, help="Hz (default: read from the first file)")
    k.set_defaults(func=_import_kaldi)

    r = kinds.add_parser("recipe", help="a corpus through its lhotse recipe (the corpus is not downloaded)")
    r.add_argument("name", help="lhotse recipe name: librispeech, voxceleb, speechcommands, ami, commonvoice, musan...")
    r.add_argument("corpus_dir", type=Path, help="the corpus as distributed")
    r.add_argument("--opt", action="append", metavar="KEY=VALUE", help="recipe option (repeatable)")
    r.add_argument("--corpus-arg", default=None, help="recipe argument that receives CORPUS_DIR (default: guessed)")
    r.set_defaults(func=_import_recipe)

    d = kinds.add_parser("real-dev", help="the project's real_dev folder (manifest.jsonl)")
    d.add_argument("dir", type=Path, help="folder holding manifest.jsonl")
    d.add_argument("--kind", action="append", choices=["speech", "noise"], help="keep only this kind (repeatable)")
    d.set_defaults(func=_import_real_dev)

    for sub in (f, k, r, d):
        sub.add_argument("--out", type=validate.dir_arg("--out", path=True), required=True,
                         help="output manifest directory")
        add_format_option(sub)

    i = verbs.add_parser("info", help="hours, utterances, speakers, languages and speech fraction of a manifest")
    i.add_argument("manifest", type=Path, help="manifest directory, recordings/supervisions file or cuts file")
    add_format_option(i)
    i.set_defaults(func=_info)

    from speechdl.data.select import add_select

    add_select(verbs)

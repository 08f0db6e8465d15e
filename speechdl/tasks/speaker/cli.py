"""``speechdl speaker embed|verify|enroll|identify|list|remove|eval|train|export``: the speaker verbs.

* ``embed FILE... --model BUNDLE [--format text|json]``: ``json``: one object per file and line with
  ``file`` and ``embedding``; ``text``: ``file<TAB>values``.
* ``verify A B``: ``speechdl.load(MODEL).run((A, B))`` (:mod:`speechdl.tasks.speaker.pipeline`): score and the
  same/different decision at the bundle's calibrated threshold (``--threshold`` overrides it); ``to_text()``, or
  ``--format json``: exactly ``VerifyResult.to_json()``. ``verify``, ``identify`` and ``eval`` take the
  pipeline's declared options ``--backend cosine|plda`` and ``--norm asnorm|none`` (default: the bundle's
  back-end and normalisation), checked in one place (:class:`speechdl.api.Option`).
* ``enroll NAME FILE... --store DB``, ``identify FILE... --store DB [--top N]``, ``list --store DB``,
  ``remove NAME --store DB``: the SQLite enrollment store (:mod:`speechdl.tasks.speaker.store`); a test
  file whose best score is below the threshold is identified as nobody (``speaker: null``).
* ``eval TRIALS --root DIR [--plot det.png]``: EER, minDCF (p_target 0.01, 0.05) on a VoxCeleb-format list.
* ``train RECIPE.yaml [key=value ...]``: the engine on a speaker recipe (``recipes/speaker/``).
* ``export RUN --bundle OUT [--operating-point eer|far=R|p_target=P|min_dcf=P] [--trials LIST --root DIR]
  [--backend cosine|plda] [--cohort-size N] [--lda-dim D] [--backend-data DIR...] [--max-per-speaker M]``:
  bundle a run with its back-end (LDA + PLDA, AS-norm cohort) and calibrated thresholds; ``--onnx OUT.onnx``
  (with a run, or ``--model BUNDLE``) writes the waveform -> embedding graph (parity-checked).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from speechdl.console import START_OVER, add_format_option, emit, format_table, interruptible, progress, write_out

DEFAULT_STORE = "speakers.db"


def _model_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default="speaker", metavar="BUNDLE",
                   help="speaker bundle: a path or a shipped name (default: speaker)")


def _store_option(p: argparse.ArgumentParser, written: bool = False) -> None:
    from speechdl import validate

    p.add_argument("--store", default=DEFAULT_STORE, metavar="DB",
                   type=validate.file_arg("--store") if written else None,
                   help=f"enrollment store, an SQLite file (default: {DEFAULT_STORE})")


def _declared_options(p: argparse.ArgumentParser, names: tuple[str, ...] = ("backend", "norm", "threshold")) -> None:
    """``--backend``, ``--norm``, ``--threshold``: the pipeline's declared options (checked by :func:`_options`)."""
    from speechdl import validate
    from speechdl.tasks.speaker.pipeline import OPTIONS

    for o in (o for o in OPTIONS if o.name in names):
        metavar = "{" + ",".join(o.choices) + "}" if o.choices else o.name[0].upper()
        p.add_argument(f"--{o.name}", default=None, metavar=metavar, type=validate.declared(o), help=o.help)


def _options(args: argparse.Namespace) -> dict[str, Any]:
    """The declared options' values, checked in the one place that checks them (:meth:`Option.parse`)."""
    from speechdl.tasks.speaker.pipeline import OPTIONS

    return {o.name: o.parse(getattr(args, o.name, None)) for o in OPTIONS}


def _positive(option: str, value: int) -> None:
    from speechdl.errors import ConfigError

    if value < 1:
        raise ConfigError(option, f"must be at least 1, got {value}", f"e.g. {option} 3")


def _load(args: argparse.Namespace, files: list[str]) -> Any:
    """Check every input file, then load the bundle (so a typo fails before the model loads)."""
    from speechdl import audio
    from speechdl.tasks.speaker.infer import load_speaker

    for f in files:
        audio.info(f)
    return load_speaker(args.model)


def run_embed(args: argparse.Namespace) -> int:
    """Handler of ``speechdl speaker embed``."""
    spk = _load(args, args.files)
    with interruptible("speaker embed", "files", START_OVER):
        for f in progress(args.files, total=len(args.files), desc="speaker embed", unit="file"):
            emb = spk.embed_file(f, args.max_seconds)
            if args.format == "json":
                line = json.dumps({"file": f, "embedding": [round(float(v), 6) for v in emb]})
            else:
                line = f + "\t" + " ".join(f"{v:.6g}" for v in emb)
            write_out(line + "\n")
    return 0


def run_verify(args: argparse.Namespace) -> int:
    """Handler of ``speechdl speaker verify``: ``pipeline.run((A, B))``; ``to_text()`` or ``to_json()``."""
    from speechdl import audio
    from speechdl.tasks.speaker.pipeline import load_pipeline

    opts = _options(args)
    for f in (args.a, args.b):                    # a typo fails before the model loads
        audio.info(f)
    result = load_pipeline(args.model).run((args.a, args.b), **opts)
    print(result.to_json() if args.format == "json" else result.to_text())
    return 0


def run_enroll(args: argparse.Namespace) -> int:
    """Handler of ``speechdl speaker enroll``."""
    from speechdl.tasks.speaker.store import SpeakerStore, check_name

    check_name(args.name)
    spk = _load(args, args.files)
    with interruptible(f"speaker enroll {args.name}", "files", f"nothing was written to {args.store}; {START_OVER}"):
        embs = spk.embed_files(args.files, desc="speaker enroll")
    with SpeakerStore(args.store, model=spk.fingerprint) as db:
        r = db.enroll(args.name, embs, sources=[str(Path(f).resolve()) for f in args.files])
    emit({**r, "store": str(args.store)}, args.format, table=[r])
    return 0


def run_identify(args: argparse.Namespace) -> int:
    """Handler of ``speechdl speaker identify``."""
    from speechdl.tasks.speaker.store import SpeakerStore

    _positive("--top", args.top)
    opts = _options(args)
    spk = _load(args, args.files)
    spk.threshold(opts["threshold"], opts["backend"], opts["norm"])     # no such back-end / threshold: fail first
    with SpeakerStore(args.store, model=spk.fingerprint, create=False) as db, \
            interruptible("speaker identify", "files", START_OVER):
        rows = spk.identify(args.files, db, args.top, opts["threshold"], opts["backend"], opts["norm"],
                            desc="speaker identify")
    if args.format == "json":
        for r in rows:
            print(json.dumps(r, ensure_ascii=False))
    else:
        print(format_table([{"file": r["file"], "speaker": r["speaker"] or "(unknown)", "score": r["score"],
                             "closest": r["candidates"][0]["name"]} for r in rows]))
    return 0


def run_list(args: argparse.Namespace) -> int:
    """Handler of ``speechdl speaker list``."""
    import time

    from speechdl.tasks.speaker.store import SpeakerStore

    with SpeakerStore(args.store, create=False) as db:
        rows = db.speakers()
    table = [{"name": r["name"], "embeddings": r["count"],
              "updated": time.strftime("%Y-%m-%d %H:%M", time.localtime(r["updated"]))} for r in rows]
    emit(rows, args.format, table=table)
    return 0


def run_remove(args: argparse.Namespace) -> int:
    """Handler of ``speechdl speaker remove``."""
    from speechdl.errors import DataError
    from speechdl.tasks.speaker.store import SpeakerStore

    with SpeakerStore(args.store, create=False) as db:
        if not db.remove(args.name):
            raise DataError(args.store, f"no speaker {args.name!r} enrolled", "see 'speechdl speaker list'")
    print(f"removed {args.name}")
    return 0


def run_eval(args: argparse.Namespace) -> int:
    """Handler of ``speechdl speaker eval``."""
    from speechdl.tasks.speaker.evaluate import evaluate
    from speechdl.tasks.speaker.infer import load_speaker
    from speechdl.tasks.speaker.trials import check_files, read_trials

    _positive("--batch-size", args.batch_size)
    opts = _options(args)
    check_files(read_trials(args.trials, args.root), args.trials)   # a bad list fails before the model loads
    with interruptible("speaker eval", "files", "nothing was written; " + START_OVER):
        rep = evaluate(load_speaker(args.model), args.trials, args.root, args.plot, args.batch_size,
                       opts["backend"], opts["norm"], desc="speaker eval")
    rep = {"model": str(args.model), "trial_list": str(args.trials), **rep}
    if args.format == "json":
        emit(rep, "json")
        return 0
    row = {"backend": rep["backend"], "norm": rep["norm"], "trials": rep["trials"], "targets": rep["targets"],
           "EER %": round(100 * rep["eer"], 2),
           "minDCF 0.01": round(rep["min_dcf_0.01"], 4), "minDCF 0.05": round(rep["min_dcf_0.05"], 4)}
    if "threshold" in rep:
        row.update({"FAR %": round(100 * rep["far"], 2), "FRR %": round(100 * rep["frr"], 2)})
    print(format_table([row]))
    if rep.get("plot"):
        print(f"DET plot: {rep['plot']}")
    return 0


def run_export(args: argparse.Namespace) -> int:
    """Handler of ``speechdl speaker export``."""
    from speechdl.errors import ConfigError
    from speechdl.tasks.speaker.export import export_run

    if not args.bundle and not args.onnx:
        raise ConfigError("speaker export", "nothing to write", "pass RUN_DIR --bundle OUT and/or --onnx OUT.onnx")
    source = args.model
    if args.run or args.bundle:
        if not (args.run and args.bundle):
            raise ConfigError("speaker export", "a run directory is exported with --bundle OUT",
                              "pass RUN_DIR --bundle DIR")
        source = export_run(args.run, args.bundle, args.operating_point, args.trials, args.root, args.half,
                            backend=args.backend, cohort_size=args.cohort_size, lda_dim=args.lda_dim,
                            backend_data=args.backend_data, max_per_speaker=args.max_per_speaker)
        print(f"bundle: {source}")
    if args.onnx:
        from speechdl.onnx.export import export_bundle, summary_line

        print(summary_line(export_bundle(source, "speaker", args.onnx)))
    return 0


def register(groups: Any) -> None:
    """Add the ``speaker`` group and its verbs to the top-level subparsers."""
    from speechdl import validate
    from speechdl.train import cli as train_cli

    g = groups.add_parser("speaker", help="speaker embeddings: embed, verify, enroll, identify, eval, train, export")
    verbs = g.add_subparsers(dest="verb", metavar="VERB")
    g.set_defaults(subparser=g)

    p = verbs.add_parser("embed", help="speaker embeddings of audio files",
                         description="One embedding per file (any format, rate, length).")
    p.add_argument("files", nargs="+", metavar="FILE", help="audio files")
    _model_option(p)
    p.add_argument("--max-seconds", type=validate.flag("--max-seconds", "float", 1, 3600, example=30), default=30.0,
                   metavar="S",
                   help="longer files are embedded in blocks of S s and averaged (default 30)")
    add_format_option(p)
    p.set_defaults(func=run_embed)

    v = verbs.add_parser("verify", help="same speaker in two files? (score and decision)")
    v.add_argument("a", metavar="A", help="enrollment audio file")
    v.add_argument("b", metavar="B", help="test audio file")
    _model_option(v)
    _declared_options(v)
    add_format_option(v)
    v.set_defaults(func=run_verify)

    e = verbs.add_parser("enroll", help="add a speaker's recordings to the enrollment store")
    e.add_argument("name", metavar="NAME", help="speaker name")
    e.add_argument("files", nargs="+", metavar="FILE", help="audio files of that speaker")
    _model_option(e)
    _store_option(e, written=True)
    add_format_option(e)
    e.set_defaults(func=run_enroll)

    i = verbs.add_parser("identify", help="who speaks in these files? (closest enrolled speaker)")
    i.add_argument("files", nargs="+", metavar="FILE", help="audio files")
    _model_option(i)
    _store_option(i)
    _declared_options(i)
    i.add_argument("--top", type=validate.flag("--top", "int", 1, 10000, example=3), default=3, metavar="N",
                   help="candidates to list (default 3)")
    add_format_option(i)
    i.set_defaults(func=run_identify)

    ls = verbs.add_parser("list", help="speakers in the enrollment store")
    _store_option(ls)
    add_format_option(ls)
    ls.set_defaults(func=run_list)

    rm = verbs.add_parser("remove", help="delete a speaker from the enrollment store")
    rm.add_argument("name", metavar="NAME", help="speaker name")
    _store_option(rm)
    rm.set_defaults(func=run_remove)

    ev = verbs.add_parser("eval", help="EER / minDCF / DET of a bundle on a trial list",
                          description="Trial lists in the VoxCeleb format ('1 a.wav b.wav' / '0 a.wav b.wav'), "
                                      "or with target/nontarget words.")
    ev.add_argument("trials", metavar="TRIALS", help="trial list")
    ev.add_argument("--root", default=None, metavar="DIR",
                    help="folder the trial paths are relative to (default: the list's folder)")
    _model_option(ev)
    ev.add_argument("--plot", default=None, metavar="PNG", type=validate.file_arg("--plot"),
                    help="write ROC and DET curves to this PNG")
    ev.add_argument("--batch-size", type=validate.flag("--batch-size", "int", 1, 4096, example=16), default=16,
                    metavar="N", help="files embedded per batch")
    _declared_options(ev, ("backend", "norm"))
    add_format_option(ev)
    ev.set_defaults(func=run_eval)

    train_cli.add_task_train_verb(verbs, "speaker", "recipes/speaker/toy_xvector.yaml")

    x = verbs.add_parser("export", help="bundle a training run with a calibrated threshold and/or write ONNX",
                         description="speechdl speaker export RUN_DIR --bundle OUT [--operating-point OP] "
                                     "[--trials LIST --root DIR] [--half] [--backend cosine|plda] [--cohort-size N] "
                                     "[--lda-dim D] [--backend-data MANIFEST_DIR...] [--max-per-speaker M] "
                                     "[--onnx OUT.onnx]; or --model BUNDLE --onnx OUT.onnx")
    from speechdl.pretrained.cli import add_export_arguments

    add_export_arguments(x, "speaker", "write the speaker encoder as ONNX (waveform -> embedding, front-end included)")
    x.add_argument("--operating-point", default="eer", metavar="OP",
                   help="decision threshold: eer (default), far=RATE, p_target=P or min_dcf=P")
    x.add_argument("--trials", default=None, metavar="LIST",
                   help="calibrate on this trial list (default: all pairs of the run's validation utterances)")
    x.add_argument("--root", default=None, metavar="DIR", help="folder the --trials paths are relative to")
    x.add_argument("--half", action="store_true", help="store weights as float16")
    x.add_argument("--backend", default="cosine", metavar="{cosine,plda}",
                   help="the bundle's default back-end (both are fitted and calibrated; default cosine)")
    x.add_argument("--cohort-size", type=validate.flag("--cohort-size", "int", 0, 10**6, example=200), default=200,
                   metavar="N",
                   help="AS-norm cohort: mean embeddings of up to N back-end speakers (default 200; 0: none)")
    x.add_argument("--lda-dim", type=validate.flag("--lda-dim", "int", 1, 4096, example=128), default=None,
                   metavar="D",
                   help="LDA dimension before PLDA (default min(embedding dim, speakers - 1, 128))")
    x.add_argument("--backend-data", nargs="+", default=None, metavar="MANIFEST_DIR",
                   help="fit the back-end on these speaker manifests (default: the run's training data)")
    x.add_argument("--max-per-speaker", type=validate.flag("--max-per-speaker", "int", 1, 10**6, example=20),
                   default=20, metavar="M",
                   help="back-end utterances per speaker, a seeded choice (default 20)")
    x.set_defaults(func=run_export)

    from speechdl.tasks.speaker.trials_cli import add_trials_verb

    add_trials_verb(verbs)

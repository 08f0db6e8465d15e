"""``speechdl vad detect|train|export|eval|export-frames``: the VAD verbs.

``detect FILE... [--format text|json|rttm|audacity|textgrid] [--probabilities] [--threshold T]
[--offset T] [--min-speech S] [--min-silence S] [--plot OUT.png] [--model BUNDLE] [--out-dir DIR]``
reads any format and sample rate blockwise (hour-long files in bounded memory). Formats:

- ``json``: one object per file and line: ``file``, ``frame_hop`` (s), ``duration`` (s), ``segments``
  ``[{start, end}]`` (s) and, with ``--probabilities``, ``probabilities`` (one per frame).
- ``rttm``: ``SPEAKER <file> 1 <start> <dur> <NA> <NA> speech <NA> <NA>``.
- ``audacity``: label track lines ``start<TAB>end<TAB>speech``.
- ``textgrid``: a Praat TextGrid, one interval tier ``speech`` alternating silence / speech.
- ``text``: a table ``file start end duration``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from speechdl.errors import ConfigError

FORMATS = ("text", "json", "rttm", "audacity", "textgrid")
SUFFIX = {"json": ".json", "rttm": ".rttm", "audacity": ".txt", "textgrid": ".TextGrid", "text": ".txt"}


def format_rttm(file_id: str, segs: list[dict[str, float]]) -> str:
    """RTTM lines (speaker ``speech``) of ``segs``."""
    return "".join(f"SPEAKER {file_id} 1 {s['start']:.3f} {s['end'] - s['start']:.3f} <NA> <NA> speech <NA> <NA>\n"
                   for s in segs)


def format_audacity(segs: list[dict[str, float]]) -> str:
    """Audacity label track: ``start\\tend\\tspeech`` per segment."""
    return "".join(f"{s['start']:.6f}\t{s['end']:.6f}\tspeech\n" for s in segs)


def format_textgrid(segs: list[dict[str, float]], duration: float) -> str:
    """Praat TextGrid (long text format) with one interval tier covering ``[0, duration]``."""
    spans: list[tuple[float, float, str]] = []
    t = 0.0
    for s in segs:
        a, b = max(t, min(s["start"], duration)), min(s["end"], duration)
        if a > t:
            spans.append((t, a, "silence"))
        if b > a:
            spans.append((a, b, "speech"))
            t = b
    if duration > t or not spans:
        spans.append((t, max(duration, t), "silence"))
    head = ['File type = "ooTextFile"', 'Object class = "TextGrid"', "", "xmin = 0", f"xmax = {duration:.6f}",
            "tiers? <exists>", "size = 1", "item []:", "    item [1]:", '        class = "IntervalTier"',
            '        name = "speech"', "        xmin = 0", f"        xmax = {duration:.6f}",
            f"        intervals: size = {len(spans)}"]
    for i, (a, b, text) in enumerate(spans, 1):
        head += [f"        intervals [{i}]:", f"            xmin = {a:.6f}", f"            xmax = {b:.6f}",
                 f'            text = "{text}"']
    return "\n".join(head) + "\n"


def render(fmt: str, result: dict[str, Any]) -> str:
    """One file's ``result`` (``file``, ``duration``, ``segments``, ...) in output format ``fmt``."""
    segs = result["segments"]
    if fmt == "json":
        return json.dumps(result) + "\n"
    if fmt == "rttm":
        return format_rttm(Path(result["file"]).stem.replace(" ", "_"), segs)
    if fmt == "audacity":
        return format_audacity(segs)
    if fmt == "textgrid":
        return format_textgrid(segs, result["duration"])
    rows = [f"{result['file']}\t{s['start']:.3f}\t{s['end']:.3f}\t{s['end'] - s['start']:.3f}" for s in segs]
    return "\n".join(rows) + ("\n" if rows else f"{result['file']}\t(no speech)\n")


def detect_file(vad: Any, path: str, post: Any, probabilities: bool = False, plot: str | None = None) -> dict:
    """Run ``vad`` on one file: ``{file, frame_hop, duration, segments[, probabilities][, plot]}``."""
    from speechdl import audio
    from speechdl.tasks.vad.post import segments

    info = audio.info(path)
    probs = vad.probabilities(path)
    segs = segments(probs, vad.frame_hop, post, info.duration)
    out: dict[str, Any] = {"file": str(path), "frame_hop": vad.frame_hop, "duration": round(info.duration, 6),
                           "segments": segs}
    if probabilities:
        out["probabilities"] = [round(float(p), 4) for p in probs]
    if plot:
        from speechdl.tasks.vad.plot import plot_vad

        blocks = audio.stream(path, block_seconds=10.0)
        out["plot"] = plot_vad(plot, blocks, info.sample_rate, probs, vad.frame_hop, segs, post.onset,
                               post.offset_threshold, title=Path(path).name)
    return out


def run_detect(args: argparse.Namespace) -> int:
    """Handler of ``speechdl vad detect``."""
    from speechdl.tasks.vad.infer import load_vad
    from speechdl.tasks.vad.post import PostConfig

    vad = load_vad(args.model)
    base = vad.post.to_dict()
    if args.threshold is not None and args.offset is None and base.get("offset") is not None:
        base["offset"] = min(base["offset"], args.threshold)
    changes = {"onset": args.threshold, "offset": args.offset, "min_speech": args.min_speech,
               "min_silence": args.min_silence, "pad": args.pad}
    post = PostConfig.from_dict({**base, **{k: v for k, v in changes.items() if v is not None}})
    from speechdl.audio import atomic_write
    from speechdl.console import START_OVER, interruptible, progress, write_out

    out_dir = Path(args.out_dir) if args.out_dir else None
    with interruptible("vad detect", "files", START_OVER):   # each finished file's output is whole
        for i, f in enumerate(progress(args.files, total=len(args.files), desc="vad detect", unit="file")):
            plot = None
            if args.plot:
                plot = args.plot if len(args.files) == 1 else str(Path(args.plot).with_name(
                    f"{Path(args.plot).stem}_{i}_{Path(f).stem}.png"))
            text = render(args.format, detect_file(vad, f, post, args.probabilities, plot))
            if out_dir is None:
                write_out(text)
            else:
                with atomic_write(out_dir / (Path(f).stem + SUFFIX[args.format])) as tmp:
                    Path(tmp).write_text(text)
    return 0


def run_export(args: argparse.Namespace) -> int:
    """Handler of ``speechdl vad export``."""
    from speechdl.tasks.vad.export import export_run

    if not args.bundle and not args.onnx:
        raise ConfigError("vad export", "nothing to write", "pass --bundle OUT and/or --onnx OUT.onnx")
    if args.run:
        if not args.bundle:
            raise ConfigError("vad export", "a run directory is exported with --bundle OUT", "add --bundle DIR")
        path = export_run(args.run, args.bundle, half=args.half)
        print(f"bundle: {path}")
        source = path
    else:
        source = args.model
    if args.onnx:
        from speechdl.onnx.export import export_bundle, summary_line

        print(summary_line(export_bundle(source, "vad", args.onnx)))
    return 0


def register(groups: Any) -> None:
    """Add the ``vad`` group and its verbs to the top-level subparsers."""
    from speechdl.tasks.vad.evaluate import add_eval
    from speechdl.tasks.vad.export_frames import add_export_frames

    g = groups.add_parser("vad", help="voice activity detection: detect, train, export, eval, calibrate")
    verbs = g.add_subparsers(dest="verb", metavar="VERB")
    g.set_defaults(subparser=g)
    p = verbs.add_parser("detect", help="speech segments of audio files (any format, any length)",
                         description="Detect speech. Output per file: text table, JSON lines, RTTM, Audacity "
                                     "labels or a Praat TextGrid.")
    p.add_argument("files", nargs="+", metavar="FILE", help="audio files")
    p.add_argument("--format", choices=FORMATS, default="text", help="output format (default text)")
    p.add_argument("--probabilities", action="store_true", help="JSON: include one probability per frame")
    from speechdl import validate
    from speechdl.tasks.vad.pipeline import OPTIONS  # the pipeline's declared options: one check (Option.parse)

    declared = {o.name: validate.declared(o) for o in OPTIONS}
    p.add_argument("--threshold", type=declared["threshold"], default=None, help="onset threshold (default: the "
                   "bundle's)")
    p.add_argument("--offset", type=declared["offset"], default=None, help="offset (hysteresis) threshold <= onset")
    p.add_argument("--min-speech", type=declared["min_speech"], default=None, metavar="S",
                   help="drop speech shorter than S s")
    p.add_argument("--min-silence", type=declared["min_silence"], default=None, metavar="S",
                   help="fill silences shorter than S s")
    p.add_argument("--pad", type=declared["pad"], default=None, metavar="S", help="pad segments by S s on each side")
    p.add_argument("--plot", default=None, metavar="OUT.png", type=validate.file_arg("--plot"),
                   help="waveform + probability + segments PNG")
    p.add_argument("--model", default="vad", metavar="BUNDLE", help="bundle directory or shipped name (vad)")
    p.add_argument("--out-dir", default=None, metavar="DIR", type=validate.dir_arg("--out-dir"),
                   help="write one output file per input here")
    p.set_defaults(func=run_detect)
    from speechdl.train.cli import add_task_train_verb

    add_task_train_verb(verbs, "vad", "recipes/vad/lstm_fast30.yaml")
    e = verbs.add_parser("export", help="bundle a training run (and/or write ONNX)",
                         description="speechdl vad export RUN_DIR --bundle OUT [--onnx OUT.onnx]; or "
                                     "--model BUNDLE --onnx OUT.onnx. The ONNX graph takes the waveform (front-end "
                                     "included) and gives frame probabilities and logits, checked against torch.")
    from speechdl.pretrained.cli import add_export_arguments

    add_export_arguments(e, "vad", "write the VAD as ONNX (waveform -> frame probabilities)")
    e.add_argument("--half", action="store_true", help="store weights as float16")
    e.set_defaults(func=run_export)
    add_eval(verbs)
    add_export_frames(verbs)
    from speechdl.tasks.vad.calibrate import add_calibrate

    add_calibrate(verbs)

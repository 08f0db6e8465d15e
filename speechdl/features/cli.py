"""``speechdl features extract FILE --kind mfcc39|logmel [--n-mels N] --out X.npy``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from speechdl import audio
from speechdl.console import add_format_option, emit, progress
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
    ex.add_argument("--n-mels", type=int, default=None, help="mel bands (default 40)")
    ex.add_argument("--sample-rate", type=int, default=16000, help="resample to this rate first (Hz)")
    ex.add_argument("--cmvn", choices=["none", "utterance"], default="none", help="mean/variance normalisation")
    ex.add_argument("--stack", type=int, default=0, metavar="K", help="splice +-K context frames")
    ex.add_argument("--config", default=None, help="JSON file with FrontendConfig fields (overrides --kind)")
    ex.add_argument("--out", required=True, help="output .npy path (written atomically)")
    add_format_option(ex)
    ex.set_defaults(func=run_extract)


def _config(args: argparse.Namespace) -> FrontendConfig:
    if args.config:
        try:
            return FrontendConfig.from_dict(json.loads(Path(args.config).read_text()))
        except (OSError, json.JSONDecodeError) as err:
            raise ConfigError(args.config, f"cannot read front-end config ({err})", "pass a JSON object") from None
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
    frames, dim = extract_to_npy(args.file, cfg, out, progress=lambda it: progress(it, total=blocks, desc="features",
                                                                                   unit="block"))
    summary = {"file": str(args.file), "out": str(out), "frames": frames,
               "features": dim, "frame_shift": cfg.frame_shift, "kind": args.kind,
               "duration": round(meta.duration, 3)}
    emit(summary, args.format)
    return 0

"""``speechdl data synth``: build a synthetic speech corpus (audio + lhotse manifests).

Example:
    $ speechdl data synth --hours 0.1 --out data/synth --seed 0 --languages en,es --format json
    $ speechdl data synth --hours 1 --out data/synth-many --engines espeak,piper,flite,festival
"""

from __future__ import annotations

import argparse
import os
import sys

from speechdl import validate
from speechdl.console import add_format_option, emit, interruptible, progress
from speechdl.data.synth import voices
from speechdl.data.synth.builder import SynthConfig, build
from speechdl.data.synth.mixer import Conditions
from speechdl.data.synth.noise import DEFAULT_NOISE_DIR
from speechdl.errors import ConfigError


def parse_range(value: str, option: str = "--snr-range") -> tuple[float, float]:
    """``"0,30"`` -> ``(0.0, 30.0)``; raises :class:`ConfigError` if malformed or reversed."""
    parts = value.replace(":", ",").split(",")
    try:
        lo, hi = (float(p) for p in parts)
    except ValueError:
        raise ConfigError(option, f"expected LOW,HIGH in dB (got {value!r})", "e.g. 0,30") from None
    if lo > hi:
        raise ConfigError(option, f"low > high ({value})", "e.g. 0,30")
    return lo, hi


def parse_languages(value: str) -> tuple[str, ...]:
    """``"en,es"`` -> ``("en", "es")``; ``"all"`` -> every supported language."""
    if value.strip().lower() == "all":
        return voices.LANGUAGES
    langs = tuple(dict.fromkeys(v.strip().lower() for v in value.split(",") if v.strip()))
    bad = [lang for lang in langs if lang not in voices.LANGUAGES]
    if bad or not langs:
        raise ConfigError("--languages", f"unsupported: {','.join(bad) or '(empty)'}",
                          f"choose among {','.join(voices.LANGUAGES)} or 'all'")
    return langs


def parse_engines(value: str, piper: bool = False) -> tuple[bool, tuple[str, ...]]:
    """``--engines`` -> ``(piper, extra engines)``; espeak-ng must be listed (base talkers and babble).

    >>> parse_engines("espeak,flite,festival")
    (False, ('flite', 'festival'))
    >>> parse_engines("all")
    (True, ('flite', 'festival'))
    """
    from speechdl.data.synth.engines import ENGINES, EXTRA_ENGINES

    names = ENGINES if value.strip().lower() == "all" else \
        tuple(dict.fromkeys(v.strip().lower() for v in value.split(",") if v.strip()))
    bad = [e for e in names if e not in ENGINES]
    if bad:
        raise ConfigError("--engines", f"unknown engine {','.join(bad)}", f"choose among {','.join(ENGINES)} or 'all'")
    if "espeak" not in names:
        raise ConfigError("--engines", "espeak must be listed (it gives the base talkers and the babble noise)",
                          "e.g. --engines espeak,flite,festival")
    return piper or "piper" in names, tuple(e for e in EXTRA_ENGINES if e in names)


def add_condition_options(p: argparse.ArgumentParser, snr_default: str = "0,30") -> None:
    """The acoustic-condition options shared by ``data synth`` and ``data mix``."""
    p.add_argument("--snr-range", default=snr_default, help=f"SNR range in dB, LOW,HIGH (default {snr_default})")
    p.add_argument("--p-clean", type=validate.flag("--p-clean", "float", 0, 1), default=None,
                   help="probability that a recording gets no added noise (default 0.15)")
    p.add_argument("--clean", action="store_true",
                   help="no added noise, reverb or telephone band (recordings without speech still get noise)")


def conditions_from_args(args: argparse.Namespace) -> Conditions:
    """:class:`Conditions` from ``--snr-range``, ``--p-clean`` and ``--clean``."""
    kw: dict = {"snr_range": parse_range(args.snr_range)}
    if args.p_clean is not None:
        if not 0.0 <= args.p_clean <= 1.0:
            raise ConfigError("--p-clean", f"must be in [0, 1] (got {args.p_clean})", "e.g. --p-clean 0")
        kw["p_clean"] = args.p_clean
    if args.clean:
        kw.update(p_clean=1.0, p_reverb=0.0, p_telephone=0.0)
    return Conditions(**kw)


def resolve_noise_dir(value: str | None) -> str | None:
    """``--noise-dir``: default bank if present, ``'none'`` -> None, else an existing folder."""
    if value is None:
        return str(DEFAULT_NOISE_DIR) if DEFAULT_NOISE_DIR.is_dir() else None
    if value.lower() == "none":
        return None
    if not os.path.isdir(value):
        raise ConfigError("--noise-dir", f"{value} is not a folder", "pass a folder or 'none'")
    return os.path.abspath(value)


def run(args: argparse.Namespace) -> int:
    """Handler of ``speechdl data synth``."""
    noise_dir = resolve_noise_dir(args.noise_dir)
    use_piper, extra = parse_engines(args.engines, args.piper)
    cfg = SynthConfig(hours=args.hours, seed=args.seed, languages=parse_languages(args.languages),
                      sample_rate=args.sample_rate, piper=use_piper, engines=extra, noise_dir=noise_dir,
                      noise_split=args.noise_split, voice_split=args.voice_split, text_split=args.text_split,
                      audio_format=args.audio_format,
                      conditions=conditions_from_args(args))
    return build_and_report(build, cfg, args)


def add_corpus_options(p: argparse.ArgumentParser) -> None:
    """The options every corpus builder shares (``data synth``, ``data mix``): size, seed, rate, noise, format."""
    p.add_argument("--hours", type=validate.flag("--hours", "float", 0, 100000, low_open=True), required=True,
                   help="hours of audio to generate (up to 100000)")
    p.add_argument("--out", required=True, type=validate.dir_arg("--out"),
                   help="output folder (new, empty, or a partial build to resume)")
    p.add_argument("--seed", type=validate.flag("--seed", "int", 0, 2**32 - 1), default=0,
                   help="global seed; same seed -> identical corpus")
    p.add_argument("--workers", type=validate.flag("--workers", "int", 1, 256, example=2), default=2,
                   help="worker processes (default 2)")
    p.add_argument("--sample-rate", type=validate.flag("--sample-rate", "int", 8000, 48000, example=16000),
                   default=16000, help="output sample rate in Hz (default 16000)")
    add_condition_options(p)
    p.add_argument("--noise-dir", default=None,
                   help=f"real noise folder with manifest.jsonl (default {DEFAULT_NOISE_DIR} if present; "
                        "'none' for generated noise only)")
    p.add_argument("--noise-split", choices=["train", "eval"], default=None,
                   help="use only this part of the real noise bank (fixed split by file-name hash; "
                        "default: all files)")
    p.add_argument("--audio-format", choices=["flac", "wav"], default="flac", help="audio file format")
    add_format_option(p)


def build_and_report(build_fn, cfg, args: argparse.Namespace, verb: str = "data synth") -> int:
    """Run a corpus builder with a progress bar and print its summary (text table or JSON). Ctrl-C: exit 130,
    one line ``interrupted: VERB into OUT (N of M recordings done; rerun to resume)``."""
    with interruptible(f"{verb} into {args.out}", "recordings"):   # finished recordings are kept
        summary = build_fn(cfg, args.out, workers=args.workers,
                           progress=lambda it, **kw: progress(it, enabled=args.format != "json", **kw))
    if args.format == "text" and summary["generated"] == 0:
        print(f"{args.out}: already complete with these settings; nothing to do", file=sys.stderr)
    emit(summary, args.format)
    return 0


def add_verbs(verbs) -> None:
    """Add ``synth`` to the ``data`` verbs."""
    p = verbs.add_parser(
        "synth",
        help="build a synthetic speech corpus (espeak-ng/Piper/Flite/Festival voices, noise, rooms, phone band)",
        description="Synthesize speech from real text with many espeak-ng voices (and optionally Piper, "
                    "Flite and Festival), "
                    "place utterances with pauses in 10-30 s recordings, add reverb, noise and telephone "
                    "band, and write audio + lhotse manifests with exact speech intervals.")
    add_corpus_options(p)
    p.add_argument("--languages", default="en",
                   help=f"comma list among {','.join(voices.LANGUAGES)} or 'all' (default en)")
    p.add_argument("--engines", default="espeak",
                   help="comma list of voice engines among espeak,piper,flite,festival or 'all' (default espeak; "
                        "flite and festival add English talkers with rate, pitch and vocal-tract variation; "
                        "apt packages flite, festival, festvox-kallpc16k, festvox-kdlpc16k, festvox-us-slt-hts)")
    p.add_argument("--piper", action="store_true", help="also use the neural Piper voice for English "
                   "(same as listing piper in --engines)")
    p.add_argument("--voice-split", choices=["train", "eval"], default=None,
                   help="only training voices, or only the held-out ones for evaluation sets of unheard voices: "
                        "espeak-ng variants m4 f3 klatt3 Annie benjamin steph, Flite rms, Festival ked_diphone; "
                        "no Piper (default: all)")
    p.add_argument("--text-split", choices=["train", "eval"], default=None,
                   help="only training sentences, or only the held-out tenth (fixed split by sentence hash) for "
                        "evaluation sets and language models that no training text overlaps (default: all)")
    p.set_defaults(func=run)

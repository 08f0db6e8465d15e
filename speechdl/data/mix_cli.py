"""``speechdl data mix`` (clean clips -> labelled VAD recordings) and ``speechdl data merge``.

Example:
    $ speechdl data mix $SPEECHDL_DATA/real_dev --hours 0.5 --out data/mix --seed 3 \\
          --select source=drascula --noise-split eval --snr-range 0,20 --format json
    $ speechdl data merge data/eval data/mix data/synth
"""

from __future__ import annotations

import argparse
from pathlib import Path

from speechdl import validate
from speechdl.console import add_format_option, emit
from speechdl.data.mix import REL_DB, MixConfig, build
from speechdl.data.synth.cli import add_corpus_options, build_and_report, conditions_from_args, resolve_noise_dir


def merge(out: str | Path, parts: list[str | Path]) -> dict:
    """Write one manifest directory ``out`` holding every recording/supervision of ``parts``.

    Audio paths stay absolute, so nothing is copied. Raises :class:`DataError` on duplicate ids.

    Example:
        >>> merge("/tmp/eval", ["/tmp/eval/real", "/tmp/eval/synth"])  # doctest: +SKIP
        {'out': '/tmp/eval', 'recordings': 120, 'supervisions': 410, 'parts': 2}
    """
    from lhotse import RecordingSet, SupervisionSet

    from speechdl.data.manifests import load_manifests, save_manifests
    from speechdl.errors import DataError

    recs, sups, seen = [], [], set()
    for part in parts:
        r, s = load_manifests(part)
        for rec in r:
            if rec.id in seen:
                raise DataError(part, f"recording id {rec.id} occurs in two parts",
                                "merge parts built with other seeds")
            seen.add(rec.id)
            recs.append(rec)
        sups.extend(s or [])
    save_manifests(out, RecordingSet.from_recordings(recs), SupervisionSet.from_segments(sups))
    return {"out": str(out), "recordings": len(recs), "supervisions": len(sups), "parts": len(parts)}


def run(args: argparse.Namespace) -> int:
    """Handler of ``speechdl data mix``."""
    cfg = MixConfig(manifest=str(Path(args.manifest).resolve()), hours=args.hours, seed=args.seed,
                    select=tuple(args.select or ()), sample_rate=args.sample_rate,
                    noise_dir=resolve_noise_dir(args.noise_dir), noise_split=args.noise_split,
                    babble=not args.no_babble, audio_format=args.audio_format, rel_db=args.rel_db,
                    conditions=conditions_from_args(args))
    return build_and_report(build, cfg, args, "data mix")


def _merge(args: argparse.Namespace) -> int:
    emit(merge(args.out, args.parts), args.format)
    return 0


def add_verbs(verbs) -> None:
    """Add ``mix`` and ``merge`` to the ``data`` verbs."""
    p = verbs.add_parser(
        "mix", help="mix clean speech clips of a manifest into labelled VAD recordings (pauses, noise, rooms)",
        description="Place clean speech clips of MANIFEST with random pauses into 10-30 s recordings, label "
                    "speech by energy alignment of each clean clip, add reverb, noise and telephone band, and "
                    "write audio + lhotse manifests (custom['speech'] intervals) like `data synth`.")
    p.add_argument("manifest", help="manifest directory/file, or a real_dev folder (manifest.jsonl)")
    add_corpus_options(p)
    p.add_argument("--select", action="append", metavar="KEY=V1,V2",
                   help="keep clips whose KEY (source, speaker, language, gender, id...) is one of the values; "
                        "KEY!=V1,V2 drops them; repeatable (ANDed)")
    p.add_argument("--no-babble", action="store_true", help="no babble noise (needs no espeak-ng)")
    p.add_argument("--rel-db", type=validate.flag("--rel-db", "float", -120, -1, example=REL_DB), default=REL_DB,
                   help=f"label threshold: speech frames are within this many dB of the clip's peak (default {REL_DB})")
    p.set_defaults(func=run)

    m = verbs.add_parser("merge", help="merge manifest directories into one (audio paths unchanged)")
    m.add_argument("out", type=validate.dir_arg("OUT"), help="output manifest directory")
    m.add_argument("parts", nargs="+", help="manifest directories to merge")
    add_format_option(m)
    m.set_defaults(func=_merge)

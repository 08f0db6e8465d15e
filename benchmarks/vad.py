"""VAD benchmark: speechdl bundles vs WebRTC VAD (modes 0-3) vs Silero VAD, same run, same held-out sets.

For every system, on every ``--eval`` set (frame labels from the manifests' speech intervals, 10 ms
grid, see :mod:`speechdl.tasks.vad.evaluate`):

* frame ROC-AUC and EER;
* F1 (with precision, recall) at the threshold that maximises F1 on ``--dev`` (tuned per system,
  Silero included); WebRTC gives hard decisions, so its F1 is at its own decision;
* x real time offline at 1 thread (``torch.set_num_threads(1)``, onnxruntime ``intra_op_num_threads=1``;
  audio is loaded before timing, the scorer call is timed). Times are CPU time of the calling thread
  (``time.thread_time``; every system computes in that thread at 1 thread), so another process on the
  machine does not count; on an idle machine this equals the wall clock;
* streaming cost per 10 ms of audio: speechdl ``VADStream.push`` fed 10 ms chunks; WebRTC one
  10 ms frame per call (float -> int16 included); Silero one 32 ms chunk per call, divided by 3.2;
* model size: parameters and bytes on disk (speechdl: the bundle; Silero: the ONNX file used
  offline; WebRTC: its compiled extension, no learned parameters counted).

Prints one table per eval set (``--format json`` for machines, ``--out`` writes the JSON report) and
writes a ROC + DET figure (``--plot``, default ``out/vad_roc_det.png``; one row per eval set).
Timings are the fastest of ``--repeat`` passes (default 3).

Usage:
    python benchmarks/vad.py                                   # the shipped bundle vs the baselines
    python benchmarks/vad.py --model mlp=b1.pt --model lstm=b2.pt --out results.json
    python benchmarks/vad.py --quick                           # smoke test, seconds
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from speechdl.console import format_table, write_report  # noqa: E402
from speechdl.metrics.detection import tune_threshold  # noqa: E402
from speechdl.paths import real_dev, work_dir  # noqa: E402
from speechdl.tasks.vad import baselines as B  # noqa: E402
from speechdl.tasks.vad.evaluate import grid_scorer, iter_references, load_vad, metrics_of, score_items  # noqa: E402
from speechdl.tasks.vad.post import PostConfig  # noqa: E402

DATA = work_dir("vad")  # $SPEECHDL_WORK/vad (default ./data/vad)
DEFAULT_EVAL = (DATA / "eval_clean", DATA / "eval_noisy")
DEFAULT_DEV = DATA / "dev"
HOP = 160
CLOCK = time.thread_time  # CPU time of this thread: every system runs in it at 1 thread (see above)


@dataclass
class System:
    """A VAD under test: offline scorer, streaming timer and size."""

    name: str
    scorer: Callable[[np.ndarray], Any]
    stream: Callable[[np.ndarray], np.ndarray]  # 16 kHz audio -> seconds per call, one call per unit
    samples_per_call: int
    binary: bool = False
    params: int | None = None
    bytes: int | None = None
    threshold: float = 0.5
    dev: dict[str, float] = field(default_factory=dict)
    post: PostConfig | None = None  # its own segment rules on the 10 ms grid (onset: ``threshold``); None: raw


def grid_post(post: PostConfig, frame_hop: float) -> PostConfig:
    """``post`` of a model with ``frame_hop`` s frames, for scores on the 10 ms grid: the smoothing window keeps its
    length in seconds (odd frame count). The thresholds move with :attr:`System.threshold`, keeping their gap."""
    frames = max(1, round(post.smooth_frames * frame_hop / 0.01)) | 1
    return replace(post, smooth_frames=frames)


def _timed_calls(fn: Callable[[np.ndarray], Any], x: np.ndarray, step: int) -> np.ndarray:
    """Call ``fn`` on consecutive ``step``-sample chunks of ``x``; seconds per call."""
    n = x.size // step
    times = np.empty(n)
    clock = CLOCK
    for i in range(n):
        chunk = x[i * step:(i + 1) * step]
        t0 = clock()
        fn(chunk)
        times[i] = clock() - t0
    return times


def _fastest_pass(items: list[tuple[str, np.ndarray, np.ndarray]], scorer: Callable[[np.ndarray], Any],
                  passes: int) -> float:
    """CPU seconds of the fastest of ``passes`` timing passes of ``scorer`` over ``items`` (inf for 0)."""
    best = float("inf")
    for _ in range(passes):
        t0 = CLOCK()
        for _, wave, _ in items:
            scorer(wave)
        best = min(best, CLOCK() - t0)
    return best


def _path_bytes(path: Path) -> int:
    if path.is_dir():
        return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    return path.stat().st_size


def speechdl_system(name: str, bundle: str | None) -> System:
    """A speechdl bundle (``None``: the shipped one) through the public inference API."""
    vad = load_vad(bundle)
    model = getattr(vad, "model", None)
    params = sum(p.numel() for p in model.parameters()) if hasattr(model, "parameters") else None
    try:
        from speechdl.pretrained import resolve_bundle

        size = _path_bytes(Path(resolve_bundle(bundle or "vad")))
    except Exception:  # size is informative only
        size = None

    def stream(x: np.ndarray) -> np.ndarray:
        s = vad.stream()
        times = _timed_calls(s.push, x, HOP)
        s.flush()
        return times

    return System(name, grid_scorer(vad), stream, HOP, params=params, bytes=size,
                  post=grid_post(vad.post, vad.frame_hop))


def webrtc_system(mode: int, frame_ms: int) -> System:
    """WebRTC VAD ``mode`` on ``frame_ms`` blocks; streaming timed per 10 ms frame."""
    import webrtcvad

    vad = B.WebRTCVAD(mode, frame_ms)
    lib = Path(webrtcvad._webrtcvad.__file__)
    step = B.SR * frame_ms // 1000

    def stream(x: np.ndarray) -> np.ndarray:
        live = webrtcvad.Vad(mode)
        return _timed_calls(lambda c: live.is_speech(B.to_int16(c).tobytes(), B.SR), x, step)

    name = f"webrtc-{mode}" + ("" if frame_ms == 10 else f"/{frame_ms}ms")
    return System(name, vad, stream, step, binary=True, params=0, bytes=lib.stat().st_size)


def silero_system() -> System:
    """Silero VAD: sequence ONNX offline, if-less opset-18 ONNX streaming (32 ms chunks)."""
    offline, live = B.SileroVAD(), B.SileroStream()
    params, size = B.onnx_size(B.silero_onnx_path(B.SILERO_OFFLINE_ONNX))

    def stream(x: np.ndarray) -> np.ndarray:
        live.reset()
        return _timed_calls(live.chunk, x, B.SILERO_CHUNK)

    # get_speech_timestamps' defaults: off at threshold - 0.15, speech >= 250 ms, silence >= 100 ms, 30 ms padding
    return System("silero", offline, stream, B.SILERO_CHUNK, params=params, bytes=size,
                  post=PostConfig(smoothing="none", min_speech=0.25, min_silence=0.1, pad=0.03))


def _load_set(path: Path, limit: int | None, max_seconds: float | None) -> list[tuple[str, np.ndarray, np.ndarray]]:
    return list(iter_references(path, limit, max_seconds))


def run(args: argparse.Namespace, extra: list[System] | None = None) -> dict[str, Any]:
    """The whole benchmark; ``extra`` adds systems built in Python (tests). Returns the report."""
    import torch

    torch.set_num_threads(args.threads)
    limit, max_s = (args.max_recordings, args.max_seconds)
    if args.quick:
        limit, max_s = limit or 3, max_s or 5.0
    systems: list[System] = []
    if not args.baselines_only:
        for spec in args.model or [None]:
            name, _, path = spec.partition("=") if spec and "=" in spec else ("speechdl", "", spec)
            systems.append(speechdl_system(name, path or None))
    systems += [webrtc_system(m, args.webrtc_ms) for m in args.webrtc_modes]
    if not args.no_silero:
        systems.append(silero_system())
    systems += extra or []

    dev = _load_set(Path(args.dev), limit, max_s)
    for sys_ in systems:  # F1-optimal threshold on dev (hard-decision systems keep their decision)
        scored = score_items(dev, sys_.scorer, args.dev, clock=CLOCK)
        if not sys_.binary:
            sys_.threshold, _ = tune_threshold(*scored.concat(), criterion="f1")
        sys_.dev = {k: v for k, v in metrics_of(scored, sys_.threshold).items() if k in ("f1", "roc_auc")}

    sets: dict[str, dict[str, Any]] = {}
    curves: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]] = {}
    stream_audio = None
    for path in args.eval:
        items = _load_set(Path(path), limit, max_s)
        if stream_audio is None:
            stream_audio = np.concatenate([w for _, w, _ in items])[: int(args.stream_seconds * B.SR)]
        name = Path(path).name
        sets[name], curves[name] = {}, {}
        for sys_ in systems:
            scored = score_items(items, sys_.scorer, path, clock=CLOCK)
            scored.seconds_compute = min(scored.seconds_compute, _fastest_pass(items, sys_.scorer, args.repeat - 1))
            sets[name][sys_.name] = metrics_of(scored, sys_.threshold)
            curves[name][sys_.name] = scored.concat()

    streaming = {}
    for sys_ in systems:
        sys_.stream(stream_audio[: B.SR])  # warm-up
        runs = [sys_.stream(stream_audio) for _ in range(args.repeat)]  # the least disturbed run counts
        t = min(runs, key=np.mean) * 1e6 * HOP / sys_.samples_per_call  # µs per 10 ms of audio
        per = sys_.samples_per_call / HOP
        unit = f"{1000 * sys_.samples_per_call // B.SR} ms per call" + ("" if per == 1 else f", divided by {per:g}")
        streaming[sys_.name] = {"us_per_10ms": float(t.mean()), "p99_us_per_10ms": float(np.percentile(t, 99)),
                                "unit": unit}
    report = {
        "sets": sets,
        "systems": {s.name: {"threshold": s.threshold, "binary": s.binary, "dev": s.dev, "params": s.params,
                             "bytes": s.bytes, "streaming": streaming[s.name]} for s in systems},
        "config": {"eval": [str(p) for p in args.eval], "dev": str(args.dev), "threads": args.threads,
                   "quick": args.quick, "max_recordings": limit, "max_seconds": max_s,
                   "stream_seconds": float(stream_audio.size / B.SR), "webrtc_ms": args.webrtc_ms},
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "torch": torch.__version__,
                    "load_average": os.getloadavg()[0] if hasattr(os, "getloadavg") else None},
    }
    if args.plot:
        from speechdl.metrics.plots import plot_roc_det_grid

        report["plot"] = str(plot_roc_det_grid(curves, args.plot))
    return report


def tables(report: dict[str, Any]) -> str:
    """One text table per eval set."""
    out = []
    for set_name, results in report["sets"].items():
        rows = []
        for name, m in results.items():
            info = report["systems"][name]
            rows.append({
                "system": name, "ROC-AUC": f"{m['roc_auc']:.4f}", "EER %": f"{100 * m['eer']:.2f}",
                "threshold": "decision" if info["binary"] else f"{m['threshold']:.3f}",
                "F1 %": f"{100 * m['f1']:.2f}", "P %": f"{100 * m['precision']:.2f}",
                "R %": f"{100 * m['recall']:.2f}", "x RT": f"{m['x_real_time']:,.0f}",
                "µs/10ms stream": f"{info['streaming']['us_per_10ms']:.1f}",
                "params": "-" if info["params"] is None else f"{info['params']:,}",
                "MB": "-" if info["bytes"] is None else f"{info['bytes'] / 1e6:.2f}",
            })
        hours = next(iter(results.values()))["hours"]
        speech = next(iter(results.values()))["speech_fraction"]
        out.append(f"{set_name}: {hours * 60:.1f} min, {100 * speech:.1f} % speech frames\n" + format_table(rows))
    notes = [f"{n}: {s['streaming']['unit']}" for n, s in report["systems"].items()
             if not s["streaming"]["unit"].startswith("10 ms")]
    out.append("thresholds tuned for F1 on dev; x RT offline at 1 thread (CPU time of the thread); streaming "
               + "; ".join(notes or ["10 ms calls"]))
    if report.get("plot"):
        out.append(f"ROC/DET plot: {report['plot']}")
    return "\n\n".join(out)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--eval", nargs="+", default=[str(p) for p in DEFAULT_EVAL], metavar="DIR",
                   help="held-out manifest dirs (default: %(default)s)")
    p.add_argument("--dev", default=str(DEFAULT_DEV), metavar="DIR", help="threshold tuning set (default: %(default)s)")
    p.add_argument("--model", action="append", metavar="NAME=PATH", help="speechdl bundle, repeatable "
                   "(default: the shipped bundle)")
    p.add_argument("--baselines-only", action="store_true", help="no speechdl bundle")
    p.add_argument("--no-silero", action="store_true", help="leave Silero out")
    p.add_argument("--webrtc-modes", type=int, nargs="*", default=[0, 1, 2, 3])
    p.add_argument("--webrtc-ms", type=int, choices=[10, 20, 30], default=10, help="WebRTC frame length")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeat", type=int, default=3,
                   help="timing passes per system and set; the fastest counts (other load only slows a pass)")
    p.add_argument("--stream-seconds", type=float, default=60.0, help="audio fed to the streaming timers")
    p.add_argument("--max-recordings", type=int, default=None, help="first N recordings of each set")
    p.add_argument("--max-seconds", type=float, default=None, help="crop each recording")
    p.add_argument("--quick", action="store_true", help="smoke test: 3 recordings x 5 s per set, 3 s streaming")
    p.add_argument("--plot", default="out/vad_roc_det.png", help="ROC + DET figure ('' for none)")
    p.add_argument("--protocol", choices=["lofo", "sets"], default=None,
                   help="lofo: leave-one-family-out folds (benchmarks/vad_lofo.py; the default); "
                        "sets: the --eval manifests with thresholds from --dev (the default when either is given)")
    p.add_argument("--lofo-models", nargs="*", default=["lstm", "lecture"],
                   help="fold bundles runs/vad_lofo/<NAME>/<fold>/bundle (recipes/vad/lofo.py)")
    p.add_argument("--folds", default="0,1,2,3,4", help="lofo: comma list of fold numbers")
    p.add_argument("--noise-dirs", nargs="*", default=[str(work_dir("noise_bank")), str(real_dev()),
                                                       str(work_dir("vad_lofo") / "babble")],
                   help="lofo: noise bank folders")
    p.add_argument("--noise-items", type=int, default=24, help="lofo: noise-only clips (10 s) per fold")
    p.add_argument("--tune-baselines", action="store_true",
                   help="lofo: also tune Silero's threshold on each fold's dev audio (default: its 0.5)")
    p.add_argument("--format", choices=["text", "json"], default="text")
    p.add_argument("--out", default=None, help="write the JSON report here")
    args = p.parse_args(argv)
    if args.protocol is None:
        given = argv if argv is not None else sys.argv[1:]
        args.protocol = "sets" if any(a.split("=")[0] in ("--eval", "--dev") for a in given) else "lofo"
    if args.quick:
        args.stream_seconds = min(args.stream_seconds, 3.0)
        args.repeat = 1
    return args


def check_sets(args: argparse.Namespace) -> str | None:
    """A one-line message naming the first missing set, or None."""
    for kind, path in [("dev", args.dev)] + [("eval", e) for e in args.eval]:
        if not (Path(path) / "recordings.jsonl.gz").is_file() and not Path(path).is_file():
            return (f"benchmarks/vad.py: {kind} set not found: {path} (build the VAD sets under {DATA} "
                    f"first, or pass --{kind} DIR with a manifest directory)")
    return None


def main(argv: list[str] | None = None, extra: list[System] | None = None) -> int:
    """Entry point; returns the exit code."""
    args = parse_args(argv)
    if args.protocol == "lofo":
        return main_lofo(args)
    missing = check_sets(args)
    if missing:
        print(missing, file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    report = run(args, extra)
    report["seconds"] = time.perf_counter() - t0
    write_report(report, args.format, tables(report) + f"\n(total {report['seconds']:.0f} s)", args.out)
    return 0


def main_lofo(args: argparse.Namespace) -> int:
    """The leave-one-family-out protocol (``benchmarks/vad_lofo.py``) plus streaming cost."""
    import torch

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import vad_lofo as L

    from speechdl.tasks.vad import folds as F

    torch.set_num_threads(args.threads)
    if args.quick:
        args.max_recordings, args.noise_items, args.folds = args.max_recordings or 2, 2, args.folds.split(",")[0]
    make = {"speechdl": speechdl_system, "webrtc": webrtc_system, "silero": silero_system}
    t0 = time.perf_counter()
    report = L.run_lofo(args, make, CLOCK)
    fold0 = int(args.folds.split(",")[0])
    audio = np.concatenate([w for _, w, _ in F.fold_test_items(fold0, "clean", L.PARTS, max_recordings=8)])
    audio = audio[: int(args.stream_seconds * B.SR)]
    report["streaming"] = {}
    for s in L.fold_systems(args, fold0, make):
        s.stream(audio[: B.SR])
        t = min((s.stream(audio) for _ in range(args.repeat)), key=np.mean) * 1e6 * HOP / s.samples_per_call
        report["streaming"][s.name] = {"us_per_10ms": float(t.mean()), "p99_us_per_10ms": float(np.percentile(t, 99))}
    report["seconds"] = time.perf_counter() - t0
    stream = "; ".join(f"{k} {v['us_per_10ms']:.1f}" for k, v in report["streaming"].items())
    text = L.lofo_tables(report) + f"\n\nstreaming µs per 10 ms (1 thread): {stream}\n(total {report['seconds']:.0f} s)"
    write_report(report, args.format, text, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())

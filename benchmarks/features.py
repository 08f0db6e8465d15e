"""Front-end speed: speechdl vs librosa vs python_speech_features, log-Mel and MFCC39, in one run.

Times 40-band log-Mel and MFCC39 (13 MFCC + delta + delta-delta) on deterministic speech-like
16 kHz audio (default 10 min) for

* speechdl (torch) in this process at 1 and 2 threads (``torch.set_num_threads``);
* librosa and python_speech_features in worker processes pinned to 1 thread each
  (OMP/MKL/OPENBLAS/NUMBA), as 1 process on the whole audio and as 2 processes on its halves.

Each case is warmed up, then timed ``--repeats`` times, the cases interleaved round-robin so that
noise from other jobs spreads evenly; the median is reported as x real time (seconds of audio per
second of wall time) and as a ratio to librosa for the same feature and worker count. The run also
checks that speechdl's log-Mel equals librosa's log melspectrogram (max abs difference).

Usage:
    python benchmarks/features.py                       # table, ~1-2 min on 2 cores
    python benchmarks/features.py --minutes 2 --repeats 3 --format json --out results.json
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

# Set only in the worker processes' environment (before they import numpy). Not in this process:
# OMP_NUM_THREADS=1 in the environment makes torch.set_num_threads(2) collapse on a busy machine
# (measured 593x instead of 14,000x for log-Mel).
PIN_THREADS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS")

SR = 16000
# Matched settings (see PERF.md): 512-point FFT, 25 ms Hann window, 10 ms hop, 40 Slaney mel bands.
LIBROSA_KW = dict(sr=SR, n_fft=512, win_length=400, hop_length=160, n_mels=40, pad_mode="constant")
PSF_KW = dict(samplerate=SR, winlen=0.025, winstep=0.01, nfilt=40, nfft=512)
FEATURES = ("log-Mel 40", "MFCC39")


def speech_like(seconds: float, seed: int = 0) -> np.ndarray:
    """Deterministic speech-like float32 audio ``(seconds * 16000,)``.

    Syllable-rate (about 4 Hz) bursts of a harmonic source with a wandering 90-250 Hz pitch and
    a breathy noise part, separated by pauses, over a low noise floor; peak about 0.5.
    """
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    t = np.arange(n) / SR
    hop = SR // 100  # control values every 10 ms, interpolated
    ctrl = np.arange(0, n + hop, hop)
    f0 = np.interp(np.arange(n), ctrl, 170 + 80 * np.tanh(np.cumsum(rng.normal(0, 0.15, ctrl.size))))
    phase = 2 * np.pi * np.cumsum(f0) / SR
    voiced = sum(np.sin(k * phase) / k for k in range(1, 9))
    syllable = np.clip(np.sin(2 * np.pi * 4.0 * t + 3 * np.sin(2 * np.pi * 0.3 * t)), 0, None) ** 2
    pauses = np.interp(np.arange(n), ctrl, (rng.random(ctrl.size) > 0.25).astype(float))
    noise = rng.standard_normal(n)
    x = syllable * pauses * (0.25 * voiced + 0.05 * noise) + 0.003 * noise
    return (0.5 * x / np.abs(x).max()).astype(np.float32)


# ---------------------------------------------------------------- numpy-based references (workers)

def librosa_logmel(x: np.ndarray) -> np.ndarray:
    """``(frames, 40)`` natural-log Mel energies, floor 1e-10 (what speechdl's LogMel matches)."""
    import librosa

    return np.log(np.maximum(librosa.feature.melspectrogram(y=x, **LIBROSA_KW), 1e-10)).T


def librosa_mfcc39(x: np.ndarray) -> np.ndarray:
    """``(frames, 39)``: 13 MFCC from dB Mel (top_db=None) + librosa deltas over 5 frames (N=2)."""
    import librosa

    mel_db = librosa.power_to_db(librosa.feature.melspectrogram(y=x, **LIBROSA_KW), top_db=None)
    c = librosa.feature.mfcc(S=mel_db, n_mfcc=13)
    d1 = librosa.feature.delta(c, width=5)
    d2 = librosa.feature.delta(c, width=5, order=2)
    return np.concatenate([c, d1, d2]).T


def psf_logmel(x: np.ndarray) -> np.ndarray:
    """``(frames, 40)`` python_speech_features ``logfbank``."""
    import python_speech_features as psf

    return psf.logfbank(x, **PSF_KW)


def psf_mfcc39(x: np.ndarray) -> np.ndarray:
    """``(frames, 39)``: ``psf.mfcc`` (13) + ``psf.delta(N=2)`` twice."""
    import python_speech_features as psf

    c = psf.mfcc(x, numcep=13, **PSF_KW)
    d1 = psf.delta(c, 2)
    return np.hstack([c, d1, psf.delta(d1, 2)])


REFERENCES: dict[tuple[str, str], Callable[[np.ndarray], np.ndarray]] = {
    ("librosa", "log-Mel 40"): librosa_logmel,
    ("librosa", "MFCC39"): librosa_mfcc39,
    ("python_speech_features", "log-Mel 40"): psf_logmel,
    ("python_speech_features", "MFCC39"): psf_mfcc39,
}


def _worker(conn: Any, audio_path: str) -> None:
    """Worker loop: holds the audio (memory-mapped); ``(impl, feature, start, stop)`` -> frames run."""
    x = np.load(audio_path, mmap_mode="r")
    while True:
        msg = conn.recv()
        if msg is None:
            return
        impl, feature, start, stop = msg
        out = REFERENCES[(impl, feature)](np.ascontiguousarray(x[start:stop]))
        conn.send(out.shape)  # shape only: the benchmark measures compute, not result transfer


class Workers:
    """Two persistent 1-thread worker processes; :meth:`run` times a job on 1 or 2 of them."""

    def __init__(self, audio_path: str, n: int = 2) -> None:
        ctx = mp.get_context("spawn")  # fresh interpreters: no torch, no inherited thread pools
        self.conns, self.procs = [], []
        saved = {var: os.environ.get(var) for var in PIN_THREADS}
        os.environ.update({var: "1" for var in PIN_THREADS})  # inherited by the children at start
        try:
            for _ in range(n):
                parent, child = ctx.Pipe()
                proc = ctx.Process(target=_worker, args=(child, audio_path), daemon=True)
                proc.start()
                self.conns.append(parent)
                self.procs.append(proc)
        finally:
            for var, value in saved.items():
                if value is None:
                    os.environ.pop(var, None)
                else:
                    os.environ[var] = value

    def run(self, impl: str, feature: str, num_samples: int, workers: int) -> float:
        """Wall seconds for ``workers`` processes to featurise their share of the audio."""
        bounds = np.linspace(0, num_samples, workers + 1).astype(int)
        t0 = time.perf_counter()
        for conn, a, b in zip(self.conns, bounds[:-1], bounds[1:]):
            conn.send((impl, feature, int(a), int(b)))
        for conn in self.conns[:workers]:
            conn.recv()
        return time.perf_counter() - t0

    def close(self) -> None:
        """Stop the workers."""
        for conn in self.conns:
            conn.send(None)
        for proc in self.procs:
            proc.join(timeout=10)


# ------------------------------------------------------------------------------- the benchmark

def run_benchmark(minutes: float, repeats: int, budget: float = 150.0) -> dict[str, Any]:
    """Time every case and return the results dict (see ``--format json``).

    Rounds of timing stop early, after at least one, when another round would end past ``budget``
    seconds (counted from the start of the warm-up): a busy machine slows every case severalfold.
    """
    import librosa
    import python_speech_features
    import torch

    from speechdl.features import MFCC39, LogMel

    x = speech_like(minutes * 60)
    seconds = x.size / SR
    wave = torch.from_numpy(x)[None]
    modules = {"log-Mel 40": LogMel(), "MFCC39": MFCC39()}

    def speechdl_case(feature: str, threads: int) -> Callable[[], float]:
        def run() -> float:
            torch.set_num_threads(threads)
            with torch.no_grad():
                modules[feature](wave[:, :SR])  # settle the thread pool after switching
                t0 = time.perf_counter()
                modules[feature](wave)
                return time.perf_counter() - t0
        return run

    with tempfile.TemporaryDirectory() as tmp:
        audio_path = str(Path(tmp) / "audio.npy")
        np.save(audio_path, x)
        pool = Workers(audio_path)
        try:
            cases: list[tuple[str, str, int, str, Callable[[], float]]] = []
            for feature in FEATURES:
                for threads in (1, 2):
                    cases.append(("speechdl", feature, threads, "threads", speechdl_case(feature, threads)))
                for impl in ("librosa", "python_speech_features"):
                    for procs in (1, 2):
                        def job(impl: str = impl, feature: str = feature, procs: int = procs) -> float:
                            return pool.run(impl, feature, x.size, procs)
                        cases.append((impl, feature, procs, "processes", job))
            load_before = os.getloadavg()[0]
            start = time.perf_counter()
            for *_, fn in cases:  # warm-up: imports, filterbanks, FFT plans, page cache
                fn()
            times: list[list[float]] = [[] for _ in cases]
            for _ in range(repeats):  # round-robin so that background load hits every case alike
                round_start = time.perf_counter()
                for i, (*_, fn) in enumerate(cases):
                    times[i].append(fn())
                now = time.perf_counter()
                if now - start + (now - round_start) > budget:
                    break
            load_after = os.getloadavg()[0]
        finally:
            pool.close()

    torch.set_num_threads(1)
    with torch.no_grad():
        ours = modules["log-Mel 40"](wave)[0].numpy()
        ours_mfcc = modules["MFCC39"](wave)[0, :, :13].numpy()
    ref = librosa_logmel(x)
    ref_mfcc = librosa_mfcc39(x)[:, :13]

    results = []
    for (impl, feature, workers, mode, _), ts in zip(cases, times):
        med = statistics.median(ts)
        results.append({"implementation": impl, "feature": feature, "workers": workers, "mode": mode,
                        "median_s": med, "best_s": min(ts), "x_real_time": seconds / med})
    for r in results:
        base = next(b for b in results if b["implementation"] == "librosa"
                    and b["feature"] == r["feature"] and b["workers"] == r["workers"])
        r["vs_librosa"] = r["x_real_time"] / base["x_real_time"]
    return {
        "audio_seconds": seconds,
        "repeats": len(times[0]),
        "load_average_1min": {"before": load_before, "after": load_after},
        "machine": {"cpus": os.cpu_count(), "processor": platform.processor() or platform.machine(),
                    "python": platform.python_version(), "torch": torch.__version__,
                    "librosa": librosa.__version__,
                    "python_speech_features": getattr(python_speech_features, "__version__", "0.6")},
        "results": results,
        "check": {"logmel_max_abs_diff_vs_librosa": float(np.abs(ours - ref).max()),
                  "mfcc13_max_abs_diff_vs_librosa": float(np.abs(ours_mfcc - ref_mfcc).max()),
                  "frames": int(ours.shape[0])},
    }


def format_table(report: dict[str, Any]) -> str:
    """Human-readable table of a :func:`run_benchmark` report."""
    m = report["machine"]
    lines = [f"{report['audio_seconds'] / 60:g} min of 16 kHz audio, median of {report['repeats']} runs; "
             f"{m['cpus']} CPUs, torch {m['torch']}, librosa {m['librosa']}",
             f"{'implementation':24s} {'feature':11s} {'workers':>11s} {'x real time':>12s} {'vs librosa':>11s}"]
    lines.append("-" * len(lines[-1]))
    for r in report["results"]:
        unit = {"threads": ("thread", "threads"), "processes": ("process", "processes")}[r["mode"]][r["workers"] > 1]
        lines.append(f"{r['implementation']:24s} {r['feature']:11s} {str(r['workers']) + ' ' + unit:>11s} "
                     f"{r['x_real_time']:11,.0f}x {r['vs_librosa']:10.2f}x")
    load = report["load_average_1min"]
    busy = load["before"] > 0.5 * m["cpus"]
    lines.append(f"load average (1 min) before/after: {load['before']:.1f}/{load['after']:.1f} on {m['cpus']} CPUs"
                 + ("  WARNING: other jobs were running; timings (2 threads above all) are unreliable"
                    if busy else ""))
    c = report["check"]
    lines.append(f"check: speechdl log-Mel vs librosa log melspectrogram, max abs diff "
                 f"{c['logmel_max_abs_diff_vs_librosa']:.2e} over {c['frames']} frames x 40; "
                 f"13 MFCC vs librosa (dB, top_db=None): {c['mfcc13_max_abs_diff_vs_librosa']:.2e}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=10.0, help="audio length (default 10)")
    ap.add_argument("--repeats", type=int, default=7, help="timed runs per case after a warm-up (default 7)")
    ap.add_argument("--budget", type=float, default=150.0,
                    help="seconds after which no new round of repeats starts (default 150)")
    ap.add_argument("--format", choices=("text", "json"), default="text")
    ap.add_argument("--out", type=Path, help="also write the JSON report here")
    args = ap.parse_args(argv)
    if args.minutes <= 0 or args.repeats < 1:
        ap.error("--minutes must be > 0 and --repeats >= 1")
    t0 = time.perf_counter()
    report = run_benchmark(args.minutes, args.repeats, args.budget)
    report["wall_seconds"] = time.perf_counter() - t0
    text = json.dumps(report, indent=2)
    if args.out:
        tmp = args.out.with_name(args.out.name + ".tmp")
        tmp.write_text(text + "\n")
        tmp.replace(args.out)
    print(text if args.format == "json" else format_table(report) + f"\n(total {report['wall_seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

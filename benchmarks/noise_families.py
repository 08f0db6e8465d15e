"""Speed of the synthetic noise generators and channel effects: milliseconds per 4 s at 16 kHz.

Run: ``OMP_NUM_THREADS=1 .venv/bin/python benchmarks/noise_families.py [--seconds 4] [--repeats 15]``.
Each row is the median and the 90th percentile of ``time.perf_counter`` over ``--repeats`` calls with
different seeds (after one warm-up call); ``random_channel`` rows are timed with one forced effect, and
``random_channel (any)`` with the default draw (one effect, a second with p=0.3).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from speechdl.data.synth import channel
from speechdl.data.synth.noise_families import SYNTH_FAMILIES, draw_noise


def _time(fn, repeats: int) -> tuple[float, float]:
    fn(0)
    ts = []
    for seed in range(1, repeats + 1):
        t = time.perf_counter()
        fn(seed)
        ts.append((time.perf_counter() - t) * 1e3)
    return float(np.median(ts)), float(np.percentile(ts, 90))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--rate", type=int, default=16000)
    args = ap.parse_args(argv)
    sr, n = args.rate, int(args.seconds * args.rate)
    print(f"| what | median ms | p90 ms |   ({args.seconds:g} s at {sr} Hz)\n|---|---|---|")
    for fam, gens in SYNTH_FAMILIES.items():
        for gen in gens:
            med, p90 = _time(lambda s, g=gen: g(n, sr, np.random.default_rng(s)), args.repeats)
            print(f"| {fam}: {gen.__name__} | {med:.2f} | {p90:.2f} |")
    fams = list(SYNTH_FAMILIES)
    med, p90 = _time(lambda s: draw_noise(fams, n, sr, np.random.default_rng(s)), args.repeats)
    print(f"| draw_noise (all families, synthetic) | {med:.2f} | {p90:.2f} |")
    x = SYNTH_FAMILIES["stationary"][1](n, sr, np.random.default_rng(0))
    for eff in channel.EFFECTS:
        med, p90 = _time(lambda s, e=eff: channel.random_channel(x, sr, np.random.default_rng(s), [e], 0.0),
                         args.repeats)
        print(f"| random_channel: {eff} | {med:.2f} | {p90:.2f} |")
    med, p90 = _time(lambda s: channel.random_channel(x, sr, np.random.default_rng(s)), args.repeats)
    print(f"| random_channel (any) | {med:.2f} | {p90:.2f} |")


if __name__ == "__main__":
    main()

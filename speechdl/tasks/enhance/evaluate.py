"""Validation figures of an enhancer: PESQ (wide band), ESTOI, SI-SDR and their improvement, x real time.

:func:`evaluate` mixes ``items`` fixed validation items (:class:`~speechdl.tasks.enhance.data.EnhanceMixes`,
the training families' validation clips and noises: never the held-out test families), enhances each
with the given :class:`~speechdl.tasks.enhance.infer.Enhancer` on one thread, and reports means of the
noisy input and of the output, the improvements, and the figures per SNR band. The held-out test set
and the anchors are the benchmark's (``benchmarks/enhance.py``).

Example:
    >>> summarize([{"snr_db": 3.0, "pesq": 1.5, "pesq_noisy": 1.2, "estoi": 0.6, "estoi_noisy": 0.5,
    ...             "si_sdr": 9.0, "si_sdr_noisy": 4.0}])["pooled"]["si_sdri"]
    5.0
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from speechdl.tasks.enhance import splits

BANDS = ((-5.0, 0.0), (0.0, 5.0), (5.0, 10.0), (10.0, 15.0), (15.0, 20.01), (20.01, 30.0), (30.0, 40.01),
         (float("inf"), float("inf")))


def band_name(lo: float, hi: float) -> str:
    """``"-5..0 dB"``; the no-noise band (``lo`` infinite) is ``"clean"``."""
    return "clean" if lo == float("inf") else f"{round(lo):g}..{round(hi):g} dB"


def _mean(rows: list[dict[str, Any]], key: str) -> float | None:
    vals = [r[key] for r in rows if r.get(key) is not None]
    return round(float(np.mean(vals)), 4) if vals else None


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Means (noisy, enhanced, improvement) pooled and per SNR band of per-item ``rows``."""
    def block(rs: list[dict[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {"items": len(rs)}
        for k in ("pesq", "estoi", "si_sdr"):   # items a metric refused (noisy or enhanced) are left out of both
            both = [r for r in rs if r.get(k) is not None and r.get(f"{k}_noisy") is not None]
            out[f"{k}_noisy"], out[k] = _mean(both, f"{k}_noisy"), _mean(both, k)
            if out[k] is not None and out[f"{k}_noisy"] is not None:
                out[f"{k}i" if k == "si_sdr" else f"{k}_gain"] = round(out[k] - out[f"{k}_noisy"], 4)
        return out

    bands = {band_name(lo, hi): block([r for r in rows if lo <= r["snr_db"] < hi or r["snr_db"] == lo == hi])
             for lo, hi in BANDS}
    return {"pooled": block(rows), "by_snr": {k: v for k, v in bands.items() if v["items"]}}


def evaluate(enhancer: Any, cache: str = "${SPEECHDL_WORK}/enhance/clean", items: int = 100,
             seconds: float = 4.0, seed: int = 1, split: str | None = "val", **mix: Any) -> dict[str, Any]:
    """Validation PESQ / ESTOI / SI-SDR of ``enhancer`` on ``items`` fixed mixes of the ``split`` clips of
    ``cache`` (None: all of them); see the module docstring. ``mix``: more
    :class:`~speechdl.tasks.enhance.data.EnhanceMixes` options (``snr_range``, ``p_clean``, ``p_narrow``,
    ``noise_split``...); the defaults are the first recipes' validation mixes."""
    import torch

    from speechdl.metrics.quality import estoi, pesq, si_sdr
    from speechdl.tasks.enhance.data import EnhanceMixes

    ds = EnhanceMixes(cache, split, seconds, items, fixed=True, seed=seed, **mix)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    rows, busy, audio_s = [], 0.0, 0.0
    try:
        for i in range(items):
            rng = np.random.default_rng([seed, 7919, i])
            noisy, clean, info = ds.mix(rng)
            t0 = time.perf_counter()
            out = enhancer.enhance(noisy)
            busy += time.perf_counter() - t0
            audio_s += len(noisy) / splits.SAMPLE_RATE
            row = {"snr_db": info["snr_db"], "family": info.get("family")}
            for tag, sig in (("_noisy", noisy), ("", out)):
                for name, fn in (("pesq", pesq), ("estoi", estoi)):
                    try:   # both refuse some signals (too little speech: a short word in 4 s)
                        row[name + tag] = float(fn(clean, sig, splits.SAMPLE_RATE))
                    except Exception:   # noqa: BLE001
                        row[name + tag] = None
                row["si_sdr" + tag] = float(si_sdr(clean, sig))
            rows.append(row)
    finally:
        torch.set_num_threads(threads)
    return {"model": enhancer.name, "items": items, "seconds_each": seconds, "split": split or "all",
            "mix": {k: list(v) if isinstance(v, tuple) else v for k, v in mix.items()},
            "x_real_time_1_thread": round(audio_s / busy, 1) if busy else None, **summarize(rows)}

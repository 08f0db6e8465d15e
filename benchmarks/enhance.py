"""Enhancement benchmark: speechdl bundles vs the anchors, one run, the same test files for every system.

Systems: speechdl enhancers (``--model NAME=BUNDLE``, repeatable; default the shipped ``enhance`` bundle
when present) and the anchors of :mod:`speechdl.tasks.enhance.baselines` (noisereduce stationary and
non-stationary, the Wiener filter written here, DeepFilterNet3 and RNNoise through their wheels' C
libraries; a missing package skips its anchor with one line). ``noisy`` (the input itself) is the floor.

Test sets (:mod:`speechdl.tasks.enhance.testset`, built once with ``--build``): ``heldout`` (held-out
MegaGlest voices x held-out music noise) and ``seen`` (the same voices x the training noise families).

Per system and set: PESQ-WB, STOI, ESTOI, SI-SDR and SI-SDR improvement over the noisy input (means over
clips; a clip PESQ refuses is left out of PESQ only), per SNR and per noise family, the worst family (lowest
mean PESQ gain over the noisy input), and x real time = audio seconds / CPU seconds of the process for the
enhancement call alone (audio loaded before; ``torch.set_num_threads(1)``, ``OMP_NUM_THREADS=1``, noisereduce
``n_jobs=1``; the 48 kHz anchors' resampling counts). ``--downstream`` adds the shipped VAD's frame AUC
(labels: the clean reference's active 10 ms frames) and the shipped ASR's WER (greedy, no LM) on each system's
output: against the transcripts on the ``asr`` set, elsewhere against the ASR of the clean reference (the
MegaGlest clips have no transcripts: a pseudo-reference).

Usage:
    python benchmarks/enhance.py --build                         # write the test mixes (about 1 min)
    python benchmarks/enhance.py                                 # all systems, heldout + seen, markdown tables
    python benchmarks/enhance.py --sets asr --downstream         # VAD AUC and ASR WER, noisy vs enhanced
    python benchmarks/enhance.py --model gru=out/enh_gru --format json --out results.json
    python benchmarks/enhance.py --limit 6 --anchors wiener      # smoke test, seconds
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from speechdl import audio  # noqa: E402
from speechdl.console import progress, write_report  # noqa: E402
from speechdl.errors import SpeechdlError  # noqa: E402
from speechdl.metrics import quality as Q  # noqa: E402
from speechdl.tasks.enhance import baselines as B  # noqa: E402
from speechdl.tasks.enhance import testset as T  # noqa: E402

SR = 16000
CLOCK = time.process_time   # CPU time of the whole process: a library's helper threads count too
METRICS = ("pesq", "stoi", "estoi", "si_sdr", "si_sdri")


def _safe(fn: Callable[[], float]) -> float:
    try:
        return float(fn())
    except (SpeechdlError, ValueError, RuntimeError):
        return float("nan")


def score(clean: np.ndarray, out: np.ndarray, noisy: np.ndarray) -> dict[str, float]:
    """PESQ-WB, STOI, ESTOI, SI-SDR and SI-SDR improvement of ``out`` (NaN where a metric refuses the clip)."""
    s = {"pesq": _safe(lambda: Q.pesq(clean, out, SR)), "stoi": _safe(lambda: Q.stoi(clean, out, SR)),
         "estoi": _safe(lambda: Q.estoi(clean, out, SR)), "si_sdr": _safe(lambda: Q.si_sdr(clean, out))}
    s["si_sdri"] = s["si_sdr"] - _safe(lambda: Q.si_sdr(clean, noisy))
    return s


def load_items(root: Path, sets: list[str], limit: int | None) -> list[dict[str, Any]]:
    """Manifest rows of ``sets`` with their ``noisy`` / ``clean`` waveforms loaded; ``limit`` clips per set."""
    items = []
    for name in sets:
        rows = T.read_manifest(root / name)
        if limit:
            step = max(1, len(rows) // limit)
            rows = rows[::step][:limit]
        for r in rows:
            r = dict(r, set=name)
            r["noisy_wave"], _ = audio.load(r["noisy"], sample_rate=SR)
            r["clean_wave"], _ = audio.load(r["clean"], sample_rate=SR)
            items.append(r)
    return items


def systems(models: list[str], anchor_names: list[str]) -> dict[str, Callable[[np.ndarray], np.ndarray]]:
    """``{name: wave -> wave}``: ``noisy`` (identity), the speechdl models, then the installed anchors."""
    out: dict[str, Callable[[np.ndarray], np.ndarray]] = {"noisy": lambda x: x}
    from speechdl.tasks.enhance.infer import load_enhancer

    specs = [m.split("=", 1) if "=" in m else [Path(m).name, m] for m in models]
    if not models:
        specs = [["speechdl-enhance", "enhance"]]
    for name, bundle in specs:
        try:
            out[name] = load_enhancer(bundle).enhance
        except SpeechdlError as e:
            if models:
                raise
            print(f"skipping speechdl model ({e})", file=sys.stderr)
    out.update(B.anchors(anchor_names))
    return out


def streaming(systems_: dict[str, Callable], seconds: float = 10.0) -> dict[str, dict[str, float]]:
    """µs of CPU per 10 ms hop when each causal speechdl model streams 10 ms chunks (numpy twin and torch)."""
    from speechdl.tasks.enhance.stream import EnhanceStream

    x = np.random.default_rng(0).standard_normal(int(seconds * 16000)).astype(np.float32) * 0.05
    out = {}
    for name, fn in systems_.items():
        enh = getattr(fn, "__self__", None)
        if enh is None or not getattr(enh.model, "causal", False):
            continue
        hop = enh.sample_rate // 100
        row = {}
        for label, use_numpy in (("numpy", True), ("torch", False)):
            s = EnhanceStream(enh.model, numpy=use_numpy)
            t = time.process_time()
            for i in range(0, len(x), hop):
                s.push(x[i: i + hop])
            s.flush()
            row[f"{label}_us_per_hop"] = round((time.process_time() - t) / (len(x) / hop) * 1e6, 1)
        out[name] = row
    return out


def run(systems_: dict[str, Callable], items: list[dict[str, Any]], show: bool,
        keep: bool = False) -> dict[str, list[dict[str, Any]]]:
    """Per system, per item: the metrics, CPU seconds of the call, and (``keep``: for downstream) the output."""
    results: dict[str, list[dict[str, Any]]] = {}
    bar = progress(None, total=len(systems_) * len(items), desc="enhance bench", unit="clip", enabled=show)
    for name, fn in systems_.items():
        rows = []
        for it in items:
            bar.set_postfix_str(name)
            x = it["noisy_wave"]
            t0 = CLOCK()
            y = np.asarray(fn(x), np.float32)
            cpu = CLOCK() - t0
            if y.shape != x.shape:
                raise SystemExit(f"{name}: output length {y.shape} != input {x.shape}")
            rows.append({"id": it["id"], "set": it["set"], "snr_db": it["snr_db"], "family": it["family"],
                         "seconds": len(x) / SR, "cpu_s": cpu, **score(it["clean_wave"], y, x),
                         "_out": y if keep else None})
            bar.update(1)
        results[name] = rows
    bar.close()
    return results


def _mean(rows: list[dict[str, Any]], key: str) -> float:
    v = np.array([r[key] for r in rows], float)
    return float(np.nanmean(v)) if np.isfinite(v).any() else float("nan")


def summarise(results: dict[str, list[dict[str, Any]]], sets: list[str]) -> dict[str, Any]:
    """Means per set and system: overall, per SNR, per family; worst family; x real time (all sets)."""
    report: dict[str, Any] = {"sets": {}, "xrt": {}}
    noisy = {(r["set"], r["id"]): r for r in results["noisy"]}
    for name, rows in results.items():
        if name != "noisy":
            cpu = sum(r["cpu_s"] for r in rows)
            report["xrt"][name] = sum(r["seconds"] for r in rows) / cpu if cpu > 0 else float("inf")
        for r in rows:
            r["dpesq"] = r["pesq"] - noisy[(r["set"], r["id"])]["pesq"]
    for s in sets:
        out: dict[str, Any] = {}
        for name, rows in results.items():
            rows = [r for r in rows if r["set"] == s]
            snrs = sorted({r["snr_db"] for r in rows})
            fams = sorted({r["family"] for r in rows})
            per_fam = {f: {k: _mean([r for r in rows if r["family"] == f], k) for k in (*METRICS, "dpesq")}
                       for f in fams}
            worst = min(fams, key=lambda f: per_fam[f]["dpesq"]) if fams and name != "noisy" else None
            out[name] = {"clips": len(rows), **{k: _mean(rows, k) for k in (*METRICS, "dpesq")},
                         "per_snr": {str(v): {k: _mean([r for r in rows if r["snr_db"] == v], k)
                                              for k in (*METRICS, "dpesq")} for v in snrs},
                         "per_family": per_fam,
                         "worst_family": None if worst is None else {"family": worst, **per_fam[worst]}}
        report["sets"][s] = out
    return report


def downstream(results: dict[str, list[dict[str, Any]]], items: list[dict[str, Any]], show: bool) -> dict[str, Any]:
    """Shipped VAD frame AUC and shipped ASR WER (vs ASR of the clean reference) on each system's output."""
    import speechdl
    from speechdl.metrics.detection import roc_auc
    from speechdl.metrics.wer import cer, wer
    from speechdl.tasks.asr.tokens import normalize_text
    from speechdl.tasks.enhance.data import active_mask
    from speechdl.tasks.vad.evaluate import grid_scorer, load_vad, num_frames

    vad = grid_scorer(load_vad(None))
    asr = speechdl.load("asr")
    labels = []
    for it in items:
        act = active_mask(it["clean_wave"], SR)
        idx = np.minimum(np.arange(num_frames(len(act))) * 160, len(act) - 1)
        labels.append(act[idx])
    bar = progress(None, total=len(items) * (len(results) + 2), desc="downstream", unit="clip", enabled=show)
    refs = []   # the human transcript where the clip has one, else the ASR of the clean reference
    for it in items:
        refs.append(normalize_text(it["text"]) if it.get("text") else asr.run(it["clean_wave"], beam=1, lm="none").text)
        bar.update(1)
    out: dict[str, Any] = {}
    both = {"clean": [{"_out": it["clean_wave"]} for it in items], **results}   # clean: the ceiling
    for name, rows in both.items():
        scores, hyps = [], []
        for r in rows:
            scores.append(np.asarray(vad(r["_out"]), float).reshape(-1))
            hyps.append(asr.run(r["_out"], beam=1, lm="none").text)
            bar.update(1)
        per_set = {}
        for s in sorted({it["set"] for it in items}):
            k = [i for i, it in enumerate(items) if it["set"] == s]
            y = np.concatenate([labels[i] for i in k])
            p = np.concatenate([scores[i][: len(labels[i])] for i in k])
            keep = [i for i in k if refs[i].strip()]
            per_set[s] = {"vad_auc": float(roc_auc(p, y)),
                          "asr_wer": float(wer([refs[i] for i in keep], [hyps[i] for i in keep]))
                          if keep else float("nan"),
                          "asr_cer": float(cer([refs[i] for i in keep], [hyps[i] for i in keep]))
                          if keep else float("nan"),
                          "wer_reference": "text" if all(items[i].get("text") for i in k) else "asr of clean",
                          "per_snr_cer": {str(v): float(cer([refs[i] for i in keep if items[i]["snr_db"] == v],
                                                            [hyps[i] for i in keep if items[i]["snr_db"] == v]))
                                          for v in sorted({items[i]["snr_db"] for i in keep})}}
        out[name] = per_set
    bar.close()
    return out


def _f(v: Any, nd: int = 2) -> str:
    return "-" if v is None or (isinstance(v, float) and not np.isfinite(v)) else f"{v:.{nd}f}"


def markdown(report: dict[str, Any]) -> str:
    """The report's tables in markdown."""
    lines = []
    for s, sysd in report["sets"].items():
        lines += [f"### {s}: overall ({next(iter(sysd.values()))['clips']} clips)", "",
                  "| system | PESQ-WB | STOI | ESTOI | SI-SDR dB | SI-SDRi dB | worst family (dPESQ, SI-SDRi)"
                  " | x RT (1 thr) |",
                  "|---|---|---|---|---|---|---|---|"]
        for name, d in sysd.items():
            w = d["worst_family"]
            wtxt = "-" if w is None else f"{w['family']} ({_f(w['dpesq'])}, {_f(w['si_sdri'], 1)})"
            xrt = report["xrt"].get(name)
            lines.append(f"| {name} | {_f(d['pesq'])} | {_f(d['stoi'], 3)} | {_f(d['estoi'], 3)} | {_f(d['si_sdr'], 1)}"
                         f" | {_f(d['si_sdri'], 1)} | {wtxt} | {'-' if xrt is None else f'{xrt:.0f}'} |")
        snrs = list(next(iter(sysd.values()))["per_snr"])
        for key, title, nd in (("pesq", "PESQ-WB", 2), ("estoi", "ESTOI", 3), ("si_sdri", "SI-SDRi dB", 1)):
            lines += ["", f"{s}: {title} per input SNR (dB)", "",
                      "| system | " + " | ".join(f"{float(v):+.0f}" for v in snrs) + " |",
                      "|---" * (len(snrs) + 1) + "|"]
            for name, d in sysd.items():
                lines.append(f"| {name} | " + " | ".join(_f(d["per_snr"][v][key], nd) for v in snrs) + " |")
        fams = list(next(iter(sysd.values()))["per_family"])
        if len(fams) > 1:
            lines += ["", f"{s}: per noise family, PESQ gain / SI-SDRi dB", "",
                      "| system | " + " | ".join(fams) + " |", "|---" * (len(fams) + 1) + "|"]
            for name, d in sysd.items():
                pf = d["per_family"]
                lines.append(f"| {name} | " + " | ".join(f"{_f(pf[f]['dpesq'])} / {_f(pf[f]['si_sdri'], 1)}"
                                                       for f in fams) + " |")
        lines.append("")
    for name, d in report.get("streaming", {}).items():
        us = d["numpy_us_per_hop"]
        lines += [f"streaming {name} in 10 ms chunks, 1 thread: {us} µs per hop with the numpy twin "
                  f"({10000 / us:.0f}x real time), {d['torch_us_per_hop']} µs through torch", ""]
    if report.get("downstream"):
        sets = list(report["sets"])
        first = next(iter(report["downstream"].values()))
        lines += ["### downstream: shipped VAD frame AUC, shipped ASR WER and CER (greedy, no LM)", "",
                  "WER reference: " + ", ".join(f"{s}: {first[s]['wer_reference']}" for s in sets), "",
                  "| system | " + " | ".join(f"{s} AUC | {s} WER | {s} CER" for s in sets) + " |",
                  "|---" * (3 * len(sets) + 1) + "|"]
        for name, d in report["downstream"].items():
            cells = [f"{_f(d[s]['vad_auc'], 3)} | {_f(d[s]['asr_wer'], 3)} | {_f(d[s]['asr_cer'], 3)}" for s in sets]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        for s in sets:
            snrs = list(first[s]["per_snr_cer"])
            lines += ["", f"{s}: ASR CER per input SNR (dB)", "",
                      "| system | " + " | ".join(f"{float(v):+.0f}" for v in snrs) + " |",
                      "|---" * (len(snrs) + 1) + "|"]
            for name, d in report["downstream"].items():
                lines.append(f"| {name} | " + " | ".join(_f(d[s]["per_snr_cer"][v], 3) for v in snrs) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", action="store_true", help="write the test mixes and exit")
    ap.add_argument("--clips", type=int, default=30, help="--build: held-out clips per SNR")
    ap.add_argument("--seen-clips", type=int, default=18, help="--build: seen-family clips per SNR")
    ap.add_argument("--asr-clips", type=int, default=15, help="--build: transcribed clips per SNR (asr set)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--root", default=None, help="test set folder (default ${SPEECHDL_WORK}/enhance/test)")
    ap.add_argument("--sets", default="heldout,seen")
    ap.add_argument("--model", action="append", default=[], metavar="NAME=BUNDLE")
    ap.add_argument("--anchors", default=",".join(B.ANCHOR_NAMES), help="comma list ('' for none)")
    ap.add_argument("--limit", type=int, default=None, help="clips per set (spread over SNRs)")
    ap.add_argument("--downstream", action="store_true", help="shipped VAD AUC and ASR WER, noisy vs enhanced")
    ap.add_argument("--format", choices=("text", "json"), default="text")
    ap.add_argument("--out", default=None, help="write the JSON report here")
    ap.add_argument("--no-progress", action="store_true")
    a = ap.parse_args(argv)
    root = Path(a.root) if a.root else T.default_root()
    try:
        if a.build:
            T.build(root, a.clips, a.seen_clips, a.asr_clips, a.seed)
            print(f"wrote {root}")
            return 0
        import torch

        torch.set_num_threads(1)
        sets = [s for s in a.sets.split(",") if s]
        items = load_items(root, sets, a.limit)
        systems_ = systems(a.model, [n for n in a.anchors.split(",") if n])
        results = run(systems_, items, not a.no_progress, keep=a.downstream)
        report = summarise(results, sets)
        report["streaming"] = streaming(systems_)
        if a.downstream:
            report["downstream"] = downstream(results, items, not a.no_progress)
    except SpeechdlError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    report["items"] = {n: [{k: v for k, v in r.items() if k != "_out"} for r in rows] for n, rows in results.items()}
    report["machine"] = {"python": platform.python_version(), "cpu": platform.processor() or platform.machine(),
                         "threads": 1, "root": str(root), "systems": list(systems_)}
    write_report(report, a.format, markdown(report), a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())

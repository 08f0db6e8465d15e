"""The VAD's honest protocol (``python benchmarks/vad.py``, the default): leave one family out per fold.

For every fold of :data:`speechdl.tasks.vad.folds.FOLDS` (a held-out speech-source family and a held-out
noise family) the fold's own models (trained and calibrated without either family: ``recipes/vad/lofo.py``),
Silero VAD and WebRTC VAD are scored on the same audio, built in memory by ``folds.fold_test_items``:

* ``clean``: the held-out family's recordings; ``-5`` ... ``20``: mixed with the held-out noise family at
  that SNR; ``noisy``: all of those pooled; ``noise``: noise-only clips of the held-out family.
* ROC-AUC per condition; F1 and **false alarms** (share of non-speech frames called speech) at each
  system's operating point: speechdl bundles at their shipped threshold (best F1 on the fold's dev audio,
  written by ``lofo.py export``), Silero at its default 0.5, WebRTC at its own decision.
  ``--tune-baselines`` also gives Silero a threshold tuned on the same dev audio.
* The same after each system's **own segment rules** ("post"): speechdl bundles their shipped post-processing
  (median smoothing, hysteresis, minimum speech and silence, padding), Silero the defaults of its
  ``get_speech_timestamps`` (hysteresis 0.15, speech >= 250 ms, silence >= 100 ms, 30 ms padding), WebRTC none.
  This is what a user of each tool gets as speech segments.

The summary prints each system's pooled figure (all folds' frames together) beside its **worst family**.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np

from speechdl.console import format_table
from speechdl.metrics.detection import roc_auc, tune_threshold
from speechdl.paths import work_dir
from speechdl.tasks.vad import folds as F
from speechdl.tasks.vad.calibrate import at_onset, decisions
from speechdl.tasks.vad.evaluate import metrics_of, score_items

RUNS = Path("runs/vad_lofo")
PARTS = work_dir("vad_lofo") / "parts"


def _fold_cfg(model_dir: Path, fold: int) -> dict[str, Any]:
    import yaml

    return yaml.safe_load((model_dir / f"{F.fold_name(fold)}.yaml").read_text())


def fold_systems(args: argparse.Namespace, fold: int, make: dict[str, Any]) -> list[Any]:
    """The fold's speechdl bundles (``runs/vad_lofo/<name>/<fold>/bundle``) and the baselines."""
    systems = []
    for name in args.lofo_models:
        bundle = RUNS / name / F.fold_name(fold) / "bundle"
        if (bundle / "bundle.json").is_file():
            s = make["speechdl"](name, str(bundle))
            from speechdl.tasks.vad.evaluate import bundle_threshold, load_vad

            s.threshold = bundle_threshold(load_vad(str(bundle)))
            systems.append(s)
    systems += [make["webrtc"](m, 10) for m in args.webrtc_modes]
    if not args.no_silero:
        systems.append(make["silero"]())
    return systems


def post_decisions(scores: list[np.ndarray], system: Any) -> np.ndarray:
    """Speech/non-speech per 10 ms frame ``(sum T_i,)`` after ``system``'s own segment rules (raw threshold if none).

    >>> from types import SimpleNamespace
    >>> from speechdl.tasks.vad.post import PostConfig
    >>> blip = np.r_[np.zeros(50), np.ones(10), np.zeros(50)].astype(np.float32)  # 100 ms above threshold
    >>> raw = SimpleNamespace(threshold=0.5, post=None)
    >>> ruled = SimpleNamespace(threshold=0.5, post=PostConfig(smoothing="none", min_speech=0.25, pad=0.0))
    >>> int(post_decisions([blip], raw).sum()), int(post_decisions([blip], ruled).sum())
    (10, 0)
    """
    if system.post is None:
        return np.concatenate([s >= system.threshold for s in scores])
    cfg = at_onset(system.post, system.threshold)                  # its hysteresis width, at its threshold
    return np.concatenate([decisions(s, 0.01, s.size, cfg) for s in scores])


def run_lofo(args: argparse.Namespace, make: dict[str, Any], clock: Any) -> dict[str, Any]:
    """Every fold: dev calibration of the baselines (optional), then every condition for every system."""
    from speechdl.data.augment import AugmentConfig

    folds = [int(f) for f in args.folds.split(",")]
    report: dict[str, Any] = {"folds": {}, "pooled": {}, "config": {
        "folds": [F.fold_name(f) for f in folds], "snrs": list(F.TEST_SNRS), "max_recordings": args.max_recordings,
        "parts": str(PARTS), "noise_dirs": list(args.noise_dirs)}}
    pooled: dict[str, dict[str, list[np.ndarray]]] = {}
    for fold in folds:
        t0 = time.perf_counter()
        systems = fold_systems(args, fold, make)
        if args.tune_baselines:
            ref = next(iter(args.lofo_models), None)
            aug = _fold_cfg(RUNS / ref, fold)["data"]["val_augment"] if ref else {}
            aug = AugmentConfig.from_dict({**aug, "noise_dirs": list(args.noise_dirs)})
            dev = list(F.fold_dev_items(fold, PARTS, aug, max_recordings=args.max_recordings))
            for s in systems:
                if s.name == "silero":
                    s.threshold, _ = tune_threshold(*score_items(dev, s.scorer, "dev").concat(), criterion="f1")
        res: dict[str, dict[str, Any]] = {s.name: {"threshold": s.threshold} for s in systems}
        noisy: dict[str, list[Any]] = {s.name: [] for s in systems}
        for cond in F.fold_conditions():
            items = list(F.fold_test_items(fold, cond, PARTS, tuple(args.noise_dirs), args.max_recordings,
                                           noise_items=args.noise_items))
            for s in systems:
                scored = score_items(items, s.scorer, cond, clock=clock)
                sc, y = scored.concat()
                post = post_decisions(scored.scores, s)
                if cond == "noise":                   # pooled below: each fold's decisions at its own threshold
                    res[s.name]["noise_fa"] = float(np.mean(sc >= s.threshold))
                    res[s.name]["noise_fa_post"] = float(np.mean(post))
                    pooled.setdefault(s.name, {}).setdefault("noise", []).append((sc >= s.threshold, y))
                    pooled[s.name].setdefault("noise_post", []).append((post, y))
                    continue
                m = metrics_of(scored, s.threshold)
                res[s.name][cond] = {"auc": m["roc_auc"], "f1": m["f1"], "fa": m["false_alarm"], "miss": m["miss"]}
                res[s.name].setdefault("x_rt", []).append(m["x_real_time"])
                pooled.setdefault(s.name, {}).setdefault(cond if cond == "clean" else "noisy", []).append((sc, y))
                if cond != "clean":
                    noisy[s.name].append((sc, y, post))
                    pooled[s.name].setdefault("noisy_post", []).append((post, y))
        for s in systems:
            sc, y, post = (np.concatenate(a) for a in zip(*noisy[s.name], strict=True))
            res[s.name]["noisy"] = {"auc": roc_auc(sc, y), "fa": float(np.mean(sc[y < 0.5] >= s.threshold)),
                                    "f1": _f1(sc >= s.threshold, y), "f1_post": _f1(post, y)}
            res[s.name]["x_rt"] = float(np.median(res[s.name]["x_rt"]))
        report["folds"][F.fold_name(fold)] = res
        print(f"{F.fold_name(fold)}: {time.perf_counter() - t0:.0f} s", flush=True)
    for name, conds in pooled.items():
        out = {}
        for cond, parts in conds.items():
            sc = np.concatenate([a for a, _ in parts])
            y = np.concatenate([b for _, b in parts])
            if cond == "noisy_post":
                out[cond] = {"f1": _f1(sc, y)}
            elif cond.startswith("noise"):
                out[cond] = {"fa_noise_only": float(np.mean(sc))}
            else:
                out[cond] = {"auc": roc_auc(sc, y)}
        report["pooled"][name] = out
    return report


def _f1(pred: np.ndarray, y: np.ndarray) -> float:
    tp = float(np.sum(pred & (y > 0.5)))
    return 2 * tp / max(1.0, float(np.sum(pred) + np.sum(y > 0.5)))


def lofo_tables(report: dict[str, Any]) -> str:
    """Per-fold table, then the summary: pooled vs worst family."""
    rows, summary = [], []
    snrs = [f"{s:g}" for s in report["config"]["snrs"]]
    for fold, res in report["folds"].items():
        for name, r in res.items():
            rows.append({"fold (speech+noise held out)": fold, "system": name, "thr": f"{r['threshold']:.3f}",
                         "clean AUC": f"{r['clean']['auc']:.3f}",
                         **{f"{s} dB": f"{r[s]['auc']:.3f}" for s in snrs},
                         "noisy AUC": f"{r['noisy']['auc']:.3f}", "noisy F1 %": f"{100 * r['noisy']['f1']:.1f}",
                         "FA % noisy": f"{100 * r['noisy']['fa']:.1f}", "FA % noise-only": f"{100 * r['noise_fa']:.1f}",
                         "noisy F1 % post": f"{100 * r['noisy']['f1_post']:.1f}",
                         "FA % noise-only post": f"{100 * r['noise_fa_post']:.1f}",
                         "x RT": f"{r['x_rt']:,.0f}"})
    names = list(report["pooled"])
    for name in names:
        per = [res[name] for res in report["folds"].values() if name in res]
        worst_clean = min(per, key=lambda r: r["clean"]["auc"])
        worst_noisy = min(per, key=lambda r: r["noisy"]["auc"])
        p = report["pooled"][name]
        summary.append({
            "system": name, "pooled clean AUC": f"{p['clean']['auc']:.3f}",
            "worst clean AUC": f"{worst_clean['clean']['auc']:.3f}",
            "pooled noisy AUC": f"{p['noisy']['auc']:.3f}", "worst noisy AUC": f"{worst_noisy['noisy']['auc']:.3f}",
            "FA % noise-only (pooled)": f"{100 * p['noise']['fa_noise_only']:.1f}",
            "worst FA % noise-only": f"{100 * max(r['noise_fa'] for r in per):.1f}",
            "noisy F1 % post (pooled)": f"{100 * p['noisy_post']['f1']:.1f}",
            "FA % noise-only post (pooled)": f"{100 * p['noise_post']['fa_noise_only']:.1f}",
            "worst FA % post": f"{100 * max(r['noise_fa_post'] for r in per):.1f}"})
    return ("Per fold (AUC by condition; F1 and false alarms at each system's operating point, raw frames and after"
            " its own segment rules: post)\n"
            + format_table(rows) + "\n\nSummary over folds: pooled frames vs the worst held-out family\n"
            + format_table(summary))

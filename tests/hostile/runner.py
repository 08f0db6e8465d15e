"""Run the corpus: ``speechdl.cli.main`` in-process in a few worker processes, with a time limit per run.

A worker imports speechdl once and runs command lines one after another, its file descriptors 1 and 2
pointed at files for each run (so what C libraries print is captured too, as from a subprocess). The
parent kills a worker (its whole process group) whose run passes the time limit, counts a hang and
starts a fresh worker; a worker that dies (a crash) counts as a traceback. Address space is limited
(``HOSTILE_MEMORY_GB``, default 6), so a huge allocation fails instead of taking the machine.

Each run is classified (:func:`classify`):

- ``ok``: exit 0 and the output is sane (no NaN/Inf, no null where a number belongs, durations and hours
  >= 0 and no longer than the audio, fractions in [0, 1], segments ordered, .npy outputs finite);
- ``error``: exit 2 and exactly one stderr line starting ``speechdl: error:``;
- ``traceback``: a traceback, an internal error (exit 1), a crash or any other exit code;
- ``messy``: exit 2 but not exactly one ``speechdl: error:`` line (argparse usage, extra chatter);
- ``hang``: killed at the time limit;
- ``nonsense``: exit 0 with NaN/Inf or impossible values.

As a script it prints the table of a whole corpus run::

    .venv/bin/python -m tests.hostile.runner [--quick] [--jobs 2] [--json report.json] [--root REPO]
"""

from __future__ import annotations

import json
import math
import os
import re
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
CLASSES = ("ok", "error", "traceback", "messy", "hang", "nonsense")
BAD = ("traceback", "messy", "hang", "nonsense")


@dataclass
class Outcome:
    """What one run did: exit code (None: killed at the limit), stdout, stderr, seconds."""

    rc: int | None
    out: str
    err: str
    seconds: float


# ------------------------------------------------------------------ the worker (a child process)
def _worker() -> None:    # pragma: no cover - runs in the child
    import resource

    limit = int(float(os.environ.get("HOSTILE_MEMORY_GB", "6")) * 2**30)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    channel = os.fdopen(os.dup(1), "w", buffering=1)
    requests = os.fdopen(os.dup(0), "r")
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
    from speechdl.cli import main

    home = os.getcwd()
    for line in requests:
        req = json.loads(line)
        out_f, err_f = tempfile.TemporaryFile(), tempfile.TemporaryFile()
        sys.stdout.flush()
        sys.stderr.flush()
        saved = os.dup(1), os.dup(2)
        os.dup2(out_f.fileno(), 1)
        os.dup2(err_f.fileno(), 2)
        t = time.perf_counter()
        try:
            os.chdir(req["cwd"] or home)
            rc = main(req["argv"])
        except SystemExit as stop:
            rc = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
            if not isinstance(stop.code, int | None):
                print(stop.code, file=sys.stderr)
        except BaseException:   # noqa: BLE001 - anything that escapes main is a traceback
            import traceback

            traceback.print_exc()
            rc = 1
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
            os.chdir(home)
        seconds = time.perf_counter() - t
        texts = []
        for f in (out_f, err_f):
            f.seek(0)
            texts.append(f.read(200_000).decode("utf-8", "replace"))
            f.close()
        channel.write(json.dumps({"rc": rc, "out": texts[0], "err": texts[1], "seconds": seconds}) + "\n")


class Worker:
    """A child process running command lines through ``speechdl.cli.main``."""

    def __init__(self, root: Path) -> None:
        env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONPATH": str(root),
               "PYTHONUNBUFFERED": "1", "SPEECHDL_DEBUG": ""}
        env.pop("SPEECHDL_DEBUG")
        self.proc = subprocess.Popen([sys.executable, __file__, "--worker"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     cwd=root, env=env, text=True, start_new_session=True)

    def run(self, argv: list[str], cwd: str | None, limit: float) -> Outcome:
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(json.dumps({"argv": argv, "cwd": cwd}) + "\n")
        self.proc.stdin.flush()
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        t = time.perf_counter()
        ready = sel.select(timeout=limit)
        sel.close()
        if not ready:
            self.kill()
            return Outcome(None, "", "", time.perf_counter() - t)
        line = self.proc.stdout.readline()
        if not line:        # the worker died: a crash
            code = self.proc.wait()
            return Outcome(code if code < 0 else -999, "", f"worker died (exit {code})", time.perf_counter() - t)
        return Outcome(**json.loads(line))

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()

    def close(self) -> None:
        if self.alive():
            assert self.proc.stdin
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()


# ------------------------------------------------------------------ classification
_NONFINITE = re.compile(r"(?<![\w.])[-+]?(nan|inf|infinity)(?![\w.])", re.IGNORECASE)
NUMBER_KEYS = {"duration", "hours", "speech_hours", "speech_fraction", "score", "frame_shift", "frames", "eer",
               "min_dcf_0.01", "min_dcf_0.05", "wer", "cer", "start", "end", "best_score", "threshold"}
NONNEGATIVE = {"duration", "hours", "speech_hours", "start", "end", "frames", "recordings", "utterances",
               "seconds", "eer", "wer", "cer", "frame_shift"}
FRACTIONS = {"speech_fraction", "eer", "far", "frr"}


def _walk(value: Any, key: str, problems: list[str], max_seconds: float | None) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _walk(v, str(k), problems, max_seconds)
        if isinstance(value.get("start"), int | float) and isinstance(value.get("end"), int | float) \
                and value["start"] > value["end"] + 1e-9:
            problems.append(f"segment start {value['start']} > end {value['end']}")
        return
    if isinstance(value, list):
        for v in value:
            _walk(v, key, problems, max_seconds)
        if key == "embedding" and value and all(v == 0 for v in value):
            problems.append("an all-zero embedding")
        return
    if value is None:
        if key in NUMBER_KEYS:
            problems.append(f"{key} is null")
        return
    if isinstance(value, bool) or not isinstance(value, int | float):
        return
    if not math.isfinite(value):
        problems.append(f"{key}={value}")
    elif key in NONNEGATIVE and value < 0:
        problems.append(f"{key}={value} < 0")
    elif key in FRACTIONS and not 0 <= value <= 1:
        problems.append(f"{key}={value} outside [0, 1]")
    elif max_seconds is not None and key in ("duration", "end") and value > max_seconds + 0.5:
        problems.append(f"{key}={value} s but the audio holds at most {max_seconds:g} s")


def output_problems(out: str, max_seconds: float | None = None, files: tuple[str, ...] = ()) -> list[str]:
    """What is impossible in an exit-0 run's stdout and output files (empty: sane)."""
    problems: list[str] = []
    for line in out.splitlines():
        s = line.strip()
        if s[:1] in "{[":
            try:
                _walk(json.loads(s), "", problems, max_seconds)
                continue
            except ValueError:
                pass
        m = _NONFINITE.search(line)
        if m:
            problems.append(f"{m.group(0)!r} in the output")
    for f in files:
        if f.endswith(".npy") and os.path.isfile(f):
            import numpy as np

            x = np.load(f)
            if x.size == 0 or not np.isfinite(x).all():
                problems.append(f"{Path(f).name}: {x.shape}, finite: {bool(np.isfinite(x).all())}")
    return problems[:5]


def classify(outcome: Outcome, max_seconds: float | None = None, files: tuple[str, ...] = (),
             serves: bool = False) -> tuple[str, str]:
    """``(class, detail)`` of one run (see the module docstring)."""
    lines = [ln for ln in outcome.err.splitlines() if ln.strip()]
    first = lines[0] if lines else ""
    if outcome.rc is None:
        return ("ok" if serves else "hang"), "killed at the time limit" + (" (serving)" if serves else "")
    if "Traceback (most recent call last)" in outcome.err:
        return "traceback", next((ln for ln in reversed(lines) if not ln.startswith(" ")), first)
    if outcome.rc == 0:
        problems = output_problems(outcome.out, max_seconds, files)
        return ("nonsense", "; ".join(problems)) if problems else ("ok", "")
    if outcome.rc == 2:
        if len(lines) == 1 and first.startswith("speechdl: error: "):
            return "error", first
        return "messy", " | ".join(lines[-3:])[:300]
    return "traceback", f"exit {outcome.rc}: {first}"[:300]


# ------------------------------------------------------------------ the pool
def run_corpus(runs: list, setup: list[list[str]] = (), jobs: int = 2, root: Path = ROOT,
               on_result=None) -> list[dict[str, Any]]:
    """Run ``runs`` (:class:`tests.hostile.runs.Run`) on ``jobs`` workers; one dict per run, in order."""
    work = Path(tempfile.mkdtemp(prefix="speechdl-hostile-runs-"))
    results: list[dict[str, Any] | None] = [None] * len(runs)
    lock = threading.Lock()
    queue = list(enumerate(runs))
    setup_ok = True
    if setup:
        w = Worker(root)
        for argv in setup:
            o = w.run(argv, None, 300)
            setup_ok &= o.rc == 0
            if o.rc != 0:
                print(f"setup failed: {argv}: {o.err.strip()[-300:]}", file=sys.stderr)
        w.close()

    def loop() -> None:
        worker = Worker(root)
        try:
            while True:
                with lock:
                    if not queue:
                        return
                    i, run = queue.pop(0)
                tmp = work / f"run{i}"
                tmp.mkdir()
                argv = [a.replace("{tmp}", str(tmp)) for a in run.argv]
                files = tuple(f.replace("{tmp}", str(tmp)) for f in run.outputs)
                if not worker.alive():
                    worker = Worker(root)
                o = worker.run(argv, run.cwd, run.limit)
                if o.rc is None or (o.rc is not None and o.rc < 0):
                    worker = Worker(root)
                klass, detail = classify(o, run.seconds, files, run.serves)
                res = {**asdict(run), "argv": argv, "class": klass, "detail": detail, "rc": o.rc,
                       "seconds": round(o.seconds, 2), "stderr": o.err[-2000:], "stdout": o.out[:2000]}
                results[i] = res
                shutil.rmtree(tmp, ignore_errors=True)
                if on_result:
                    with lock:
                        on_result(res)
        finally:
            worker.close()

    threads = [threading.Thread(target=loop) for _ in range(max(1, jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    shutil.rmtree(work, ignore_errors=True)
    if not setup_ok:
        for r in results:
            if r is not None:
                r["setup_failed"] = True
    return [r for r in results if r is not None]


def table(results: list[dict[str, Any]]) -> str:
    """Per-verb counts of each class, and the total."""
    per: dict[str, Counter] = defaultdict(Counter)
    for r in results:
        per[r["verb"]][r["class"]] += 1
    cols = ("runs", *CLASSES)
    rows = [(verb, sum(c.values()), *(c[k] for k in CLASSES)) for verb, c in sorted(per.items())]
    total = Counter(r["class"] for r in results)
    rows.append(("TOTAL", len(results), *(total[k] for k in CLASSES)))
    w = max(len(r[0]) for r in rows)
    lines = ["verb".ljust(w) + "".join(f"{c:>10}" for c in cols)]
    lines += [r[0].ljust(w) + "".join(f"{v:>10}" for v in r[1:]) for r in rows]
    return "\n".join(lines)


def failures(results: list[dict[str, Any]]) -> list[str]:
    """One line per run that is not ok or a clean error."""
    return [f"{r['class']}: {r['verb']} [{r['case']}] {' '.join(r['argv'][:8])} -> {r['detail']}"
            for r in results if r["class"] in BAD]


def main(argv: list[str] | None = None) -> int:    # pragma: no cover - the report script
    import argparse

    from tests.hostile.cases import build
    from tests.hostile.runs import parser_verbs, plan, setup_lines

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="only the fast-tier subset")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--root", default=str(ROOT), help="the speechdl checkout to attack (its speechdl/ is imported)")
    ap.add_argument("--json", default=None, help="write every run's result here")
    ap.add_argument("--only", default=None, help="only runs whose verb or case contains this")
    args = ap.parse_args(argv)
    cases_dir = Path(tempfile.mkdtemp(prefix="speechdl-hostile-cases-"))
    try:
        inp = build(cases_dir)
        runs = plan(inp, parser_verbs())
        if args.quick:
            runs = [r for r in runs if r.quick]
        if args.only:
            runs = [r for r in runs if args.only in r.verb or args.only in r.case]
        t = time.time()
        done = [0]

        def show(res: dict[str, Any]) -> None:
            done[0] += 1
            if res["class"] in BAD:
                print(f"[{done[0]}/{len(runs)}] {res['class']}: {res['verb']} [{res['case']}] {res['detail'][:200]}",
                      file=sys.stderr, flush=True)

        results = run_corpus(runs, setup_lines(inp), args.jobs, Path(args.root), on_result=show)
        print(table(results))
        print(f"\n{len(results)} runs of {len({r['verb'] for r in results})} verbs x "
              f"{len({r['case'] for r in results})} cases in {time.time() - t:.0f} s")
        if args.json:
            Path(args.json).write_text(json.dumps(results, indent=1))
    finally:
        shutil.rmtree(cases_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    if sys.argv[1:] == ["--worker"]:   # run as a file, so that only speechdl comes from PYTHONPATH (--root)
        _worker()
        sys.exit(0)
    sys.exit(main())

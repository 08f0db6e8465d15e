"""Command-line start-up time, before and after the lazy catalogue, in one run.

Times ``speechdl --version``, ``speechdl --help`` and ``speechdl vad --help`` as fresh processes of this
venv's Python, for the current checkout and for an earlier commit (default: the last one before the
application contract, ``d23a5a6``) checked out into a temporary git worktree. The cases are interleaved
round-robin ``--repeats`` times so that load from other jobs spreads evenly; the median wall time is
reported, with the modules each command imported (torch, lightning).

Usage:
    python benchmarks/startup.py                       # table, ~1 min
    python benchmarks/startup.py --before d23a5a6 --repeats 9 --format json --out startup.json
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from speechdl.console import format_table, write_report  # noqa: E402

COMMANDS = {"--version": ["--version"], "--help": ["--help"], "vad --help": ["vad", "--help"]}
PROBE = ("import sys, runpy\nsys.argv = ['speechdl'] + {argv!r}\n"
         "try:\n    runpy.run_module('speechdl.cli', run_name='__main__')\nexcept SystemExit:\n    pass\n"
         "sys.stderr.write('MODULES ' + ' '.join(m for m in ('torch', 'lightning') if m in sys.modules) + '\\n')")


def run_once(tree: Path, argv: list[str]) -> tuple[float, str]:
    """Wall seconds of one fresh ``speechdl`` process from ``tree``, and the heavy modules it imported."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", PROBE.format(argv=argv)], capture_output=True, text=True,
                         cwd=tree, env=env, timeout=120)
    wall = time.perf_counter() - start
    mods = next((line[8:] for line in out.stderr.splitlines() if line.startswith("MODULES")), "?")
    return wall, mods.strip() or "-"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--before", default="d23a5a6", help="commit to compare with (default d23a5a6)")
    ap.add_argument("--repeats", type=int, default=7, help="timed runs per case (median reported)")
    ap.add_argument("--format", choices=["text", "json"], default="text")
    ap.add_argument("--out", default=None, help="also write the JSON report here")
    args = ap.parse_args(argv)
    if args.repeats < 1:
        print("startup.py: error: --repeats must be >= 1", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        old = Path(tmp) / "before"
        made = subprocess.run(["git", "worktree", "add", "--detach", str(old), args.before], cwd=ROOT,
                              capture_output=True, text=True)
        if made.returncode != 0:
            print(f"startup.py: error: cannot check out {args.before} ({made.stderr.strip()})", file=sys.stderr)
            return 2
        try:
            trees = {"before": old, "after": ROOT}
            times: dict[tuple[str, str], list[float]] = {}
            mods: dict[tuple[str, str], str] = {}
            for tree in trees.values():   # warm the file cache
                for cmd in COMMANDS.values():
                    run_once(tree, cmd)
            for _ in range(args.repeats):
                for cname, cmd in COMMANDS.items():
                    for tree_name, tree in trees.items():
                        wall, m = run_once(tree, cmd)
                        times.setdefault((cname, tree_name), []).append(wall)
                        mods[(cname, tree_name)] = m
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(old)], cwd=ROOT, capture_output=True)
    subprocess.run(["git", "worktree", "prune"], cwd=ROOT, capture_output=True)   # if remove could not
    rows = []
    for cname in COMMANDS:
        b, a = (statistics.median(times[(cname, t)]) for t in ("before", "after"))
        rows.append({"command": f"speechdl {cname}", "before_s": round(b, 3), "after_s": round(a, 3),
                     "speed-up": round(b / a, 1), "imports before": mods[(cname, "before")],
                     "imports after": mods[(cname, "after")]})
    report = {"before": args.before, "repeats": args.repeats, "python": sys.version.split()[0], "rows": rows}
    text = f"speechdl start-up (median of {args.repeats}; before = {args.before})\n" + format_table(rows)
    write_report(report, args.format, text, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Interrupt a real `speechdl train` run with SIGINT, SIGTERM, `timeout` and SIGKILL, re-run the same command,
and compare the final metrics and weights with an uninterrupted run (issue 13, item 4).

    OMP_NUM_THREADS=1 python benchmarks/train_faults.py [--n 18000] [--out /tmp/train_faults]

Default: recipes/dense/vad_lecture.yaml with data.n=18000 (720 steps per epoch x 10 epochs = 7,200 steps,
the issue's case; the recipe's own n=2000 gives 800 steps). Cases marked "at step k" use the test hook
SPEECHDL_TEST_PAUSE_AT_STEP (the signal is sent from outside while the run waits after step k); the
`timeout` and "after N s" cases land wherever the run happens to be. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "recipes" / "dense" / "vad_lecture.yaml"


def run(out: Path, n: int, pause: int | None = None, sig: signal.Signals | None = None, after: float | None = None,
        prefix: tuple[str, ...] = ()) -> tuple[int, str, str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    env.pop("SPEECHDL_TEST_PAUSE_AT_STEP", None)
    if pause is not None:
        env["SPEECHDL_TEST_PAUSE_AT_STEP"] = str(pause)
    cmd = [*prefix, sys.executable, "-m", "speechdl.cli", "train", str(RECIPE), f"data.n={n}", "--out", str(out),
           "--format", "json"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env)
    err = []
    if pause is not None:
        for line in proc.stderr:
            err.append(line)
            if line.startswith("speechdl-test: paused"):
                proc.send_signal(sig)
                break
    elif after is not None:
        time.sleep(after)
        proc.send_signal(sig)
    out_text, rest = proc.communicate()
    return proc.returncode, out_text, "".join(err) + rest


def ckpt_step(out: Path) -> int | None:
    path = out / "checkpoints" / "last.ckpt"
    return torch.load(path, weights_only=False)["global_step"] if path.exists() else None


def weights(out: Path) -> dict[str, torch.Tensor]:
    return torch.load(out / "checkpoints" / "last.ckpt", weights_only=False)["state_dict"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=18000)
    ap.add_argument("--out", default="/tmp/train_faults")
    args = ap.parse_args()
    root = Path(args.out)
    shutil.rmtree(root, ignore_errors=True)
    t0 = time.perf_counter()
    rc, text, err = run(root / "uninterrupted", args.n)
    assert rc == 0, err
    base = json.loads(text)
    base_s = time.perf_counter() - t0
    w0 = weights(root / "uninterrupted")
    cases = [
        ("SIGINT at step 1234", dict(pause=1234, sig=signal.SIGINT)),
        ("SIGTERM at step 3333", dict(pause=3333, sig=signal.SIGTERM)),
        ("timeout 30 s (SIGTERM)", dict(prefix=("timeout", "30"))),
        ("SIGKILL at step 5123", dict(pause=5123, sig=signal.SIGKILL)),
        (f"SIGKILL after {0.6 * base_s:.0f} s", dict(after=0.6 * base_s, sig=signal.SIGKILL)),
    ]
    rows = [("uninterrupted", "-", "-", base["metrics"]["val_loss"], base["best_score"],
             base["metrics"]["train_loss_epoch"], "-", "-")]
    for i, (name, kw) in enumerate(cases):
        out = root / f"case{i}"
        rc, _, err = run(out, args.n, **kw)
        stopped = ckpt_step(out)
        rc2, text, err2 = run(out, args.n)
        assert rc2 == 0, err2
        s = json.loads(text)
        w = weights(out)
        same = all(s[k] == base[k] for k in ("metrics", "best_score", "global_step", "epochs"))
        bits = all(torch.equal(w[k], w0[k]) for k in w0)
        rows.append((name, f"exit {rc}", str(stopped), s["metrics"]["val_loss"], s["best_score"],
                     s["metrics"]["train_loss_epoch"], "yes" if same else "NO", "yes" if bits else "NO"))
        print(f"{name}: exit {rc}, resumed from step {stopped}, equal={same}, weights identical={bits}",
              file=sys.stderr, flush=True)
    print(f"\nrecipes/dense/vad_lecture.yaml, data.n={args.n}: {base['global_step']} steps, "
          f"uninterrupted {base_s:.0f} s wall (with start-up)\n")
    print("| case | first run | resumed from step | final val_loss | best val_loss | final train_loss_epoch | "
          "metrics equal | weights bit-identical |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print("| " + " | ".join(str(c) for c in r) + " |")


if __name__ == "__main__":
    main()

"""Training faults with real signals: `speechdl train` subprocesses stopped by SIGINT, SIGTERM, `timeout`
and SIGKILL, then re-run with the same command, end with *exactly* the metrics and weights of an
uninterrupted run; a diverging run stops at the first non-finite loss with one line and exit code 2.

Signals are sent at a known step: with ``SPEECHDL_TEST_PAUSE_AT_STEP=k`` the run prints
``speechdl-test: paused at step k`` after optimizer step k and waits for a signal (speechdl.train.faults).
The recipe is the lecture's VAD network (dropout on) on 400 toy frames: 16 steps per epoch, 3 epochs.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
RECIPE = ROOT / "recipes" / "dense" / "vad_lecture.yaml"
SMALL = ["data.n=400", "trainer.max_epochs=3", "trainer.checkpoint_every_steps=5"]
PAUSED = "speechdl-test: paused at step"

pytestmark = pytest.mark.slow


def command(out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "speechdl.cli", "train", str(RECIPE), *SMALL, *extra, "--out", str(out),
            "--format", "json"]


def env(pause: int | None = None) -> dict[str, str]:
    e = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    e.pop("SPEECHDL_TEST_PAUSE_AT_STEP", None)
    if pause is not None:
        e["SPEECHDL_TEST_PAUSE_AT_STEP"] = str(pause)
    return e


def finish(out: Path, *extra: str) -> dict:
    """Run (or resume) to the end; the JSON summary."""
    proc = subprocess.run(command(out, *extra), capture_output=True, text=True, cwd=ROOT, env=env(), timeout=600)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def interrupt(out: Path, step: int, sig: signal.Signals, *extra: str, prefix: tuple[str, ...] = ()) -> \
        subprocess.CompletedProcess:
    """Start a run, wait until it reports optimizer step ``step``, send ``sig`` (None: let ``prefix`` act)."""
    proc = subprocess.Popen([*prefix, *command(out, *extra)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=ROOT, env=env(step))
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if line.startswith(PAUSED):
            assert int(line.split()[-1]) == step
            if sig is not None:
                proc.send_signal(sig)
            break
    stdout, rest = proc.communicate(timeout=600)
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, "".join(seen) + rest)


def weights(out: Path) -> dict[str, torch.Tensor]:
    return torch.load(out / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)["state_dict"]


def same_run(a: dict, b: dict) -> bool:
    keys = ("epochs", "global_step", "best_score", "stopped_early", "metrics", "monitor")
    return {k: a[k] for k in keys} == {k: b[k] for k in keys}


def assert_identical(out: Path, base_out: Path, summary: dict, base: dict) -> None:
    assert same_run(summary, base), (summary, base)           # every final metric, to the last digit
    w, w0 = weights(out), weights(base_out)
    assert w.keys() == w0.keys() and all(torch.equal(w[k], w0[k]) for k in w)   # bit for bit


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("faults") / "uninterrupted"
    summary = finish(out)
    assert summary["global_step"] == 48 and summary["resumed_from"] is None
    assert torch.load(out / "checkpoints" / "last.ckpt", weights_only=False)["global_step"] == 48
    return out, summary


@pytest.mark.parametrize("sig, step", [(signal.SIGINT, 7), (signal.SIGTERM, 21), (signal.SIGINT, 40)])
def test_signal_mid_epoch_then_resume_is_exact(tmp_path, base, sig, step):
    out = tmp_path / "run"
    stopped = interrupt(out, step, sig)
    assert stopped.returncode == 130, stopped.stderr
    assert f"interrupted at step {step}" in stopped.stderr and "Traceback" not in stopped.stderr
    assert torch.load(out / "checkpoints" / "last.ckpt", weights_only=False)["global_step"] == step
    resumed = finish(out)
    assert resumed["resumed_from"].endswith("last.ckpt")
    assert_identical(out, base[0], resumed, base[1])


def test_signal_on_the_last_batch_of_an_epoch_stops_one_step_later(tmp_path, base):
    out = tmp_path / "run"
    stopped = interrupt(out, 16, signal.SIGINT)           # step 16 ends epoch 0: its checkpoint comes first
    assert stopped.returncode == 130 and "interrupted at step 17" in stopped.stderr, stopped.stderr
    assert_identical(out, base[0], finish(out), base[1])


def test_timeout_then_resume_is_exact(tmp_path, base):
    if shutil.which("timeout") is None:
        pytest.skip("no timeout command")
    out = tmp_path / "run"
    # timeout sends SIGTERM after 40 s; the run waits for it at step 3 (start-up takes well under 40 s)
    stopped = interrupt(out, 3, None, prefix=("timeout", "40"))
    assert stopped.returncode == 124 and PAUSED in stopped.stderr, stopped.stderr
    assert "interrupted at step 3" in stopped.stderr
    assert torch.load(out / "checkpoints" / "last.ckpt", weights_only=False)["global_step"] == 3
    assert_identical(out, base[0], finish(out), base[1])


@pytest.mark.parametrize("step, every, resumes_at", [(23, 5, 20), (29, None, 16)])
def test_sigkill_then_resume_from_the_last_checkpoint_is_exact(tmp_path, base, step, every, resumes_at):
    """SIGKILL cannot be caught: the run resumes from the last periodic checkpoint (every 5 steps), or
    with periodic checkpoints off from the end of the previous epoch, and still ends identical."""
    out = tmp_path / "run"
    extra = () if every else ("trainer.checkpoint_every_steps=null",)
    killed = interrupt(out, step, signal.SIGKILL, *extra)
    assert killed.returncode == -signal.SIGKILL
    assert torch.load(out / "checkpoints" / "last.ckpt", weights_only=False)["global_step"] == resumes_at
    assert not list((out / "checkpoints").glob(".*.tmp"))        # no half-written checkpoint left behind
    assert_identical(out, base[0], finish(out, *extra), base[1])


def test_second_sigint_stops_at_once_and_keeps_the_last_checkpoint(tmp_path, base):
    out = tmp_path / "run"
    proc = subprocess.Popen(command(out), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
                            env=env(13))
    for line in proc.stderr:
        if line.startswith(PAUSED):
            break
    # the first signal asks for a stop at the end of the step; the second, sent before the run could
    # act on the first, stops it at once: the checkpoint kept is the periodic one of step 10 (SIGTERM
    # as the second: two SIGINTs sent at once may reach the process as one)
    proc.send_signal(signal.SIGINT)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 130 and "Traceback" not in err, err
    step = torch.load(out / "checkpoints" / "last.ckpt", weights_only=False)["global_step"]
    assert step in (10, 13)           # 13 only if the run saved between the two signals
    assert_identical(out, base[0], finish(out), base[1])


def test_divergence_stops_at_the_first_non_finite_loss_with_one_line(tmp_path):
    proc = subprocess.run(command(tmp_path / "run", "data.noise=.inf"), capture_output=True, text=True, cwd=ROOT,
                          env=env(), timeout=600)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr
    assert "loss became nan at step 1" in lines[0] and "optim.lr" in lines[0] and proc.stdout == ""

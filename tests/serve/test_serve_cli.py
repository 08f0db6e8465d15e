"""``speechdl serve``: bad flags are one line and exit 2 (no server starts, no traceback)."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest

from tests.serve.conftest import ROOT


def serve(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "speechdl.cli", "serve", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=300)


@pytest.mark.parametrize("args,words", [
    (["--models", "vad,whisper"], "unknown model(s) whisper"),
    (["--workers", "0"], "--workers"),
    (["--max-upload-mb", "-1"], "--max-upload-mb"),
    (["--timeout", "nan"], "--timeout"),
])
def test_bad_flags_are_one_line_and_exit_2(args, words):
    out = serve(*args)
    lines = out.stderr.strip().splitlines()
    assert out.returncode == 2, out.stderr[-2000:]
    assert len(lines) == 1 and lines[0].startswith("speechdl: error:") and words in lines[0]


def test_a_port_in_use_is_one_line_and_exit_2():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        out = serve("--models", "vad", "--port", str(s.getsockname()[1]))
    assert out.returncode == 2, out.stderr[-2000:]
    assert out.stderr.strip().splitlines()[-1].startswith("speechdl: error: 127.0.0.1:")
    assert "Traceback" not in out.stderr

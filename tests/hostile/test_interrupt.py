"""Progress and Ctrl-C in every long loop behind a CLI verb (issue 13).

Each verb, interrupted after its first item (a ``KeyboardInterrupt`` raised where Ctrl-C would land):
exit 130, one ``speechdl: interrupted: WHAT (N of M NOUN done; HINT)`` line, no traceback, no
half-written or temporary file; a resumable verb run again finishes only what is left. Each runs with
stderr seen as a terminal, so its progress bar must appear. One test sends a real SIGINT to the process
group of ``data synth`` with worker processes (as a terminal's Ctrl-C does).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from speechdl import audio
from speechdl.cli import main

SAMPLE = Path(audio.__file__).parent / "assets" / "sample.flac"
ROOT = Path(__file__).resolve().parents[2]
START_OVER = "rerun to start over"


def _stop_after(monkeypatch, owner, name: str, n: int) -> list:
    """Make ``owner.name`` raise KeyboardInterrupt on its call number ``n + 1`` (n calls finish)."""
    real, calls = getattr(owner, name), []

    def wrapper(*args, **kwargs):
        calls.append(1)
        if len(calls) > n:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, wrapper)
    return calls


def _tty(monkeypatch) -> None:
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)


def _interrupted(capsys, argv: list, line: str, bar: str | None) -> str:
    """Run ``argv``: exit 130, exactly one ``speechdl:`` line (== ``line``), no traceback, the bar ``bar`` shown."""
    rc = main([str(a) for a in argv])
    cap = capsys.readouterr()
    said = [part for part in re.split(r"[\r\n]", cap.err) if part.startswith("speechdl")]
    assert rc == 130 and said == [f"speechdl: interrupted: {line}"], cap.err
    assert "Traceback" not in cap.err and "Error" not in cap.err, cap.err
    if bar is not None:
        assert f"{bar}:" in cap.err and "|" in cap.err, f"no progress bar {bar!r} on a terminal: {cap.err!r}"
    return cap.out


def _hidden(folder: Path) -> list[str]:
    """Temporary files (dot-names) left anywhere under ``folder``."""
    return [p.name for p in folder.rglob(".*") if p.name != ".parts" and p.suffix != ".lock"]   # flock files stay


@pytest.fixture
def three(tmp_path) -> list[Path]:
    d = tmp_path / "in"
    d.mkdir()
    for name in ("a", "b", "c"):
        shutil.copy(SAMPLE, d / f"{name}.flac")
    return sorted(d.iterdir())


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """A tiny synthetic corpus (speech intervals and transcripts) for the eval verbs."""
    out = tmp_path_factory.mktemp("corpus") / "synth"
    assert main(["data", "synth", "--hours", "0.008", "--out", str(out), "--workers", "1", "--noise-dir", "none",
                 "--format", "json"]) == 0
    return out


# ------------------------------------------------------------------ verbs that redo everything on a rerun
def test_features_extract(tmp_path, capsys, monkeypatch):
    from speechdl.features import extract

    _tty(monkeypatch)
    _stop_after(monkeypatch, extract.NpyWriter, "write", 1)
    out = tmp_path / "out"
    _interrupted(capsys, ["features", "extract", SAMPLE, "--out", out / "f.npy"],
                 f"features extract of {SAMPLE} (1 of 2 blocks done; nothing was written; {START_OVER})", "features")
    assert not out.exists() or list(out.iterdir()) == []


def test_vad_detect_on_many_files(three, tmp_path, capsys, monkeypatch):
    from speechdl.tasks.vad import cli as vad_cli

    _tty(monkeypatch)
    _stop_after(monkeypatch, vad_cli, "detect_file", 1)
    out = tmp_path / "segs"
    _interrupted(capsys, ["vad", "detect", *three, "--out-dir", out],
                 f"vad detect (1 of 3 files done; {START_OVER})", "vad detect")
    assert sorted(p.name for p in out.iterdir()) == ["a.txt"]   # the finished file's output, whole


def test_asr_transcribe_on_many_files(three, capsys, monkeypatch):
    from speechdl.tasks.asr.pipeline import ASRPipeline

    _tty(monkeypatch)
    _stop_after(monkeypatch, ASRPipeline, "run", 1)
    out = _interrupted(capsys, ["asr", "transcribe", *three, "--format", "json"],
                       f"asr transcribe (1 of 3 files done; {START_OVER})", "asr transcribe")
    assert len(out.strip().splitlines()) == 1 and json.loads(out)["file"].endswith("a.flac")


def test_speaker_embed_on_many_files(three, capsys, monkeypatch):
    from speechdl.tasks.speaker.infer import SpeakerModel

    _tty(monkeypatch)
    _stop_after(monkeypatch, SpeakerModel, "embed_file", 2)
    out = _interrupted(capsys, ["speaker", "embed", *three], f"speaker embed (2 of 3 files done; {START_OVER})",
                       "speaker embed")
    assert len(out.strip().splitlines()) == 2


def test_speaker_enroll_writes_nothing(three, tmp_path, capsys, monkeypatch):
    from speechdl.tasks.speaker.infer import SpeakerModel

    _tty(monkeypatch)
    _stop_after(monkeypatch, SpeakerModel, "embed_waves", 0)
    store = tmp_path / "spk.db"
    _interrupted(capsys, ["speaker", "enroll", "alice", *three, "--store", store],
                 f"speaker enroll alice (0 of 3 files done; nothing was written to {store}; {START_OVER})",
                 "speaker enroll")
    assert not store.exists()


def test_speaker_eval(three, tmp_path, capsys, monkeypatch):
    from speechdl.tasks.speaker.infer import SpeakerModel

    trials = tmp_path / "in" / "trials.txt"
    trials.write_text("1 a.flac b.flac\n0 a.flac c.flac\n")
    _tty(monkeypatch)
    _stop_after(monkeypatch, SpeakerModel, "embed_waves", 0)
    _interrupted(capsys, ["speaker", "eval", trials],
                 f"speaker eval (0 of 3 files done; nothing was written; {START_OVER})", "speaker eval")


def test_run_without_out(three, capsys, monkeypatch):
    from speechdl.tasks.vad.pipeline import VADPipeline

    _tty(monkeypatch)
    _stop_after(monkeypatch, VADPipeline, "run", 2)
    out = _interrupted(capsys, ["run", "vad", *three, "--format", "json"],
                       f"run vad (2 of 3 inputs done; {START_OVER}, or add --out DIR for a batch that resumes)",
                       "run vad")
    assert len(out.strip().splitlines()) == 2


def test_data_import_folder_writes_nothing(three, tmp_path, capsys, monkeypatch):
    _tty(monkeypatch)
    _stop_after(monkeypatch, audio, "info", 1)
    out = tmp_path / "m"
    _interrupted(capsys, ["data", "import", "folder", three[0].parent, "--out", out],
                 f"data import folder {three[0].parent} (1 of 3 files done; nothing was written; {START_OVER})",
                 "scanning audio")
    assert not out.exists()


def test_asr_lm_build_without_a_loop_bar(tmp_path, capsys, monkeypatch):
    from speechdl.tasks.asr import lm_np

    text = tmp_path / "t.txt"
    text.write_text("the cat sat\n")
    _stop_after(monkeypatch, lm_np, "kneser_ney_np", 0)    # 'lm build' counts with the numpy builder
    out = tmp_path / "lm" / "x.arpa"
    _interrupted(capsys, ["asr", "lm", "build", text, "--out", out],
                 f"asr lm build into {out} (nothing was written; {START_OVER})", None)
    assert not (tmp_path / "lm").exists() or list((tmp_path / "lm").iterdir()) == []


# ------------------------------------------------------------------ verbs over a manifest
def test_vad_eval(corpus, capsys, monkeypatch):
    from speechdl.tasks.vad import evaluate

    _tty(monkeypatch)
    _stop_after(monkeypatch, evaluate, "fit_length", 1)
    _interrupted(capsys, ["vad", "eval", corpus], f"vad eval (1 of 2 recordings done; nothing was written; "
                 f"{START_OVER})", "vad eval")


def test_vad_export_frames(corpus, tmp_path, capsys, monkeypatch):
    from speechdl.tasks.vad.data import FeatureCache

    _tty(monkeypatch)
    _stop_after(monkeypatch, FeatureCache, "load", 1)
    out = tmp_path / "frames.csv"
    _interrupted(capsys, ["vad", "export-frames", corpus, "--out", out],
                 f"vad export-frames into {out} (1 of 2 recordings done; nothing was written; {START_OVER})",
                 "export-frames")
    assert list(tmp_path.iterdir()) == []


def test_asr_eval(corpus, capsys, monkeypatch):
    from speechdl.tasks.asr.infer import ASR

    _tty(monkeypatch)
    _stop_after(monkeypatch, ASR, "transcribe_waves", 0)
    _interrupted(capsys, ["asr", "eval", corpus], f"asr eval (0 of 4 utterances done; nothing was written; "
                 f"{START_OVER})", "asr eval")


# ------------------------------------------------------------------ resumable verbs
def test_run_batch_resumes(three, tmp_path, capsys, monkeypatch):
    from speechdl import batch

    _tty(monkeypatch)
    real = batch.run_item
    _stop_after(monkeypatch, batch, "run_item", 1)
    out = tmp_path / "res"
    _interrupted(capsys, ["run", "vad", *three, "--out", out],
                 f"run vad shard 1/1 into {out} (1 of 3 items done; rerun to resume)", "vad 1/1")
    assert not (out / "results.jsonl").exists() and not _hidden(out)
    monkeypatch.setattr(batch, "run_item", real)
    assert main(["run", "vad", *map(str, three), "--out", str(out), "--format", "json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["skipped"] == 1 and summary["processed"] == 2 and summary["ok"] == 3
    assert len((out / "results.jsonl").read_text().splitlines()) == 3


def test_data_synth_resumes(tmp_path, capsys, monkeypatch):
    from speechdl.data.synth import builder

    _tty(monkeypatch)
    _stop_after(monkeypatch, builder, "_work", 1)
    out = tmp_path / "synth"
    argv = ["data", "synth", "--hours", "0.008", "--out", out, "--workers", "1", "--noise-dir", "none"]
    _interrupted(capsys, argv, f"data synth into {out} (1 of 2 recordings done; rerun to resume)", "synth")
    assert len(list((out / ".parts").glob("*.json"))) == 1 and not (out / "recordings.jsonl.gz").exists()
    assert not _hidden(out)
    monkeypatch.undo()
    assert main([*map(str, argv), "--format", "json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["resumed"] and summary["generated"] == 1 and summary["files"] == 2


def test_data_synth_workers_on_a_real_sigint(tmp_path):
    """Ctrl-C at a terminal signals the whole process group: the workers must not print tracebacks, the
    parent stops the queue, the finished recordings are kept and counted."""
    out = tmp_path / "synth"
    proc = subprocess.Popen([sys.executable, "-m", "speechdl.cli", "data", "synth", "--hours", "0.1", "--out",
                             str(out), "--workers", "2", "--noise-dir", "none", "--format", "json"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not list((out / ".parts").glob("*.json")) and proc.poll() is None:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    parts = len(list((out / ".parts").glob("*.json")))
    m = re.fullmatch(rf"speechdl: interrupted: data synth into {re.escape(str(out))} \((\d+) of (\d+) recordings "
                     r"done; rerun to resume\)\n", err)
    assert proc.returncode == 130 and m, err
    assert int(m.group(1)) == parts and 1 <= parts < int(m.group(2))
    assert not (out / "recordings.jsonl.gz").exists() and not _hidden(out)


def test_progress_counts_hidden_bars_and_update():
    from speechdl.console import Interrupted, interruptible, progress

    with pytest.raises(Interrupted, match=r"^x \(5 of 9 utt done; rerun to resume\)$"):
        with interruptible("x", "utt"):
            bar = progress(None, total=9, enabled=False, initial=2)
            bar.update(3)
            raise KeyboardInterrupt
    progress([1], total=1)   # opened outside the block: not counted
    with pytest.raises(Interrupted, match=r"^y \(nothing was written\)$"):
        with interruptible("y", hint="nothing was written"):
            raise KeyboardInterrupt

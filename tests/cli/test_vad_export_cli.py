"""``vad export-frames`` (the lecture's CSV), ``data mix``/``data merge`` verbs, and the Keras lecture script."""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from speechdl.cli import main
from speechdl.data.manifests import load_manifests
from speechdl.errors import ConfigError
from speechdl.tasks.vad.data import frame_labels, read_recordings
from speechdl.tasks.vad.export_frames import add_export_frames
from tests.vad_fixtures import clip_manifest, vad_manifest

ROOT = Path(__file__).resolve().parents[2]


def _export(argv: list[str]) -> int:
    """Run ``vad export-frames`` through its own parser (``vad/cli.py`` wires the same function)."""
    parser = argparse.ArgumentParser(prog="speechdl vad")
    add_export_frames(parser.add_subparsers(dest="verb"))
    args = parser.parse_args(["export-frames", *argv])
    return args.func(args)


def test_export_frames_csv_loads_with_numpy_40_columns_and_0_1_labels(tmp_path, capsys):
    man = vad_manifest(tmp_path, n_recordings=2)
    out = tmp_path / "my_dataset.csv"
    assert _export([str(man), "--out", str(out), "--format", "json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    data = np.loadtxt(out, delimiter=",")
    assert data.shape == (2 * 601, 40) and summary["frames"] == 2 * 601 and summary["columns"] == 40
    assert set(np.unique(data[:, 39])) == {0.0, 1.0}
    expected = np.concatenate([frame_labels(r["speech"], 601, 0.01) for r in read_recordings(man)])
    np.testing.assert_array_equal(data[:, 39], expected)
    assert summary["speech_fraction"] == pytest.approx(expected.mean(), abs=1e-4)
    speech, silence = data[data[:, 39] == 1, 0], data[data[:, 39] == 0, 0]
    assert np.median(speech) > np.median(silence) + 20      # c0 (dB cepstrum) is louder on speech frames
    assert not list(tmp_path.glob("*.tmp*")) and not list(tmp_path.glob(".*csv*"))


def test_export_frames_max_frames_is_a_capped_seeded_subset(tmp_path, capsys):
    man = vad_manifest(tmp_path, n_recordings=2)
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    _export([str(man), "--out", str(a), "--max-frames", "300"])
    _export([str(man), "--out", str(b), "--max-frames", "300"])
    da = np.loadtxt(a, delimiter=",")
    assert 200 <= len(da) <= 300 and da.shape[1] == 40 and a.read_bytes() == b.read_bytes()
    with pytest.raises(ConfigError, match="max-frames"):
        _export([str(man), "--out", str(a), "--max-frames", "0"])


def test_data_mix_and_merge_through_the_dispatcher(tmp_path, capsys):
    clips = clip_manifest(tmp_path / "c", {"srcA": ["a1"], "srcB": ["b1"]}, clips_per_speaker=2)
    rc = main(["data", "mix", str(clips), "--hours", "0.005", "--out", str(tmp_path / "m"), "--seed", "2",
               "--select", "source=srcB", "--noise-dir", "none", "--no-babble", "--snr-range", "5,10",
               "--workers", "1", "--format", "json"])
    assert rc == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["sources"] == ["srcB"] and summary["clips"] == 2 and summary["files"] >= 1
    _, sups = load_manifests(tmp_path / "m")
    assert {s.custom["source"] for s in sups} == {"srcB"}
    vad = vad_manifest(tmp_path / "v")
    assert main(["data", "merge", str(tmp_path / "all"), str(tmp_path / "m"), str(vad), "--format", "json"]) == 0
    merged = json.loads(capsys.readouterr().out)
    recs, _ = load_manifests(tmp_path / "all")
    assert merged["recordings"] == len(recs) == summary["files"] + 2
    assert main(["data", "mix", str(clips), "--hours", "0.005", "--out", str(tmp_path / "x"),
                 "--select", "bad", "--no-babble"]) == 2
    assert "--select" in capsys.readouterr().err


def test_lecture_keras_script_trains_one_epoch_on_an_exported_csv(tmp_path):
    if importlib.util.find_spec("keras") is None:
        pytest.skip("keras not installed")
    man = vad_manifest(tmp_path, n_recordings=2)
    csv = tmp_path / "my_dataset.csv"
    _export([str(man), "--out", str(csv)])
    env = {**os.environ, "KERAS_BACKEND": "torch", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / "lecture_keras_vad.py"), "--csv", str(csv),
                           "--epochs", "1"], capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("Accuracy:"))
    assert 0.0 <= float(line.split()[1]) <= 100.0

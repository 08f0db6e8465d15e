"""``speechdl features extract`` and the top-level CLI behaviour."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import torch

from speechdl.cli import main
from speechdl.features import MFCC39


def test_extract_mfcc39_to_npy(wav_file, tmp_path, capsys):
    out = tmp_path / "f.npy"
    assert main(["features", "extract", str(wav_file), "--kind", "mfcc39", "--out", str(out), "--format", "json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    feats = np.load(out)
    assert feats.shape == (summary["frames"], 39) == (201, 39)
    from speechdl import audio

    ref = MFCC39()(torch.from_numpy(audio.load(wav_file)[0]))[0].numpy()
    assert np.abs(feats - ref).max() < 1e-3


def test_extract_logmel_n_mels_and_text_table(wav_file, tmp_path, capsys):
    out = tmp_path / "m.npy"
    assert main(["features", "extract", str(wav_file), "--kind", "logmel", "--n-mels", "64", "--out", str(out)]) == 0
    assert np.load(out).shape == (201, 64)
    text = capsys.readouterr().out
    assert "frames" in text and "201" in text


def test_bad_input_gives_one_line_and_exit_2(tmp_path, capsys):
    bad = tmp_path / "notes.wav"
    bad.write_text("not audio at all\n" * 10)
    assert main(["features", "extract", str(bad), "--out", str(tmp_path / "x.npy")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("speechdl: error:") and "notes.wav" in err and "\n" not in err
    assert main(["features", "extract", str(tmp_path / "missing.flac"), "--out", str(tmp_path / "x.npy")]) == 2
    assert not (tmp_path / "x.npy").exists()


def test_wrong_output_suffix(wav_file, tmp_path, capsys):
    assert main(["features", "extract", str(wav_file), "--out", str(tmp_path / "x.csv")]) == 2
    assert ".npy" in capsys.readouterr().err


def test_console_script_help_and_no_traceback(tmp_path):
    exe = [sys.executable, "-m", "speechdl.cli"]
    helptext = subprocess.run(exe + ["--help"], capture_output=True, text=True, check=True).stdout
    assert "features" in helptext and "data" in helptext
    res = subprocess.run(exe + ["features", "extract", str(tmp_path / "none.wav"), "--out", str(tmp_path / "a.npy")],
                         capture_output=True, text=True)
    assert res.returncode == 2 and "Traceback" not in res.stderr and "none.wav" in res.stderr


def test_demo_writes_table_and_plot(tmp_path, capsys):
    from speechdl import demo

    assert demo.main(["--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "MFCC39" in out and "log-Mel" in out
    # the shipped VAD finds the spoken lines of the sample (speech at ~0.8-4.2, 5.3-9.2, 10.5-12.4 s); the last,
    # "Silence, then speech again.", comes in two: its comma pause (~0.15 s) outlasts the 0.1 s minimum silence
    rows = [line.split() for line in out.splitlines() if line[:1].isdigit()]
    segments = [r for i, r in enumerate(rows) if len(r) == 4 and r[0] == str(i + 1)]   # the numbered table
    assert len(segments) == 4
    refs = [(0.8, 4.2), (5.3, 9.2), (10.5, 11.2), (11.2, 12.4)]
    for (_, start, end, _), (ref_start, ref_end) in zip(segments, refs, strict=True):
        # onsets within 0.2 s; ends may trail by up to 0.35 s: the VAD's labels run to -35 dB below the
        # clip's peak (recipes/vad/DATA.md), so a word's decay counts as speech (model card: "Limits")
        assert abs(float(start) - ref_start) < 0.2 and -0.2 < float(end) - ref_end < 0.35
    for name in ("demo_features.png", "demo_vad.png"):
        png = (tmp_path / name).read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000


def test_demo_transcribes_the_sample_with_the_shipped_asr_bundle():
    from speechdl import demo
    from speechdl.metrics.wer import cer

    rows = demo.run_asr()
    said = ("deep learning in speech technology starts with the front end thirty nine features per frame feed "
            "the voice activity detector silence then speech again")        # scripts/make_sample.py
    text = " ".join(r["text"] for r in rows[:-1])
    assert cer([said], [text]) < 0.35 and "real time" in rows[-1]["text"]


def test_demo_verifies_the_sample_speaker_with_the_shipped_speaker_bundle():
    from speechdl import demo

    same, changed = demo.run_speaker()
    assert same["decision"] == "same speaker" and changed["decision"] == "different speakers"
    assert same["score"] > changed["score"]


def test_demo_denoises_the_sample_with_the_shipped_enhancer(tmp_path):
    import soundfile as sf

    from speechdl import demo

    noisy, enhanced = demo.run_enhance(tmp_path)
    assert enhanced["SI-SDR (dB)"] > noisy["SI-SDR (dB)"] + 2.0 and "real time" in enhanced["audio"]
    for row in (noisy, enhanced):
        info = sf.info(row["file"])
        assert info.samplerate == 16000 and info.frames > 16000 * 10


def test_demo_spots_the_four_commands_with_the_shipped_kws_bundle():
    import speechdl
    from speechdl import demo

    rows = demo.run_kws()
    assert [r["keyword"] for r in rows[:-1]] == ["yes", "stop", "seven", "go"]    # scripts/make_commands.py
    times = [r["time (s)"] for r in rows[:-1]]
    thr = speechdl.load("kws").threshold                                              # the bundle's default
    assert times == sorted(times) and all(r["score"] >= thr for r in rows[:-1]) and "real time" in rows[-1]["keyword"]

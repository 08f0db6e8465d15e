"""The enhance application: Enhancer, pipeline, stream, ONNX parity, CLI round trips and errors."""

from __future__ import annotations

import base64
import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import speechdl
from speechdl.cli import main
from speechdl.errors import AudioError, ConfigError
from speechdl.tasks.enhance.infer import load_enhancer

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "speechdl" / "assets" / "sample.flac"


@pytest.fixture(scope="module")
def enh():
    return load_enhancer("enhance")


def _gated_sample() -> np.ndarray:
    """The demo sample without its -50 dB hiss between words: clean speech, a fair reference for PESQ."""
    from speechdl.audio import load

    x, _ = load(SAMPLE, sample_rate=16000)
    n = len(x) // 160
    e = 10 * np.log10(np.mean(x[: n * 160].reshape(n, 160) ** 2, 1) + 1e-12)
    win = np.hanning(321)
    gate = np.convolve(np.repeat((e > -46).astype(np.float32), 160), win / win.sum(), "same")
    return (x[: n * 160] * gate).astype(np.float32)


@pytest.mark.parametrize("level", [1.0, 0.05])
def test_the_shipped_enhancer_leaves_clean_speech_alone(enh, level):
    from speechdl.metrics.quality import estoi, pesq

    clean = _gated_sample()
    out = enh.enhance(clean * level) / level
    # the first release (trained on 20 dB and noisier mixes only) scored PESQ 3.1-3.6, ESTOI 0.93-0.94 here
    assert pesq(clean, out, 16000) > 3.9 and estoi(clean, out, 16000) > 0.96


def test_the_shipped_enhancer_removes_white_noise(enh):
    from speechdl.data.synth.noise import mix_at_snr
    from speechdl.metrics.quality import si_sdr

    clean = _gated_sample()
    noisy, _ = mix_at_snr(clean, np.random.default_rng(0).standard_normal(len(clean)), 5.0)
    assert si_sdr(clean, enh.enhance(noisy)) > si_sdr(clean, noisy) + 3.0


def test_enhancer_keeps_the_length_and_refuses_bad_waves(enh):
    rng = np.random.default_rng(0)
    for n in (0, 1, 159, 160, 16000 * 12 + 7):   # 12 s: two blocks, the state carried across
        y = enh.enhance(rng.standard_normal(n).astype(np.float32) * 0.1)
        assert y.shape == (n,) and y.dtype == np.float32
    with pytest.raises(AudioError):
        enh.enhance(np.zeros((2, 100), np.float32))
    with pytest.raises(AudioError):
        enh.enhance(np.array([0.0, np.nan], np.float32))
    assert enh.sample_rate == 16000 and enh.causal and enh.latency_ms == 20.0


def test_blocks_change_nothing(enh):
    import torch

    x = np.random.default_rng(1).standard_normal(16000 * 11).astype(np.float32) * 0.1
    whole = enh.model(torch.from_numpy(x)[None]).detach().numpy()[0]
    np.testing.assert_allclose(enh.enhance(x), whole, atol=2e-5)


def test_pipeline_result_carries_playable_before_and_after_audio():
    p = speechdl.load("enhance")
    r = p.run(str(SAMPLE))
    d = r.to_dict()
    assert d["task"] == "enhance" and d["sample_rate"] == 16000 and d["causal"] is True
    for key in ("noisy_audio", "enhanced_audio"):
        assert d[key].startswith("data:audio/wav;base64,")
        wave, sr = sf.read(io.BytesIO(base64.b64decode(d[key].split(",", 1)[1])))
        assert sr == 16000 and len(wave) == round(d["duration"] * 16000)
    assert d["samples"] is None and p.run(str(SAMPLE), audio=False).enhanced_audio is None
    with pytest.raises(ConfigError):
        p.run(str(SAMPLE), audio="maybe")


def test_stream_adapter_equals_run():
    p = speechdl.load("enhance")
    wave = np.random.default_rng(3).standard_normal(7001).astype(np.float32) * 0.1
    offline = np.asarray(p.run(wave, samples=True, audio=False).samples, np.float32)
    s = p.stream()
    st, got = s.init_state(), []
    for i in range(0, len(wave), 999):
        out, st = s.forward_chunk(wave[i: i + 999], st)
        got += out["samples"]
    got += s.finish(st)["samples"]
    np.testing.assert_allclose(np.asarray(got, np.float32), offline, atol=1e-5)


def test_onnx_matches_the_pipeline(tmp_path):
    info = speechdl.load("enhance").export_onnx(tmp_path / "e.onnx")
    assert Path(info["path"]).is_file() and info["max_abs_diff"] < 1e-4 and info["outputs"] == ["enhanced"]


def test_cli_round_trip_one_file(tmp_path, capsys, enh):
    out = tmp_path / "clean.wav"
    assert main(["enhance", str(SAMPLE), "--out", str(out), "--format", "json"]) == 0
    rec = json.loads(capsys.readouterr().out.strip())
    y, sr = sf.read(out, dtype="float32")
    assert sr == 16000 and rec["out"] == str(out) and rec["model"] == "enhance"
    x, _ = speechdl.audio.load(SAMPLE, sample_rate=16000)
    assert len(y) == len(x)
    np.testing.assert_allclose(y, np.clip(enh.enhance(x), -1, 1), atol=1.5 / 32767)   # 16-bit rounding


def test_cli_batch_of_a_folder_and_a_manifest(tmp_path, capsys):
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    sf.write(folder / "a.wav", np.zeros(8000, np.float32) + 0.01, 16000)
    sf.write(folder / "sub" / "b.flac", np.zeros(4000, np.float32) + 0.01, 8000)
    assert main(["enhance", str(folder), "--out-dir", str(tmp_path / "out"), "--format", "json"]) == 0
    recs = [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()]
    assert sorted(Path(r["out"]).name for r in recs) == ["a.wav", "b.wav"]
    assert sf.info(tmp_path / "out" / "b.wav").frames == 8000          # 0.5 s at 16 kHz
    man = tmp_path / "man"
    assert main(["data", "import", "folder", str(folder), "--out", str(man)]) == 0
    capsys.readouterr()
    out2 = str(tmp_path / "out2")
    assert main(["enhance", "denoise", "--manifest", str(man), "--out-dir", out2, "--format", "json"]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == 2


def test_cli_errors_are_one_line_exit_2(tmp_path, capsys):
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk" * 3)
    cases = [["enhance", str(junk), "--out", str(tmp_path / "o.wav")],
             ["enhance", str(tmp_path / "missing.wav"), "--out", str(tmp_path / "o.wav")],
             ["enhance", str(SAMPLE)],
             ["enhance", str(SAMPLE), "--out", str(tmp_path / "o.mp3")],
             ["enhance", str(tmp_path), "--out", str(tmp_path / "o.wav")],
             ["enhance", str(junk), str(SAMPLE), "--out-dir", str(tmp_path / "d")],
             ["enhance", "export"]]
    for args in cases:
        capsys.readouterr()
        assert main(args) == 2, args
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("speechdl: error:"), (args, err)
    assert (tmp_path / "d" / "sample.wav").is_file()   # the good input of a failing batch is still written
    argv = [sys.executable, "-m", "speechdl.cli", "enhance", str(junk), "--out", str(tmp_path / "x.wav")]
    proc = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1

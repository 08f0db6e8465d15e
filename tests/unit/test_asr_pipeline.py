"""The ASR pipeline on the application contract: the shipped bundle gives the engine's transcript, loads
without Lightning, declares its segmenter (the VAD, resolved through the registry) and cuts long inputs
with it; options are checked in one place."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import speechdl
from speechdl import audio
from speechdl.errors import AudioError, ConfigError
from speechdl.pretrained.segment import pack_segments
from speechdl.tasks.asr.pipeline import PAD, ASRPipeline, ASRResult

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "speechdl/assets/sample.flac"
# the transcript of the shipped bundle (stage 4, beam 16 + its 3-gram LM at alpha 0.35, beta 2.0) through the
# engine itself (ASR.transcribe_waves): the pipeline must give exactly this
SAMPLE_TEXT = ("he learning in speache technology starts with the frontend thirty nine feaches porframe feed the "
               "woyesactivity detector silence then steach again")


@pytest.fixture(scope="module")
def asr() -> ASRPipeline:
    return speechdl.load("asr")


@pytest.fixture(scope="module")
def long_wav(tmp_path_factory) -> tuple[Path, np.ndarray]:
    """The sample three times with 0.5 s of silence after each copy (42.3 s)."""
    wave, sr = audio.load(SAMPLE, sample_rate=16000)
    long = np.concatenate([wave, np.zeros(sr // 2, np.float32)] * 3)
    path = tmp_path_factory.mktemp("asr_long") / "long.wav"
    audio.save(path, long, sr)
    return path, long


@pytest.mark.slow
def test_loading_the_shipped_bundle_imports_no_lightning():
    code = "import speechdl, sys; speechdl.load('asr'); print('lightning' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
    code = ("import speechdl, sys; p = speechdl.load('asr'); p.component('segmenter'); "
            "print(sorted(m for m in sys.modules if m.startswith(('lightning', 'speechdl.train'))))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"                                  # nor its segmenter, nor the trainer


def test_bundle_declares_its_segmenter_and_it_resolves_to_the_vad(asr):
    meta = json.loads((ROOT / "speechdl/pretrained/asr/bundle.json").read_text())
    assert meta["components"] == {"segmenter": "vad"}
    assert type(asr).__name__ == "ASRPipeline" and asr.task == "asr" and asr.sample_rate == 16000
    seg = asr.component("segmenter")
    assert seg.task == "vad" and type(seg).__name__ == "VADPipeline" and asr.segmenter is seg
    names = {o["name"] for o in asr.describe()["options"]}
    assert names == {"beam", "lm", "alpha", "beta", "ctc_weight", "max_seconds"}


@pytest.mark.slow
def test_sample_gives_the_engines_transcript(asr):
    r = asr.run(str(SAMPLE))
    assert isinstance(r, ASRResult) and r.text == SAMPLE_TEXT
    assert r.to_dict() == {"task": "asr", "file": str(SAMPLE), "duration": 13.613, "text": SAMPLE_TEXT,
                           "segments": [{"start": 0.0, "end": 13.613, "text": SAMPLE_TEXT}]}
    assert r.to_text() == f"{SAMPLE}\t{SAMPLE_TEXT}" and json.loads(r.to_json()) == r.to_dict()
    wave, _ = audio.load(SAMPLE, sample_rate=16000, duration=13.613)
    assert asr.engine.transcribe_waves([wave]) == [SAMPLE_TEXT]
    assert asr.run(wave).text == SAMPLE_TEXT                                  # a waveform at the model rate


def test_options_change_decoding(asr):
    greedy = asr.run(str(SAMPLE), beam=1, lm="none")
    wave, _ = audio.load(SAMPLE, sample_rate=16000, duration=13.613)
    assert greedy.text == asr.engine.transcribe_waves([wave], beam=1, lm="none")[0] != SAMPLE_TEXT
    assert asr.run(str(SAMPLE), lm="bundle").text == SAMPLE_TEXT


def test_long_input_is_cut_by_the_segmenter_component(asr, long_wav):
    path, wave = long_wav
    seg = asr.component("segmenter")
    calls = []
    seg_run = seg.run
    seg.run = lambda x, **o: calls.append(x) or seg_run(x, **o)   # spy on the declared component
    try:
        r = asr.run(str(path), max_seconds=20)
        r_wave = asr.run(wave, max_seconds=20)
        short = asr.run(str(SAMPLE), max_seconds=20)
    finally:
        del seg.run
    assert len(calls) == 2 and calls[0] == str(path)                      # the short sample never reaches it
    vad = [(s["start"], s["end"]) for s in seg.run(str(path)).segments]
    assert [(s["start"], s["end"]) for s in r.segments] == pack_segments(vad, 20, PAD, r.duration)
    assert len(r.segments) >= 3 and all(s["end"] - s["start"] <= 20 + 2 * PAD for s in r.segments)
    words = len(SAMPLE_TEXT.split())          # all three copies heard (the exact words depend on the cut)
    assert r.duration == 42.34 and len(r.text.split()) >= 2.5 * words and r.text.count("frontend") >= 2
    assert r.text == " ".join(s["text"] for s in r.segments if s["text"])
    assert r_wave.segments == r.segments and r_wave.file == "<waveform>"
    assert short.segments == [{"start": 0.0, "end": 13.613, "text": SAMPLE_TEXT}]


def test_composition_is_declared_not_assumed(asr, long_wav):
    bare = ASRPipeline(asr.engine, None, {"task": "asr"})                  # a bundle that names no segmenter
    assert bare.run(str(SAMPLE)).text == SAMPLE_TEXT                       # short inputs need none
    with pytest.raises(ConfigError, match="segmenter"):
        bare.run(str(long_wav[0]))
    bare.set_segmenter("vad")
    assert bare.segmenter.task == "vad"
    with pytest.raises(ConfigError, match="not a segmenter"):
        bare.set_segmenter(asr)


@pytest.mark.parametrize("options, needle", [
    ({"beam": 0}, "beam"), ({"beam": 257}, "beam"), ({"beam": 2.5}, "beam"), ({"beam": "x"}, "beam"),
    ({"lm": "/tmp/lm.arpa"}, "one of bundle, none"), ({"alpha": float("nan")}, "alpha"),
    ({"beta": float("inf")}, "beta"), ({"ctc_weight": 1.5}, "ctc_weight"),
    ({"max_seconds": 0}, "max_seconds"), ({"max_seconds": -1}, "max_seconds"), ({"vad": "vad"}, "unknown option"),
])
def test_bad_options_raise_one_line_config_errors(asr, options, needle):
    with pytest.raises(ConfigError, match=needle) as err:
        asr.run(str(SAMPLE), **options)
    assert "\n" not in str(err.value)


def test_bad_waveforms_and_lm_files(asr, tmp_path):
    with pytest.raises(AudioError, match="mono"):
        asr.run(np.zeros((2, 16000), np.float32))
    with pytest.raises(AudioError, match="NaN"):
        asr.run(np.full(16000, np.nan, np.float32))
    with pytest.raises(ConfigError, match="LM file not found"):
        asr.set_lm(tmp_path / "missing.arpa")

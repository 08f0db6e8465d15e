"""``speechdl data import ...`` and ``speechdl data info`` through the real dispatcher."""

from __future__ import annotations

import json

import numpy as np
import pytest
from lhotse import Recording, RecordingSet, SupervisionSegment, SupervisionSet
from lhotse.audio import AudioSource

from speechdl import audio
from speechdl.cli import main
from speechdl.data.manifests import load_manifests, save_manifests


@pytest.fixture
def manifest_dir(tmp_path):
    recs = RecordingSet.from_recordings([
        Recording(r, [AudioSource("file", [0], f"/x/{r}.wav")], 16000, 16000 * 1800, 1800.0) for r in ("r1", "r2")])
    sups = SupervisionSet.from_segments([
        SupervisionSegment("s1", "r1", 0.0, 900.0, speaker="a", language="en"),
        SupervisionSegment("s2", "r1", 450.0, 900.0, speaker="b", language="en"),   # overlap: union 1350 s
        SupervisionSegment("s3", "r2", 0.0, 1800.0, speaker="a", language="fr", custom={"speech": [[0, 450]]}),
    ])
    return save_manifests(tmp_path / "m", recs, sups)


def tone(path, seconds=1.0, rate=16000):
    audio.save(path, (0.1 * np.sin(np.arange(int(seconds * rate)) * 0.05)).astype(np.float32), rate)


def test_info_text(manifest_dir, capsys):
    assert main(["data", "info", str(manifest_dir)]) == 0
    out = capsys.readouterr().out
    lines = {line.split("  ")[0]: line.split()[-1] for line in out.splitlines()[2:]}
    assert lines["hours"] == "1.000"
    assert lines["utterances"] == "3"
    assert lines["speakers"] == "2"
    assert "en 2, fr 1" in out
    assert lines["speech hours"] == "0.500"
    assert lines["speech fraction"] == "50.0%"


def test_info_json(manifest_dir, capsys):
    assert main(["data", "info", str(manifest_dir), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["hours"] == pytest.approx(1.0)
    assert data["utterances"] == 3 and data["speakers"] == 2 and data["recordings"] == 2
    assert data["languages"] == {"en": 2, "fr": 1}
    assert data["speech_hours"] == pytest.approx(0.5)
    assert data["speech_fraction"] == pytest.approx(0.5)


def test_info_missing_manifest_is_one_line_and_exit_2(tmp_path, capsys):
    assert main(["data", "info", str(tmp_path / "missing")]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    err = captured.err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("speechdl: error:") and "manifest not found" in err[0]


def test_import_folder_then_info(tmp_path, capsys):
    tone(tmp_path / "corpus" / "spk1" / "a.wav", 2.0)
    (tmp_path / "corpus" / "spk1" / "a.txt").write_text("hello")
    tone(tmp_path / "corpus" / "spk2" / "b.wav", 2.0)
    (tmp_path / "corpus" / "spk2" / "broken.wav").write_bytes(b"garbage" * 30)
    out = tmp_path / "m"
    rc = main(["data", "import", "folder", str(tmp_path / "corpus"), "--out", str(out), "--format", "json"])
    assert rc == 0
    captured = capsys.readouterr()
    data = json.loads(captured.out)
    assert data["recordings"] == 2 and data["utterances"] == 1 and data["speech_fraction"] == pytest.approx(0.5)
    assert [s["path"] for s in data["skipped"]] == [str(tmp_path / "corpus" / "spk2" / "broken.wav")]
    assert "skipped" in captured.err and "broken.wav" in captured.err
    recs, sups = load_manifests(out)
    assert len(recs) == 2 and sups[0].speaker == "spk1"


def test_import_folder_empty_is_exit_2(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["data", "import", "folder", str(tmp_path / "empty"), "--out", str(tmp_path / "m")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no audio files found" in err[0]
    assert not (tmp_path / "m").exists()


def test_import_kaldi_text_table(tmp_path, capsys):
    d = tmp_path / "data"
    d.mkdir()
    tone(tmp_path / "r.wav", 4.0)
    (d / "wav.scp").write_text(f"r {tmp_path / 'r.wav'}\n")
    (d / "segments").write_text("u1 r 0.0 1.0\nu2 r 2.0 3.0\n")
    (d / "text").write_text("u1 A\nu2 B\n")
    (d / "utt2spk").write_text("u1 s\nu2 s\n")
    assert main(["data", "import", "kaldi", str(d), "--out", str(tmp_path / "m")]) == 0
    out = capsys.readouterr().out
    assert "speech fraction  50.0%" in out and str(tmp_path / "m") in out


def test_import_recipe_with_opt(tmp_path, capsys):
    tone(tmp_path / "musan" / "noise" / "sound-bible" / "noise-sound-bible-0001.wav", 0.5)
    rc = main(["data", "import", "recipe", "musan", str(tmp_path / "musan"), "--out", str(tmp_path / "m"),
               "--opt", "parts=noise", "--opt", "use_vocals=false", "--format", "json"])
    assert rc == 0
    data = json.loads(capsys.readouterr().out)
    assert list(data["splits"]) == ["noise"]
    assert data["splits"]["noise"]["recordings"] == 1
    assert load_manifests(tmp_path / "m" / "noise")[0][0].id == "noise-sound-bible-0001"


def test_import_recipe_bad_opt_and_unknown_name(tmp_path, capsys):
    args = ["data", "import", "recipe", "musan", str(tmp_path), "--out", str(tmp_path / "m")]
    assert main([*args, "--opt", "partsnoise"]) == 2
    assert "write --opt key=value" in capsys.readouterr().err
    args[3] = "nosuchcorpus"
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "unknown lhotse recipe 'nosuchcorpus'" in err and "librispeech" in err


def test_import_real_dev(tmp_path, capsys):
    tone(tmp_path / "rd" / "s" / "a.wav", 1.0)
    rows = [{"audio": "s/a.wav", "sample_rate": 16000, "channels": 1, "duration": 1.0, "speaker": "x",
             "language": "en", "text": "hi", "kind": "speech"},
            {"audio": "s/gone.wav", "sample_rate": 16000, "channels": 1, "duration": 1.0, "kind": "speech"}]
    (tmp_path / "rd" / "manifest.jsonl").write_text("\n".join(map(json.dumps, rows)))
    assert main(["data", "import", "real-dev", str(tmp_path / "rd"), "--out", str(tmp_path / "m"),
                 "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["recordings"] == 1 and data["skipped"] == [{"path": "s/gone.wav", "reason": "file not found"}]
    args = ["data", "import", "real-dev", str(tmp_path / "rd"), "--out", str(tmp_path / "n"), "--kind", "noise"]
    assert main(args) == 2
    assert "no rows of kind noise" in capsys.readouterr().err


def test_import_without_kind_prints_help(capsys):
    assert main(["data", "import"]) == 2
    assert "folder" in capsys.readouterr().out


def test_select_keeps_matching_utterances_and_their_recordings(manifest_dir, tmp_path, capsys):
    out = tmp_path / "sel"
    assert main(["data", "select", str(manifest_dir), "--where", "language=en", "--where", "speaker!=b",
                 "--out", str(out), "--format", "json"]) == 0
    recs, sups = load_manifests(out)
    assert [s.id for s in sups] == ["s1"] and [r.id for r in recs] == ["r1"]
    assert json.loads(capsys.readouterr().out)["utterances"] == 1
    assert main(["data", "select", str(manifest_dir), "--max-duration", "1000", "--out", str(tmp_path / "d")]) == 0
    assert sorted(s.id for s in load_manifests(tmp_path / "d")[1]) == ["s1", "s2"]


def test_select_nothing_or_bad_filter_is_one_line_exit_2(manifest_dir, tmp_path, capsys):
    assert main(["data", "select", str(manifest_dir), "--where", "language=de", "--out", str(tmp_path / "x")]) == 2
    assert main(["data", "select", str(manifest_dir), "--where", "language", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "no utterance passes" in err[0] and "KEY=V1,V2" in err[1]
    assert not (tmp_path / "x").exists()


def test_select_text_split_drops_utterances_reading_the_other_split(tmp_path, capsys):
    from speechdl.data.synth.text import text_split_of

    texts = [f"sentence number {i} of the test" for i in range(60)]
    recs = RecordingSet.from_recordings([Recording("r", [AudioSource("file", [0], "/x/r.wav")], 16000, 16000 * 600,
                                                   600.0)])
    sups = SupervisionSet.from_segments([SupervisionSegment(f"s{i}", "r", i * 10.0, 5.0, text=t.upper())
                                         for i, t in enumerate(texts)])
    src = save_manifests(tmp_path / "m", recs, sups)
    assert main(["data", "select", str(src), "--text-split", "eval", "--out", str(tmp_path / "e")]) == 0
    kept = [s.text for s in load_manifests(tmp_path / "e")[1]]
    assert kept and all(text_split_of(t) == "eval" for t in kept)
    assert len(kept) == sum(text_split_of(t) == "eval" for t in texts) < len(texts)

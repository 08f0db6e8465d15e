"""Importers: folder, Kaldi data dir, lhotse recipes (real recipes on tiny fake corpora), real_dev."""

from __future__ import annotations

import json
import types

import numpy as np
import pytest
from lhotse import CutSet, Recording, RecordingSet, SupervisionSegment, SupervisionSet
from lhotse.audio import AudioSource

from speechdl import audio
from speechdl.data import lhotse_recipes
from speechdl.data.importers import import_folder, import_kaldi, import_real_dev, import_recipe, list_recipes
from speechdl.data.manifests import load_manifests
from speechdl.errors import ConfigError, DataError


def tone(path, seconds=1.0, rate=16000, channels=1):
    t = np.arange(int(seconds * rate)) / rate
    x = (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    audio.save(path, np.stack([x] * channels, axis=1) if channels > 1 else x, rate)


# --- folder -------------------------------------------------------------------------------------

def test_folder_with_transcripts(tmp_path):
    tone(tmp_path / "alice" / "a1.wav", 1.0)
    (tmp_path / "alice" / "a1.txt").write_text("  hello\n world ", encoding="utf-8")
    tone(tmp_path / "bob" / "deep" / "b1.flac", 0.5, rate=8000, channels=2)
    (tmp_path / "bob" / "deep" / "b1.txt").write_text("bonjour", encoding="utf-8")
    tone(tmp_path / "bob" / "untranscribed.wav", 0.25)
    imp = import_folder(tmp_path, language="en")
    assert sorted(r.id for r in imp.recordings) == ["alice__a1", "bob__deep__b1", "bob__untranscribed"]
    b1 = imp.recordings["bob__deep__b1"]
    assert (b1.sampling_rate, b1.num_channels, b1.duration) == (8000, 2, 0.5)
    sups = {s.id: s for s in imp.supervisions}
    assert set(sups) == {"alice__a1", "bob__deep__b1"}
    a1 = sups["alice__a1"]
    assert (a1.text, a1.speaker, a1.language) == ("hello world", "alice", "en")
    assert sups["bob__deep__b1"].speaker == "deep" and sups["bob__deep__b1"].duration == 0.5
    assert imp.skipped == []
    # the recording really points at loadable audio
    assert imp.recordings["alice__a1"].load_audio().shape == (1, 16000)


def test_folder_without_transcripts_and_no_speaker(tmp_path):
    tone(tmp_path / "x.wav")
    tone(tmp_path / "x.flac")  # same stem: ids must stay unique
    imp = import_folder(tmp_path, speaker="none")
    assert imp.supervisions is None
    assert sorted(r.id for r in imp.recordings) == ["x", "x.wav"]
    out = imp.save(tmp_path / "out")
    recs, sups = load_manifests(out)
    assert len(recs) == 2 and len(sups) == 0


def test_folder_corrupt_file_is_reported_not_fatal(tmp_path):
    tone(tmp_path / "good.wav")
    (tmp_path / "bad.wav").write_bytes(b"RIFF\x00\x00garbage" * 10)
    (tmp_path / "empty.ogg").write_bytes(b"")
    imp = import_folder(tmp_path)
    assert [r.id for r in imp.recordings] == ["good"]
    skipped = dict(imp.skipped)
    assert set(skipped) == {str(tmp_path / "bad.wav"), str(tmp_path / "empty.ogg")}
    assert "empty" in skipped[str(tmp_path / "empty.ogg")]


def test_folder_errors(tmp_path):
    with pytest.raises(DataError, match="no audio files found"):
        import_folder(tmp_path)
    (tmp_path / "a.txt").write_text("text but no audio")
    with pytest.raises(DataError, match="no audio files found"):
        import_folder(tmp_path)
    (tmp_path / "bad.wav").write_bytes(b"nope" * 20)
    with pytest.raises(DataError, match="none of the 1 audio files is readable"):
        import_folder(tmp_path)
    with pytest.raises(DataError, match="not found"):
        import_folder(tmp_path / "missing")


# --- kaldi --------------------------------------------------------------------------------------

def write_kaldi(d, audio_dir):
    d.mkdir()
    tone(audio_dir / "rec1.wav", 3.0)
    tone(audio_dir / "rec2.wav", 2.0)
    (d / "wav.scp").write_text(f"rec1 {audio_dir / 'rec1.wav'}\nrec2 {audio_dir / 'rec2.wav'}\n")
    (d / "segments").write_text("spkA-u1 rec1 0.0 1.5\nspkA-u2 rec1 1.5 3.0\nspkB-u3 rec2 0.5 2.0\n")
    (d / "text").write_text("spkA-u1 HELLO THERE\nspkA-u2 GOOD BYE\nspkB-u3 YES\n")
    (d / "utt2spk").write_text("spkA-u1 spkA\nspkA-u2 spkA\nspkB-u3 spkB\n")
    (d / "spk2gender").write_text("spkA f\nspkB m\n")


def test_kaldi_data_dir(tmp_path):
    write_kaldi(tmp_path / "data", tmp_path / "wav")
    imp = import_kaldi(tmp_path / "data")
    assert {r.id: (r.sampling_rate, r.duration) for r in imp.recordings} == {
        "rec1": (16000, 3.0), "rec2": (16000, 2.0)}
    sups = {s.id: s for s in imp.supervisions}
    assert (sups["spkA-u2"].recording_id, sups["spkA-u2"].start, sups["spkA-u2"].duration) == ("rec1", 1.5, 1.5)
    assert (sups["spkB-u3"].text, sups["spkB-u3"].speaker, sups["spkB-u3"].gender) == ("YES", "spkB", "m")
    assert imp.skipped == []


def test_kaldi_missing_wav_scp(tmp_path):
    (tmp_path / "text").write_text("u1 hi\n")
    with pytest.raises(DataError, match="no wav.scp"):
        import_kaldi(tmp_path)


def test_kaldi_inconsistent_ids(tmp_path):
    write_kaldi(tmp_path / "data", tmp_path / "wav")
    (tmp_path / "data" / "segments").write_text("u9 rec1 0.0 1.0\n")
    with pytest.raises(DataError, match="malformed Kaldi data directory"):
        import_kaldi(tmp_path / "data")


# --- lhotse recipes -----------------------------------------------------------------------------

def test_recipe_librispeech_on_a_tiny_fake_corpus(tmp_path):
    chapter = tmp_path / "LibriSpeech" / "dev-clean" / "103" / "1240"
    tone(chapter / "103-1240-0000.flac", 1.0)
    tone(chapter / "103-1240-0001.flac", 2.0)
    (chapter / "103-1240.trans.txt").write_text("103-1240-0000 HELLO\n103-1240-0001 WORLD AGAIN\n")
    written = import_recipe("librispeech", tmp_path / "LibriSpeech", tmp_path / "out")
    assert written == {"dev-clean": tmp_path / "out" / "dev-clean"}
    recs, sups = load_manifests(written["dev-clean"])
    assert sorted(r.duration for r in recs) == [1.0, 2.0]
    assert {s.id: (s.text, s.speaker) for s in sups} == {
        "103-1240-0000": ("HELLO", "103"), "103-1240-0001": ("WORLD AGAIN", "103")}


def test_recipe_musan_noise_with_string_option(tmp_path):
    tone(tmp_path / "musan" / "noise" / "free-sound" / "noise-free-sound-0000.wav", 0.5)
    written = import_recipe("musan", tmp_path / "musan", tmp_path / "out", parts="noise")
    assert list(written) == ["noise"]
    recs, sups = load_manifests(written["noise"])
    assert [r.id for r in recs] == ["noise-free-sound-0000"] and len(sups) == 0


def test_recipe_unknown_name_lists_choices(tmp_path):
    with pytest.raises(DataError, match="unknown lhotse recipe 'librispeach'.*librispeech.*musan"):
        import_recipe("librispeach", tmp_path, tmp_path / "out")
    assert {"librispeech", "voxceleb", "speechcommands", "ami", "commonvoice", "musan"} <= set(list_recipes())


def test_recipe_option_errors(tmp_path):
    with pytest.raises(ConfigError, match="no option 'colour'.*dataset_parts"):
        import_recipe("librispeech", tmp_path, tmp_path / "out", colour="red")
    with pytest.raises(ConfigError, match="needs speechcommands_version"):
        import_recipe("speechcommands", tmp_path, tmp_path / "out")
    with pytest.raises(DataError, match="corpus directory not found"):
        import_recipe("librispeech", tmp_path / "nope", tmp_path / "out")
    with pytest.raises(DataError, match="recipe 'librispeech' failed"):
        import_recipe("librispeech", tmp_path, tmp_path / "out")  # no split folders inside
    assert not (tmp_path / "out").exists()


def test_recipe_normalises_nested_output_and_coerces_options(tmp_path, monkeypatch):
    def r(rid):
        return Recording(rid, [AudioSource("file", [0], f"/x/{rid}.wav")], 16000, 16000, 1.0)

    calls = {}

    def prepare_fake(data_root, output_dir, parts=("a", "b"), num_jobs=1, lower=False):
        calls.update(data_root=data_root, output_dir=output_dir, parts=parts, num_jobs=num_jobs, lower=lower)
        train = RecordingSet.from_recordings([r("t1"), r("t2")])
        sups = SupervisionSet.from_segments([SupervisionSegment("s1", "t1", 0, 1, text="hi")])
        return {
            "en": {"train": {"recordings": train, "supervisions": sups},
                   "dev": (RecordingSet.from_recordings([r("d1")]), None)},
            "trials": (CutSet.from_manifests(recordings=train), CutSet.from_manifests(recordings=train)),
            "empty": {"recordings": RecordingSet.from_recordings([])},
        }

    monkeypatch.setattr(lhotse_recipes, "_recipes_module", lambda: types.SimpleNamespace(prepare_fake=prepare_fake))
    out = tmp_path / "out"
    written = import_recipe("fake", tmp_path, out, parts="x,y", num_jobs="3", lower="true")
    assert calls["data_root"] == str(tmp_path)
    assert (calls["parts"], calls["num_jobs"], calls["lower"]) == (["x", "y"], 3, True)
    assert not (out / ".lhotse").exists() and not any(p.name.startswith(".lhotse-") for p in out.iterdir())
    assert written == {"en/train": out / "en" / "train", "en/dev": out / "en" / "dev",
                       "trials/cuts_1": out / "trials" / "cuts_1.jsonl.gz",
                       "trials/cuts_2": out / "trials" / "cuts_2.jsonl.gz"}
    recs, sups = load_manifests(out / "en" / "train")
    assert len(recs) == 2 and sups[0].text == "hi"
    assert len(load_manifests(out / "trials" / "cuts_2.jsonl.gz")[0]) == 2
    with pytest.raises(ConfigError, match="not a number"):
        import_recipe("fake", tmp_path, out, num_jobs="many")


# --- real_dev -----------------------------------------------------------------------------------

def write_real_dev(root):
    tone(root / "src-a" / "hello.wav", 1.0, rate=8000)
    tone(root / "noise-src" / "rain.wav", 2.0, rate=16000, channels=2)
    rows = [
        {"audio": "src-a/hello.wav", "sample_rate": 8000, "channels": 1, "duration": 1.0,
         "speaker": "src-a:anna", "sex": "F", "language": "en", "text": "hello", "text_en": "hello",
         "kind": "speech", "source": "src-a", "license": "CC0", "text_quality": "exact", "actor": "Anna A."},
        {"audio": "src-b/missing.ogg", "sample_rate": 22050, "channels": 2, "duration": 3.0,
         "speaker": None, "language": "nl", "text": "hoi", "kind": "speech"},
        {"audio": "noise-src/rain.wav", "sample_rate": 16000, "channels": 2, "duration": 2.0,
         "speaker": None, "language": None, "text": None, "kind": "noise"},
    ]
    (root / "manifest.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")


def test_real_dev_skips_absent_files(tmp_path):
    write_real_dev(tmp_path)
    imp = import_real_dev(tmp_path)
    assert imp.skipped == [("src-b/missing.ogg", "file not found")]
    assert {r.id: (r.sampling_rate, r.num_channels, r.duration) for r in imp.recordings} == {
        "src-a__hello": (8000, 1, 1.0), "noise-src__rain": (16000, 2, 2.0)}
    (s,) = list(imp.supervisions)  # noise gets no supervision
    assert (s.recording_id, s.text, s.speaker) == ("src-a__hello", "hello", "src-a:anna")
    assert (s.language, s.gender) == ("en", "F")
    assert s.custom["text_en"] == "hello" and s.custom["license"] == "CC0"
    assert (s.custom["text_quality"], s.custom["actor"]) == ("exact", "Anna A.")   # for data select --where
    assert imp.recordings["noise-src__rain"].load_audio().shape == (2, 32000)


def test_real_dev_kind_filter_and_errors(tmp_path):
    write_real_dev(tmp_path)
    imp = import_real_dev(tmp_path, kinds=("noise",))
    assert [r.id for r in imp.recordings] == ["noise-src__rain"] and len(imp.supervisions) == 0
    (tmp_path / "noise-src" / "rain.wav").unlink()
    with pytest.raises(DataError, match="none of the 1 listed files is present"):
        import_real_dev(tmp_path, kinds=("noise",))
    with open(tmp_path / "manifest.jsonl", "a", encoding="utf-8") as f:
        f.write('{"audio": "x.wav"}\n')
    with pytest.raises(DataError, match=r"manifest.jsonl:4: malformed row"):
        import_real_dev(tmp_path)
    with pytest.raises(DataError, match="no manifest.jsonl"):
        import_real_dev(tmp_path / "src-a")

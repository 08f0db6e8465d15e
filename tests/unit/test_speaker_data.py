"""Speaker data: speaker-labelled manifests, random crops, a validation set of the training speakers, the toy
voices and the errors a recipe can cause."""

from __future__ import annotations

import doctest

import numpy as np
import pytest
import torch

from speechdl.data.importers import import_folder
from speechdl.errors import ConfigError, DataError
from speechdl.tasks.speaker import data as D
from speechdl.tasks.speaker import toy
from speechdl.tasks.speaker.trials import read_trials

torch.set_num_threads(1)
FRONTEND = {"kind": "logmel", "n_mels": 40}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """Toy speakers 0-2 (3 files of 1.5 s each) as wav files, a trial list and a manifest directory."""
    out = tmp_path_factory.mktemp("spk")
    return out, toy.write_toy_speakers(out, [0, 1, 2], utts=3)


def test_toy_corpus_files_and_trials(corpus):
    out, trials = corpus
    ts = read_trials(trials, out / "wav")
    assert len(ts) == 9 * 8 // 2 and sum(t.target for t in ts) == 3 * 3
    assert all(t.enroll.is_file() and t.test.is_file() for t in ts)


def test_manifest_dataset_crops_in_training_and_keeps_whole_utterances_in_validation(corpus):
    out, _ = corpus
    train, val = D.speaker_utts(str(out / "manifest"), val_manifests=str(out / "manifest"), frontend=FRONTEND,
                                crop_seconds=[0.5, 0.8])
    assert train.speakers == ["spk000", "spk001", "spk002"] and val.speakers == train.speakers
    assert train.num_speakers == 3 and len(train) == 9 and train.durations == [0.8] * 9
    frames = [train[i]["x"].shape[0] for i in range(9)]
    assert all(51 <= t <= 81 for t in frames) and len(set(frames)) > 1          # 0.5-0.8 s crops, random
    item = val[4]
    assert item["x"].shape == (151, 40) and item["y"].dtype == torch.int64 and int(item["y"]) == 1
    again = D.speaker_utts(str(out / "manifest"), frontend=FRONTEND, crop_seconds=[0.5, 0.8])
    assert torch.equal(again[3]["x"], D.speaker_utts(str(out / "manifest"), frontend=FRONTEND,
                                                     crop_seconds=[0.5, 0.8])[3]["x"])   # seeded crops


def test_default_frontend_and_augmentation(corpus):
    out, _ = corpus
    ds = D.speaker_utts(str(out / "manifest"), crop_seconds=[1.0, 1.0], augment={"prob": 1.0, "p_clean": 0.0})
    assert ds.cfg.n_mels == 80 and ds.cfg.cmvn == "utterance" and ds[0]["x"].shape == (101, 80)
    clean = D.speaker_utts(str(out / "manifest"), crop_seconds=[1.0, 1.0])
    assert not torch.allclose(ds[0]["x"], clean[0]["x"])


def test_errors(corpus, tmp_path):
    out, _ = corpus
    with pytest.raises(ConfigError, match="data.augment"):
        D.speaker_utts(str(out / "manifest"), augment={"prob": 0.5, "snr": 3})
    with pytest.raises(ConfigError, match="crop_seconds"):
        D.speaker_utts(str(out / "manifest"), crop_seconds=[2.0, 1.0])
    rows = D.read_speaker_utterances(str(out / "manifest"))
    with pytest.raises(DataError, match="not among the training speakers"):
        D.SpeakerUtterances(rows, FRONTEND, speakers=["spk000"])
    from speechdl import audio

    audio.save(tmp_path / "spk" / "a.wav", np.zeros(1600, np.float32), 16000)
    import_folder(tmp_path).save(tmp_path / "m")        # no transcript: a recording without supervisions
    with pytest.raises(DataError, match="no supervision with a speaker"):
        D.read_speaker_utterances(str(tmp_path / "m"))


def test_toy_voices_differ_and_repeat():
    a, b = toy.voice(0), toy.voice(1)
    assert a == toy.voice(0) and a != b and 85 <= a.f0 <= 255
    x = toy.render(a, 1.0, seed=3)
    assert np.array_equal(x, toy.render(a, 1.0, seed=3)) and not np.array_equal(x, toy.render(a, 1.0, seed=4))
    assert x.dtype == np.float32 and 0.05 < float(np.sqrt(np.mean(x ** 2))) < 0.2
    train = toy.speaker_toy(speakers=5, n=12, val=False, frontend=FRONTEND)
    assert len(train) == 12 and train.num_speakers == 5


def test_doctests():
    assert doctest.testmod(D).failed == 0 and doctest.testmod(toy).failed == 0


def test_open_set_validation_speakers_get_ids_after_the_training_ones_and_stay_out_of_the_loss(corpus):
    from speechdl.tasks.speaker.train import SpeakerTask

    out, _ = corpus
    rows = D.read_speaker_utterances(str(out / "manifest"))
    val = D.SpeakerUtterances(rows, FRONTEND, speakers=["spk001"], training=False, open_set=True)
    assert [int(val[i]["y"]) for i in (0, 3, 6)] == [1, 0, 2]       # spk000 -> 1, spk001 -> 0, spk002 -> 2
    task = SpeakerTask({"name": "speaker_net", "in_dim": 40, "num_speakers": 1, "embed_dim": 8,
                        "encoder": {"name": "xvector", "widths": [8, 8, 8, 8, 16], "num_segment_layers": 1}})
    task.model.eval()                                                   # validation runs in eval mode
    x = torch.stack([val[i]["x"] for i in (0, 3, 6)])
    batch = {"x": x, "lengths": torch.tensor([len(t) for t in x]), "y": torch.tensor([1, 0, 2])}
    loss, metrics = task.compute(batch, "val")
    known = {"x": x[1:2], "lengths": batch["lengths"][1:2], "y": torch.tensor([0])}
    assert torch.allclose(loss, task.compute(known, "val")[0]) and float(metrics["acc"]) == 1.0
    unknown = {"x": x[::2], "lengths": batch["lengths"][::2], "y": torch.tensor([1, 2])}
    assert float(task.compute(unknown, "val")[0]) == 0.0
    train, val2 = D.speaker_utts(str(out / "manifest"), val_manifests=str(out / "manifest"), frontend=FRONTEND,
                                 val_open_set=True, max_val_seconds=1.0)
    assert val2[0]["x"].shape[0] == 101                                   # validation cut to max_val_seconds

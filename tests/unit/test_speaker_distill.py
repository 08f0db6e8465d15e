"""Speaker embedding distillation: teacher targets beside a manifest, unlabeled utterances, the distillation
loss of the speaker task, the whisper style and the relabelling of characters by their actor."""

from __future__ import annotations

import doctest
import importlib.util

import numpy as np
import pytest
import torch
from lhotse import SupervisionSegment, SupervisionSet
from lhotse.utils import fastcopy

from speechdl.data import styles
from speechdl.data.manifests import load_manifests, save_manifests
from speechdl.data.select import relabel_speakers
from speechdl.errors import ConfigError, DataError
from speechdl.tasks.speaker import data as D
from speechdl.tasks.speaker import teacher as T
from speechdl.tasks.speaker import toy
from speechdl.tasks.speaker.train import SpeakerTask

torch.set_num_threads(1)
FRONTEND = {"kind": "logmel", "n_mels": 40}
MODEL = {"name": "speaker_net", "in_dim": 40, "num_speakers": 3, "embed_dim": 8, "head": "aam",
         "encoder": {"name": "xvector", "widths": [8, 8, 8, 8, 16], "num_segment_layers": 1}}


@pytest.fixture()
def corpus(tmp_path):
    """Toy speakers 0-2, 3 utterances each; the last utterance of each speaker has its label removed."""
    toy.write_toy_speakers(tmp_path, [0, 1, 2], utts=3)
    recs, sups = load_manifests(tmp_path / "manifest")
    sups = SupervisionSet.from_segments(fastcopy(s, speaker=None) if i % 3 == 2 else s for i, s in enumerate(sups))
    save_manifests(tmp_path / "manifest", recs, sups)
    return tmp_path / "manifest", [s.id for s in sups]


def _write_teacher(manifest, ids, dim=8):
    vecs = [np.random.default_rng(i).standard_normal(dim).astype(np.float32) for i in range(len(ids))]
    T._save(T.teacher_file(manifest), list(ids), vecs, "test")
    return dict(zip(ids, vecs))


def test_teacher_targets_reach_every_item_and_unlabeled_utterances_come_with_y_minus_one(corpus):
    manifest, ids = corpus
    table = _write_teacher(manifest, ids)
    assert T.load_teacher(manifest).keys() == table.keys()
    labelled = D.speaker_utts(str(manifest), frontend=FRONTEND, crop_seconds=[0.5, 0.5], teacher="resemblyzer")
    assert len(labelled) == 6 and labelled.speakers == ["spk000", "spk001", "spk002"]
    full = D.speaker_utts(str(manifest), frontend=FRONTEND, crop_seconds=[0.5, 0.5], teacher="resemblyzer",
                          unlabeled=True)
    assert len(full) == 9 and full.num_speakers == 3
    labels = sorted(int(full[i]["y"]) for i in range(9))
    assert labels == [-1, -1, -1, 0, 0, 1, 1, 2, 2]
    for i, row in enumerate(full.rows):
        assert torch.equal(full[i]["t"], torch.from_numpy(table[row["id"]]))


def test_teacher_errors(corpus):
    manifest, ids = corpus
    with pytest.raises(DataError, match="teacher-embed"):
        D.speaker_utts(str(manifest), frontend=FRONTEND, teacher="resemblyzer")
    with pytest.raises(ConfigError, match="data.teacher"):
        D.speaker_utts(str(manifest), frontend=FRONTEND, unlabeled=True)
    _write_teacher(manifest, ids[:4])
    with pytest.raises(DataError, match="have no teacher embedding"):
        D.speaker_utts(str(manifest), frontend=FRONTEND, teacher="resemblyzer")
    with pytest.raises(ConfigError, match="p_whisper"):
        D.speaker_utts(str(manifest), frontend=FRONTEND, p_whisper=1.5)


def test_distillation_loss_is_added_and_teaches_unlabeled_items_alone():
    torch.manual_seed(0)
    task = SpeakerTask(MODEL, distill_weight=2.0)
    plain = SpeakerTask(MODEL)
    plain.model.load_state_dict(task.model.state_dict())
    x, n = torch.randn(4, 50, 40), torch.tensor([50, 50, 40, 30])
    t = torch.randn(4, 8)
    batch = {"x": x, "lengths": n, "y": torch.tensor([0, 1, 2, -1]), "t": t}
    task.model.eval(), plain.model.eval()
    loss, logs = task.compute(batch, "train")
    ce, _ = plain.compute({k: v[:3] for k, v in batch.items()}, "train")
    emb = task.model.embed(x, n)
    distill = (1 - torch.nn.functional.cosine_similarity(emb, t, dim=-1)).mean()
    assert torch.allclose(logs["distill"], distill, atol=1e-5) and torch.allclose(loss, ce + 2.0 * distill, atol=1e-4)
    only = {"x": x[3:], "lengths": n[3:], "y": torch.tensor([-1]), "t": t[3:]}
    assert float(task.compute(only, "train")[0].detach()) > 0                      # unlabeled: the teacher term alone
    with pytest.raises(ConfigError, match="embed_dim"):
        task.compute({**batch, "t": torch.randn(4, 5)}, "train")


def test_distillation_learns_the_teacher_direction():
    torch.manual_seed(1)
    task = SpeakerTask(MODEL, distill_weight=1.0)
    x, n = torch.randn(6, 40, 40), torch.full((6,), 40)
    batch = {"x": x, "lengths": n, "y": torch.full((6,), -1), "t": torch.rand(6, 8)}
    opt = torch.optim.Adam(task.model.parameters(), lr=1e-2)
    task.model.train()
    first = float(task.compute(batch, "train")[1]["distill"])
    for _ in range(60):
        loss, logs = task.compute(batch, "train")
        opt.zero_grad(), loss.backward(), opt.step()
    task.model.eval()
    assert float(task.compute(batch, "train")[1]["distill"]) < 0.3 * first


def test_whisperize_keeps_the_envelope_and_removes_the_harmonics():
    sr = 16000
    t = np.arange(sr) / sr
    voiced = sum(np.sin(2 * np.pi * 150 * k * t) / k for k in range(1, 40)).astype(np.float32)
    out = styles.whisperize(voiced, sr, np.random.default_rng(0))
    spec_in, spec_out = (np.abs(np.fft.rfft(w * np.hanning(len(w)))) for w in (voiced, out))
    bins = np.arange(len(spec_in)) * sr / len(voiced)
    harmonic = np.isclose(bins % 150, 0) & (bins > 600) & (bins < 5000)
    near = (np.abs((bins % 150) - 75) < 10) & (bins > 600) & (bins < 5000)
    ratio = lambda s: np.median(s[harmonic]) / np.median(s[near])          # noqa: E731
    assert ratio(spec_in) > 100 and ratio(spec_out) < 3                      # harmonics gone
    band = lambda s, lo, hi: s[(bins >= lo) & (bins < hi)].mean()            # noqa: E731
    for spec in (spec_in, spec_out):                                          # the envelope's tilt is kept
        assert band(spec, 600, 1500) > band(spec, 3000, 5000)
    assert styles.whisperize(voiced[:100], sr, np.random.default_rng(0)).shape == (100,)


def test_relabel_by_actor_keeps_the_character_and_leaves_other_rows():
    sups = SupervisionSet.from_segments([
        SupervisionSegment("a", "r1", 0.0, 1.0, speaker="fotaq:sparky", custom={"actor": "Tom Hill"}),
        SupervisionSegment("b", "r2", 0.0, 1.0, speaker="fotaq:jim", custom={"actor": "Tom Hill"}),
        SupervisionSegment("c", "r3", 0.0, 1.0, speaker="fotaq:x", custom={"source": "f"})])
    out = relabel_speakers(sups, "actor")
    assert [s.speaker for s in out] == ["actor:Tom Hill", "actor:Tom Hill", "fotaq:x"]
    assert out[0].custom["character"] == "fotaq:sparky"


@pytest.mark.skipif(importlib.util.find_spec("resemblyzer") is None, reason="resemblyzer not installed")
def test_teacher_embed_writes_unit_embeddings_and_resumes(corpus):
    manifest, ids = corpus
    first = T.embed_manifest(manifest, batch_size=4, show_progress=False)
    assert first["utterances"] == 9 and first["new"] == 9
    table = T.load_teacher(manifest)
    assert set(table) == set(ids) and all(abs(np.linalg.norm(v) - 1) < 1e-4 for v in table.values())
    again = T.embed_manifest(manifest, batch_size=4, show_progress=False)
    assert again["new"] == 0 and again["utterances"] == 9


def test_doctests():
    assert doctest.testmod(styles).failed == 0 and doctest.testmod(T).failed == 0


def test_overlap_adds_another_talker_and_keeps_the_targets(corpus):
    manifest, ids = corpus
    _write_teacher(manifest, ids)
    kw = {"frontend": FRONTEND, "crop_seconds": [1.0, 1.0], "teacher": "resemblyzer"}
    plain, mixed = D.speaker_utts(str(manifest), **kw), D.speaker_utts(str(manifest), p_overlap=1.0, **kw)
    a, b = plain[0], mixed[0]
    assert not torch.allclose(a["x"], b["x"]) and a["x"].shape == b["x"].shape
    assert int(a["y"]) == int(b["y"]) and torch.equal(a["t"], b["t"])
    with pytest.raises(ConfigError, match="p_overlap"):
        D.speaker_utts(str(manifest), frontend=FRONTEND, p_overlap=-0.1)


def test_real_noise_bank_by_family(corpus, tmp_path):
    import json

    from speechdl import audio

    manifest, _ = corpus
    bank = tmp_path / "bank"
    bank.mkdir()
    audio.save(bank / "rain.wav", np.random.default_rng(0).standard_normal(16000).astype(np.float32) * 0.1, 16000)
    (bank / "manifest.jsonl").write_text(json.dumps({"audio": "rain.wav", "kind": "noise", "duration": 1.0,
                                                     "source": "x", "family": "weather"}) + "\n")
    ds = D.speaker_utts(str(manifest), frontend=FRONTEND, crop_seconds=[1.0, 1.0], noise_dir=str(bank),
                        noise_families=["weather"], augment={"prob": 1.0, "p_clean": 0.0})
    assert [nf.family for nf in ds.bank] == ["weather"] and ds[0]["x"].shape == (101, 40)
    with pytest.raises(DataError, match="no noise files"):
        D.speaker_utts(str(manifest), frontend=FRONTEND, noise_dir=str(bank), noise_families=["music"])

"""ASR data: manifests -> utterances, features and ids, augmentation, tokenizer specs, duration buckets."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from speechdl.errors import ConfigError, DataError
from speechdl.tasks.asr.data import ASRUtterances, asr_utts, read_utterances, speed_perturb
from speechdl.tasks.asr.toy import render, write_tone_corpus
from speechdl.train.bucketing import BucketBatchSampler
from speechdl.train.datamodule import RecipeDataModule
from tests.vad_fixtures import vad_manifest

TEXTS = ["abc", "cab", "bad cab", "a dab", "cd", "dab ba", "Ba, DC!"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return write_tone_corpus(tmp_path_factory.mktemp("tones"), TEXTS)


def test_utterances_features_and_ids(corpus):
    rows = read_utterances(corpus)
    assert [r["text"] for r in rows] == TEXTS and all(r["offset"] == 0.0 for r in rows)
    ds = ASRUtterances(corpus, training=False)
    assert len(ds) == 7 and ds.durations == pytest.approx([r["duration"] for r in rows])
    item = ds[6]
    assert item["x"].shape == (1 + int(round(rows[6]["duration"] * 16000)) // 160, 80)
    assert item["x"].dtype == torch.float32
    assert item["y"].tolist() == ds.tokenizer.encode("ba dc") and ds.texts()[6] == "ba dc"
    short = ASRUtterances(corpus, max_duration=0.6, training=False)
    assert all(d <= 0.6 for d in short.durations) and 0 < len(short) < 7


def test_manifest_without_transcripts_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="no supervision with a transcript"):
        ASRUtterances(vad_manifest(tmp_path))
    with pytest.raises(DataError, match="manifest not found"):
        read_utterances(tmp_path / "nothing")


def test_speed_perturbation_and_conditions_are_seeded(corpus):
    x = render("abc")
    assert len(speed_perturb(x, 1.1, 16000)) == pytest.approx(len(x) / 1.1, abs=2)
    assert speed_perturb(x, 1.0, 16000) is x
    clean = ASRUtterances(corpus, training=False)[0]["x"]
    aug = dict(speed_perturb=[0.9, 1.1], augment={"prob": 1.0, "p_clean": 0.0, "snr_range": [5, 10],
                                                  "p_reverb": 0.5, "p_telephone": 0.5})
    a, b = ASRUtterances(corpus, seed=3, **aug), ASRUtterances(corpus, seed=3, **aug)
    xa, xb = a[0]["x"], b[0]["x"]
    assert torch.equal(xa, xb) and xa.shape[0] != clean.shape[0]        # seeded, and the speed changed
    assert not torch.equal(a[0]["x"], xa)                               # a new draw next time
    with pytest.raises(ConfigError, match="unknown key"):
        ASRUtterances(corpus, augment={"prob": 0.5, "snr": 3})


def test_bpe_spec_trains_once_into_its_directory_and_pairs_share_it(corpus, tmp_path):
    spec = {"kind": "bpe", "vocab_size": 14, "dir": str(tmp_path / "bpe")}
    train, val = asr_utts(str(corpus), val_manifests=str(corpus), tokenizer=spec)
    assert (tmp_path / "bpe" / "tokenizer.json").exists() and val.tokenizer is train.tokenizer
    assert train.training and not val.training and train.tokenizer.kind == "bpe"
    again = asr_utts(str(corpus), tokenizer=spec)
    assert again.tokenizer.labels == train.tokenizer.labels
    assert train.tokenizer.decode(train[2]["y"].tolist()) == "bad cab"
    with pytest.raises(ConfigError, match="dir"):
        asr_utts(str(corpus), tokenizer={"kind": "bpe", "vocab_size": 14})


def test_bucket_sampler_budget_coverage_shards_and_epochs():
    rng = np.random.default_rng(0)
    durations = rng.uniform(0.5, 12.0, 200).tolist()
    s = BucketBatchSampler(durations, max_seconds=30.0, seed=1)
    batches = list(s)
    assert sorted(i for b in batches for i in b) == list(range(200))
    assert all(len(b) * max(durations[i] for i in b) <= 30.0 for b in batches)
    s.sampler.set_epoch(1)                                               # what Lightning calls
    assert list(s) != batches and sorted(map(tuple, s)) == sorted(map(tuple, batches))
    shares = [list(BucketBatchSampler(durations, 30.0, seed=1, rank=r, world=2)) for r in (0, 1)]
    assert len(shares[0]) == len(shares[1]) == len(BucketBatchSampler(durations, 30.0, world=2))
    mine, theirs = ({tuple(b) for b in share} for share in shares)
    assert mine | theirs == {tuple(b) for b in batches}                  # every batch is served
    assert len(mine & theirs) == 2 * len(shares[0]) - len(batches) == len(batches) % 2   # only the pad batch twice
    assert list(BucketBatchSampler([40.0, 1.0], 30.0, shuffle=False)) == [[1], [0]]   # too long: alone


def test_datamodule_uses_duration_buckets(corpus):
    dm = RecipeDataModule("asr_utts", {"manifests": str(corpus), "val_fraction": 0.3, "max_batch_seconds": 2.0})
    dm.setup()
    loader = dm.train_dataloader()
    seen = 0
    for batch in loader:
        assert batch["x"].shape[0] * batch["x"].shape[1] * 0.01 <= 2.0 + 0.05 * batch["x"].shape[0]
        assert batch["lengths"].max() == batch["x"].shape[1]
        seen += batch["x"].shape[0]
    assert seen == len(dm.train_set) == 5 and len(dm.val_dataloader()) >= 1

"""VAD frame data: the label definition, the ``vad_frames`` dataset, whole-manifest loading."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from speechdl.features import FrontendConfig
from speechdl.tasks.vad.data import VADFrames, frame_labels, load_frames, read_recordings
from speechdl.train.datamodule import pad_collate
from speechdl.train.datasets import build_dataset
from tests.vad_fixtures import vad_manifest


def test_frame_labels_use_frame_centres_and_half_open_intervals():
    y = frame_labels([(0.03, 0.06)], 10, 0.01)
    assert y.dtype == np.float32 and y.shape == (10,)
    assert y.tolist() == [0, 0, 0, 1, 1, 1, 0, 0, 0, 0]          # centre 0.03 in, centre 0.06 out
    assert frame_labels([(0.031, 0.059)], 10, 0.01).tolist() == [0, 0, 0, 0, 1, 1, 0, 0, 0, 0]
    assert not frame_labels([(0.041, 0.049)], 10, 0.01).any()  # shorter than a hop, holds no centre
    assert frame_labels([], 5, 0.01).tolist() == [0] * 5
    assert frame_labels([(0.0, 0.005)], 3, 0.01).tolist() == [1, 0, 0]   # frame 0 is centred at 0 s


def test_frame_labels_overlaps_out_of_range_and_float_rounding():
    y = frame_labels([(0.02, 0.05), (0.04, 0.07), (0.08, 9.0)], 10, 0.01)
    assert y.tolist() == [0, 0, 1, 1, 1, 1, 1, 0, 1, 1]
    # 0.1 + 0.2 style rounding: 3 * 0.01 = 0.030000000000000002 must still count as inside [0.03, ...)
    assert frame_labels([(0.1 + 0.2 - 0.27, 0.05)], 6, 0.01)[3] == 1
    # another hop: 20 ms frames
    assert frame_labels([(0.1, 0.2)], 12, 0.02).tolist() == [0] * 5 + [1] * 5 + [0, 0]
    assert frame_labels([(-1.0, 0.015)], 4, 0.01).tolist() == [1, 1, 0, 0]


def test_crops_have_the_right_shapes_and_labels_follow_the_intervals(tmp_path):
    man = vad_manifest(tmp_path)
    ds = VADFrames(man, crop_seconds=2.0, seed=1)
    assert len(ds) == 2 * 3                               # 601 frames // 200 = 3 crops per recording
    rec = read_recordings(man)[0]
    full = frame_labels(rec["speech"], 601, 0.01)
    for k in range(3):
        item = ds[k]
        assert item["x"].shape == (200, 39) and item["y"].shape == (200,) and int(item["length"]) == 200
        assert item["x"].dtype == torch.float32 and item["y"].dtype == torch.float32
        y = item["y"].numpy()
        # the crop's labels are a window of the recording's labels
        starts = [s for s in range(0, 402) if np.array_equal(full[s:s + 200], y)]
        assert starts, "crop labels are not a window of the recording labels"
        # c0 (log energy) is high exactly where the labels say speech
        c0 = item["x"][:, 0].numpy()
        if 0 < y.sum() < len(y):
            inner = np.convolve(y, np.ones(7), "same") == 7
            outer = np.convolve(1 - y, np.ones(7), "same") == 7
            assert np.median(c0[inner]) > np.percentile(c0[outer], 99) + 20


def test_whole_recordings_cache_and_collate(tmp_path):
    man = vad_manifest(tmp_path)
    ds = VADFrames(man, crop_seconds=None, cache_dir=str(tmp_path / "cache"))
    a, b = ds[0], ds[1]
    assert a["x"].shape == (601, 39) and a["y"].sum() == pytest.approx(150 + 155)
    assert len(list((tmp_path / "cache").rglob("*.npy"))) == 2
    again = VADFrames(man, crop_seconds=None, cache_dir=str(tmp_path / "cache"))[0]
    assert torch.equal(again["x"], a["x"])
    batch = pad_collate([a, {k: v[:300] if v.dim() else torch.tensor(300) for k, v in b.items()}])
    assert batch["x"].shape == (2, 601, 39) and batch["lengths"].tolist() == [601, 300]
    assert batch["y"].dtype == torch.float32 and batch["y"][1, 300:].eq(0).all()


def test_registered_dataset_gives_train_and_val_logmel_and_noise(tmp_path):
    man = vad_manifest(tmp_path)
    train, val = build_dataset("vad_frames", manifests=[str(man)], val_manifests=str(man),
                               frontend={"kind": "logmel", "n_mels": 40}, crop_seconds=1.0)
    assert train[0]["x"].shape == (100, 40) and val[0]["x"].shape == (601, 40)
    assert isinstance(build_dataset("vad_frames", manifests=str(man)), VADFrames)
    clean = VADFrames(man, crop_seconds=2.0, random_crops=False)
    noisy = VADFrames(man, crop_seconds=2.0, random_crops=False, noise_prob=1.0, snr_range=(0.0, 0.0))
    c, n = clean[1], noisy[1]
    assert torch.equal(c["y"], n["y"])                    # noise never changes the labels
    quiet = c["y"] == 0
    assert (n["x"][quiet, 0] - c["x"][quiet, 0]).mean() > 10   # silence got much louder (dB cepstrum)


def test_load_frames_concatenates_every_recording(tmp_path):
    man = vad_manifest(tmp_path, n_recordings=3)
    x, y = load_frames(man)
    assert x.shape == (3 * 601, 39) and y.shape == (3 * 601,)
    assert set(np.unique(y)) == {0.0, 1.0}
    assert y.sum() == sum(frame_labels(r["speech"], 601, 0.01).sum() for r in read_recordings(man))
    x40, _ = load_frames(man, FrontendConfig.logmel())
    assert x40.shape[1] == 40

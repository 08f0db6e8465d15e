"""Toy datasets and the helpers of the seq2seq / wavenet / gan / pretrain tasks."""

from __future__ import annotations

import pytest
import torch

from speechdl.errors import ConfigError
from speechdl.train import RecipeConfig, available_datasets, available_tasks, build_dataset, check_components
from speechdl.train.tasks_generative import frechet_distance
from speechdl.train.tasks_pretrain import check_pretrain
from speechdl.train.tasks_seq2seq import edit_distance, targets_with_eos

TOY = {"toy_spectra": {"n": 20}, "toy_copy": {"n": 20}, "toy_reverse": {"n": 20}, "toy_tones": {"n": 8, "length": 64},
       "toy_gaussian": {"n": 50}, "toy_noisy_frames": {"n": 20, "seq_len": 8}}


def test_builtin_tasks_and_datasets_are_registered():
    assert {"seq2seq", "wavenet", "gan", "classify"} <= set(available_tasks())
    assert set(TOY) <= set(available_datasets())


@pytest.mark.parametrize("name", sorted(TOY))
def test_toy_datasets_are_seeded(name):
    a, b = build_dataset(name, **TOY[name]), build_dataset(name, **TOY[name])
    c = build_dataset(name, **TOY[name], seed=1)
    for i in range(len(a)):
        assert all(torch.equal(a[i][k], b[i][k]) for k in a[i])
    assert any(not torch.equal(a[i]["x"], c[i]["x"]) for i in range(len(a)) if a[i]["x"].shape == c[i]["x"].shape)


def test_toy_spectra_sweeps_differ_only_in_order():
    ds = build_dataset("toy_spectra", n=200, dim=16, num_classes=4, noise=0.0, min_len=20, max_len=20)
    by_class = {}
    for item in ds.items:
        by_class.setdefault(int(item["y"]), []).append(item["x"])
    rising, falling = by_class[1][0], by_class[3][0]
    assert rising.argmax(1)[0] < rising.argmax(1)[-1] and falling.argmax(1)[0] > falling.argmax(1)[-1]
    frames = build_dataset("toy_spectra", n=3, dim=16, frame_labels=True)[0]
    assert frames["y"].shape == frames["x"].shape[:1]
    with pytest.raises(ConfigError):
        build_dataset("toy_spectra", dim=4, num_classes=4)


def test_toy_reverse_is_toy_copy_reversed():
    a, b = build_dataset("toy_copy", n=5), build_dataset("toy_reverse", n=5)
    for i in range(5):
        assert torch.equal(a[i]["x"], b[i]["x"]) and torch.equal(a[i]["y"].flip(0), b[i]["y"])
        assert len(a[i]["x"]) == 3 * len(a[i]["y"]) and int(a[i]["y"].min()) >= 3


def test_toy_tones_conditioning_and_range():
    ds = build_dataset("toy_tones", n=4, length=128, n_classes=32, hop_length=16)
    item = ds[0]
    assert item["x"].shape == (128,) and 0 <= int(item["x"].min()) and int(item["x"].max()) < 32
    assert item["cond"].shape == (8, 1) and 0 <= float(item["cond"].min()) <= float(item["cond"].max()) <= 1
    with pytest.raises(ConfigError):
        build_dataset("toy_tones", length=100, hop_length=16)


def test_toy_noisy_frames_noise_level():
    ds = build_dataset("toy_noisy_frames", n=2000, dim=24, noise=0.3)
    assert float((ds.x - ds.target).std()) == pytest.approx(0.3, rel=0.05)
    assert float(ds.target.min()) >= 0


def test_edit_distance():
    assert edit_distance([1, 2, 3], [1, 2, 3]) == 0
    assert edit_distance([1, 2, 3], [1, 3]) == 1
    assert edit_distance([1, 2, 3], [3, 2, 1]) == 2
    assert edit_distance([], [4, 5]) == 2 and edit_distance([4, 5], []) == 2


def test_targets_with_eos():
    y = torch.tensor([[5, 6, 7], [8, -100, -100]])
    t, refs = targets_with_eos(y, eos_id=2, pad_id=0)
    assert t.tolist() == [[5, 6, 7, 2], [8, 2, 0, 0]] and refs == [[5, 6, 7], [8]]


def test_frechet_distance():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(4000, 2, generator=g)
    assert frechet_distance(x, torch.randn(4000, 2, generator=g)) < 0.01
    # shifted mean by (3, 0) and doubled std: |Δμ|² + Σ(1 + 4 - 2·2) = 9 + 2
    assert frechet_distance(x, 2 * torch.randn(4000, 2, generator=g) + torch.tensor([3.0, 0.0])) == \
        pytest.approx(11.0, rel=0.05)


def test_recipe_errors_for_new_tasks():
    base = {"model": {"name": "mlp_generator", "latent_dim": 2, "out_dim": 2}, "data": {"name": "toy_gaussian"}}
    cfg = RecipeConfig.from_dict({**base, "task": {"name": "gan", "los": "hinge"}})
    with pytest.raises(ConfigError, match="los"):
        check_components(cfg)
    from speechdl.train import task_class

    with pytest.raises(ConfigError, match="discriminator"):
        task_class("gan")(model=base["model"])
    with pytest.raises(ConfigError, match="unknown GAN loss"):
        task_class("gan")(model=base["model"], discriminator={"name": "mlp_discriminator", "in_dim": 2}, loss="wgan")
    with pytest.raises(ConfigError, match="not an attention seq2seq"):
        task_class("seq2seq")(model={"name": "dense", "in_dim": 3, "hidden": [4]})
    with pytest.raises(ConfigError, match="epoch"):
        check_pretrain({"epoch": 3})
    with pytest.raises(ConfigError, match="not a WaveNet"):
        task_class("wavenet")(model={"name": "dense", "in_dim": 3, "hidden": [4]})

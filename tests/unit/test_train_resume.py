"""Exact resume pieces (speechdl.train.resume, speechdl.train.faults) in process: the loader's position and
random state, the data's draw counters, worker seeding, periodic and atomic checkpoints, the stop on a
signal, divergence, and the trainer keys' validation. The subprocess tests with real signals sent from
outside are tests/integration/test_train_faults.py."""

from __future__ import annotations

import os
import pickle
import signal

import lightning as L
import pytest
import torch
from torch.utils.data import BatchSampler, Dataset, SequentialSampler, TensorDataset

from speechdl.errors import ConfigError
from speechdl.train import RecipeConfig, TrainingInterrupted, train
from speechdl.train.datamodule import ShardSampler
from speechdl.train.faults import AtomicCheckpointIO, TrainingDiverged
from speechdl.train.resume import ResumableLoader, capture_rng, restore_rng


def cfg_for(tmp_path, *overrides, name="run"):
    raw = {
        "task": {"name": "classify", "num_classes": 2},
        "model": {"name": "dense", "in_dim": 8, "hidden": [16, 8], "out_dim": 2, "dropout": [0.3, 0.2]},
        "data": {"name": "toy_frames", "n": 320, "dim": 8, "noise": 1.0},
        "optim": {"name": "adam", "lr": 0.01},
        "scheduler": {"name": "cosine", "warmup_steps": 4},
        "trainer": {"max_epochs": 3, "batch_size": 32, "threads": 1, "progress_bar": False},
        "out_dir": str(tmp_path / name),
    }
    return RecipeConfig.from_dict(raw, list(overrides))


def weights(module) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in module.parameters()])


class SignalAt(L.Callback):
    """Sends this process a real signal after optimizer step ``step`` (the run stops at the next step end)."""

    def __init__(self, step, sig=signal.SIGINT):
        self.step, self.sig = step, sig

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if trainer.global_step == self.step:
            os.kill(os.getpid(), self.sig)


class Steps(L.Callback):
    """The global step held by last.ckpt before every step."""

    def __init__(self, path):
        self.path, self.seen = path, []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if self.path.exists():
            self.seen.append(torch.load(self.path, weights_only=False)["global_step"])


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    res = train(cfg_for(tmp_path_factory.mktemp("base")))
    return res.summary, weights(res.module)


@pytest.mark.parametrize("step, sig", [(3, signal.SIGINT), (19, signal.SIGTERM)])
def test_signal_then_resume_equals_the_uninterrupted_run(tmp_path, uninterrupted, step, sig):
    """Dropout, a per-step schedule and shuffled batches: the resumed run ends bit-identical, epoch
    means included (step 20 is in the last epoch, so train_loss_epoch spans the resume)."""
    cfg = cfg_for(tmp_path)
    with pytest.raises(TrainingInterrupted) as stop:
        train(cfg, callbacks=[SignalAt(step, sig)])
    assert stop.value.global_step == step + 1 and stop.value.checkpoint.endswith("last.ckpt")
    res = train(cfg)
    summary, w = uninterrupted
    assert res.summary["metrics"] == summary["metrics"] and res.summary["best_score"] == summary["best_score"]
    assert torch.equal(weights(res.module), w)


def test_signal_with_one_batch_per_epoch_stops_at_an_epoch_boundary(tmp_path):
    """No step ends inside an epoch: the run stops before the next epoch's step and keeps its checkpoint."""
    cfg = cfg_for(tmp_path, "data.n=40", "trainer.max_epochs=6")
    with pytest.raises(TrainingInterrupted) as stop:
        train(cfg, callbacks=[SignalAt(2)])
    assert stop.value.global_step == 3 and stop.value.checkpoint.endswith("last.ckpt")
    res = train(cfg)
    base = train(cfg_for(tmp_path, "data.n=40", "trainer.max_epochs=6", name="base"))
    assert res.summary["metrics"] == base.summary["metrics"] and torch.equal(weights(res.module), weights(base.module))


class HardStopAt(L.Callback):
    """A KeyboardInterrupt inside a step (like a second Ctrl-C): that state is not saved."""

    def __init__(self, step):
        self.step = step

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if trainer.global_step == self.step:
            raise KeyboardInterrupt


def test_hard_stop_resumes_from_the_epoch_end_checkpoint_exactly(tmp_path, uninterrupted):
    """Periodic checkpoints off, stopped inside step 12: the kept checkpoint is the end of epoch 0 (step 8)."""
    cfg = cfg_for(tmp_path, "trainer.checkpoint_every_steps=null")
    with pytest.raises(TrainingInterrupted) as stop:
        train(cfg, callbacks=[HardStopAt(11)])
    assert stop.value.global_step == 8 and stop.value.checkpoint.endswith("last.ckpt")
    res = train(cfg)
    assert res.summary["resumed_from"] is not None and res.summary["metrics"] == uninterrupted[0]["metrics"]
    assert torch.equal(weights(res.module), uninterrupted[1])


def test_periodic_checkpoints_every_n_steps_but_not_on_an_epoch_end(tmp_path):
    cfg = cfg_for(tmp_path, "trainer.checkpoint_every_steps=3", "trainer.max_epochs=2")
    rec = Steps(tmp_path / "run" / "checkpoints" / "last.ckpt")
    train(cfg, callbacks=[rec])
    # 8 steps per epoch: 3, 6 (periodic), 8 (epoch end), 9, 12, 15 (periodic), 16 (epoch end)
    assert sorted(set(rec.seen)) == [3, 6, 8, 9, 12, 15]
    assert torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", weights_only=False)["global_step"] == 16


def test_last_checkpoint_is_the_end_of_every_epoch_even_without_improvement(tmp_path):
    """Lightning's save_last writes last.ckpt only when the monitored metric improved: a killed or extended
    run would restart from an older epoch. Here val_loss is best at epoch 2 of 5 and last.ckpt still ends
    every epoch."""
    rec = EpochStart(tmp_path / "run" / "checkpoints" / "last.ckpt")
    res = train(cfg_for(tmp_path, "trainer.max_epochs=5", "optim.lr=0.05", "scheduler.name=none",
                        "trainer.checkpoint_every_steps=null"), callbacks=[rec])
    assert rec.seen == [8, 16, 24, 32] and "-004-" not in res.summary["best_checkpoint"]
    assert torch.load(res.summary["last_checkpoint"], weights_only=False)["global_step"] == 40


class EpochStart(Steps):
    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if batch_idx == 0 and self.path.exists():
            self.seen.append(torch.load(self.path, weights_only=False)["global_step"])


def test_periodic_checkpoints_by_minutes(tmp_path):
    cfg = cfg_for(tmp_path, "trainer.checkpoint_every_steps=null", "trainer.checkpoint_every_minutes=1e-9",
                  "trainer.max_epochs=1")
    rec = Steps(tmp_path / "run" / "checkpoints" / "last.ckpt")
    train(cfg, callbacks=[rec])
    assert sorted(set(rec.seen)) == [1, 2, 3, 4, 5, 6, 7]      # every step (8 ends the epoch: its own checkpoint)


def test_divergence_stops_at_the_first_non_finite_loss(tmp_path):
    with pytest.raises(TrainingDiverged, match=r"loss became nan at step 1 \(epoch 0\)") as err:
        train(cfg_for(tmp_path, "data.noise=.inf"))
    assert "\n" not in str(err.value) and "optim.lr" in str(err.value)
    with pytest.raises(TrainingDiverged, match="became (nan|inf) at step 2 "):
        train(cfg_for(tmp_path, "optim.lr=1e30", "scheduler.name=none", name="lr"))   # step 1 blows the weights up


@pytest.mark.parametrize("key, value", [("checkpoint_every_steps", 0), ("checkpoint_every_steps", -5),
                                        ("checkpoint_every_steps", 2.5), ("checkpoint_every_steps", True),
                                        ("checkpoint_every_minutes", 0), ("checkpoint_every_minutes", ".inf"),
                                        ("checkpoint_every_minutes", ".nan"), ("checkpoint_every_minutes", -1)])
def test_bad_checkpoint_intervals_are_one_line_config_errors(tmp_path, key, value):
    with pytest.raises(ConfigError, match=f"trainer.{key}") as err:
        cfg_for(tmp_path, f"trainer.{key}={value}")
    assert "\n" not in str(err.value)


def test_checkpoint_intervals_accept_null_and_positive_values(tmp_path):
    t = cfg_for(tmp_path, "trainer.checkpoint_every_steps=null", "trainer.checkpoint_every_minutes=0.5").trainer
    assert t.checkpoint_every_steps is None and t.checkpoint_every_minutes == 0.5
    assert cfg_for(tmp_path).trainer.checkpoint_every_steps == 500


# ------------------------------------------------------------------------------------------------
def loader(ds, shuffle=True, workers=0, seed=3):
    return ResumableLoader(ds, BatchSampler(ShardSampler(len(ds), seed, shuffle), 4, False), seed=seed,
                           num_workers=workers)


def test_loader_resumes_mid_epoch_with_the_same_batches_and_random_state():
    ds = TensorDataset(torch.arange(22.0))
    a = loader(ds)
    a.epoch_batches.set_epoch(1)
    it = iter(a)
    full = [next(it)[0].tolist() for _ in range(2)]
    state = a.checkpoint_state()
    torch.rand(3)                                      # what the rest of the step draws
    expected_draw = torch.rand(1)
    full += [b[0].tolist() for b in it]
    b = loader(ds)
    b.resume_from(state)
    torch.manual_seed(123)                             # a resumed process starts from other random states
    rest = [x[0].tolist() for x in b]
    assert full[2:] == rest and len(full) == 6
    torch.rand(3)
    assert torch.equal(torch.rand(1), expected_draw)   # the global stream continues as it would have
    assert b.position == 6


def test_loader_state_at_an_epoch_end_starts_the_next_epoch():
    ds = TensorDataset(torch.arange(10.0))
    a = loader(ds)
    first = [x[0].tolist() for x in a]
    state = a.checkpoint_state()
    a.epoch_batches.set_epoch(1)
    second = [x[0].tolist() for x in a]
    b = loader(ds)
    b.resume_from(state)
    assert [x[0].tolist() for x in b] == second != first and b.epoch_batches.epoch == 1


def test_loader_refuses_a_checkpoint_with_another_batch_count():
    state = loader(TensorDataset(torch.arange(10.0))).checkpoint_state()
    with pytest.raises(ConfigError, match="3 batches per epoch.*now gives 5"):
        loader(TensorDataset(torch.arange(20.0))).resume_from(state)


class Noisy(Dataset):
    """Items drawn from the global generator and a draw counter, like the task datasets' augmentation."""

    def __init__(self, n=12):
        self.n, self._draws = n, 0

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        self._draws += 1
        return torch.tensor([float(i), float(self._draws), float(torch.rand(()))])


@pytest.mark.parametrize("workers", [0, 2])
def test_random_items_repeat_exactly_after_a_resume(workers):
    """Global-generator draws and the draw counter: restored in process (0 workers), derived from
    (seed, epoch, batch) in workers (2)."""
    torch.manual_seed(0)
    a = loader(Noisy(), workers=workers)
    it = iter(a)
    next(it)
    state = a.checkpoint_state()
    rest = list(it)
    torch.manual_seed(99)
    b = loader(Noisy(), workers=workers)
    b.resume_from(state)
    again = list(b)
    assert len(again) == len(rest) == 2 and all(torch.equal(x, y) for x, y in zip(again, rest))
    assert len({float(v) for x in rest for v in x[:, 2]}) == 8           # really random items


def test_rng_capture_restores_torch_numpy_and_python():
    import random

    import numpy as np

    state = capture_rng()
    first = (torch.rand(2), np.random.rand(2), random.random())
    restore_rng(state)
    assert torch.equal(torch.rand(2), first[0]) and (np.random.rand(2) == first[1]).all()
    assert random.random() == first[2]


def test_atomic_checkpoint_keeps_the_old_file_when_a_write_fails(tmp_path):
    io = AtomicCheckpointIO()
    path = tmp_path / "last.ckpt"
    io.save_checkpoint({"step": 1}, path)
    with pytest.raises((AttributeError, TypeError, pickle.PicklingError)):
        io.save_checkpoint({"step": 2, "bad": lambda: 0}, path)     # cannot be pickled: fails mid-write
    assert torch.load(path, weights_only=False) == {"step": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["last.ckpt"]


def test_sequential_loader_doctest_shape():
    ds = TensorDataset(torch.arange(10.0))
    ld = ResumableLoader(ds, BatchSampler(SequentialSampler(ds), 3, False))
    assert len(ld) == 4 and [len(b[0]) for b in ld] == [3, 3, 3, 1]

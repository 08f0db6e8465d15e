"""The training engine: learning, resume (epochs and Ctrl-C), early stopping, determinism,
schedules, gradient clipping and the generic tasks."""

from __future__ import annotations

import math

import lightning as L
import pytest
import torch

from speechdl.train import RecipeConfig, TrainingInterrupted, train
from tests.unit import train_toy_models  # noqa: F401  (registers tiny_mlp)


def cfg_for(tmp_path, *overrides, name="run", **sections):
    raw = {
        "task": {"name": "classify", "num_classes": 2},
        "model": {"name": "tiny_mlp", "in_dim": 8, "out_dim": 2, "hidden": 8},
        "data": {"name": "toy_frames", "n": 320, "dim": 8, "noise": 1.0},
        "optim": {"name": "adam", "lr": 0.01},
        "trainer": {"max_epochs": 2, "batch_size": 32, "threads": 1, "progress_bar": False},
        "out_dir": str(tmp_path / name),
        **sections,
    }
    return RecipeConfig.from_dict(raw, list(overrides))


class Record(L.Callback):
    """Per optimizer step: LR, parameter-update norm; at train start: epoch, step, optimizer state."""

    def __init__(self):
        self.lrs, self.update_norms, self.start = [], [], None

    def on_train_start(self, trainer, pl_module):
        opt = trainer.optimizers[0]
        steps = [int(s["step"]) for s in opt.state.values() if "step" in s]
        self.start = {"epoch": trainer.current_epoch, "step": trainer.global_step, "adam_steps": steps}

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self.lrs.append(trainer.optimizers[0].param_groups[0]["lr"])
        self._before = torch.cat([p.detach().flatten().clone() for p in pl_module.parameters()])

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        after = torch.cat([p.detach().flatten() for p in pl_module.parameters()])
        self.update_norms.append(float((after - self._before).norm()))


def weights(module):
    return torch.cat([p.detach().flatten() for p in module.parameters()])


def test_loss_falls_and_accuracy_rises(tmp_path):
    res = train(cfg_for(tmp_path, "trainer.max_epochs=3", "trainer.log_every=1"))
    import csv

    rows = list(csv.DictReader(next((tmp_path / "run" / "logs").glob("version_*/metrics.csv")).open()))
    losses = [float(r["train_loss_epoch"]) for r in rows if r.get("train_loss_epoch")]
    assert len(losses) == 3 and losses[-1] < 0.6 * losses[0]
    assert res.summary["metrics"]["val_acc"] > 0.85 and res.summary["global_step"] == 3 * 8


def test_resume_continues_epochs_steps_and_optimizer_state(tmp_path):
    first = train(cfg_for(tmp_path, "trainer.max_epochs=2"))
    assert first.summary["global_step"] == 16 and first.summary["resumed_from"] is None
    rec = Record()
    second = train(cfg_for(tmp_path, "trainer.max_epochs=4"), callbacks=[rec])
    assert second.summary["resumed_from"].endswith("last.ckpt")
    assert rec.start["epoch"] == 2 and rec.start["step"] == 16
    assert rec.start["adam_steps"] and set(rec.start["adam_steps"]) == {16}   # Adam moments restored
    assert second.summary["global_step"] == 32 and second.summary["epochs"] == 4
    # nothing lost: 2 + 2 epochs give the same weights as 4 epochs in one go
    straight = train(cfg_for(tmp_path, "trainer.max_epochs=4", name="straight"))
    assert torch.allclose(weights(second.module), weights(straight.module), atol=1e-6)


class InterruptAt(L.Callback):
    def __init__(self, step):
        self.step = step

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if trainer.global_step == self.step:
            raise KeyboardInterrupt


def test_interrupt_saves_checkpoint_and_rerun_resumes(tmp_path):
    cfg = cfg_for(tmp_path, "trainer.max_epochs=3")
    with pytest.raises(TrainingInterrupted) as stop:
        train(cfg, callbacks=[InterruptAt(11)])
    assert stop.value.global_step == 11 and stop.value.checkpoint.endswith("last.ckpt")
    ckpt = torch.load(stop.value.checkpoint, weights_only=False)
    assert ckpt["global_step"] == 11 and ckpt["optimizer_states"]
    rec = Record()
    res = train(cfg, callbacks=[rec])          # the same command again
    assert res.summary["resumed_from"] is not None and rec.start["step"] == 11 and rec.start["epoch"] == 1
    assert set(rec.start["adam_steps"]) == {11}
    assert res.summary["epochs"] == 3 and res.summary["global_step"] == 24


def test_early_stopping_on_plateau(tmp_path):
    # lr = 0: the validation loss never improves, so patience 2 stops after 3 epochs of 20
    res = train(cfg_for(tmp_path, "optim.lr=0", "trainer.max_epochs=20", "trainer.early_stopping.patience=2"))
    assert res.summary["stopped_early"] and res.summary["epochs"] == 3


def test_a_monitor_the_task_never_logs_is_a_one_line_config_error(tmp_path):
    from speechdl.errors import ConfigError

    with pytest.raises(ConfigError, match=r"logs no metric 'val_losss' \(use one of: val_acc, val_loss\)"):
        train(cfg_for(tmp_path, "trainer.early_stopping.monitor=val_losss"))


def test_same_seed_same_result_other_seed_differs(tmp_path):
    a = train(cfg_for(tmp_path, "trainer.seed=3", name="a"))
    b = train(cfg_for(tmp_path, "trainer.seed=3", name="b"))
    c = train(cfg_for(tmp_path, "trainer.seed=4", name="c"))
    assert a.summary["metrics"]["val_loss"] == b.summary["metrics"]["val_loss"]
    assert torch.equal(weights(a.module), weights(b.module))
    assert not torch.equal(weights(a.module), weights(c.module))


@pytest.mark.parametrize("sched, check", [
    ({"name": "step", "step_size": 1, "gamma": 0.5},
     lambda lr: lr[0] == 0.1 and lr[8] == pytest.approx(0.05) and lr[16] == pytest.approx(0.025)),
    ({"name": "cosine", "warmup_steps": 4, "min_lr": 0.001},
     lambda lr: lr[0] < lr[3] < lr[4] and max(lr) == pytest.approx(0.1, rel=0.05) and lr[-1] < 0.005),
    ({"name": "warmup_linear", "warmup_steps": 2},
     lambda lr: lr[0] < lr[2] and all(a > b for a, b in zip(lr[3:], lr[4:]))),
    ({"name": "onecycle"}, lambda lr: lr[0] < 0.01 and max(lr) > 0.09 and lr[-1] < 0.01),
    ({"name": "exponential", "gamma": 0.9}, lambda lr: lr[16] == pytest.approx(0.1 * 0.81)),
])
def test_schedulers_change_lr(tmp_path, sched, check):
    rec = Record()
    train(cfg_for(tmp_path, "optim.name=sgd", "optim.lr=0.1", "trainer.max_epochs=3", scheduler=sched),
          callbacks=[rec])
    assert len(rec.lrs) == 24 and check(rec.lrs), rec.lrs


def test_plateau_scheduler_cuts_lr_when_val_loss_stalls(tmp_path):
    rec = Record()
    # lr so small that val_loss improves by less than the 1e-4 relative threshold: a plateau
    train(cfg_for(tmp_path, "optim.name=sgd", "optim.lr=1e-6", "trainer.max_epochs=4",
                  scheduler={"name": "plateau", "patience": 0, "factor": 0.5}), callbacks=[rec])
    assert rec.lrs[8] == 1e-6 and rec.lrs[16] == pytest.approx(5e-7) and rec.lrs[-1] == pytest.approx(2.5e-7)


def test_gradient_clipping_bounds_the_update(tmp_path):
    # plain SGD with lr 1: the parameter update equals the (clipped) gradient
    args = ("optim.name=sgd", "optim.lr=1.0", "trainer.max_epochs=1", "data.noise=5.0")
    free, clipped = Record(), Record()
    train(cfg_for(tmp_path, *args, name="free"), callbacks=[free])
    train(cfg_for(tmp_path, *args, "trainer.grad_clip=0.05", name="clip"), callbacks=[clipped])
    assert max(free.update_norms) > 0.2
    assert max(clipped.update_norms) <= 0.05 * (1 + 1e-4)


def test_penalty_is_added_to_training_loss(tmp_path):
    plain = train(cfg_for(tmp_path, "trainer.max_epochs=2", name="plain"))
    l2 = train(cfg_for(tmp_path, "model.l2=0.05", "trainer.max_epochs=2", name="l2"))
    assert l2.summary["metrics"]["train_penalty"] > 0 and "train_penalty" in plain.summary["metrics"]
    assert weights(l2.module).norm() < 0.8 * weights(plain.module).norm()   # the penalty shrank the weights


def test_sequence_classification_with_padding(tmp_path):
    res = train(cfg_for(tmp_path, "trainer.max_epochs=4", "optim.lr=0.05",
                        data={"name": "toy_sequences", "n": 320, "dim": 8, "num_classes": 3, "noise": 2.0},
                        task={"name": "classify", "num_classes": 3}, model={"name": "tiny_mlp", "in_dim": 8,
                                                                             "out_dim": 3}))
    assert res.summary["metrics"]["val_acc"] > 0.9


def test_frame_labels_binary_bce(tmp_path):
    res = train(cfg_for(tmp_path, "trainer.max_epochs=3", "optim.lr=0.05",
                        data={"name": "toy_sequences", "n": 192, "dim": 8, "frame_labels": True, "noise": 1.0},
                        task={"name": "classify", "num_classes": 1},
                        model={"name": "tiny_mlp", "in_dim": 8, "out_dim": 1}))
    assert res.summary["metrics"]["val_acc"] > 0.85


def test_regress_and_denoising_reconstruct(tmp_path):
    reg = train(cfg_for(tmp_path, "trainer.max_epochs=4", name="reg", task={"name": "regress"},
                        data={"name": "toy_regression", "n": 320, "dim": 8, "out_dim": 1},
                        model={"name": "tiny_mlp", "in_dim": 8, "out_dim": 1}, optim={"lr": 0.05}))
    assert reg.summary["metrics"]["val_loss"] < 0.5   # y has unit-scale variance of about 8 before training
    rec = train(cfg_for(tmp_path, "trainer.max_epochs=4", name="ae", task={"name": "reconstruct", "noise_std": 0.1},
                        model={"name": "tiny_mlp", "in_dim": 8, "out_dim": 8, "hidden": 16}))
    assert rec.summary["metrics"]["val_snr_db"] > 3.0 and not math.isnan(rec.summary["metrics"]["val_loss"])


def test_resume_refuses_a_different_model(tmp_path):
    from speechdl.errors import ConfigError

    train(cfg_for(tmp_path, "trainer.max_epochs=1"))
    with pytest.raises(ConfigError, match="different model"):
        train(cfg_for(tmp_path, "trainer.max_epochs=2", "model.hidden=4"))

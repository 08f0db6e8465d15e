"""Transfer learning: partial loads with a report, prefix mapping, freezing, per-group learning rates."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from speechdl.errors import ConfigError
from speechdl.train.transfer import freeze, frozen_parameters, load_matching, param_groups, unfreeze


def encoder():
    return nn.Sequential(nn.Linear(10, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Dropout(0.5), nn.Linear(8, 6))


class Source(nn.Module):  # e.g. a speaker model: encoder + 3-way head + a decoder the target lacks
    def __init__(self):
        super().__init__()
        self.encoder, self.head, self.decoder = encoder(), nn.Linear(6, 3), nn.Linear(6, 10)

    def forward(self, x):
        return self.head(self.encoder(x))


class Target(nn.Module):  # a new task: same encoder, 5-way head, an extra projection
    def __init__(self):
        super().__init__()
        self.encoder, self.head, self.extra = encoder(), nn.Linear(6, 5), nn.Linear(5, 2)

    def forward(self, x):
        return self.extra(self.head(self.encoder(x)))


ENC = ["encoder.0.weight", "encoder.0.bias", "encoder.1.weight", "encoder.1.bias", "encoder.1.running_mean",
       "encoder.1.running_var", "encoder.1.num_batches_tracked", "encoder.4.weight", "encoder.4.bias"]


def trained_source():
    torch.manual_seed(1)
    src = Source()
    src.train()
    src(torch.randn(16, 10))  # give BatchNorm non-default running statistics
    return src


def test_partial_load_between_architectures_reports_exact_names():
    src = trained_source()
    torch.manual_seed(2)
    tgt = Target()
    head_before = tgt.head.weight.detach().clone()
    report = load_matching(tgt, src.state_dict())
    assert report.loaded == ENC
    assert report.missing == ["head.weight", "head.bias", "extra.weight", "extra.bias"]
    assert report.unexpected == ["decoder.weight", "decoder.bias"]
    assert report.mismatched == [("head.weight", (3, 6), (5, 6)), ("head.bias", (3,), (5,))]
    assert report.partial == [] and not report.ok
    for name in ENC:
        assert torch.equal(tgt.state_dict()[name], src.state_dict()[name]), name
    assert torch.equal(tgt.head.weight, head_before)  # shape mismatch: not loaded
    table = str(report)
    assert table.splitlines()[0].startswith("transfer from dict: 9 loaded, 0 partial, 4 missing (2 shape mismatch)")
    assert "head.weight" in table and "source [3, 6] vs model [5, 6]" in table
    assert any(line.split()[:2] == ["decoder.bias", "unexpected"] for line in table.splitlines())
    assert any(line.split()[:2] == ["encoder.0.weight", "loaded"] for line in table.splitlines())


def test_lightning_style_checkpoint_with_prefix_map(tmp_path):
    src = trained_source()
    ckpt = {"epoch": 3, "global_step": 120, "pytorch-lightning_version": "2.5",
            "state_dict": {f"model.{k}": v for k, v in src.state_dict().items()},
            "hyper_parameters": {"lr": 1e-3}, "optimizer_states": []}
    path = tmp_path / "last.ckpt"
    torch.save(ckpt, path)
    tgt = Source()
    raw = load_matching(tgt, path)  # without renaming nothing fits
    assert raw.loaded == [] and len(raw.unexpected) == len(src.state_dict())
    report = load_matching(tgt, path, prefix_map={"model.": ""})
    assert report.ok and report.unexpected == [] and report.source == str(path)
    assert report.renamed["model.head.weight"] == "head.weight"
    for k, v in src.state_dict().items():
        assert torch.equal(tgt.state_dict()[k], v)


def test_real_lightning_checkpoint(tmp_path):
    lightning = pytest.importorskip("lightning")

    class Module(lightning.LightningModule):
        def __init__(self, lr: float = 0.01):
            super().__init__()
            self.save_hyperparameters()
            self.model = Source()

        def training_step(self, batch, _idx):
            return self.model(batch[0]).pow(2).mean()

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)

    torch.manual_seed(0)
    module = Module()
    data = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.randn(8, 10)), batch_size=4)
    trainer = lightning.Trainer(max_steps=2, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                                enable_model_summary=False, accelerator="cpu", devices=1)
    trainer.fit(module, data)
    path = tmp_path / "real.ckpt"
    trainer.save_checkpoint(path)
    tgt = Target()
    report = load_matching(tgt, path, prefix_map={"model.": ""})
    assert report.loaded == ENC
    assert torch.equal(tgt.encoder[0].weight, module.model.encoder[0].weight)


def test_plain_state_dict_file_and_non_strict_shapes(tmp_path):
    src = trained_source()
    path = tmp_path / "weights.pt"
    torch.save(src.state_dict(), path)
    tgt = Target()
    report = load_matching(tgt, path, strict_shapes=False)
    assert report.partial == ["head.weight", "head.bias"]
    assert report.missing == ["extra.weight", "extra.bias"]
    assert torch.equal(tgt.head.weight[:3], src.head.weight)  # the 3 trained rows of the grown head
    assert "partial" in str(report)


def test_missing_and_unreadable_checkpoints_raise_one_line_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="checkpoint not found") as e:
        load_matching(Target(), tmp_path / "nope.ckpt")
    assert "nope.ckpt" in str(e.value) and "\n" not in str(e.value)
    bad = tmp_path / "bad.ckpt"
    bad.write_bytes(b"this is not a checkpoint at all")
    with pytest.raises(ConfigError, match="unreadable checkpoint") as e:
        load_matching(Target(), bad)
    assert "bad.ckpt" in str(e.value) and "\n" not in str(e.value)
    tensor_file = tmp_path / "tensor.pt"
    torch.save(torch.zeros(3), tensor_file)
    with pytest.raises(ConfigError, match="not a state dict"):
        load_matching(Target(), tensor_file)
    with pytest.raises(ConfigError, match="one-to-one"):
        load_matching(Target(), {"a.x": torch.zeros(1), "b.x": torch.zeros(1)}, prefix_map={"a.": "", "b.": ""})


def test_freeze_then_step_changes_only_trainable_weights():
    torch.manual_seed(0)
    model = Target()
    frozen = freeze(model, "encoder.*")
    assert frozen == [n for n in ENC if "running" not in n and "num_batches" not in n]
    assert frozen_parameters(model) == frozen
    before = {k: v.clone() for k, v in model.state_dict().items()}
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    model.train()  # a trainer calls this every epoch: the frozen BN/Dropout must stay in eval
    x = torch.randn(16, 10)
    out1 = model(x)
    out1.pow(2).mean().backward()
    opt.step()
    after = model.state_dict()
    for k in ENC:  # weights, and BatchNorm running statistics, untouched
        assert torch.equal(after[k], before[k]), k
    for k in ["head.weight", "head.bias", "extra.weight", "extra.bias"]:
        assert not torch.equal(after[k], before[k]), k
    assert not model.encoder[1].training and not model.encoder[3].training
    with torch.no_grad():  # dropout inactive although the model is in train mode
        assert torch.equal(model.encoder(x), model.encoder(x))

    unfreeze(model, "encoder.*")
    assert frozen_parameters(model) == []
    model.train()
    model(x)
    assert model.encoder[1].training
    assert not torch.equal(model.encoder[1].running_mean, before["encoder.1.running_mean"])


def test_freeze_patterns_by_layer_name():
    model = nn.Module()
    model.layers = nn.ModuleList([nn.Linear(4, 4) for _ in range(3)])
    assert freeze(model, ["layers.0", "layers.2.bias"]) == ["layers.0.weight", "layers.0.bias", "layers.2.bias"]
    with pytest.raises(ConfigError, match="matches no module"):
        freeze(model, "encoder.*")


def test_param_groups_apply_their_learning_rates():
    torch.manual_seed(0)
    model = Target()
    freeze(model, "extra")
    groups = param_groups(model, {"encoder.0": 0.1, "encoder.*": 0.01, "head.weight": 0.5}, default_lr=0.001)
    assert [(g["name"], g["lr"], len(g["params"])) for g in groups] == [
        ("encoder.0", 0.1, 2), ("encoder.*", 0.01, 4), ("head.weight", 0.5, 1), ("default", 0.001, 1)]
    ids = [id(p) for g in groups for p in g["params"]]
    trainable = [p for p in model.parameters() if p.requires_grad]
    assert sorted(ids) == sorted(id(p) for p in trainable)  # every trainable parameter exactly once
    assert id(model.extra.weight) not in ids  # frozen: excluded
    opt = torch.optim.SGD(groups)
    before = [p.detach().clone() for p in trainable]
    model.eval()
    model(torch.randn(8, 10)).pow(2).sum().backward()
    grads = [p.grad.clone() for p in trainable]
    opt.step()
    lr_of = {id(p): g["lr"] for g in groups for p in g["params"]}
    for p, b, gr in zip(trainable, before, grads):
        assert torch.allclose(p.detach(), b - lr_of[id(p)] * gr, atol=1e-7)
    with pytest.raises(ConfigError):
        param_groups(model, {"decoder.*": 1.0}, default_lr=0.1)

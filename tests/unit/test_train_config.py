"""Recipe config: YAML loading, dotted overrides, and one-line errors before any work starts."""

from __future__ import annotations

import pytest
import yaml

from speechdl.errors import ConfigError
from speechdl.train.components import check_components
from speechdl.train.config import RecipeConfig, parse_value
from tests.unit import train_toy_models  # noqa: F401  (registers tiny_mlp)

BASE = {
    "task": {"name": "classify", "num_classes": 2},
    "model": {"name": "tiny_mlp", "in_dim": 39, "out_dim": 2},
    "data": {"name": "toy_frames", "n": 100},
}


def test_overrides_are_parsed_as_yaml_and_typed():
    cfg = RecipeConfig.from_dict(BASE, ["trainer.max_epochs=7", "optim.lr=1e-3", "model.hidden=16",
                                        "optim.betas=[0.8, 0.9]", "trainer.early_stopping.patience=2",
                                        "trainer.progress_bar=false", "data.noise=0.5", "optim.name=sgd"])
    assert cfg.trainer.max_epochs == 7 and cfg.optim.lr == pytest.approx(1e-3) and isinstance(cfg.optim.lr, float)
    assert cfg.model.kwargs == {"in_dim": 39, "out_dim": 2, "hidden": 16}
    assert cfg.optim.betas == (0.8, 0.9) and cfg.trainer.early_stopping.patience == 2
    assert cfg.trainer.progress_bar is False and cfg.data.kwargs["noise"] == 0.5 and cfg.optim.name == "sgd"
    assert parse_value("1e-3") == 1e-3 and parse_value("[64,64]") == [64, 64] and parse_value("null") is None


def test_save_round_trips(tmp_path):
    cfg = RecipeConfig.from_dict(BASE, ["scheduler.name=cosine", "trainer.grad_clip=0.5"])
    cfg.save(tmp_path / "config.yaml")
    again = RecipeConfig.load(tmp_path / "config.yaml")
    assert again == cfg and yaml.safe_load((tmp_path / "config.yaml").read_text())["model"]["name"] == "tiny_mlp"


@pytest.mark.parametrize("override, words", [
    ("trainer.max_epoch=3", ["unknown key trainer.max_epoch", "valid keys of trainer", "max_epochs"]),
    ("trainer.max_epochs=three", ["trainer.max_epochs", "expected an integer", "'three'"]),
    ("trainer.batch_size=2.5", ["trainer.batch_size", "expected an integer"]),
    ("optim.name=rmsprop", ["optim.name", "one of adam, adamw, sgd"]),
    ("optim.betas=[0.9]", ["optim.betas", "list of 2"]),
    ("trainer.deterministic=3", ["trainer.deterministic", "true/false"]),
    ("lr", ["expected key=value"]),
    ("task.name.x=1", ["task.name is not a section"]),
    ("trainer.max_epochs.x=1", ["trainer.max_epochs", "expected an integer"]),
    ("bogus=1", ["unknown key bogus", "valid keys of the recipe"]),
    ("trainer.early_stopping.mode=up", ["trainer.early_stopping.mode", "one of min, max"]),
])
def test_bad_overrides_give_one_line(override, words):
    with pytest.raises(ConfigError) as err:
        RecipeConfig.from_dict(BASE, [override])
    line = str(err.value)
    assert "\n" not in line and all(w in line for w in words), line


@pytest.mark.parametrize("section, value, words", [
    ("model", {"name": "no_such_net"}, ["unknown architecture", "tiny_mlp"]),
    ("model", {"name": "tiny_mlp", "in_dim": 3, "out_dim": 2, "hiden": 4}, ["unknown argument(s) hiden", "hidden"]),
    ("model", {"name": "tiny_mlp", "in_dim": 3}, ["missing argument(s) out_dim"]),
    ("task", {"name": "clasify"}, ["unknown task", "classify"]),
    ("task", {"name": "classify", "classes": 3}, ["unknown argument(s) classes", "num_classes"]),
    ("data", {"name": "toy_frame"}, ["unknown dataset", "toy_frames"]),
    ("data", {"name": "toy_frames", "size": 3}, ["unknown argument(s) size", "noise"]),
    ("data", {"name": "toy_frames", "val_fraction": 1.5}, ["val_fraction"]),
])
def test_component_kwargs_checked_against_registries(section, value, words):
    cfg = RecipeConfig.from_dict({**BASE, section: value})
    with pytest.raises(ConfigError) as err:
        check_components(cfg)
    assert all(w in str(err.value) for w in words), str(err.value)


def test_missing_section_and_bad_yaml(tmp_path):
    with pytest.raises(ConfigError, match="missing key model"):
        RecipeConfig.from_dict({"task": "classify", "data": "toy_frames"})
    bad = tmp_path / "bad.yaml"
    bad.write_text("task: {name: classify\nmodel: [")
    with pytest.raises(ConfigError, match="cannot read recipe"):
        RecipeConfig.load(bad)
    with pytest.raises(ConfigError, match="recipe not found"):
        RecipeConfig.load(tmp_path / "nope.yaml")

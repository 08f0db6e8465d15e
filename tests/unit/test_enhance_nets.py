"""Enhancement networks: perfect reconstruction, bands, streaming = offline, learning, data mixing."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from speechdl.errors import ConfigError
from speechdl.nn.enhance import BandGRU, MetricDiscriminator, StackedDAE
from speechdl.nn.spectral_mask import SpectralMasker, band_matrix
from speechdl.tasks.enhance.stream import EnhanceStream


@pytest.mark.parametrize("n", [1, 159, 160, 161, 4001])
def test_identity_mask_reconstructs_the_signal(n):
    m = SpectralMasker(320)
    x = torch.randn(2, n)
    assert torch.allclose(m(x), x, atol=1e-5)
    re, im = m.analysis(x)
    assert re.shape == (2, n // 160 + 2, 161)
    fr_re, fr_im = m.spectra(m.frames(x))          # the conv analysis equals frames @ DFT
    assert torch.allclose(fr_re, re, atol=1e-4) and torch.allclose(fr_im, im, atol=1e-4)


def test_band_matrix_is_a_partition_of_unity_with_bands_a_bin_apart():
    w = band_matrix(32, 161, 16000)
    assert w.shape == (32, 161)
    assert torch.allclose(w.sum(0), torch.ones(161), atol=1e-6)
    peaks = w.argmax(1)
    assert (peaks[1:] > peaks[:-1]).all() and peaks[0] == 0 and peaks[-1] == 160
    with pytest.raises(ConfigError):
        band_matrix(200, 161, 16000)


def test_a_gain_of_one_half_halves_the_signal():
    class Half(SpectralMasker):
        def mask(self, re, im):
            return torch.full_like(re, 0.5)

    x = torch.randn(1, 3000)
    assert torch.allclose(Half()(x), 0.5 * x, atol=1e-5)


@pytest.mark.parametrize("net,numpy", [(BandGRU(bands=16, hidden=24, layers=2), True),
                                       (BandGRU(bands=16, hidden=24, layers=2, min_gain=0.1), True),
                                       (BandGRU(bands=16, hidden=24, layers=2), False),
                                       (StackedDAE(context=3, hidden=[32, 8, 32]), False)],
                         ids=["gru-numpy-twin", "gru-twin-min-gain", "gru-torch", "dae"])
def test_streaming_equals_offline_for_any_chunking(net, numpy):
    net.eval()
    torch.manual_seed(0)
    with torch.no_grad():
        net.norm.mean.normal_()
    x = np.random.default_rng(1).standard_normal(5003).astype(np.float32) * 0.3
    ref = net(torch.from_numpy(x)[None]).detach().numpy()[0]
    rng = np.random.default_rng(2)
    s = EnhanceStream(net, numpy=numpy)
    assert (s.twin is not None) == numpy
    for _ in range(2):   # the stream is fresh again after flush
        got, i = [], 0
        while i < len(x):
            n = int(rng.integers(1, 700))
            got.append(s.push(x[i: i + n]))
            i += n
        got.append(s.flush())
        y = np.concatenate(got)
        assert y.shape == x.shape
        np.testing.assert_allclose(y, ref, atol=2e-5)


def test_causal_model_output_does_not_depend_on_the_future():
    net = BandGRU(bands=16, hidden=16, layers=1).eval()
    x = torch.randn(1, 4000)
    y = x.clone()
    y[:, 2000:] = torch.randn(1, 2000)
    a, b = net(x), net(y)
    # sample n is final once the last frame holding it is in, at most 320 samples (20 ms) later
    assert torch.allclose(a[:, :2000 - 320], b[:, :2000 - 320], atol=1e-6)
    assert not torch.allclose(a[:, 1900:2000], b[:, 1900:2000], atol=1e-6)


def test_discriminator_scores_are_probabilities():
    d = MetricDiscriminator(channels=(4, 8), hidden=8)
    s = d(torch.rand(3, 50, 161), torch.rand(3, 50, 161))
    assert s.shape == (3,) and bool(((s > 0) & (s < 1)).all())


def test_a_few_training_steps_lower_the_loss():
    from speechdl.tasks.enhance.train import EnhanceTask

    torch.manual_seed(0)
    task = EnhanceTask({"name": "enhance_gru", "bands": 16, "hidden": 32, "layers": 1})
    t = torch.arange(8000) / 16000
    clean = torch.stack([0.3 * torch.sin(2 * torch.pi * f * t) * (1 + torch.sin(2 * torch.pi * 3 * t))
                         for f in (220.0, 330.0, 440.0, 550.0)])
    noisy = clean + 0.1 * torch.randn_like(clean)
    task.fit_norm([{"x": n} for n in noisy])
    opt = torch.optim.Adam(task.parameters(), lr=0.01)
    batch = {"x": noisy, "target": clean}
    first = float(task.compute(batch, "train")[0].detach())
    for _ in range(30):
        loss, _ = task.compute(batch, "train")
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(task.compute(batch, "train")[0].detach()) < 0.7 * first


def test_mixes_hit_the_drawn_snr_and_refuse_the_held_out_family(tmp_path):
    from speechdl.tasks.enhance.clean_cache import write_cache
    from speechdl.tasks.enhance.data import EnhanceMixes, active_mask

    t = np.arange(24000) / 16000
    write_cache(tmp_path, [(f"c{i}", "s", "real", (0.5 * np.sin(2 * np.pi * 200 * (i + 1) * t)).astype(np.float32))
                           for i in range(5)])
    ds = EnhanceMixes(str(tmp_path), None, crop_seconds=1.0, families=("stationary",), noise_dirs=(),
                      p_reverb=0.0, snr_range=(5.0, 5.0), fixed=True, items=3)
    noisy, clean, info = ds.mix(np.random.default_rng(0))
    act = active_mask(clean, 16000)
    snr = 10 * np.log10(np.mean(clean[act] ** 2) / np.mean((noisy - clean) ** 2))
    assert info["snr_db"] == 5.0 and abs(snr - 5.0) < 0.05
    assert np.abs(noisy).max() <= 10 ** (-3 / 20) + 1e-6
    with pytest.raises(ConfigError, match="held-out"):
        EnhanceMixes(str(tmp_path), None, families=("music", "stationary"))


def test_metricgan_target_is_normalised_pesq():
    from speechdl.audio import load
    from speechdl.tasks.enhance.metricgan import normalised_pesq

    clean, _ = load("speechdl/assets/sample.flac", sample_rate=16000)
    clean = clean[:48000].astype(np.float64)
    noisy = clean + 0.05 * np.random.default_rng(0).standard_normal(len(clean))
    assert normalised_pesq(clean, clean) == pytest.approx(1.0, abs=0.01)
    assert 0.0 <= normalised_pesq(clean, noisy) < 0.5
    assert normalised_pesq(clean, np.zeros_like(clean)) in (None, 0.0)


def test_the_clean_cache_reads_only_wideband_training_sources(tmp_path):
    from speechdl.tasks.enhance import splits
    from speechdl.tasks.enhance.clean_cache import real_rows

    rows = [("fillets-ng-data-nl/a.ogg", "fillets-ng-data-nl", 22050),
            ("megaglest-data/b.flac", "megaglest-data", 16000),
            ("asterisk-core-sounds-en-wav/c.wav", "asterisk-core-sounds-en-wav", 8000),
            ("ktuberling-data/d.ogg", "ktuberling-data", 8000), ("ktuberling-data/e.ogg", "ktuberling-data", 44100),
            ("tuxpaint-stamps-default/es/f.ogg", "tuxpaint-stamps-default", 44100),
            ("tuxpaint-stamps-default/en/g.ogg", "tuxpaint-stamps-default", 44100),
            ("hedgewars-data/missing.ogg", "hedgewars-data", 44100)]
    with open(tmp_path / "manifest.jsonl", "w") as fh:
        for audio, source, rate in rows:
            fh.write(json.dumps({"audio": audio, "source": source, "sample_rate": rate, "kind": "speech"}) + "\n")
            if "missing" not in audio:
                (tmp_path / audio).parent.mkdir(parents=True, exist_ok=True)
                (tmp_path / audio).write_bytes(b"x")
    got = sorted(r["audio"] for r in real_rows(tmp_path))
    assert got == ["fillets-ng-data-nl/a.ogg", "ktuberling-data/e.ogg", "tuxpaint-stamps-default/en/g.ogg"]
    every_language = sorted(r["audio"] for r in real_rows(tmp_path, tuxpaint_langs=None))
    assert every_language == sorted([*got, "tuxpaint-stamps-default/es/f.ogg"])
    assert not set(splits.HELD_OUT_SPEECH) & set(splits.TRAIN_SPEECH_SOURCES)
    assert not set(splits.HELD_OUT_NOISE) & set(splits.TRAIN_NOISE_FAMILIES)

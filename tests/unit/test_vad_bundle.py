"""Bundles: round trip, fp16, atomic replace, checksums, shipped names, ONNX parity."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from speechdl.errors import ConfigError
from speechdl.features import FrontendConfig
from speechdl.pretrained import bundle as B
from speechdl.pretrained import load_bundle, save_bundle
from speechdl.pretrained import locate as L
from speechdl.tasks.vad.infer import VAD, export_onnx, load_vad
from tests.vad_models import burst_signal, random_vad

WAVE = burst_signal(2.0, [(0.5, 1.3)], seed=1)


def _save(vad, out, **kw):
    return save_bundle(out, task="vad", model={"name": vad.model.name, "kwargs": vad.model.kwargs},
                       state_dict=vad.model.state_dict(), frontend=vad.frontend.to_dict(),
                       thresholds={"onset": 0.6, "offset": 0.4}, post={"min_speech": 0.2, "pad": 0.0},
                       metrics={"val_f1": 0.9}, data={"train": "synthetic"}, reproduce="speechdl vad train x.yaml",
                       **kw)


def test_round_trip_restores_model_frontend_and_post(tmp_path):
    vad = random_vad("dense", {"in_dim": 39, "hidden": [8], "out_dim": 1}, FrontendConfig.mfcc39(stack=1)
                     .replace(stack=0))
    path = _save(vad, tmp_path / "b")
    assert sorted(p.name for p in path.iterdir()) == ["MODEL_CARD.md", "bundle.json", "weights.pt"]
    meta = json.loads((path / "bundle.json").read_text())
    assert meta["format_version"] == B.FORMAT_VERSION and meta["task"] == "vad"
    assert meta["weights"]["parameters"] == sum(p.numel() for p in vad.model.parameters()) + 2 * 39
    card = (path / "MODEL_CARD.md").read_text()
    assert "speechdl vad train x.yaml" in card and "val_f1" in card and "synthetic" in card
    back = VAD.from_bundle(path)
    assert back.frontend == vad.frontend
    assert (back.post.onset, back.post.offset_threshold, back.post.min_speech, back.post.pad) == (0.6, 0.4, 0.2, 0.0)
    np.testing.assert_array_equal(back.probabilities(WAVE), vad.probabilities(WAVE))
    assert torch.equal(back.model.norm.std, vad.model.norm.std)


def test_half_precision_weights_load_as_float32_close_to_the_original(tmp_path):
    vad = random_vad("rnn", {"in_dim": 40, "hidden_size": 8, "cell": "lstm", "out_dim": 1}, FrontendConfig.logmel())
    full, half = _save(vad, tmp_path / "f"), _save(vad, tmp_path / "h", half=True)
    assert (half / "weights.pt").stat().st_size < (full / "weights.pt").stat().st_size
    b = load_bundle(half)
    assert b.meta["weights"]["dtype"] == "float16"
    assert all(v.dtype == torch.float32 for v in b.state_dict.values())
    diff = np.abs(load_vad(half).probabilities(WAVE) - vad.probabilities(WAVE)).max()
    assert diff < 5e-3


def test_save_replaces_atomically_and_leaves_no_temporaries(tmp_path):
    vad = random_vad("dense", {"in_dim": 39, "hidden": [4], "out_dim": 1}, FrontendConfig.mfcc39())
    _save(vad, tmp_path / "b")
    first = (tmp_path / "b" / "weights.pt").read_bytes()
    with torch.no_grad():
        vad.model.net.layers[0].bias.add_(1.0)
    _save(vad, tmp_path / "b")
    assert (tmp_path / "b" / "weights.pt").read_bytes() != first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b"]


def test_corrupt_or_missing_bundles_are_one_line_errors(tmp_path, monkeypatch):
    vad = random_vad("dense", {"in_dim": 39, "hidden": [4], "out_dim": 1}, FrontendConfig.mfcc39())
    path = _save(vad, tmp_path / "b")
    raw = bytearray((path / "weights.pt").read_bytes())
    raw[-20] ^= 0xFF
    (path / "weights.pt").write_bytes(bytes(raw))
    with pytest.raises(ConfigError, match="checksum"):
        load_bundle(path)
    with pytest.raises(ConfigError, match="no bundle"):
        load_bundle(tmp_path / "nothing")
    monkeypatch.setattr(L, "SHIPPED_DIR", tmp_path)   # shipped bundles are found by name
    _save(vad, tmp_path / "tiny")
    assert "tiny" in L.shipped_bundles() and load_bundle("tiny").path == tmp_path / "tiny"
    meta = json.loads((tmp_path / "tiny" / "bundle.json").read_text())
    meta["format_version"] = 99
    (tmp_path / "tiny" / "bundle.json").write_text(json.dumps(meta))
    with pytest.raises(ConfigError, match="newer"):
        load_bundle("tiny")


@pytest.mark.parametrize("name,kwargs,cfg", [
    ("dense", {"in_dim": 39, "hidden": [12, 8, 4], "out_dim": 1}, FrontendConfig.mfcc39()),
    ("rnn", {"in_dim": 40, "hidden_size": 16, "num_layers": 2, "cell": "lstm", "out_dim": 1}, FrontendConfig.logmel()),
], ids=["dense", "lstm"])
def test_onnx_export_matches_torch(tmp_path, name, kwargs, cfg):
    import onnxruntime as ort

    vad = random_vad(name, kwargs, cfg)
    diff = export_onnx(vad, tmp_path / "m.onnx")
    assert diff < 1e-4
    sess = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    feats = torch.randn(1, 123, cfg.feature_dim) * 4
    with torch.no_grad():
        ref = vad.model(feats).numpy()
    np.testing.assert_allclose(sess.run(None, {"features": feats.numpy()})[0], ref, atol=1e-4)


def test_bundle_metrics_are_those_of_the_best_checkpoint_epoch(tmp_path):
    from speechdl.pretrained.export import checkpoint_metrics as _checkpoint_metrics

    log = tmp_path / "logs" / "version_0"
    log.mkdir(parents=True)
    (log / "metrics.csv").write_text("epoch,step,train_loss_step,val_auc,val_loss\n0,5,0.9,,\n0,10,,0.80,0.50\n"
                                     "1,20,,0.90,0.30\n2,30,,0.85,0.40\n")
    assert _checkpoint_metrics(tmp_path, tmp_path / "best-001-20.ckpt") == {"epoch": 1.0, "val_auc": 0.9,
                                                                           "val_loss": 0.3}
    assert _checkpoint_metrics(tmp_path, tmp_path / "last.ckpt")["epoch"] == 2.0

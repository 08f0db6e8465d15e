"""Speaker networks: the AAM head, speaker_net on the x-vector and ResNet encoders, and two tiny models
that learn toy speakers (loss falls, EER of embeddings of speakers never heard in training is low)."""

from __future__ import annotations

import doctest
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from speechdl.errors import ConfigError
from speechdl.metrics.detection import eer
from speechdl.nn import build
from speechdl.tasks.speaker import net as M
from speechdl.tasks.speaker.toy import ToySpeakers, speaker_toy, toy_rows
from speechdl.tasks.speaker.train import pair_trials
from speechdl.train.datamodule import pad_collate

torch.set_num_threads(1)
FRONTEND = {"kind": "logmel", "n_mels": 40}
XVECTOR = {"name": "xvector", "widths": [48, 48, 48, 96], "contexts": [5, 3, 3, 1], "dilations": [1, 2, 3, 1]}


def test_aam_logits_by_hand():
    head = M.AAMSoftmax(2, 3, margin=0.3, scale=10.0)
    with torch.no_grad():
        head.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]]))
    emb = torch.tensor([[math.cos(0.5), math.sin(0.5)]])           # 0.5 rad from class 0
    with torch.no_grad():
        plain, margin = head(emb), head(emb, torch.tensor([0]))
        far = head(torch.tensor([[math.cos(3.0), math.sin(3.0)]]), torch.tensor([0]))   # θ = 3.0 > π - m
    assert torch.allclose(plain, 10 * torch.tensor([[math.cos(0.5), math.sin(0.5), -math.cos(0.5)]]))
    assert float(margin[0, 0]) == pytest.approx(10 * math.cos(0.8), abs=1e-5)  # cos(θ + m) for the true class only
    assert torch.allclose(margin[0, 1:], plain[0, 1:])
    assert float(far[0, 0]) == pytest.approx(10 * (math.cos(3.0) - math.sin(math.pi - 0.3) * 0.3), abs=1e-5)
    with pytest.raises(ConfigError, match="margin"):
        M.AAMSoftmax(2, 3, margin=2.0)


def test_speaker_net_reuses_the_encoders():
    torch.manual_seed(0)
    x, n = torch.randn(3, 50, 40), torch.tensor([50, 42, 30])
    xv = build("speaker_net", in_dim=40, num_speakers=5, embed_dim=16, encoder=XVECTOR, mean_norm=False).eval()
    out = xv.outputs(x, n)
    assert torch.allclose(out["logits"], xv.encoder(x, n)) and torch.allclose(out["embedding"], xv.encoder.embed(x, n))
    # an utterance's embedding does not depend on the padding it is batched with (mean norm keeps padding 0)
    norm = build("speaker_net", in_dim=40, num_speakers=5, embed_dim=16, encoder=XVECTOR).eval()
    alone = norm.embed(x[2:3, :30], n[2:3])
    assert torch.allclose(norm.embed(x, n)[2], alone[0], atol=1e-5)
    r34 = build("speaker_net", in_dim=80, num_speakers=10, encoder="resnet34", head="aam")
    assert r34.encoder.out is None and r34.encoder.embedding.in_features == 2 * 128 * 10      # stats of C x F'
    assert [len([b for b in r34.encoder.blocks if b.convs[0].out_channels == c]) for c in (16, 32, 64, 128)] == \
        [3, 4, 6, 3]
    assert r34(torch.randn(2, 40, 80), None, torch.tensor([1, 2])).shape == (2, 10)
    assert r34.embed(torch.randn(2, 40, 80)).shape == (2, 256)


@pytest.mark.parametrize("kwargs, needle", [
    ({"encoder": XVECTOR, "head": "aam"}, "last segment layer"),
    ({"encoder": {**XVECTOR, "in_dim": 3}}, "encoder sets in_dim"),
    ({"encoder": "tdnn"}, "encoder 'tdnn' is not known"),
    ({"encoder": XVECTOR, "head": "arc"}, "head"),
])
def test_config_errors(kwargs, needle):
    with pytest.raises(ConfigError, match=needle):
        build("speaker_net", in_dim=40, num_speakers=5, **kwargs)


def _eer(net: torch.nn.Module, data: ToySpeakers) -> float:
    net.eval()
    batch = pad_collate([data[i] for i in range(len(data))])
    with torch.no_grad():
        emb = net.embed(batch["x"], batch["lengths"]).numpy()
    net.train()
    return eer(*pair_trials(emb, np.array([r["voice"] for r in data.rows])))[0]


def _learn(net: torch.nn.Module, epochs: int, lr: float) -> tuple[list[float], float, float, float]:
    """Train on 12 toy voices; ``(epoch losses, EER on unseen voices before, after, EER on new utterances
    of the training voices after)``."""
    torch.manual_seed(0)
    train, _ = speaker_toy(speakers=12, utts_per_speaker=8, frontend=FRONTEND)
    unseen = ToySpeakers(toy_rows(8, 4, (1.0, 2.0), first=100), train.cfg, None, training=False)
    seen = ToySpeakers(toy_rows(12, 3, (1.0, 2.0), utt_seed=9), train.cfg, None, training=False)
    before = _eer(net, unseen)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    losses = []
    for _ in range(epochs):
        order = torch.randperm(len(train)).tolist()
        total = 0.0
        for k in range(0, len(order), 16):
            b = pad_collate([train[i] for i in order[k:k + 16]])
            loss = F.cross_entropy(net(b["x"], b["lengths"], b["y"]), b["y"])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach())
        losses.append(total / -(-len(order) // 16))
    return losses, before, _eer(net, unseen), _eer(net, seen)


@pytest.mark.slow
def test_tiny_xvector_with_softmax_learns_toy_speakers():
    torch.manual_seed(0)
    net = build("speaker_net", in_dim=40, num_speakers=12, embed_dim=32, encoder=XVECTOR, mean_norm=False)
    losses, before, after, seen = _learn(net, 18, 3e-3)
    assert losses[-1] < losses[0] / 4, losses
    assert seen < 0.12 and after < 0.15 and after < before - 0.1, (before, after, seen)


@pytest.mark.slow
def test_tiny_resnet_with_aam_learns_toy_speakers():
    torch.manual_seed(0)
    net = build("speaker_net", in_dim=40, num_speakers=12, embed_dim=32, head="aam", margin=0.2, scale=20.0,
                encoder={"name": "resnet", "layers": [1, 1, 1], "channels": [8, 16, 32], "pool": "stats"})
    losses, before, after, seen = _learn(net, 12, 3e-3)
    assert losses[-1] < losses[0] / 2.5, losses
    assert seen < 0.12 and after < 0.15 and after < before - 0.1, (before, after, seen)


def test_doctests():
    assert doctest.testmod(M).failed == 0

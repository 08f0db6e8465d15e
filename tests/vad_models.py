"""Tiny VAD models and signals for the VAD inference / streaming / bundle / CLI tests.

:func:`burst_signal` puts speech-like bursts at known times in faint noise; :func:`trained_dense_vad`
fits an MFCC39 -> Dense 8 -> 1 net on such signals in about a second (plain torch loop, no engine),
:func:`random_vad` builds an untrained model whose probabilities still vary strongly with the input.
"""

from __future__ import annotations

import numpy as np
import torch

from speechdl.features import Frontend, FrontendConfig
from speechdl.tasks.vad.infer import VAD
from speechdl.tasks.vad.net import FrameModel
from speechdl.tasks.vad.post import PostConfig
from tests.conftest import speechlike

SR = 16000


def burst_signal(seconds: float, bursts: list[tuple[float, float]], seed: int = 0, sr: int = SR) -> np.ndarray:
    """``(samples,)`` float32: faint noise with speech-like bursts at ``bursts`` ``[(start, end)]`` (s)."""
    rng = np.random.default_rng(seed)
    x = (0.002 * rng.standard_normal(int(seconds * sr))).astype(np.float32)
    for k, (a, b) in enumerate(bursts):
        s, e = int(a * sr), int(b * sr)
        x[s:e] += speechlike((e - s) / sr + 0.01, sr, seed=seed * 10 + k)[: e - s] * 2
    return x


def labels(n_frames: int, bursts: list[tuple[float, float]], hop: float = 0.01) -> np.ndarray:
    """0/1 per frame: frame centre ``t * hop`` inside a burst."""
    t = np.arange(n_frames) * hop
    return np.any([(t >= a) & (t < b) for a, b in bursts], axis=0).astype(np.float32)


def trained_dense_vad(seed: int = 0, steps: int = 300) -> VAD:
    """MFCC39 -> Dense [8] -> 1 trained on generated burst signals (full-batch Adam)."""
    torch.manual_seed(seed)
    cfg = FrontendConfig.mfcc39()
    fe = Frontend(cfg)
    xs, ys = [], []
    for i, bursts in enumerate([[(0.5, 1.5), (2.2, 3.0)], [(0.3, 0.9), (1.6, 3.2)], [(1.0, 2.5)]]):
        wave = burst_signal(3.5, bursts, seed=i)
        f = fe(torch.from_numpy(wave)[None])[0]
        xs.append(f)
        ys.append(torch.from_numpy(labels(len(f), bursts)))
    x, y = torch.cat(xs), torch.cat(ys)
    model = FrameModel("dense", {"in_dim": 39, "hidden": [8], "out_dim": 1})
    model.norm.fit(x)
    opt = torch.optim.Adam(model.parameters(), lr=0.03)
    for _ in range(steps):
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(model(x[None])[0], y)
        loss.backward()
        opt.step()
    return VAD(model.eval(), cfg, PostConfig(min_speech=0.1, min_silence=0.1, pad=0.0))


def random_vad(name: str, kwargs: dict, cfg: FrontendConfig, seed: int = 0) -> VAD:
    """An untrained model with feature statistics measured on a burst signal and large weights."""
    torch.manual_seed(seed)
    model = FrameModel(name, kwargs)
    wave = burst_signal(2.0, [(0.5, 1.2)], seed=seed)
    model.norm.fit(Frontend(cfg)(torch.from_numpy(wave)[None])[0])
    with torch.no_grad():
        for p in model.net.parameters():
            p.mul_(3.0)
    return VAD(model.eval(), cfg)

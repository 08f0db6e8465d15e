"""The front-end as one module: waveform ``(B, samples)`` -> features ``(B, frames, F)``.

Frame-local stages (pre-emphasis, FFT power, mel, log, DCT) run block by block over ~10 s of audio;
sequence stages (deltas, CMVN, stacking) run on the much smaller feature sequence.
:class:`FeatureStream` produces exactly the same frames from audio pushed in pieces of any size.

Example:
    >>> import torch
    >>> feats = MFCC39()(torch.randn(1, 16000))
    >>> tuple(feats.shape)
    (1, 101, 39)
    >>> tuple(LogMel(n_mels=64)(torch.randn(2, 8000)).shape)
    (2, 51, 64)
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator

import numpy as np
import torch
from torch import nn

from speechdl.features.cmvn import CMVN
from speechdl.features.config import FrontendConfig
from speechdl.features.deltas import add_deltas
from speechdl.features.mel import banded_mel, log_compress, mel_bands, mel_filterbank
from speechdl.features.mfcc import dct_matrix
from speechdl.features.stacking import stack_frames
from speechdl.features.stft import blockwise_frames, make_window, preemphasize


class Frontend(nn.Module):
    """Feature extractor described by a :class:`FrontendConfig`.

    ``forward(wave)`` maps ``(B, samples)`` float audio at ``cfg.sample_rate`` to
    ``(B, cfg.num_frames(samples), cfg.feature_dim)``.
    """

    def __init__(self, cfg: FrontendConfig | None = None) -> None:
        super().__init__()
        self.cfg = cfg = cfg or FrontendConfig()
        self.register_buffer("window", make_window(cfg.window, cfg.win_length), persistent=False)
        fb = mel_filterbank(cfg.sample_rate, cfg.n_fft, cfg.n_mels, cfg.f_min, cfg.f_max,
                            cfg.mel_scale, cfg.mel_norm)
        self.register_buffer("mel_fb", fb, persistent=False)  # (n_freqs, n_mels)
        self.register_buffer("dct", dct_matrix(cfg.n_mels, cfg.n_mfcc), persistent=False)
        self.mel_bands = mel_bands(fb)
        seq_dim = cfg.static_dim * (1 + cfg.deltas)
        self.cmvn = CMVN(cfg.cmvn, dim=seq_dim) if cfg.cmvn != "none" else None

    @property
    def feature_dim(self) -> int:
        """Features per output frame."""
        return self.cfg.feature_dim

    def frame_features(self, power: torch.Tensor) -> torch.Tensor:
        """Frame-local stages on a power-spectrum block ``(B, t, n_freqs) -> (B, t, static_dim)``.

        The result may be a permuted view: mel energies are computed band-major so that each group
        of mel bands multiplies only its own span of FFT bins (:func:`mel_bands`).
        """
        if self.cfg.kind == "power":
            return power
        mel = banded_mel(power, self.mel_fb, self.mel_bands)  # (B, t, n_mels), band-major memory
        logmel = log_compress(mel, self.cfg.log, self.cfg.log_floor)
        return logmel @ self.dct if self.cfg.kind == "mfcc" else logmel

    def static(self, wave: torch.Tensor) -> torch.Tensor:
        """Static features only: ``(B, samples) -> (B, frames, static_dim)`` (no deltas, CMVN, stacking)."""
        wave = wave.unsqueeze(0) if wave.dim() == 1 else wave
        wave = preemphasize(wave.float(), self.cfg.preemphasis)
        return blockwise_frames(wave, self.cfg, self.window, self.frame_features, center=True)

    def sequence(self, static: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """Sequence stages on static features: deltas, CMVN, stacking ``(B, T, S) -> (B, T, F)``."""
        x = add_deltas(static, self.cfg.deltas, self.cfg.delta_window) if self.cfg.deltas else static
        if self.cmvn is not None:
            x = self.cmvn(x, lengths)
        return stack_frames(x, self.cfg.stack) if self.cfg.stack else x

    def frame_lengths(self, lengths: torch.Tensor) -> torch.Tensor:
        """Valid frames ``(B,)`` of rows with ``lengths`` ``(B,)`` valid samples (``cfg.num_frames`` of each):
        ``1 + n // hop`` when centred, else ``1 + (n - n_fft) // hop`` (0 below ``n_fft`` samples)."""
        if self.cfg.center:
            return 1 + lengths // self.cfg.hop_length
        return (1 + torch.div(lengths - self.cfg.n_fft, self.cfg.hop_length, rounding_mode="floor")).clamp(min=0)

    def forward(self, wave: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """``wave`` ``(B, samples)``; ``lengths`` (optional) are valid samples per row."""
        frames = None if lengths is None else self.frame_lengths(lengths)
        return self.sequence(self.static(wave), frames)

    def features_of(self, wave: np.ndarray) -> torch.Tensor:
        """Features ``(T, F)`` of one mono waveform ``(n,)`` (numpy, at ``cfg.sample_rate``), without gradients."""
        with torch.no_grad():
            return self(torch.from_numpy(np.ascontiguousarray(wave, np.float32))[None])[0]

    def stream(self) -> FeatureStream:
        """A fresh :class:`FeatureStream` for this front-end."""
        return FeatureStream(self)


class LogMel(Frontend):
    """Log-Mel filterbank ``(B, samples) -> (B, frames, n_mels)`` (natural log, 1e-10 floor).

    Defaults match ``np.log(np.maximum(librosa.feature.melspectrogram(y=x, sr=16000, n_fft=512,
    win_length=400, hop_length=160, n_mels=40, pad_mode='constant'), 1e-10)).T``.
    """

    def __init__(self, sample_rate: int = 16000, n_fft: int = 512, win_length: int = 400, hop_length: int = 160,
                 n_mels: int = 40, **kw) -> None:
        super().__init__(FrontendConfig.logmel(sample_rate=sample_rate, n_fft=n_fft, win_length=win_length,
                                               hop_length=hop_length, n_mels=n_mels, **kw))


class MFCC39(Frontend):
    """The lecture's 39 features ``(B, samples) -> (B, frames, 39)``: 13 MFCC + delta + delta-delta.

    MFCCs match ``librosa.feature.mfcc(y=x, sr=16000, n_mfcc=13, n_fft=512, win_length=400,
    hop_length=160, n_mels=40, pad_mode='constant', top_db=None)``; deltas use the regression
    formula over +-2 frames (python_speech_features ``delta(c, 2)``).
    """

    def __init__(self, sample_rate: int = 16000, n_fft: int = 512, win_length: int = 400, hop_length: int = 160,
                 n_mels: int = 40, n_mfcc: int = 13, **kw) -> None:
        super().__init__(FrontendConfig.mfcc39(sample_rate=sample_rate, n_fft=n_fft, win_length=win_length,
                                               hop_length=hop_length, n_mels=n_mels, n_mfcc=n_mfcc, **kw))


class FeatureStream:
    """Static features from audio pushed in pieces of any size, identical to the offline frames.

    ``push(samples)`` returns the frames that became complete, ``flush()`` the rest at the end.
    Memory stays bounded by one block. Sequence stages (deltas, CMVN, stacking) need context and
    are applied by the caller on the concatenated static frames (``Frontend.sequence``).
    """

    def __init__(self, frontend: Frontend) -> None:
        self.fe = frontend
        cfg = frontend.cfg
        self.cfg = cfg
        self.started = False  # centring padding is added once the first samples arrive
        self.buf = torch.zeros(1, 0)
        self.last: torch.Tensor | None = None  # previous raw sample, for pre-emphasis

    def _prep(self, x: np.ndarray | torch.Tensor) -> torch.Tensor:
        x = torch.as_tensor(np.asarray(x, dtype=np.float32)).reshape(1, -1)
        if self.cfg.preemphasis:
            y = preemphasize(x, self.cfg.preemphasis, self.last)
            if x.shape[1]:
                self.last = x[:, -1:]
            x = y
        return x

    def _frames(self) -> torch.Tensor:
        cfg = self.cfg
        n = self.buf.shape[1]
        count = 0 if n < cfg.n_fft else 1 + (n - cfg.n_fft) // cfg.hop_length
        if count == 0:
            return torch.zeros(1, 0, cfg.static_dim)
        used = (count - 1) * cfg.hop_length + cfg.n_fft
        out = blockwise_frames(self.buf[:, :used], cfg, self.fe.window, self.fe.frame_features)
        self.buf = self.buf[:, count * cfg.hop_length:]
        return out

    @torch.no_grad()
    def push(self, samples: np.ndarray | torch.Tensor) -> torch.Tensor:
        """Add mono samples ``(n,)``; returns newly complete frames ``(1, t, static_dim)``."""
        self.buf = torch.cat([self.buf, self._prep(samples)], dim=1)
        if not self.started:
            pad = self.cfg.n_fft // 2 if self.cfg.center else 0
            if self.cfg.pad_mode == "reflect" and pad and self.buf.shape[1] <= pad:
                return torch.zeros(1, 0, self.cfg.static_dim)  # reflection needs pad + 1 samples
            self.started = True
            if pad:
                head = self.buf[:, 1 : pad + 1].flip(1) if self.cfg.pad_mode == "reflect" else torch.zeros(1, pad)
                self.buf = torch.cat([head, self.buf], dim=1)
        return self._frames()

    @torch.no_grad()
    def flush(self) -> torch.Tensor:
        """End of audio: the remaining frames ``(1, t, static_dim)``."""
        if not self.started:  # audio shorter than the reflection: behave like torch (zero padding)
            self.started = True
            self.buf = torch.cat([torch.zeros(1, self.cfg.n_fft // 2 if self.cfg.center else 0), self.buf], 1)
            if self.cfg.center:
                self.buf = torch.cat([self.buf, torch.zeros(1, self.cfg.n_fft // 2)], 1)
            return self._frames()
        if self.cfg.center:
            pad = self.cfg.n_fft // 2
            if self.cfg.pad_mode == "reflect":
                tail = self.buf[:, -pad - 1 : -1].flip(1)
            else:
                tail = torch.zeros(1, pad)
            self.buf = torch.cat([self.buf, tail], dim=1)
        return self._frames()


def extract_blocks(frontend: Frontend, blocks: Iterable[np.ndarray]) -> torch.Tensor:
    """Full features ``(1, T, F)`` from an iterator of mono float32 blocks (bounded audio memory)."""
    stream = frontend.stream()
    parts = [stream.push(b) for b in blocks]
    parts.append(stream.flush())
    with torch.no_grad():
        return frontend.sequence(torch.cat(parts, dim=1))


def extract_file(path: str | os.PathLike, cfg: FrontendConfig,
                 progress: Iterator | None = None) -> np.ndarray:
    """Features ``(frames, F)`` float32 of an audio file of any length, format and sample rate.

    The file is read in ``cfg.chunk_seconds`` blocks and resampled to ``cfg.sample_rate``.
    """
    from speechdl import audio

    blocks = audio.stream(path, block_seconds=cfg.chunk_seconds, sample_rate=cfg.sample_rate)
    if progress is not None:
        blocks = progress(blocks)
    return extract_blocks(Frontend(cfg), blocks)[0].numpy()

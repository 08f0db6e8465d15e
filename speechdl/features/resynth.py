"""Audio from magnitudes: mel -> linear spectrum, Griffin-Lim, front-end features -> waveform.

Models that predict spectra (enhancement masks, TTS mel frames, voice conversion) return audio through
these, with the exact settings of their :class:`FrontendConfig` (framing from :mod:`.inverse`, the mel
filterbank and log of :class:`~speechdl.features.Frontend`):

* :func:`mel_to_linear`: the mel energies are ``linear @ fb`` with ``fb`` ``(n_freqs, n_mels)``; invert by
  the pseudo-inverse (clamped at 0) or by non-negative least squares (projected, accelerated gradient
  from the pseudo-inverse; never worse in the mel-domain residual).
* :func:`griffin_lim`: phase from magnitudes by the fast Griffin-Lim algorithm (Perraudin, Balazs and
  Søndergaard 2013, as in librosa): ``momentum`` 0.99 by default, 0 gives the classic algorithm.
* :func:`logmel_to_wave`: static features (log-Mel, MFCC through the transposed DCT, or power) ->
  waveform.

Example:
    >>> import torch
    >>> from speechdl.features import Frontend
    >>> cfg = FrontendConfig.logmel(n_mels=80)
    >>> x = torch.sin(torch.arange(8000) * 0.2)[None]
    >>> y = logmel_to_wave(Frontend(cfg)(x), cfg, n_iter=16)
    >>> tuple(y.shape)                                      # (B, (T - 1) * hop)
    (1, 8000)
"""

from __future__ import annotations

import math

import torch

from speechdl.errors import ConfigError
from speechdl.features.config import FrontendConfig
from speechdl.features.inverse import istft, stft
from speechdl.features.mel import mel_filterbank
from speechdl.features.mfcc import dct_matrix


def filterbank(cfg: FrontendConfig, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """The front-end's mel filterbank ``(n_fft // 2 + 1, n_mels)`` (``linear @ fb`` = mel energies)."""
    return mel_filterbank(cfg.sample_rate, cfg.n_fft, cfg.n_mels, cfg.f_min, cfg.f_max, cfg.mel_scale,
                          cfg.mel_norm).to(dtype)


def mel_to_linear(mel: torch.Tensor, cfg: FrontendConfig, method: str = "nnls", n_iter: int = 200) -> torch.Tensor:
    """Linear spectra ``(..., T, n_fft // 2 + 1)`` >= 0 whose mel energies approximate ``mel`` ``(..., T, n_mels)``.

    Both are in the front-end's domain (``|X| ** cfg.power``). ``method``: ``pinv`` (pseudo-inverse,
    clamped at 0) or ``nnls`` (``min ||lin @ fb - mel||`` subject to ``lin >= 0``, ``n_iter`` FISTA steps
    from the pseudo-inverse). FFT bins no mel filter covers come back as 0.
    """
    if method not in ("pinv", "nnls"):
        raise ConfigError("mel_to_linear", f"method={method!r} is not valid", "use pinv or nnls")
    if mel.shape[-1] != cfg.n_mels:
        raise ConfigError("mel_to_linear", f"features have {mel.shape[-1]} bands, the config {cfg.n_mels}",
                          "pass the config the mel frames were made with")
    work = torch.float64 if mel.dtype == torch.float64 else torch.float32
    fb = filterbank(cfg, work).to(mel.device)
    m = mel.to(work)
    x = (m @ torch.linalg.pinv(fb)).clamp(min=0.0)
    if method == "pinv":
        return x.to(mel.dtype)
    fb_t = fb.T
    step = 1.0 / float(torch.linalg.matrix_norm(fb, ord=2)) ** 2  # 1 / Lipschitz constant of the gradient
    y, t = x, 1.0
    for _ in range(n_iter):
        x_new = (y - step * ((y @ fb - m) @ fb_t)).clamp(min=0.0)
        t_new = (1.0 + math.sqrt(1.0 + 4.0 * t * t)) / 2.0
        y = x_new + ((t - 1.0) / t_new) * (x_new - x)
        x, t = x_new, t_new
    return x.to(mel.dtype)


def spectral_convergence(magnitude: torch.Tensor, wave: torch.Tensor, cfg: FrontendConfig) -> float:
    """``||S - |STFT(wave)||_F / ||S||_F`` of target magnitudes ``S`` ``(B, T, F)`` (frames beyond the shorter
    of the two are ignored); 0 means ``wave`` has exactly these magnitudes."""
    mag = stft(wave.to(magnitude.dtype), cfg).abs()
    t = min(mag.shape[-2], magnitude.shape[-2])
    target = magnitude[..., :t, :]
    return float((target - mag[..., :t, :]).norm() / target.norm().clamp(min=1e-20))


def griffin_lim(magnitude: torch.Tensor, cfg: FrontendConfig, n_iter: int = 32, momentum: float = 0.99,
                length: int | None = None, init: str = "random", seed: int = 0) -> torch.Tensor:
    """Waveform ``(B, N)`` whose STFT magnitudes approximate ``magnitude`` ``(B, T, n_fft // 2 + 1)`` (or ``(T, F)``).

    ``magnitude`` is ``|X|`` (not power). Fast Griffin-Lim: each of ``n_iter`` steps re-analyses the
    current signal and extrapolates the phase with ``momentum`` (0 = classic Griffin-Lim; values near 1
    converge faster). ``init``: ``random`` (uniform phases from ``seed``) or ``zeros`` (zero phase).
    Pre-emphasis of ``cfg`` is undone on the final signal only. ``length`` as in :func:`~.inverse.istft`.
    """
    if n_iter < 0 or not 0.0 <= momentum < 1.0 + 1e-9 or init not in ("random", "zeros"):
        raise ConfigError("griffin_lim", f"n_iter={n_iter}, momentum={momentum}, init={init!r}",
                          "use n_iter >= 0, 0 <= momentum <= 1, init random or zeros")
    mag = magnitude.unsqueeze(0) if magnitude.dim() == 2 else magnitude
    if mag.shape[-1] != cfg.n_freqs:
        raise ConfigError("griffin_lim", f"magnitudes have {mag.shape[-1]} bins, the config {cfg.n_freqs}",
                          "pass |STFT| of this front-end's n_fft")
    cdtype = torch.complex128 if mag.dtype == torch.float64 else torch.complex64
    if init == "random":
        gen = torch.Generator().manual_seed(seed)
        phase = torch.rand(mag.shape, generator=gen, dtype=mag.dtype) * (2 * math.pi)
        angles = torch.polar(torch.ones_like(phase), phase).to(mag.device)
    else:
        angles = torch.ones(mag.shape, dtype=cdtype, device=mag.device)
    inner = length
    if inner is None and cfg.center:  # keep every frame's support inside the signal while iterating
        inner = (mag.shape[1] - 1) * cfg.hop_length
    rebuilt = None
    eps = torch.finfo(mag.dtype).tiny
    for _ in range(n_iter):
        previous = rebuilt
        wave = istft(mag * angles, cfg, length=inner, emphasis=False)
        rebuilt = stft(wave, cfg, emphasis=False)[:, : mag.shape[1]]
        if rebuilt.shape[1] < mag.shape[1]:
            rebuilt = torch.nn.functional.pad(rebuilt, (0, 0, 0, mag.shape[1] - rebuilt.shape[1]))
        angles = rebuilt - (momentum / (1.0 + momentum)) * previous if previous is not None else rebuilt
        angles = angles / (angles.abs() + eps)
    return istft(mag * angles, cfg, length=length)


def static_features(features: torch.Tensor, cfg: FrontendConfig) -> torch.Tensor:
    """The static part ``(..., T, static_dim)`` of final features (centre frame of a stack, before deltas)."""
    if cfg.cmvn != "none":
        raise ConfigError("inverse front-end", f"cmvn={cfg.cmvn!r} cannot be undone",
                          "pass features before normalisation (Frontend.static)")
    if features.shape[-1] == cfg.static_dim:
        return features
    if features.shape[-1] != cfg.feature_dim:
        raise ConfigError("inverse front-end", f"features have {features.shape[-1]} values per frame",
                          f"expected {cfg.static_dim} (static) or {cfg.feature_dim} for this config")
    width = cfg.static_dim * (1 + cfg.deltas)
    centre = features[..., cfg.stack * width: cfg.stack * width + width]
    return centre[..., : cfg.static_dim]


def features_to_linear(features: torch.Tensor, cfg: FrontendConfig, method: str = "nnls") -> torch.Tensor:
    """Linear spectra ``|X| ** cfg.power`` ``(..., T, n_freqs)`` of front-end features (log-Mel, MFCC, power)."""
    x = static_features(features, cfg)
    if cfg.kind == "power":
        return x.clamp(min=0.0)
    if cfg.kind == "mfcc":  # the orthonormal DCT's transpose: the log-Mel with the dropped cepstra at zero
        x = x @ dct_matrix(cfg.n_mels, cfg.n_mfcc).to(x.dtype).T
    mel = torch.exp(x * (math.log(10.0) / 10.0) if cfg.log == "db" else x)
    mel = torch.where(mel <= cfg.log_floor * 1.0001, torch.zeros_like(mel), mel)  # floored bands: silence
    return mel_to_linear(mel, cfg, method)


def logmel_to_wave(features: torch.Tensor, cfg: FrontendConfig, n_iter: int = 32, momentum: float = 0.99,
                   method: str = "nnls", length: int | None = None, seed: int = 0) -> torch.Tensor:
    """Waveform ``(B, N)`` of front-end features ``(B, T, F)`` or ``(T, F)`` made with ``cfg``.

    log-Mel (``ln`` or ``dB``) -> mel energies -> linear spectrum (:func:`mel_to_linear`) -> magnitude
    (``** (1 / cfg.power)``) -> :func:`griffin_lim`. MFCCs go back to log-Mel through the transposed DCT
    (their dropped cepstra, the fine spectral detail, are lost); ``power`` features skip the mel step.
    Features with deltas or stacking are reduced to their statics; CMVN cannot be undone.
    """
    lin = features_to_linear(features, cfg, method)
    return griffin_lim(lin.clamp(min=0.0) ** (1.0 / cfg.power), cfg, n_iter, momentum, length, seed=seed)

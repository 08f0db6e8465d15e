"""Speaking-style simulation for training robustness: whispered speech from voiced speech.

In a whisper the vocal folds do not vibrate: the vocal tract (the spectral envelope, the formants) is
shaped as in normal speech but excited by turbulent noise, with no harmonics and little energy below about
500 Hz. :func:`whisperize` imitates that per STFT frame: the envelope is the cepstrally smoothed
log-magnitude (the first ``lifter`` quefrency bins: the vocal tract, without the pitch harmonics), the
excitation is white noise (its own random phase), the low band is tilted down, and the result keeps the
input's RMS. A speaker model trained with the clean utterance's target on such crops learns that the
voice's identity is in the envelope, not in the pitch.

Example:
    >>> import numpy as np
    >>> t = np.arange(16000) / 16000
    >>> voiced = (np.sign(np.sin(2 * np.pi * 120 * t)) * 0.1).astype(np.float32)
    >>> w = whisperize(voiced, 16000, np.random.default_rng(0))
    >>> w.shape, w.dtype, bool(abs(np.sqrt(np.mean(w ** 2)) - 0.1) < 0.01)
    ((16000,), dtype('float32'), True)
"""

from __future__ import annotations

import numpy as np
from scipy.signal import istft, stft


def whisperize(wave: np.ndarray, sample_rate: int, rng: np.random.Generator, lifter_ms: float = 1.8,
               low_cut_hz: float = 500.0, low_gain_db: float = -12.0) -> np.ndarray:
    """Whispered version of ``wave`` ``(n,)`` float: same envelope, noise excitation, same RMS, ``(n,)`` float32.

    ``lifter_ms``: quefrencies kept for the envelope (1.8 ms: below the period of any pitch up to ~550 Hz);
    ``low_cut_hz`` / ``low_gain_db``: the band below is attenuated by that much (whispers lack it).
    """
    x = np.asarray(wave, dtype=np.float64)
    if len(x) < 512:
        return x.astype(np.float32)
    nfft = 512 if sample_rate <= 16000 else 1024
    _, _, spec = stft(x, nperseg=nfft, noverlap=nfft * 3 // 4)
    logmag = np.log(np.abs(spec) + 1e-8)
    ceps = np.fft.irfft(logmag, n=nfft, axis=0)
    keep = max(2, int(lifter_ms * 1e-3 * sample_rate))
    ceps[keep:nfft - keep + 1] = 0.0
    envelope = np.exp(np.fft.rfft(ceps, n=nfft, axis=0).real)
    freqs = np.arange(envelope.shape[0]) * sample_rate / nfft
    envelope[freqs < low_cut_hz] *= 10 ** (low_gain_db / 20)
    _, _, noise = stft(rng.standard_normal(len(x)), nperseg=nfft, noverlap=nfft * 3 // 4)
    _, y = istft(envelope * noise, nperseg=nfft, noverlap=nfft * 3 // 4)
    y = y[: len(x)]
    if len(y) < len(x):
        y = np.pad(y, (0, len(x) - len(y)))
    rms_in, rms_out = np.sqrt(np.mean(x ** 2)), np.sqrt(np.mean(y ** 2))
    return (y * (rms_in / rms_out) if rms_out > 0 else y).astype(np.float32)

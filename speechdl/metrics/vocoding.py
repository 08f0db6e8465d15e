"""Vocoder (copy-synthesis) metrics against the original: mel-cepstral distortion, log-F0 RMSE, voicing error.

* :func:`mel_cepstrum`: order-``order`` mel-cepstra ``c_1..c_order`` of 25 ms Hann frames every 5 ms: the log
  power spectrum is resampled on the all-pass warped frequency axis ``w~ = w + 2 atan(a sin w / (1 - a cos w))``
  (``alpha`` 0.42 at 16 kHz, 0.455 at 22.05 kHz, the usual SPTK values) and a DCT gives the cepstrum (a
  frequency-warped real cepstrum; SPTK's ``mcep`` solves for it iteratively, this is its closed-form
  approximation; ``c_0``, the energy, is left out as usual).
* :func:`mcd`: ``(10 / ln 10) sqrt(2 sum_d (c_d - c'_d)^2)`` in dB, averaged over the frames whose reference
  energy is within ``floor_db`` (60 dB) of its loudest (silence left out); the signals are time-aligned
  (copy-synthesis), so no DTW.
* :func:`f0_track`: Praat's autocorrelation pitch (``parselmouth``, a core dependency), 10 ms frames, 0 = unvoiced.
* :func:`f0_errors`: ``lf0_rmse_cents`` (RMSE of ``1200 log2(f0'/f0)`` over frames voiced in both) and
  ``vuv_error`` (share of frames whose voiced/unvoiced decision differs).

Example:
    >>> import numpy as np
    >>> t = np.arange(16000) / 16000
    >>> x = np.sign(np.sin(2 * np.pi * 120 * t)) * 0.3 + 0.01 * np.random.default_rng(0).standard_normal(16000)
    >>> mcd(x, x), round(mcd(x, np.roll(x, 400)), 1) > 0
    (0.0, True)
    >>> e = f0_errors(x, x, 16000)
    >>> e["lf0_rmse_cents"], e["vuv_error"]
    (0.0, 0.0)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from speechdl.errors import AudioError


def _check(ref: Any, deg: Any, metric: str) -> tuple[np.ndarray, np.ndarray]:
    r, d = np.asarray(ref, np.float64), np.asarray(deg, np.float64)
    if r.ndim != 1 or r.shape != d.shape or not len(r):
        raise AudioError(metric, f"reference {r.shape} and processed {d.shape} differ or are not mono",
                         "pass two mono signals of equal length, aligned in time")
    if not (np.isfinite(r).all() and np.isfinite(d).all()):
        raise AudioError(metric, "a signal contains NaN or infinite samples", "check the vocoder output")
    return r, d


def default_alpha(sample_rate: int) -> float:
    """The all-pass constant that approximates the mel scale at ``sample_rate`` (0.42 at 16 kHz)."""
    table = {8000: 0.31, 11025: 0.357, 16000: 0.42, 22050: 0.455, 24000: 0.466, 44100: 0.544, 48000: 0.554}
    return table.get(int(sample_rate), 0.42)


def mel_cepstrum(wave: Any, sample_rate: int, order: int = 24, alpha: float | None = None,
                 frame_ms: float = 25.0, hop_ms: float = 5.0) -> tuple[np.ndarray, np.ndarray]:
    """``(cepstra (T, order), frame energies in dB (T,))`` of a mono waveform ``(N,)`` (see the module doc)."""
    x = np.asarray(wave, np.float64)
    a = default_alpha(sample_rate) if alpha is None else float(alpha)
    win, hop = int(sample_rate * frame_ms / 1000), int(sample_rate * hop_ms / 1000)
    n_fft = 1 << (win - 1).bit_length()
    if len(x) < win:
        x = np.pad(x, (0, win - len(x)))
    frames = np.lib.stride_tricks.sliding_window_view(x, win)[::hop] * np.hanning(win)
    power = np.abs(np.fft.rfft(frames, n_fft)) ** 2 + 1e-10
    energy = 10 * np.log10(power.sum(1))
    omega = np.linspace(0, np.pi, power.shape[1])
    warped = omega + 2 * np.arctan(a * np.sin(omega) / (1 - a * np.cos(omega)))   # w -> w~ (monotone on [0, pi])
    grid = np.linspace(0, np.pi, 256)
    logspec = 0.5 * np.log(power)   # log amplitude
    on_grid = np.stack([np.interp(grid, warped, row) for row in logspec])
    m = np.arange(1, order + 1)
    basis = np.cos(np.outer(grid, m))   # (256, order): log|X| = c0 + 2 sum_m c_m cos(m w~)
    weights = np.full(len(grid), 1.0 / (len(grid) - 1))
    weights[[0, -1]] *= 0.5
    return (on_grid * weights) @ basis, energy


def mcd(ref: Any, deg: Any, sample_rate: int = 16000, order: int = 24, floor_db: float = 60.0) -> float:
    """Mel-cepstral distortion (dB) of ``deg`` against ``ref`` (mono, aligned, equal length): 0 = identical."""
    r, d = _check(ref, deg, "mcd")
    cr, er = mel_cepstrum(r, sample_rate, order)
    cd, _ = mel_cepstrum(d, sample_rate, order)
    keep = er > er.max() - floor_db
    diff = cr[keep] - cd[keep]
    return float(np.mean(10.0 / math.log(10.0) * np.sqrt(2.0 * np.sum(diff * diff, axis=1))))


def f0_track(wave: Any, sample_rate: int, hop_s: float = 0.01, f0_min: float = 60.0, f0_max: float = 500.0
             ) -> np.ndarray:
    """F0 in Hz every ``hop_s`` seconds ``(T,)``, 0 where unvoiced (Praat's autocorrelation method)."""
    import parselmouth

    snd = parselmouth.Sound(np.asarray(wave, np.float64), sampling_frequency=float(sample_rate))
    pitch = snd.to_pitch_ac(time_step=hop_s, pitch_floor=f0_min, pitch_ceiling=f0_max)
    f0 = pitch.selected_array["frequency"]
    return np.nan_to_num(np.asarray(f0, np.float64))


def f0_errors(ref: Any, deg: Any, sample_rate: int = 16000) -> dict[str, float | None]:
    """``{"lf0_rmse_cents", "vuv_error", "voiced_frames"}`` of ``deg`` against ``ref`` (the RMSE is None when
    no frame is voiced in both)."""
    r, d = _check(ref, deg, "f0")
    fr, fd = f0_track(r, sample_rate), f0_track(d, sample_rate)
    n = min(len(fr), len(fd))
    fr, fd = fr[:n], fd[:n]
    vr, vd = fr > 0, fd > 0
    both = vr & vd
    rmse = float(np.sqrt(np.mean((1200 * np.log2(fd[both] / fr[both])) ** 2))) if both.any() else None
    return {"lf0_rmse_cents": None if rmse is None else round(rmse, 4), "vuv_error": round(float(np.mean(vr != vd)), 6)
            if n else 0.0, "voiced_frames": int(both.sum())}

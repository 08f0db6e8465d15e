"""Speech quality and intelligibility of a processed signal against its clean reference: PESQ, STOI,
ESTOI (with the ``pesq`` and ``pystoi`` packages) and SI-SDR (here).

Signals are waveforms at ``sample_rate`` Hz, ``(N,)`` for one pair or ``(B, N)`` for a batch of pairs of
equal length (numpy arrays, lists or torch tensors; time on the last axis). One pair gives a float, a
batch a ``(B,)`` array (SI-SDR of torch tensors: a tensor, differentiable, usable as a training loss).

* :func:`pesq`: ITU-T P.862.2 wide-band (``wb``, 16 kHz only; MOS-LQO 1.04-4.64) or P.862.1 narrow-band
  (``nb``, 8 or 16 kHz; 1.02-4.55). Needs at least 0.25 s and speech in both signals.
* :func:`stoi` / :func:`estoi`: short-time objective intelligibility (Taal et al. 2011) and its extended
  version (Jensen and Taal 2016), about 0-1 (higher = more intelligible); any rate (resampled to 10 kHz);
  needs about 0.4 s of speech in the reference.
* :func:`si_sdr`: scale-invariant signal-to-distortion ratio in dB (Le Roux et al. 2019): both signals
  made zero-mean, ``target = <est, ref> ref / ||ref||^2``, ``SI-SDR = 10 log10(||target||^2 / ||est - target||^2)``.

Bad inputs (lengths that differ, a rate PESQ does not support, a silent or too short reference, NaN)
raise a one-line :class:`~speechdl.errors.AudioError`.

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> clean = np.sin(np.arange(16000) * 0.05) * (1 + rng.random(16000))
    >>> round(si_sdr(clean, clean + 0.1 * rng.standard_normal(16000)), 1)
    20.7
    >>> round(si_sdr(clean, 3.0 * clean), 1) > 100                # scale-invariant: a gain is no distortion
    True
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from speechdl.errors import AudioError

ArrayLike = Any  # np.ndarray | Sequence[float] | torch.Tensor


def _numpy(x: ArrayLike) -> np.ndarray:
    if hasattr(x, "detach"):  # torch tensor without importing torch
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=np.float64)


def _pairs(metric: str, ref: ArrayLike, deg: ArrayLike) -> tuple[np.ndarray, np.ndarray, bool]:
    """``(ref (B, N), deg (B, N), single)`` checked: same shape, 1-D or 2-D, finite, reference not silent."""
    r, d = _numpy(ref), _numpy(deg)
    if r.ndim not in (1, 2) or r.shape != d.shape:
        raise AudioError(metric, f"reference {r.shape} and processed {d.shape} signals differ in shape",
                         "pass (N,) or (B, N) signals of equal length, aligned in time")
    if r.shape[-1] == 0:
        raise AudioError(metric, "the signals are empty", "pass audio samples")
    if not (np.isfinite(r).all() and np.isfinite(d).all()):
        raise AudioError(metric, "a signal contains NaN or infinite samples", "check the model output")
    single = r.ndim == 1
    r, d = np.atleast_2d(r), np.atleast_2d(d)
    silent = np.flatnonzero(np.abs(r).max(axis=1) == 0)
    if len(silent):
        raise AudioError(metric, f"reference {int(silent[0])} is silent", "the clean reference must hold speech")
    return r, d, single


def _out(values: list[float], single: bool) -> float | np.ndarray:
    return float(values[0]) if single else np.asarray(values, dtype=np.float64)


def pesq(ref: ArrayLike, deg: ArrayLike, sample_rate: int, mode: str = "wb") -> float | np.ndarray:
    """PESQ MOS-LQO of ``deg`` against ``ref`` (``(N,)`` -> float, ``(B, N)`` -> ``(B,)``); ``mode`` ``wb`` or ``nb``.

    Example:
        >>> import numpy as np
        >>> x = np.random.default_rng(0).standard_normal(16000) * 0.1
        >>> round(pesq(x, x, 16000), 2)
        4.64
    """
    try:
        from pesq import PesqError
        from pesq import pesq as _pesq
    except ImportError:
        raise AudioError("pesq", "the pesq package is not installed", "pip install pesq") from None
    if mode not in ("wb", "nb"):
        raise AudioError("pesq", f"mode={mode!r} is not valid", "use wb (16 kHz) or nb (8 or 16 kHz)")
    if sample_rate not in (8000, 16000) or (mode == "wb" and sample_rate != 16000):
        need = "16000 Hz" if mode == "wb" else "8000 or 16000 Hz"
        raise AudioError("pesq", f"{mode} mode needs {need}, got {sample_rate} Hz",
                         "resample both signals first (speechdl.audio.resample)")
    r, d, single = _pairs("pesq", ref, deg)
    if r.shape[1] < sample_rate // 4:
        raise AudioError("pesq", f"{r.shape[1] / sample_rate:.3f} s is too short", "pass at least 0.25 s")
    scores = []
    for i, (a, b) in enumerate(zip(r, d)):
        if np.abs(b).max() == 0:
            raise AudioError("pesq", f"processed signal {i} is silent", "PESQ needs speech in both signals")
        try:
            scores.append(_pesq(sample_rate, a, b, mode))
        except PesqError as err:
            raise AudioError("pesq", f"signal {i}: {err.__class__.__name__.replace('Error', '')}",
                             "pass speech (PESQ found no utterance)") from None
    return _out(scores, single)


def stoi(ref: ArrayLike, deg: ArrayLike, sample_rate: int, extended: bool = False) -> float | np.ndarray:
    """STOI (or ESTOI with ``extended``) of ``deg`` against ``ref``: ``(N,)`` -> float, ``(B, N)`` -> ``(B,)``.

    Example:
        >>> import numpy as np
        >>> x = np.random.default_rng(0).standard_normal(16000) * 0.1
        >>> round(stoi(x, x, 16000), 3)
        1.0
    """
    try:
        from pystoi import stoi as _stoi
    except ImportError:
        raise AudioError("stoi", "the pystoi package is not installed", "pip install pystoi") from None
    name = "estoi" if extended else "stoi"
    if int(sample_rate) <= 0:
        raise AudioError(name, f"sample_rate={sample_rate} is not valid", "pass the signals' rate in Hz")
    r, d, single = _pairs(name, ref, deg)
    scores = []
    for a, b in zip(r, d):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            value = _stoi(a, b, int(sample_rate), extended=extended)
        if any("Not enough STFT frames" in str(w.message) for w in caught):
            raise AudioError(name, "less than about 0.4 s of speech in the reference after silence removal",
                             "pass longer signals")
        scores.append(value)
    return _out(scores, single)


def estoi(ref: ArrayLike, deg: ArrayLike, sample_rate: int) -> float | np.ndarray:
    """Extended STOI (Jensen and Taal 2016): :func:`stoi` with ``extended=True``."""
    return stoi(ref, deg, sample_rate, extended=True)


def si_sdr(ref: ArrayLike, est: ArrayLike, zero_mean: bool = True, eps: float = 1e-10) -> Any:
    """Scale-invariant SDR in dB of ``est`` against ``ref``: ``(N,)`` -> float, ``(B, N)`` -> ``(B,)``.

    Torch tensors in give a tensor out (differentiable: ``-si_sdr(clean, enhanced).mean()`` is a loss),
    anything else float / numpy. ``eps`` keeps a perfect estimate finite (about +100 dB or more).
    """
    if hasattr(ref, "detach") or hasattr(est, "detach"):
        import torch

        r, e = torch.as_tensor(ref), torch.as_tensor(est)
        if r.shape != e.shape or r.dim() not in (1, 2) or r.shape[-1] == 0:
            raise AudioError("si_sdr", f"reference {tuple(r.shape)} and estimate {tuple(e.shape)} differ in shape",
                             "pass (N,) or (B, N) signals of equal length")
        if zero_mean:
            r, e = r - r.mean(-1, keepdim=True), e - e.mean(-1, keepdim=True)
        energy = (r * r).sum(-1, keepdim=True)
        if bool((energy == 0).any()):
            raise AudioError("si_sdr", "the reference is silent", "the clean reference must hold a signal")
        target = (e * r).sum(-1, keepdim=True) / energy * r
        noise = e - target
        return 10 * torch.log10(((target * target).sum(-1) + eps) / ((noise * noise).sum(-1) + eps))
    r, e, single = _pairs("si_sdr", ref, est)
    if zero_mean:
        r, e = r - r.mean(-1, keepdims=True), e - e.mean(-1, keepdims=True)
    energy = (r * r).sum(-1, keepdims=True)
    if (energy == 0).any():
        raise AudioError("si_sdr", "the reference is constant", "the clean reference must hold a signal")
    target = (e * r).sum(-1, keepdims=True) / energy * r
    noise = e - target
    values = 10 * np.log10(((target * target).sum(-1) + eps) / ((noise * noise).sum(-1) + eps))
    return _out(list(values), single)


def si_sdr_improvement(ref: ArrayLike, est: ArrayLike, mixture: ArrayLike) -> Any:
    """SI-SDRi in dB: :func:`si_sdr` of the estimate minus that of the unprocessed mixture."""
    return si_sdr(ref, est) - si_sdr(ref, mixture)

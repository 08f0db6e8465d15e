"""The noise bank: coloured noise, mains hum, babble of synthetic talkers, real noise recordings.

Every generator returns float32 ``(n,)`` at unit RMS, drawn from the ``numpy.random.Generator``
it is given (so a per-recording seed fixes the noise). :func:`mix_at_snr` scales a noise to a
target signal-to-noise ratio measured against the *speech-active* samples of the speech.

Kinds: ``white``, ``pink``, ``brown`` (power spectral density ``~ 1/f**alpha``, alpha = 0, 1, 2),
``hum`` (50 or 60 Hz mains with harmonics), ``babble`` (3-7 espeak-ng talkers summed) and ``real``
(files listed with ``kind != 'speech'`` in ``<noise_dir>/manifest.jsonl``; absent files skipped).

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> n = colored_noise(16000, "pink", rng)
    >>> n.shape, round(float(np.sqrt(np.mean(n ** 2))), 3)
    ((16000,), 1.0)
    >>> speech = np.sin(np.arange(16000) / 5).astype(np.float32)
    >>> mix, scaled = mix_at_snr(speech, n, 10.0)
    >>> round(float(10 * np.log10(np.mean(speech ** 2) / np.mean(scaled ** 2))), 2)
    10.0
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from speechdl import audio
from speechdl.paths import real_dev

COLORS = {"white": 0.0, "pink": 1.0, "brown": 2.0}
GENERATED_KINDS = ("white", "pink", "brown", "hum", "babble")
DEFAULT_NOISE_DIR = real_dev()   # $SPEECHDL_DATA/real_dev
NOISE_SPLITS = ("train", "eval")
EVAL_MODULUS = 3        # a real noise file is "eval" when sha1(file name)[0] % 3 == 0 (about one in three)


def noise_split_of(path: str | os.PathLike) -> str:
    """``"eval"`` or ``"train"``: a fixed split of real noise files by the SHA-1 of the file *name*.

    The name (not the folder, not the bytes) decides, so the split is the same wherever the bank
    lives. About a third of the files are ``eval``; noises of held-out sets never occur in training.

    Example:
        >>> noise_split_of("/any/where/rain_01.ogg") == noise_split_of("rain_01.ogg")
        True
    """
    digest = hashlib.sha1(Path(path).name.encode("utf-8")).digest()
    return "eval" if digest[0] % EVAL_MODULUS == 0 else "train"


def _unit_rms(x: np.ndarray) -> np.ndarray:
    rms = float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if len(x) else 0.0
    return (x / rms).astype(np.float32) if rms > 0 else x.astype(np.float32)


def colored_noise(n: int, color: str, rng: np.random.Generator) -> np.ndarray:
    """Gaussian noise ``(n,)`` with power spectral density ``~ 1/f**alpha`` (white 0, pink 1, brown 2).

    Shaped in the frequency domain (amplitude ``f**(-alpha/2)``; DC set to 0), unit RMS.
    """
    if color not in COLORS:
        raise ValueError(f"unknown noise colour {color!r}; use one of {sorted(COLORS)}")
    white = rng.standard_normal(n)
    alpha = COLORS[color]
    if alpha == 0.0 or n < 4:
        return _unit_rms(white)
    spec = np.fft.rfft(white)
    f = np.arange(len(spec), dtype=np.float64)
    f[0] = 1.0
    spec *= f ** (-alpha / 2.0)
    spec[0] = 0.0
    return _unit_rms(np.fft.irfft(spec, n))


def hum(n: int, sample_rate: int, rng: np.random.Generator, mains: float | None = None) -> np.ndarray:
    """Mains hum ``(n,)``: a 50 or 60 Hz fundamental (+-0.3 Hz) and 2-12 harmonics, unit RMS.

    Harmonic amplitudes decay roughly as ``1/k`` with random jitter, phases are random, and odd
    harmonics are favoured (as from transformer saturation).
    """
    f0 = (mains or float(rng.choice([50.0, 60.0]))) + float(rng.uniform(-0.3, 0.3))
    t = np.arange(n) / sample_rate
    x = np.zeros(n)
    for k in range(1, int(rng.integers(2, 13)) + 1):
        if k * f0 >= sample_rate / 2:
            break
        amp = rng.uniform(0.3, 1.0) / k * (1.5 if k % 2 else 0.7)
        x += amp * np.sin(2 * np.pi * k * f0 * t + rng.uniform(0, 2 * np.pi))
    return _unit_rms(x)


def babble(n: int, sample_rate: int, rng: np.random.Generator, voices: list, sentences: list[str],
           talkers: tuple[int, int] = (3, 7)) -> np.ndarray:
    """Babble ``(n,)``: a random number of synthetic talkers (espeak-ng) speaking at once, unit RMS.

    Each talker says 2 random sentences, looped with a random circular shift to cover ``n``
    samples, at a random level within 6 dB of the others.
    """
    from speechdl.data.synth.voices import synthesize  # local: keeps noise importable alone

    x = np.zeros(n, dtype=np.float64)
    for _ in range(int(rng.integers(talkers[0], talkers[1] + 1))):
        voice = voices[int(rng.integers(len(voices)))]
        text = " ".join(sentences[int(i)] for i in rng.integers(len(sentences), size=2))
        wav, sr = synthesize(text, voice)
        wav = _unit_rms(audio.resample(wav, sr, sample_rate))
        if not len(wav):
            continue
        reps = int(np.ceil(n / len(wav)))
        loop = np.roll(np.tile(wav, reps)[:n] if reps > 1 else wav[:n], int(rng.integers(n)))
        x[: len(loop)] += loop * 10 ** (rng.uniform(-6, 0) / 20)
    return _unit_rms(x)


@dataclass(frozen=True)
class NoiseFile:
    """One real noise recording of the bank; ``family`` is its noise family (``weather``, ``animals``, ...) or None."""

    path: str
    source: str
    duration: float
    family: str | None = None


def _family_of(row: dict) -> str | None:
    """A manifest row's ``family`` field, else ``noise_bank.family_of_source(source)`` where that module exists."""
    family = row.get("family")
    if family:
        return str(family)
    try:
        from speechdl.data.noise_bank import family_of_source
    except ImportError:
        return None
    try:
        found = family_of_source(str(row.get("source", "")))
    except (KeyError, ValueError):
        return None
    return str(found) if found else None


def load_noise_bank(noise_dir: str | os.PathLike | None, split: str | None = None,
                    families: Sequence[str] | None = None) -> list[NoiseFile]:
    """Real noise files from ``<noise_dir>/manifest.jsonl`` (rows with ``kind != 'speech'``).

    Rows whose file is absent are skipped; a missing folder or manifest gives an empty bank; a manifest that
    is not UTF-8 text raises :class:`~speechdl.errors.DataError`.
    ``split`` (``"train"`` / ``"eval"``, see :func:`noise_split_of`) keeps only that part of the bank;
    ``families`` keeps only files of those noise families (a row's ``family`` field, else the family of its
    ``source``; files of no known family are then dropped).
    The list is sorted by path so the bank is the same whatever the manifest order.
    """
    if split is not None and split not in NOISE_SPLITS:
        raise ValueError(f"unknown noise split {split!r}; use one of {NOISE_SPLITS}")
    if noise_dir is None:
        return []
    root = Path(noise_dir)
    manifest = root / "manifest.jsonl"
    if not manifest.is_file():
        return []
    from speechdl.errors import DataError
    from speechdl.validate import text_lines

    bank = []   # a binary or non-UTF-8 manifest is refused (FILE:LINE), not read as an empty bank
    for _, line in text_lines(manifest, "noise manifest", DataError, "save it as UTF-8 JSON lines"):
        line = line.strip()
        if not line:
            continue
        try:
            row = json.loads(line)
            if not isinstance(row, dict) or row.get("kind", "speech") == "speech" or not row.get("audio"):
                continue
            path, duration = root / str(row["audio"]), float(row.get("duration") or 0)
        except (ValueError, TypeError):   # a malformed row is skipped, like a missing file
            continue
        if split is not None and noise_split_of(path) != split:
            continue
        family = _family_of(row)
        if families is not None and family not in families:
            continue
        if path.is_file() and path.stat().st_size > 0:
            bank.append(NoiseFile(str(path), str(row.get("source", "")), duration, family))
    return sorted(bank, key=lambda nf: nf.path)


@contextmanager
def _quiet_stderr():
    """Silence C-level stderr (libmpg123 prints ID3 warnings for harmless tags)."""
    try:
        saved = os.dup(2)
    except OSError:  # no fd 2
        yield
        return
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


@lru_cache(maxsize=64)
def _load_noise(path: str, sample_rate: int) -> np.ndarray:
    with _quiet_stderr():
        wav, _ = audio.load(path, sample_rate=sample_rate)
    return wav


def real_noise(n: int, sample_rate: int, rng: np.random.Generator, bank: list[NoiseFile]) -> tuple[np.ndarray, str]:
    """A random stretch of a random real noise file, ``(n,)`` unit RMS, and the file's path.

    The source (package) is drawn first, then a file of it, so every kind of noise gets a fair share.

    Long files are cropped at a random offset; short ones (a key click) are repeated at random
    positions with random gaps, like events.
    """
    sources = sorted({f.source for f in bank})       # a source first, so 40 key clicks do not crowd out rain
    src = sources[int(rng.integers(len(sources)))]
    files = [f for f in bank if f.source == src]
    nf = files[int(rng.integers(len(files)))]
    wav = _load_noise(nf.path, sample_rate)
    if not len(wav) or not np.any(wav):
        return colored_noise(n, "pink", rng), nf.path
    if len(wav) >= n:
        start = int(rng.integers(len(wav) - n + 1))
        return _unit_rms(wav[start:start + n]), nf.path
    x = np.zeros(n, dtype=np.float32)
    pos = int(rng.integers(0, max(1, len(wav))))
    while pos < n:
        seg = wav[: n - pos]
        x[pos:pos + len(seg)] += seg
        pos += len(wav) + int(rng.integers(0, max(1, len(wav)) * 2 + sample_rate // 10))
    return _unit_rms(x), nf.path


def mix_at_snr(speech: np.ndarray, noise: np.ndarray, snr_db: float,
               active: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Add ``noise`` to ``speech`` (both ``(n,)``) at ``snr_db`` dB; returns ``(mix, scaled_noise)``.

    The SNR is ``10*log10(P_speech / P_noise)`` where ``P_speech`` is the mean power of the speech
    over the ``active`` samples (boolean ``(n,)``; all samples if ``None``) and ``P_noise`` the mean
    power of the noise over the whole signal, so pauses do not dilute the speech level.
    """
    speech = np.asarray(speech, dtype=np.float32)
    noise = np.asarray(noise, dtype=np.float32)[: len(speech)]
    ref = speech if active is None or not np.any(active) else speech[np.asarray(active, bool)]
    p_speech = float(np.mean(np.square(ref, dtype=np.float64))) if len(ref) else 0.0
    p_noise = float(np.mean(np.square(noise, dtype=np.float64))) if len(noise) else 0.0
    if p_noise <= 0 or p_speech <= 0:
        return speech.copy(), np.zeros_like(speech)
    scaled = (noise * np.sqrt(p_speech / (p_noise * 10 ** (snr_db / 10)))).astype(np.float32)
    return speech + scaled, scaled

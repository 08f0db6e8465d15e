"""Lay utterances out in a recording, find their exact speech intervals, and apply the conditions.

* :func:`speech_intervals` finds where a *clean* TTS signal has energy (10 ms frames above a
  threshold relative to the utterance's loudest frame, short gaps bridged, blips dropped). It runs
  on each utterance before any noise or reverb, so the intervals are exact for the clean speech.
* :func:`apply_conditions` turns the clean speech track into the final signal: optional room
  reverb, optional noise at a target SNR, optional telephone channel, then a random output level.
  It returns the signal and a JSON-able record of what was applied.

Example:
    >>> import numpy as np
    >>> sr = 16000
    >>> x = np.zeros(sr, np.float32); x[4000:8000] = 0.1 * np.sin(np.arange(4000) / 3)
    >>> [(round(a, 2), round(b, 2)) for a, b in speech_intervals(x, sr)]
    [(0.25, 0.5)]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from speechdl.data.synth import noise as noise_mod
from speechdl.data.synth import room

FRAME = 0.010          # s, energy frame
REL_DB = -40.0         # frame energy threshold relative to the loudest frame (dB)
ABS_DB = -70.0         # absolute floor (dBFS), for near-silent input
MIN_GAP = 0.080        # s, pauses shorter than this stay inside one interval
MIN_LEN = 0.030        # s, shorter bursts are dropped


def speech_intervals(x: np.ndarray, sample_rate: int, rel_db: float = REL_DB, abs_db: float = ABS_DB,
                     min_gap: float = MIN_GAP, min_len: float = MIN_LEN) -> list[tuple[float, float]]:
    """Speech intervals ``[(start, end), ...]`` in seconds of a clean signal ``x`` ``(n,)``.

    A 10 ms frame is speech when its mean power is within ``rel_db`` of the loudest frame and above
    ``abs_db`` dBFS; runs of speech frames separated by less than ``min_gap`` s merge, runs shorter
    than ``min_len`` s are dropped. Edges are refined to the first/last sample above the threshold.
    """
    x = np.asarray(x, dtype=np.float32)
    hop = max(1, int(round(FRAME * sample_rate)))
    nfr = len(x) // hop + (1 if len(x) % hop else 0)
    if nfr == 0:
        return []
    padded = np.zeros(nfr * hop, dtype=np.float64)
    padded[: len(x)] = x
    power = np.mean(padded.reshape(nfr, hop) ** 2, axis=1)
    peak = float(power.max())
    if peak <= 0:
        return []
    thr = max(peak * 10 ** (rel_db / 10), 10 ** (abs_db / 10))
    on = power >= thr
    idx = np.flatnonzero(np.diff(np.concatenate([[0], on.astype(np.int8), [0]])))
    runs = [[int(a), int(b)] for a, b in zip(idx[::2], idx[1::2])]          # frame [start, end)
    merged: list[list[int]] = []
    for a, b in runs:
        if merged and (a - merged[-1][1]) * hop < min_gap * sample_rate:
            merged[-1][1] = b
        else:
            merged.append([a, b])
    amp = np.sqrt(thr)
    out = []
    for a, b in merged:
        if (b - a) * hop < min_len * sample_rate:
            continue
        s0, s1 = a * hop, min(b * hop, len(x))
        loud = np.flatnonzero(np.abs(x[s0:s1]) >= amp)
        if len(loud):
            s0, s1 = s0 + int(loud[0]), s0 + int(loud[-1]) + 1
        out.append((s0 / sample_rate, s1 / sample_rate))
    return out


def interval_mask(intervals: list[tuple[float, float]], n: int, sample_rate: int) -> np.ndarray:
    """Boolean ``(n,)`` mask that is True inside the ``intervals`` (seconds)."""
    mask = np.zeros(n, dtype=bool)
    for a, b in intervals:
        mask[int(round(a * sample_rate)): int(round(b * sample_rate))] = True
    return mask


@dataclass(frozen=True)
class Conditions:
    """Probabilities and ranges of the acoustic conditions (per recording).

    Attributes:
        snr_range: ``(low, high)`` dB, uniform.
        p_clean: probability of no added noise.
        p_reverb: probability of room reverb; ``rt60_range`` s, ``drr_range`` dB.
        p_telephone: probability of the telephone channel; ``p_mu_law`` of mu-law within it; ``p_gsm`` of
            the GSM 06.10 codec within it (instead of mu-law; 0 draws nothing, so older seeds replay).
        level_range: output peak level in dBFS, uniform.
    """

    snr_range: tuple[float, float] = (0.0, 30.0)
    p_clean: float = 0.15
    p_reverb: float = 0.3
    rt60_range: tuple[float, float] = (0.15, 1.2)
    drr_range: tuple[float, float] = (-3.0, 10.0)
    p_telephone: float = 0.15
    p_mu_law: float = 0.7
    p_gsm: float = 0.0
    level_range: tuple[float, float] = (-20.0, -1.0)


def parse_augment(augment: dict | None, where: str = "data.augment") -> tuple[float, Conditions]:
    """A recipe's augmentation mapping ``{"prob": p, **Conditions fields}`` -> ``(p, Conditions)``.

    ``prob`` defaults to 1 when other keys are given, else 0 (no augmentation); lists become tuples.
    Unknown keys raise a one-line ConfigError naming ``where``.

    Example:
        >>> parse_augment({"prob": 0.5, "snr_range": [5, 20]})[1].snr_range
        (5, 20)
    """
    from dataclasses import fields

    from speechdl.errors import ConfigError

    kwargs = dict(augment or {})
    prob = float(kwargs.pop("prob", 1.0 if kwargs else 0.0))
    valid = {f.name for f in fields(Conditions)}
    unknown = sorted(set(kwargs) - valid)
    if unknown:
        raise ConfigError(where, f"unknown key(s) {', '.join(unknown)}", "valid: prob, " + ", ".join(sorted(valid)))
    return prob, Conditions(**{k: tuple(v) if isinstance(v, list) else v for k, v in kwargs.items()})


NOISE_WEIGHTS = {"white": 0.10, "pink": 0.15, "brown": 0.10, "hum": 0.13, "babble": 0.22, "real": 0.30}


def make_noise(kind: str, n: int, sample_rate: int, rng: np.random.Generator, *, bank=None,
               babble_voices=None, babble_sentences=None) -> tuple[np.ndarray, dict]:
    """One noise of ``kind`` (``(n,)``, unit RMS) and a record of where it came from."""
    if kind in noise_mod.COLORS:
        return noise_mod.colored_noise(n, kind, rng), {}
    if kind == "hum":
        return noise_mod.hum(n, sample_rate, rng), {}
    if kind == "babble":
        return noise_mod.babble(n, sample_rate, rng, babble_voices, babble_sentences), {}
    if kind == "real":
        x, path = noise_mod.real_noise(n, sample_rate, rng, bank)
        return x, {"file": path}
    raise ValueError(f"unknown noise kind {kind!r}")


def apply_conditions(speech: np.ndarray, active: np.ndarray, sample_rate: int, rng: np.random.Generator,
                     cond: Conditions, *, bank=None, babble_voices=None, babble_sentences=None,
                     force_noise: bool = False) -> tuple[np.ndarray, dict]:
    """Reverb -> noise at SNR -> telephone -> output level, each drawn from ``rng``.

    Args:
        speech: clean speech track ``(n,)`` float32.
        active: boolean ``(n,)``, True where the clean speech is active (the SNR reference).
        sample_rate: Hz.
        rng: the recording's generator.
        cond: probabilities and ranges.
        bank: real noise files (may be empty); babble_*: talkers and sentences for babble.
        force_noise: always add noise (for recordings without speech).

    Returns:
        ``(signal, applied)``: float32 ``(n,)`` and e.g. ``{"reverb": {"rt60": 0.41, "drr_db": 3.2},
        "noise": {"kind": "pink", "snr_db": 12.5}, "telephone": {"mu_law": true}, "gain_db": -7.1}``
        (absent keys: not applied).
    """
    n = len(speech)
    applied: dict = {}
    # draw every random decision up front, in a fixed order, so the stream never depends on data
    do_reverb = rng.random() < cond.p_reverb
    rt60 = float(rng.uniform(*cond.rt60_range))
    drr = float(rng.uniform(*cond.drr_range))
    do_noise = force_noise or rng.random() >= cond.p_clean
    kinds = [k for k in NOISE_WEIGHTS if k != "real" or bank]
    if not babble_voices or not babble_sentences:
        kinds = [k for k in kinds if k != "babble"]
    w = np.array([NOISE_WEIGHTS[k] for k in kinds])
    kind = kinds[int(rng.choice(len(kinds), p=w / w.sum()))]
    snr = float(rng.uniform(*cond.snr_range))
    do_phone = rng.random() < cond.p_telephone
    mu_law = bool(rng.random() < cond.p_mu_law)
    level = float(rng.uniform(*cond.level_range))
    use_gsm = cond.p_gsm > 0 and bool(rng.random() < cond.p_gsm)

    x = np.asarray(speech, dtype=np.float32)
    if do_reverb:
        rir = room.synth_rir(sample_rate, rt60, rng, drr_db=drr)
        x = room.reverberate(x, rir)
        applied["reverb"] = {"rt60": round(rt60, 3), "drr_db": round(drr, 2)}
    if do_noise:
        nz, src = make_noise(kind, n, sample_rate, rng, bank=bank, babble_voices=babble_voices,
                             babble_sentences=babble_sentences)
        if np.any(active) and np.any(x):
            x, _ = noise_mod.mix_at_snr(x, nz, snr, active)
            applied["noise"] = {"kind": kind, "snr_db": round(snr, 2), **src}
        else:
            x = x + nz
            applied["noise"] = {"kind": kind, "snr_db": None, **src}
    if do_phone:
        x = room.telephone(x, sample_rate, mu_law=mu_law, codec="gsm" if use_gsm else None)
        applied["telephone"] = {"band_hz": list(room.PHONE_BAND), "rate": room.PHONE_RATE,
                                "mu_law": mu_law and not use_gsm, **({"codec": "gsm"} if use_gsm else {})}
    peak = float(np.max(np.abs(x))) if n else 0.0
    if peak > 0:
        x = x * (10 ** (level / 20) / peak)
        applied["gain_db"] = round(level, 2)
    return x.astype(np.float32), applied

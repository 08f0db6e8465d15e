"""Toy speakers that train in seconds: source-filter "voices" generated from a seed.

A speaker is a pitch (f0, 85-255 Hz), a vocal tract (three formant frequencies scaled by one
vocal-tract-length factor, bandwidths), a spectral tilt and a breathiness. An utterance of that speaker
is a sequence of 0.12-0.3 s "syllables": a jittered pulse train at the speaker's f0 (with a random
intonation glide) plus breath noise, through resonators at the speaker's formants moved by a random
"vowel" (±12 %), with a syllable envelope, a random channel tilt and background noise at 15-30 dB SNR.
So the content and channel change from utterance to utterance and the speaker stays: a network has to
learn what a speaker embedding must learn.

``speaker_toy`` (recipe dataset) renders such utterances in memory, with random crops in training;
:func:`write_toy_speakers` writes them as wav files with a VoxCeleb-style trial list for the CLI.

Example:
    >>> v = voice(3)
    >>> render(v, seconds=1.0, seed=0).shape
    (16000,)
    >>> train, val = speaker_toy(speakers=4, utts_per_speaker=3, frontend={"kind": "logmel", "n_mels": 40})
    >>> len(train), train.num_speakers, tuple(val[0]["x"].shape[1:]), int(val[0]["y"])
    (12, 4, (40,), 0)
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy import signal

from speechdl.tasks.speaker.data import SpeakerUtterances
from speechdl.train.datasets import register_dataset

SR = 16000
BASE_FORMANTS = (550.0, 1600.0, 2700.0)


@dataclass(frozen=True)
class Voice:
    """A toy speaker: f0 (Hz), formant frequencies (Hz) and bandwidths, tilt (dB/octave), breathiness (0-1)."""

    f0: float
    formants: tuple[float, float, float]
    bandwidths: tuple[float, float, float]
    tilt: float
    breath: float


def voice(speaker: int, seed: int = 0) -> Voice:
    """The voice of toy speaker number ``speaker`` (the same for the same ``(speaker, seed)``)."""
    rng = np.random.default_rng([seed, speaker, 7])
    vtl = rng.uniform(0.8, 1.25)                         # vocal-tract length factor: all formants move together
    formants = tuple(float(f * vtl * rng.uniform(0.9, 1.1)) for f in BASE_FORMANTS)
    return Voice(f0=float(np.exp(rng.uniform(np.log(85), np.log(255)))), formants=formants,  # type: ignore[arg-type]
                 bandwidths=tuple(float(b) for b in rng.uniform([60, 80, 110], [120, 160, 220])),  # type: ignore[arg-type]
                 tilt=float(rng.uniform(-3.0, 3.0)), breath=float(rng.uniform(0.02, 0.3)))


def _resonator(freq: float, bw: float, sr: int) -> tuple[np.ndarray, np.ndarray]:
    r = np.exp(-np.pi * bw / sr)
    a = np.array([1.0, -2 * r * np.cos(2 * np.pi * freq / sr), r * r])
    return np.array([a.sum()]), a                        # unit gain at 0 Hz


def _tilt(x: np.ndarray, db_per_octave: float) -> np.ndarray:
    """A gentle spectral tilt: one-pole high-shelf / low-pass mix."""
    k = float(np.clip(db_per_octave / 6.0, -0.9, 0.9))
    return signal.lfilter([1.0, -k], [1.0], x) if k > 0 else signal.lfilter([1.0 + k], [1.0, k], x)


def render(v: Voice, seconds: float = 1.5, seed: int = 0, sr: int = SR) -> np.ndarray:
    """Mono float32 audio ``(round(seconds * sr),)`` of voice ``v`` saying random syllables."""
    rng = np.random.default_rng(seed)
    n = int(round(seconds * sr))
    out = np.zeros(n)
    pos = int(rng.integers(0, int(0.05 * sr)))
    while pos < n:
        m = min(int(rng.uniform(0.12, 0.3) * sr), n - pos)
        t = np.arange(m) / sr
        f0 = v.f0 * rng.uniform(0.92, 1.08) * (1 + rng.uniform(-0.1, 0.1) * t / max(t[-1], 1e-3))
        phase = np.cumsum(f0 * (1 + 0.01 * rng.standard_normal(m))) / sr
        pulses = np.diff(np.floor(phase), prepend=0.0)      # one impulse per period
        src = pulses * 30 + v.breath * rng.standard_normal(m)
        vowel = rng.uniform(0.88, 1.12, 3)
        y = src
        for f, bw, s in zip(v.formants, v.bandwidths, vowel):
            b, a = _resonator(min(f * s, 0.45 * sr), bw, sr)
            y = signal.lfilter(b, a, y)
        env = np.sin(np.pi * np.arange(m) / m) ** 0.7
        out[pos:pos + m] = _tilt(y, v.tilt) * env
        pos += m + int(rng.uniform(0.0, 0.08) * sr)
    out = _tilt(out, rng.uniform(-2.0, 2.0))                 # channel
    out /= max(np.sqrt(np.mean(out ** 2)), 1e-9)
    noise = rng.standard_normal(n) * 10 ** (-rng.uniform(15, 30) / 20)
    return (0.1 * (out + noise)).astype(np.float32)


class ToySpeakers(SpeakerUtterances):
    """:class:`~speechdl.tasks.speaker.data.SpeakerUtterances` whose audio is rendered by :func:`render`."""

    def wave(self, i: int) -> np.ndarray:
        r = self.rows[i]
        return render(voice(r["voice"], r["voice_seed"]), r["duration"], r["seed"], self.cfg.sample_rate)


def toy_rows(speakers: int, utts: int, seconds: tuple[float, float], seed: int = 0, first: int = 0,
             utt_seed: int = 0) -> list[dict[str, Any]]:
    """Rows (``id``, ``speaker``, ``duration``, ``voice``, ``voice_seed``, ``seed``) of ``utts`` utterances
    of each of the toy speakers ``first .. first + speakers - 1``."""
    rng = np.random.default_rng([seed, utt_seed, 11])
    rows = []
    for k in range(utts):
        for s in range(first, first + speakers):
            rows.append({"id": f"spk{s:03d}-{utt_seed}-{k:03d}", "speaker": f"spk{s:03d}", "voice": s,
                         "voice_seed": seed, "duration": float(np.round(rng.uniform(*seconds), 2)),
                         "seed": int(rng.integers(2**31))})
    return rows


@register_dataset("speaker_toy")
def speaker_toy(speakers: int = 8, utts_per_speaker: int = 12, n: int | None = None,
                seconds: list[float] | None = None, crop_seconds: list[float] | None = None,
                frontend: Any = None, val: bool = True, seed: int = 0
                ) -> ToySpeakers | tuple[ToySpeakers, ToySpeakers]:
    """Recipe dataset ``speaker_toy``: ``utts_per_speaker`` utterances of ``seconds`` (default 1-2 s) of each
    toy speaker (or ``n`` training utterances in all, when given); training items are random crops of
    ``crop_seconds`` (default 0.8-1.2 s). With ``val`` a ``(train, val)`` pair whose validation set is
    two fresh whole utterances of each speaker (closed set)."""
    span = tuple(seconds or (1.0, 2.0))
    per = utts_per_speaker if n is None else -(-int(n) // speakers)
    rows = toy_rows(speakers, per, span, seed)
    rows = rows if n is None else rows[: int(n)]
    train = ToySpeakers(rows, frontend, crop_seconds or [0.8, 1.2], training=True, seed=seed)
    if not val:
        return train
    return train, ToySpeakers(toy_rows(speakers, 2, span, seed, utt_seed=1), train.cfg, None,
                              speakers=train.speakers, training=False, seed=seed)


def write_toy_speakers(out: str | os.PathLike, speakers: list[int], utts: int = 3, seconds: float = 1.5,
                       seed: int = 0) -> Path:
    """Write ``utts`` utterances of each toy speaker to ``out/wav/spkNNN/K.wav``, a lhotse manifest directory
    ``out/manifest`` (one supervision per file, with its speaker) and every pair of files as a
    VoxCeleb-style trial list ``out/trials.txt`` (paths relative to ``out/wav``); returns the list's path."""
    from lhotse import Recording, RecordingSet, SupervisionSegment, SupervisionSet
    from lhotse.audio import AudioSource

    from speechdl import audio
    from speechdl.data.manifests import save_manifests

    out = Path(out)
    files, recs, sups = [], [], []
    for s in speakers:
        for k in range(utts):
            rel, rid = f"spk{s:03d}/{k}.wav", f"spk{s:03d}-{k}"
            x = render(voice(s, seed), seconds, seed=1000 * s + k + 17)
            audio.save(out / "wav" / rel, x, SR)
            files.append((s, rel))
            src = AudioSource("file", [0], str((out / "wav" / rel).resolve()))
            recs.append(Recording(rid, [src], SR, len(x), len(x) / SR))
            sups.append(SupervisionSegment(rid, rid, 0.0, len(x) / SR, channel=0, speaker=f"spk{s:03d}"))
    save_manifests(out / "manifest", RecordingSet.from_recordings(recs), SupervisionSet.from_segments(sups))
    lines = [f"{int(a[0] == b[0])} {a[1]} {b[1]}" for i, a in enumerate(files) for b in files[i + 1:]]
    (out / "trials.txt").write_text("\n".join(lines) + "\n")
    return out / "trials.txt"

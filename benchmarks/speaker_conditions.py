"""Test-side conditions of the speaker benchmark: the enrolment stays as recorded, the test utterance is changed.

Each condition is ``fn(wave (n,) float32 at 16 kHz, rng) -> wave``, seeded per file so every system hears the
same audio:

* ``short``: the first 2 s of the test utterance (duration);
* ``noisy``: real ambience at 5 dB SNR: the ``0ad-data`` loops of real_dev (rivers, rain, wind, birds,
  market: a noise family no speaker recipe trains on; absent real_dev: the condition is skipped);
* ``phone``: telephone channel: 8 kHz band, 8-bit mu-law;
* ``far``: far field: a synthetic room, RT60 0.6-1.0 s, direct-to-reverberant ratio -3 to 0 dB;
* ``whisper_sim``: the whisper simulation of :func:`speechdl.data.styles.whisperize`. **Not held out**: the
  distilled recipe trains with the same transform; it shows the style gap, not generalisation.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

SR = 16000
Condition = Callable[[np.ndarray, np.random.Generator], np.ndarray]
NAMES = ("short", "noisy", "phone", "far", "whisper_sim")


def _short(wave: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return wave[: 2 * SR]


def _phone(wave: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    from speechdl.data.synth.channel import compand, low_rate

    return compand(low_rate(wave, SR, 8000), "mu", 8).astype(np.float32)


def _far(wave: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    from speechdl.data.synth import room

    rir = room.synth_rir(SR, float(rng.uniform(0.6, 1.0)), rng, drr_db=float(rng.uniform(-3.0, 0.0)))
    out = room.reverberate(wave, rir)
    return (out * (np.abs(wave).max() / max(np.abs(out).max(), 1e-9))).astype(np.float32)


def _whisper(wave: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    from speechdl.data.styles import whisperize

    return whisperize(wave, SR, rng)


def ambience_files(real_dev: str | os.PathLike | None = None) -> list[Path]:
    """The ``0ad-data`` ambience files of real_dev (``$SPEECHDL_DATA/real_dev``) that are present."""
    root = Path(real_dev or Path(os.environ.get("SPEECHDL_DATA", "data")) / "real_dev")
    manifest = root / "manifest.jsonl"
    if not manifest.is_file():
        return []
    rows = [json.loads(line) for line in manifest.read_text().splitlines() if line.strip()]
    return [root / r["audio"] for r in rows if r.get("source") == "0ad-data" and (root / r["audio"]).is_file()]


def _noisy(files: list[Path]) -> Condition:
    from speechdl import audio
    from speechdl.data.synth.noise import mix_at_snr

    cache: dict[int, np.ndarray] = {}

    def apply(wave: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        k = int(rng.integers(len(files)))
        if k not in cache:
            cache[k] = audio.load(files[k], sample_rate=SR)[0]
        noise = cache[k]
        if len(noise) < len(wave):
            noise = np.tile(noise, len(wave) // max(len(noise), 1) + 1)
        start = int(rng.integers(0, len(noise) - len(wave) + 1))
        return mix_at_snr(wave, noise[start:start + len(wave)], 5.0)[0]

    return apply


def conditions(names: list[str], notes: list[str]) -> dict[str, Condition]:
    """The named conditions that can run here (a skipped one gets a line in ``notes``)."""
    table: dict[str, Condition] = {"short": _short, "phone": _phone, "far": _far, "whisper_sim": _whisper}
    out = {}
    for name in names:
        if name == "noisy":
            files = ambience_files()
            if not files:
                notes.append("condition noisy skipped: no 0ad-data ambience in $SPEECHDL_DATA/real_dev (fetch.sh)")
                continue
            out[name] = _noisy(files)
        elif name in table:
            out[name] = table[name]
        else:
            from speechdl.errors import ConfigError

            raise ConfigError("--conditions", f"unknown condition {name!r}", f"use some of: {', '.join(NAMES)}")
    return out


def apply_condition(fn: Condition, waves: list[np.ndarray], seed: int) -> list[np.ndarray]:
    """``fn`` on every wave, file ``i`` with generator ``(seed, i)``."""
    return [np.asarray(fn(w, np.random.default_rng([seed, i])), dtype=np.float32) for i, w in enumerate(waves)]

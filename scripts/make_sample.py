"""Regenerate ``speechdl/assets/sample.flac``: synthetic speech (espeak-ng) with pauses and light noise.

Run: ``.venv/bin/python scripts/make_sample.py`` (needs espeak-ng). The output is committed so that
the demo works offline; it holds no recorded human speech.
"""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import numpy as np
import soundfile as sf

from speechdl import audio

SR = 16000
LINES = [("en-us", "Deep learning in speech technology starts with the front end."),
         ("en-gb+f3", "Thirty nine features per frame feed the voice activity detector."),
         ("en-us+m3", "Silence, then speech again.")]


def espeak(voice: str, text: str) -> np.ndarray:
    wav = subprocess.run(["espeak-ng", "-v", voice, "-s", "155", "--stdout", text],
                         check=True, capture_output=True).stdout
    x, sr = sf.read(io.BytesIO(wav), dtype="float32")
    return audio.resample(x, sr, SR)


def main() -> None:
    rng = np.random.default_rng(2026)
    parts = [np.zeros(int(0.8 * SR), np.float32)]
    for voice, text in LINES:
        parts += [0.7 * espeak(voice, text), np.zeros(int(rng.uniform(0.6, 1.2) * SR), np.float32)]
    x = np.concatenate(parts)
    x += (0.003 * rng.standard_normal(len(x))).astype(np.float32)
    out = Path(__file__).resolve().parents[1] / "speechdl" / "assets" / "sample.flac"
    audio.save(out, x, SR)
    print(f"wrote {out} ({len(x) / SR:.2f} s)")


if __name__ == "__main__":
    main()

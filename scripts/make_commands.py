"""Regenerate ``speechdl/assets/commands.flac``: four spoken commands (yes, stop, seven, go) by a synthetic voice
that no keyword-spotting training clip has (the held-out espeak-ng variant ``benjamin``, Scottish English).

Run: ``.venv/bin/python scripts/make_commands.py`` (needs espeak-ng). The output is committed so that the demo
and the web-page test work offline; it holds no recorded human speech.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from speechdl import audio
from speechdl.data.synth.voices import synthesize, voice_pool
from speechdl.tasks.kws.synth_words import trim_word

SR = 16000
WORDS = ("Yes.", "Stop.", "Seven.", "Go.")
OUT = Path(__file__).resolve().parents[1] / "speechdl" / "assets" / "commands.flac"


def main() -> None:
    pool = voice_pool(["en"], 3, per_language=12, split="eval")["en"]
    voice = next(v for v in pool if v.variant in ("f3", "benjamin"))
    parts = [np.zeros(SR // 2, np.float32)]
    for word in WORDS:
        x, sr = synthesize(word, voice)
        x = trim_word(audio.resample(x, sr, SR), SR)
        parts += [0.5 * x / np.abs(x).max(), np.zeros(3 * SR // 4, np.float32)]
    audio.save(OUT, np.concatenate(parts), SR)
    print(f"{OUT} ({voice.id})")


if __name__ == "__main__":
    main()

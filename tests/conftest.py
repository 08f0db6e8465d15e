"""Shared fixtures: small generated audio, the optional real_dev data."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

REAL_DEV = Path(os.environ.get("REAL_DEV_DIR", Path(__file__).resolve().parents[1] / "../shared/data/real_dev"))
needs_real_dev = pytest.mark.skipif(not (REAL_DEV / "manifest.jsonl").exists(),
                                    reason="real_dev data not present (see shared/data/real_dev/README.md)")


def speechlike(seconds: float = 2.0, sr: int = 16000, seed: int = 0) -> np.ndarray:
    """A deterministic voiced-like signal: harmonics of a gliding f0, amplitude-modulated, plus noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    f0 = 120 + 30 * np.sin(2 * np.pi * 0.5 * t)
    phase = 2 * np.pi * np.cumsum(f0) / sr
    x = sum(np.sin(k * phase) / k for k in range(1, 20))
    env = 0.5 * (1 + np.sin(2 * np.pi * 3 * t)) ** 2
    return (0.1 * env * x + 0.003 * rng.standard_normal(t.size)).astype(np.float32)


@pytest.fixture
def wav_file(tmp_path):
    """Write a 2 s, 16 kHz speech-like wav and return its path."""
    from speechdl import audio

    path = tmp_path / "speech.wav"
    audio.save(path, speechlike(), 16000)
    return path


ASR_TEXTS = ["abc", "cab", "bad cab", "a dab", "cd", "dab ba"]


@pytest.fixture(scope="session")
def asr_toy(tmp_path_factory):
    """recipes/asr/toy_ctc.yaml trained (about 10 s, once per session) and exported, plus a fresh tone
    corpus of :data:`ASR_TEXTS`: ``{"dir", "bundle", "corpus" (manifest dir), "audio" (its wav files)}``."""
    from speechdl.cli import main
    from speechdl.tasks.asr.toy import write_tone_corpus

    out = tmp_path_factory.mktemp("asr")
    root = Path(__file__).resolve().parents[1]
    assert main(["asr", "train", str(root / "recipes/asr/toy_ctc.yaml"), "--out", str(out / "run"),
                 "trainer.progress_bar=false", "--format", "json"]) == 0
    assert main(["asr", "export", str(out / "run"), "--bundle", str(out / "bundle")]) == 0
    corpus = write_tone_corpus(out / "test", ASR_TEXTS, seed=7)
    return {"dir": out, "bundle": out / "bundle", "corpus": corpus, "audio": sorted((out / "test/audio").glob("*.wav"))}

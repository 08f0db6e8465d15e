"""Tiny generated corpora for the VAD data tests (no real_dev, no espeak-ng needed).

* :func:`clip_manifest`: clean "speech" clips (speech-like bursts with silence around them and a
  gap inside), lhotse manifests with speaker and ``custom["source"]``, as ``data mix`` reads them.
* :func:`vad_manifest`: labelled recordings (bursts at known intervals in low noise), as
  ``data synth`` / ``data mix`` write them (``custom["speech"]``).
"""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np
from lhotse import Recording, RecordingSet, SupervisionSegment, SupervisionSet
from lhotse.audio import AudioSource

from speechdl import audio
from speechdl.data.manifests import save_manifests
from tests.conftest import speechlike

SR = 16000


def _rec(rid: str, path: Path, n: int, sr: int = SR) -> Recording:
    return Recording(rid, [AudioSource("file", [0], str(path.resolve()))], sr, n, n / sr)


def clip_manifest(root: Path, sources: dict[str, list[str]], clips_per_speaker: int = 3, sr: int = SR) -> Path:
    """Clips ``<source>/<speaker>/<k>.wav``: 0.3 s silence, burst 0.6-0.9 s, 0.25 s gap, burst 0.4 s, 0.3 s silence."""
    recs, sups = [], []
    for src, speakers in sources.items():
        for spk in speakers:
            for k in range(clips_per_speaker):
                seed = zlib.crc32(f"{src}/{spk}/{k}".encode()) % 10_000
                a = speechlike(0.6 + 0.1 * k, sr, seed)
                b = speechlike(0.4, sr, seed + 1)
                x = np.concatenate([np.zeros(int(0.3 * sr)), a, np.zeros(int(0.25 * sr)), b,
                                    np.zeros(int(0.3 * sr))]).astype(np.float32)
                rid = f"{src}__{spk}__{k}"
                path = root / "audio" / src / spk / f"{k}.wav"
                audio.save(path, x, sr)
                recs.append(_rec(rid, path, len(x), sr))
                sups.append(SupervisionSegment(rid, rid, 0.0, len(x) / sr, channel=0, speaker=spk, language="en",
                                               text=f"clip {k}", custom={"source": src}))
    return save_manifests(root / "manifest", RecordingSet.from_recordings(recs), SupervisionSet.from_segments(sups))


def vad_manifest(root: Path, n_recordings: int = 2, seconds: float = 6.0, sr: int = SR) -> Path:
    """Recordings with bursts at ``[1.0, 2.5)`` and ``[3.2, 4.75)`` s (+0.5 s per recording) in -60 dB noise."""
    recs, sups = [], []
    rng = np.random.default_rng(0)
    for i in range(n_recordings):
        n = int(seconds * sr)
        x = (0.001 * rng.standard_normal(n)).astype(np.float32)
        speech = [[1.0 + 0.5 * i, 2.5 + 0.5 * i], [3.2, 4.75]]
        for a, b in speech:
            s, e = int(a * sr), int(b * sr)
            x[s:e] += speechlike(b - a + 0.01, sr, seed=i)[: e - s] * 3
        rid = f"rec{i}"
        path = root / "audio" / f"{rid}.flac"
        audio.save(path, x, sr)
        recs.append(_rec(rid, path, n, sr))
        sups.append(SupervisionSegment(f"{rid}-0", rid, 1.0, 3.75, channel=0, speaker="s", language="en",
                                       custom={"speech": speech}))
    return save_manifests(root / "vad", RecordingSet.from_recordings(recs), SupervisionSet.from_segments(sups))

"""Fixed enhancement test mixes: held-out speech x held-out noise, and held-out speech x seen noise families.

Three sets, written once (``python benchmarks/enhance.py --build``) as 16 kHz 16-bit wav pairs and a
``manifest.jsonl`` under ``${SPEECHDL_WORK}/enhance/test/<set>/``:

* ``heldout``: speech of :data:`~speechdl.tasks.enhance.splits.HELD_OUT_SPEECH` (MegaGlest unit voices,
  never trained or validated on) in noise of :data:`~speechdl.tasks.enhance.splits.HELD_OUT_NOISE`
  (music; real bank files only), ``clips`` clips per SNR;
* ``seen``: the same held-out speech in the training noise families
  (:data:`~speechdl.tasks.enhance.splits.TRAIN_NOISE_FAMILIES`, families in turn; real files from the
  bank's ``eval`` part (:func:`~speechdl.data.synth.noise.noise_split_of`) when the family has some, else
  a fresh draw of the family's generator), ``seen_clips`` clips per SNR: the contrast set;
* ``asr``: transcribed English utterances of :data:`ASR_SPEECH` (an evaluation source of the shipped ASR,
  11 kHz game speech that enhancement never trains on) in the held-out music, at :data:`ASR_SNRS`,
  ``asr_clips`` clips per SNR, with their ``text``: the downstream ASR check.

A clip is 3-8 s (a 3-6 s target, reached with whole utterances): utterances of one MegaGlest voice set,
silence-trimmed, joined with 0.15-0.5 s pauses, 0.3 s of silence at each end. The same clean / noise pairs
are mixed at every SNR of :data:`~speechdl.tasks.enhance.splits.TEST_SNRS` (a paired design: per-SNR rows
differ only in the SNR), SNR against the active speech (:func:`~speechdl.tasks.enhance.data.active_mask`),
and the mixture scaled to a peak drawn from -26..-6 dBFS (the clean reference by the same gain).
Everything follows ``seed``.

Manifest rows: ``{"id", "noisy", "clean" (paths relative to the set folder), "snr_db", "family", "noise"
(file or generator), "speech" (source files), "speaker", "seconds", "text"}`` (``null`` for MegaGlest lines:
they are not transcribed).

Example:
    >>> default_root().parts[-2:], SETS, splits.TEST_SNRS[:2]
    (('enhance', 'test'), ('heldout', 'seen', 'asr'), (-5.0, 0.0))
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from speechdl.errors import DataError
from speechdl.tasks.enhance import splits

SR = splits.SAMPLE_RATE
SETS = ("heldout", "seen", "asr")
# the downstream ASR set: transcribed English of an ASR evaluation source (never trained on by the shipped ASR
# or by enhancement: 11 kHz game speech is not wideband), in the held-out music noise
ASR_SPEECH = ("drascula",)
ASR_SNRS = (0.0, 5.0, 10.0, 20.0)
CLIP_SECONDS = (3.0, 6.0)   # the drawn target length; a clip ends at the first utterance past it
MAX_SECONDS = 8.0
LEVEL_DB = (-26.0, -6.0)


def default_root() -> Path:
    """``${SPEECHDL_WORK}/enhance/test`` (git-ignored data)."""
    from speechdl.paths import work_dir

    return work_dir("enhance") / "test"


def speech_pool(real_dev: Path | None = None) -> dict[str, list[Path]]:
    """The held-out speech files by speaker (voice set): ``{speaker: [paths]}``, sorted."""
    from speechdl.paths import real_dev as default_real_dev

    root = Path(real_dev or default_real_dev())
    pool: dict[str, list[Path]] = {}
    manifest = root / "manifest.jsonl"
    if not manifest.is_file():
        raise DataError(manifest, "no real_dev manifest", "set SPEECHDL_DATA to the shared data folder")
    with open(manifest) as fh:
        for line in fh:
            r = json.loads(line)
            if r.get("kind") == "speech" and r["source"] in splits.HELD_OUT_SPEECH and (root / r["audio"]).is_file():
                pool.setdefault(str(r.get("speaker") or r["source"]), []).append(root / r["audio"])
    if not pool:
        raise DataError(manifest, f"no speech of {splits.HELD_OUT_SPEECH}", "check the shared data")
    return {k: sorted(v) for k, v in sorted(pool.items())}


def asr_pool(real_dev: Path | None = None) -> list[dict[str, Any]]:
    """Rows of :data:`ASR_SPEECH` with exact text, 2-8 s, 3+ words (``audio`` made absolute), sorted."""
    from speechdl.paths import real_dev as default_real_dev

    root = Path(real_dev or default_real_dev())
    rows = []
    with open(root / "manifest.jsonl") as fh:
        for line in fh:
            r = json.loads(line)
            if (r.get("kind") == "speech" and r["source"] in ASR_SPEECH and r.get("text_quality") == "exact"
                    and 2.0 <= float(r.get("duration") or 0) <= MAX_SECONDS and len(str(r.get("text")).split()) >= 3
                    and (root / r["audio"]).is_file()):
                rows.append(dict(r, audio=str(root / r["audio"])))
    return sorted(rows, key=lambda r: r["audio"])


def make_clean(pool: dict[str, list[Path]], rng: np.random.Generator,
               seconds: tuple[float, float] = CLIP_SECONDS) -> tuple[np.ndarray, str, list[str]]:
    """One clean clip ``(n,)`` float32 of one voice set: trimmed utterances joined by pauses."""
    from speechdl import audio
    from speechdl.tasks.enhance.clean_cache import trim_silence

    speakers = [s for s, v in pool.items() if len(v) >= 2] or list(pool)
    spk = speakers[int(rng.integers(len(speakers)))]
    target = float(rng.uniform(*seconds)) - 0.6
    parts, used, total = [np.zeros(int(0.3 * SR), np.float32)], [], 0.0
    files = pool[spk]
    for i in np.concatenate([rng.permutation(len(files)) for _ in range(4)]):   # no repeat before all used
        x, _ = audio.load(files[int(i)], sample_rate=SR)
        x = trim_silence(x, SR)
        if total + len(x) / SR > MAX_SECONDS - 0.6:
            continue                                       # too long for what is left: the next one
        parts += [x, np.zeros(int(rng.uniform(0.15, 0.5) * SR), np.float32)]
        used.append(files[int(i)].name)
        total += len(x) / SR + len(parts[-1]) / SR
        if total >= target:
            break
    parts[-1] = np.zeros(int(0.3 * SR), np.float32)
    return np.concatenate(parts).astype(np.float32), spk, used


def noise_source(families: tuple[str, ...], split: str | None) -> Callable[[str, int, np.random.Generator],
                                                                         tuple[np.ndarray, str]]:
    """``draw(family, n, rng) -> (unit-RMS noise (n,), what)``: real bank files of ``split``, else the generator."""
    from speechdl.data.synth.noise import _load_noise, load_noise_bank
    from speechdl.data.synth.noise_families import draw_noise
    from speechdl.paths import expand

    bank: dict[str, list[Any]] = {}
    for d in splits.NOISE_DIRS:
        for f in load_noise_bank(os.path.expandvars(expand(d)), split=split, families=families):
            bank.setdefault(f.family, []).append(f)

    def draw(family: str, n: int, rng: np.random.Generator) -> tuple[np.ndarray, str]:
        files = [f for f in bank.get(family, []) if f.duration >= 1.0]
        if not files:
            x, info = draw_noise([family], n, SR, rng, bank=[], p_real=0.0, p_mix=0.0)
            return x, str(info.get("kind"))
        f = files[int(rng.integers(len(files)))]
        x = _load_noise(f.path, SR)
        if len(x) >= n:
            s = int(rng.integers(len(x) - n + 1))
            x = x[s:s + n]
        else:
            x = np.resize(x, n)          # loop a short file
        rms = float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))
        return (x / rms if rms > 0 else x).astype(np.float32), os.path.relpath(f.path, expand("${SPEECHDL_WORK}"))

    return draw


def build_set(out: str | os.PathLike, name: str, clips: int, seed: int = 0,
              snrs: tuple[float, ...] = splits.TEST_SNRS, real_dev: Path | None = None) -> list[dict[str, Any]]:
    """Write one test set (``"heldout"`` or ``"seen"``) to ``out/name``; returns its manifest rows."""
    from speechdl import audio
    from speechdl.data.synth.noise import mix_at_snr
    from speechdl.tasks.enhance.data import active_mask

    if name not in SETS:
        raise ValueError(f"unknown test set {name!r}; use one of {SETS}")
    held = name != "seen"
    families = splits.HELD_OUT_NOISE if held else splits.TRAIN_NOISE_FAMILIES
    draw = noise_source(tuple(families), None if held else "eval")
    rng = np.random.default_rng([seed, SETS.index(name)])
    if name == "asr":
        texts = asr_pool(real_dev)
        texts = [texts[int(i)] for i in rng.choice(len(texts), size=min(clips, len(texts)), replace=False)]
    else:
        pool = speech_pool(real_dev)
    folder = Path(out) / name
    folder.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    for c in range(clips if name != "asr" else len(texts)):
        text = None
        if name == "asr":
            clean = np.pad(audio.load(texts[c]["audio"], sample_rate=SR)[0], int(0.3 * SR))
            spk, used, text = str(texts[c].get("speaker")), [Path(texts[c]["audio"]).name], texts[c]["text"]
        else:
            clean, spk, used = make_clean(pool, rng)
        fam = families[c % len(families)]
        nz, what = draw(fam, len(clean), rng)
        level = float(rng.uniform(*LEVEL_DB))
        for snr in snrs:
            noisy, _ = mix_at_snr(clean, nz, snr, active_mask(clean, SR))
            gain = 10 ** (level / 20) / max(float(np.abs(noisy).max()), 1e-9)
            cid = f"{name}-{c:03d}-snr{snr:+.0f}"
            audio.save(folder / f"{cid}_noisy.wav", noisy * gain, SR)
            audio.save(folder / f"{cid}_clean.wav", clean * gain, SR)
            rows.append({"id": cid, "noisy": f"{cid}_noisy.wav", "clean": f"{cid}_clean.wav", "snr_db": snr,
                         "family": fam, "noise": what, "speech": used, "speaker": spk,
                         "seconds": round(len(clean) / SR, 3), "text": text})
    with open(folder / "manifest.jsonl", "w") as fh:
        for r in rows:
            fh.write(json.dumps(r) + "\n")
    return rows


def build(out: str | os.PathLike | None = None, clips: int = 30, seen_clips: int = 18, asr_clips: int = 15,
          seed: int = 0) -> Path:
    """Write the three sets under ``out`` (default :func:`default_root`); returns the folder."""
    root = Path(out or default_root())
    build_set(root, "heldout", clips, seed)
    build_set(root, "seen", seen_clips, seed)
    build_set(root, "asr", asr_clips, seed, snrs=ASR_SNRS)
    return root


def read_manifest(folder: str | os.PathLike) -> list[dict[str, Any]]:
    """The rows of one set folder, with ``noisy`` / ``clean`` made absolute paths."""
    folder = Path(folder)
    manifest = folder / "manifest.jsonl"
    if not manifest.is_file():
        raise DataError(manifest, "no enhancement test set here", "build it: python benchmarks/enhance.py --build")
    rows = []
    with open(manifest) as fh:
        for line in fh:
            if line.strip():
                r = json.loads(line)
                r["noisy"], r["clean"] = str(folder / r["noisy"]), str(folder / r["clean"])
                rows.append(r)
    return rows

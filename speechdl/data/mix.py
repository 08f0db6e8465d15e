"""Mix clean speech clips of any manifest into labelled VAD recordings (``speechdl data mix``).

Real corpora ship tightly cut clips (one prompt or one line of dialogue each). This builder places
such clips, with random pauses, into 10-30 s recordings and labels them exactly like the synthetic
corpus (:mod:`speechdl.data.synth.builder`), so ``manifest_stats`` and the VAD dataset treat both alike.

**Labels: energy alignment of the clean clip.** Before anything is mixed, each clip is loaded,
resampled to ``sample_rate`` and passed to :func:`speechdl.data.synth.mixer.speech_intervals`: a
10 ms frame is speech when its power is within ``rel_db`` (default **-35 dB**) of the clip's loudest
frame and above -70 dBFS; pauses shorter than 80 ms are bridged, bursts shorter than 30 ms dropped,
edges refined to the first/last sample above the threshold. The clip is trimmed to its first..last
speech sample and its intervals, shifted to the clip's position, become ``custom["speech"]``. The
threshold is 5 dB stricter than the synthetic builder's -40 dB because real clips carry a noise
floor (8-bit quantisation, GSM/MP3 codec noise, room tone): on real_dev, -40 dB labels 99 % of the
GSM-coded Asterisk prompts as speech, -35 dB about 95 %.

**Placement.** A leading silence of 0.2-2 s, then clips separated by pauses of 0.15-3 s, with a
``p_long_pause`` (0.15) chance of a long 3-8 s stretch of non-speech; a trailing silence of 0.2-1.5 s;
``p_no_speech`` (3 %) of the recordings hold no speech at all. Each recording favours one source
(80 % of its clips; sources drawn with weight ~ sqrt(their audio time)), like a real channel. Each
clip is scaled to a random level (±6 dB) measured on its speech samples. Then
:func:`~speechdl.data.synth.mixer.apply_conditions` adds reverb, noise at the SNR (generated noise,
babble of espeak-ng talkers, real noise of the bank, optionally one split of it) and the telephone band.

Recording ``i`` depends only on ``(seed, i)`` and the selected clips; any number of workers gives the
same bytes, and an interrupted build resumes (the layout is the synth builder's, settings in ``mix.json``).

Example:
    >>> cfg = MixConfig(manifest="/data/real_dev", hours=0.1, seed=1,
    ...                 select=("source=asterisk-core-sounds-en-wav",))
    >>> build(cfg, "/tmp/mix-demo")["files"]  # doctest: +SKIP
    18
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from speechdl import audio
from speechdl.data.select import load_any, parse_select, passes, supervision_attrs
from speechdl.data.synth import mixer, noise
from speechdl.data.synth.builder import _bank, check_out, plan, run_jobs, save_part, validate_common
from speechdl.errors import AudioError, ConfigError, DataError

FORMAT_VERSION = 1
SETTINGS = "mix.json"
REL_DB = -35.0


@dataclass(frozen=True)
class Clip:
    """One clean speech clip: ``[start, start + duration)`` s of a recording, and its attributes."""

    id: str
    path: str
    start: float
    duration: float
    attrs: tuple[tuple[str, str], ...]

    def get(self, key: str) -> str | None:
        """Attribute ``key`` (``source``, ``speaker``, ``language``, ``gender``, ``id``, custom keys)."""
        return dict(self.attrs).get(key)


@dataclass(frozen=True)
class MixConfig:
    """Settings of a mixed corpus (everything that changes the output).

    Attributes:
        manifest: manifest directory/file, or a folder with a real_dev ``manifest.jsonl``.
        hours: total audio (hours). seed: global seed.
        select: ``key=v1,v2`` (keep) / ``key!=v1,v2`` (drop) filters on clip attributes, ANDed.
        noise_dir / noise_split: the real noise bank and which split of it (``train``/``eval``/None).
        babble: babble noise from espeak-ng talkers. rel_db: label threshold (see module doc).
        pause_range / p_long_pause / long_pause_range / p_no_speech: placement (s, probabilities).
        conditions: reverb / noise / telephone probabilities and the SNR range.
    """

    manifest: str
    hours: float
    seed: int = 0
    select: tuple[str, ...] = ()
    sample_rate: int = 16000
    noise_dir: str | None = None
    noise_split: str | None = None
    babble: bool = True
    audio_format: str = "flac"
    min_duration: float = 10.0
    max_duration: float = 30.0
    rel_db: float = REL_DB
    pause_range: tuple[float, float] = (0.15, 3.0)
    p_long_pause: float = 0.15
    long_pause_range: tuple[float, float] = (3.0, 8.0)
    p_no_speech: float = 0.03
    conditions: mixer.Conditions = field(default_factory=mixer.Conditions)

    def validate(self) -> None:
        """Raise :class:`ConfigError` for out-of-range values."""
        validate_common(self)
        for s in self.select:
            parse_select(s)

    def to_dict(self) -> dict:
        """JSON-able settings (what ``mix.json`` stores, with the clip list's hash)."""
        return json.loads(json.dumps(asdict(self)))


def select_clips(clips: list[Clip], select: tuple[str, ...] | list[str]) -> list[Clip]:
    """The clips passing every filter of ``select`` (see :func:`parse_select`); missing attributes never match ``=``."""
    filters = [parse_select(expr) for expr in select]
    return [c for c in clips if passes(c, filters)]


def load_clips(manifest: str | os.PathLike) -> list[Clip]:
    """Clips of a manifest, sorted by id: one per supervision, or per recording without supervisions.

    A folder holding a real_dev ``manifest.jsonl`` (and no lhotse manifests) is imported on the fly
    (speech rows only, absent files skipped). Attributes: ``id``, ``recording``, ``speaker``,
    ``language``, ``gender`` and the supervision's scalar ``custom`` values (real_dev: ``source``).
    """
    p = Path(manifest)
    recs, sups = load_any(p)
    by_rec: dict[str, list] = {}
    for s in sups or []:
        by_rec.setdefault(s.recording_id, []).append(s)
    clips = []
    for rec in recs:
        src = rec.sources[0]
        if src.type != "file":
            continue
        for s in by_rec.get(rec.id, [None]):
            attrs = supervision_attrs(s) if s is not None else {"id": rec.id, "recording": rec.id}
            start, dur = (float(s.start), float(s.duration)) if s else (0.0, float(rec.duration))
            clips.append(Clip(attrs["id"], str(src.source), start, dur, tuple(sorted(attrs.items()))))
    if not clips:
        raise DataError(p, "holds no audio-file recordings", "import the corpus with `speechdl data import`")
    return sorted(clips, key=lambda c: c.id)


def recording_id(cfg: MixConfig, index: int) -> str:
    """``mix-s<seed>-<index:06d>``."""
    return f"mix-s{cfg.seed}-{index:06d}"


_CLIPS: dict[str, list[Clip]] = {}     # selected clips per build, set before the workers fork


def _clip_key(cfg: MixConfig) -> str:
    return json.dumps([cfg.manifest, list(cfg.select)])


@lru_cache(maxsize=2)
def _babble(seed: int) -> tuple[list, list[str]]:
    from speechdl.data.synth import text, voices
    pool = voices.voice_pool(["en"], seed)["en"]
    return [v for v in pool if v.engine == "espeak"], text.load_sentences("en")


def _groups(clips: list[Clip]) -> tuple[list[list[int]], np.ndarray]:
    groups: dict[str, list[int]] = {}
    for i, c in enumerate(clips):
        groups.setdefault(c.get("source") or c.get("speaker") or "", []).append(i)
    keys = sorted(groups)
    w = np.sqrt([sum(clips[i].duration for i in groups[k]) + 1e-3 for k in keys])
    return [groups[k] for k in keys], w / w.sum()


def _load_clip(clip: Clip, sr: int) -> np.ndarray:
    try:
        with noise._quiet_stderr():
            wav, _ = audio.load(clip.path, sample_rate=sr, offset=clip.start, duration=clip.duration)
    except AudioError:
        return np.zeros(0, np.float32)
    return wav


def _place(cfg: MixConfig, clips: list[Clip], rng: np.random.Generator, n: int) -> tuple[np.ndarray, list[dict]]:
    """Fill ``n`` samples with clips and pauses; the clean track ``(n,)`` and one dict per clip."""
    sr = cfg.sample_rate
    groups, weights = _groups(clips)
    home = groups[int(rng.choice(len(groups), p=weights))]
    track = np.zeros(n, dtype=np.float32)
    placed: list[dict] = []
    pos = int(rng.uniform(0.2, 2.0) * sr)
    tail = int(rng.uniform(0.2, 1.5) * sr)
    misses = 0
    while pos < n - tail:
        room_left = (n - tail - pos) / sr
        clip = None
        for _ in range(12):      # a clip whose manifest duration fits (trimming only shortens it)
            pool = home if rng.random() < 0.8 else groups[int(rng.choice(len(groups), p=weights))]
            cand = clips[pool[int(rng.integers(len(pool)))]]
            if cand.duration < room_left:
                clip = cand
                break
        long = rng.random() < cfg.p_long_pause
        pause = float(rng.uniform(*(cfg.long_pause_range if long else cfg.pause_range)))
        level_db = float(rng.uniform(-6.0, 6.0))
        if clip is None:
            break
        wav = _load_clip(clip, sr)
        ivs = mixer.speech_intervals(wav, sr, rel_db=cfg.rel_db)
        if not ivs:
            misses += 1
            if misses >= 200:   # never an endless loop on a manifest whose audio is missing or unreadable
                raise DataError(cfg.manifest, f"{misses} clips in a row gave no speech (missing, unreadable or "
                                "silent audio)", "check the manifest's audio files")
            continue
        misses = 0
        a, b = int(round(ivs[0][0] * sr)), int(round(ivs[-1][1] * sr))
        wav = wav[a:b]
        if pos + len(wav) > n - tail:
            break
        active = mixer.interval_mask([(s - ivs[0][0], e - ivs[0][0]) for s, e in ivs], len(wav), sr)
        rms = float(np.sqrt(np.mean(wav[active].astype(np.float64) ** 2))) if active.any() else 0.0
        wav = wav * (0.05 * 10 ** (level_db / 20) / max(rms, 1e-9))
        track[pos:pos + len(wav)] = wav
        t0 = pos / sr
        speech = [[round(t0 + s - ivs[0][0], 4), round(t0 + e - ivs[0][0], 4)] for s, e in ivs]
        placed.append({"clip": clip, "speech": speech, "offset": round(clip.start + a / sr, 4),
                       "level_db": round(level_db, 2)})
        pos += len(wav) + int(pause * sr)
    return track, placed


def make_recording(cfg: MixConfig, index: int, duration: float, out_dir: str) -> dict:
    """Place, condition and save recording ``index``; returns its manifest rows (JSON-able)."""
    from lhotse import Recording, SupervisionSegment
    from lhotse.audio import AudioSource

    clips = _CLIPS[_clip_key(cfg)]
    sr = cfg.sample_rate
    n = int(round(duration * sr))
    rng = np.random.default_rng([cfg.seed, index, 12])
    no_speech = rng.random() < cfg.p_no_speech
    track, placed = (np.zeros(n, np.float32), []) if no_speech else _place(
        cfg, clips, np.random.default_rng([cfg.seed, index, 13]), n)
    active = mixer.interval_mask([iv for p in placed for iv in p["speech"]], n, sr)
    babble_voices, sentences = _babble(cfg.seed) if cfg.babble else (None, None)
    x, applied = mixer.apply_conditions(
        track, active, sr, np.random.default_rng([cfg.seed, index, 14]), cfg.conditions,
        bank=_bank(cfg.noise_dir, cfg.noise_split), babble_voices=babble_voices, babble_sentences=sentences,
        force_noise=not placed)
    rid = recording_id(cfg, index)
    path = (Path(out_dir) / "audio" / f"{rid}.{cfg.audio_format}").resolve()
    audio.save(path, x, sr)
    rec = Recording(id=rid, sources=[AudioSource(type="file", channels=[0], source=str(path))],
                    sampling_rate=sr, num_samples=n, duration=n / sr)
    segs = []
    for k, p in enumerate(placed):
        c: Clip = p["clip"]
        start, end = p["speech"][0][0], p["speech"][-1][1]
        segs.append(SupervisionSegment(
            id=f"{rid}-{k:03d}", recording_id=rid, start=start, duration=round(end - start, 4), channel=0,
            text=c.get("text"), language=c.get("language"), speaker=c.get("speaker"), gender=c.get("gender"),
            custom={"speech": p["speech"], "clip": c.id, "clip_offset": p["offset"], "source": c.get("source"),
                    "level_db": p["level_db"], "conditions": applied}).to_dict())
    conditions = {"recording_id": rid, **applied, "speech_seconds": round(float(active.sum()) / sr, 3),
                  "utterances": len(placed), "sources": sorted({p["clip"].get("source") or "" for p in placed})}
    return {"recording": rec.to_dict(), "supervisions": segs, "conditions": conditions, "duration": n / sr}


def _work(args: tuple[MixConfig, int, float, str]) -> tuple[int, float]:
    cfg, index, duration, out_dir = args
    rows = make_recording(cfg, index, duration, out_dir)
    save_part(out_dir, recording_id(cfg, index), rows)
    return index, rows["duration"]


def _settings(cfg: MixConfig, clips: list[Clip]) -> dict:
    digest = hashlib.sha1("\n".join(f"{c.id}\t{c.path}\t{c.start}\t{c.duration}" for c in clips).encode())
    return {"version": FORMAT_VERSION, **cfg.to_dict(), "clips": len(clips), "clips_sha1": digest.hexdigest()}


def build(cfg: MixConfig, out_dir: str | os.PathLike, workers: int = 2, progress: Callable | None = None) -> dict:
    """Build (or resume) the mixed corpus in ``out_dir``; returns a summary.

    Args:
        cfg: settings (validated here).
        out_dir: output folder; absent, empty, or a partial build with the same settings and clips.
        workers: worker processes (the output does not depend on it).
        progress: optional tqdm-like ``progress(iterable, total=, desc=, unit=)``.

    Returns:
        ``{"out", "files", "generated", "utterances", "hours", "clips", "sources", "noise_files", ...}``.
    """
    cfg.validate()
    if workers < 1:
        raise ConfigError("--workers", f"must be >= 1 (got {workers})", "e.g. --workers 2")
    if cfg.babble and shutil.which("espeak-ng") is None:
        raise ConfigError("babble", "espeak-ng is not installed", "sudo apt-get install espeak-ng, or --no-babble")
    clips = select_clips(load_clips(cfg.manifest), cfg.select)
    if not clips:
        raise DataError(cfg.manifest, f"no clip passes --select {' '.join(cfg.select)}",
                        "check the keys/values with `speechdl data info` or the manifest")
    _CLIPS[_clip_key(cfg)] = clips
    out = Path(out_dir)
    durations = plan(cfg)
    settings = _settings(cfg, clips)
    base = {"out": str(out), "files": len(durations), "hours": round(sum(durations) / 3600, 4), "seed": cfg.seed,
            "clips": len(clips), "sources": sorted({c.get("source") or "" for c in clips}),
            "noise_files": len(_bank(cfg.noise_dir, cfg.noise_split))}
    if check_out(out, settings, SETTINGS, "mixed corpus"):
        return {**base, "generated": 0, "utterances": None, "resumed": True, "wall_seconds": 0.0}
    ids = [recording_id(cfg, i) for i in range(len(durations))]
    jobs = [(cfg, i, durations[i], str(out)) for i in range(len(durations))]
    rows, todo, wall, resumed = run_jobs(out, settings, SETTINGS, ids, jobs, _work, workers, progress, "mix")
    gen = sum(durations[i] for i in todo)
    return {**base, "generated": len(todo), "utterances": sum(len(r["supervisions"]) for r in rows),
            "resumed": resumed, "wall_seconds": round(wall, 2),
            "x_real_time": round(gen / wall, 1) if wall > 0 else None}

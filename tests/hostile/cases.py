"""The hostile inputs, generated at test time (no binary blobs in the repo).

:func:`build` writes every case under one folder and returns the :class:`Inputs`: audio files in every
format soundfile writes (good, truncated, corrupt, NaN/Inf and huge-valued floats, headers that claim
gigabytes or hours, absurd sample rates and channel counts, empty files, a folder named ``x.wav``, a
symlink loop, a FIFO, odd names), manifests, trial lists, text files, Kaldi and real_dev folders,
recipes and SQLite stores (corrupt, foreign, NaN rows). It imports nothing from speechdl: the cases
do not depend on the code they attack. The audio cases are made by :mod:`tests.hostile.cases_audio`.
"""

from __future__ import annotations

import gzip
import json
import os
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tests.hostile.cases_audio import RATE, ROOT, AudioCase, audio_cases, pcm16_wav, speech

__all__ = ["AudioCase", "Inputs", "build"]


@dataclass
class Inputs:
    """Everything :func:`build` wrote; ``paths`` are the named non-audio inputs (manifests, stores, ...)."""

    root: Path
    audio: dict[str, AudioCase] = field(default_factory=dict)
    paths: dict[str, str] = field(default_factory=dict)
    manifests: dict[str, str] = field(default_factory=dict)
    recipes: dict[str, str] = field(default_factory=dict)
    stores: dict[str, str] = field(default_factory=dict)
    trials: dict[str, str] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)


# ------------------------------------------------------------------ manifests
def _jsonl_gz(path: Path, rows: list) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt", encoding="utf-8") as f:
        for r in rows:
            f.write((r if isinstance(r, str) else json.dumps(r)) + "\n")


def _rec(rid: str, path: str, duration: float, rate: int = RATE, samples: int | None = None) -> dict:
    n = int(round(duration * rate)) if samples is None else samples
    return {"id": rid, "sources": [{"type": "file", "channels": [0], "source": path}], "sampling_rate": rate,
            "num_samples": n, "duration": duration, "channel_ids": [0]}


def _sup(sid: str, rid: str, start: float, duration: float, **kw) -> dict:
    return {"id": sid, "recording_id": rid, "start": start, "duration": duration, "channel": 0, **kw}


def _manifest(root: Path, name: str, recs: list, sups: list) -> str:
    d = root / "manifests" / name
    _jsonl_gz(d / "recordings.jsonl.gz", recs)
    _jsonl_gz(d / "supervisions.jsonl.gz", sups)
    return str(d)


def _manifests(root: Path, good: list[str], inp: Inputs) -> dict[str, str]:
    m: dict[str, str] = {}
    recs = [_rec(f"r{i}", p, 2.0) for i, p in enumerate(good)]
    sups = [_sup(f"r{i}", f"r{i}", 0.0, 2.0, text="hello world", speaker=f"spk{i % 2}", language="en",
                 custom={"speech": [[0.2, 1.8]]}) for i in range(len(good))]
    m["good"] = _manifest(root, "good", recs, sups)
    base = root / "manifests"
    m["missing"] = str(base / "does_not_exist")
    (base / "empty_dir").mkdir(parents=True)
    m["empty_dir"] = str(base / "empty_dir")
    d = base / "binary"
    d.mkdir()
    (d / "recordings.jsonl.gz").write_bytes(np.random.default_rng(3).bytes(3000))
    (d / "supervisions.jsonl.gz").write_bytes(np.random.default_rng(4).bytes(3000))
    m["binary"] = str(d)
    d = base / "not_gzip"
    d.mkdir()
    (d / "recordings.jsonl.gz").write_text(json.dumps(recs[0]) + "\n")
    m["not_gzip"] = str(d)
    m["empty_gz"] = _manifest(root, "empty_gz", [], [])
    m["wrong_types"] = _manifest(root, "wrong_types", [{**recs[0], "duration": "long", "num_samples": "many"}], [])
    m["list_rows"] = _manifest(root, "list_rows", [[1, 2, 3]], [])
    m["negative"] = _manifest(root, "negative", [_rec("r0", good[0], -5.0, samples=-80000)],
                              [_sup("s0", "r0", -1.0, -3.0, text="x")])
    m["nan_duration"] = _manifest(root, "nan_duration", ['{"id": "r0", "sources": [{"type": "file", "channels": '
                                                         f'[0], "source": {json.dumps(good[0])}}}], "sampling_rate"'
                                                         ': 16000, "num_samples": 32000, "duration": NaN}'], [])
    m["huge_duration"] = _manifest(root, "huge_duration", [_rec("r0", good[0], 1e30, samples=32000)],
                                   [_sup("s0", "r0", 0.0, 1e30, text="x", speaker="a")])
    m["sup_nan"] = _manifest(root, "sup_nan", recs[:1], [json.dumps(sups[0]).replace('"start": 0.0', '"start": NaN')])
    m["speech_nan"] = _manifest(root, "speech_nan", recs[:1],
                                [json.dumps(sups[0]).replace("[[0.2, 1.8]]", "[[NaN, Infinity]]")])
    m["missing_audio"] = _manifest(root, "missing_audio", [_rec("r0", str(base / "gone.wav"), 2.0)],
                                   [_sup("r0", "r0", 0.0, 2.0, text="hello", speaker="a")])
    for case in ("float_huge.wav", "float_nan.wav", "rate_1.wav", "flac_claims_2g.flac", "folder.wav"):
        a = inp.audio[case]
        recs_h = [_rec("h0", a.path, 2.0), *recs[:2]]
        sups_h = [_sup("h0", "h0", 0.0, 2.0, text="hello", speaker="spk0", custom={"speech": [[0.2, 1.8]]}),
                  *sups[:2]]
        m[f"audio:{case}"] = _manifest(root, f"audio_{case.replace('.', '_')}", recs_h, sups_h)
    f = base / "binary_file.jsonl.gz"
    f.write_bytes(np.random.default_rng(5).bytes(500))
    m["binary_file"] = str(f)
    return m


# ------------------------------------------------------------------ trial lists, texts, folders
def _trials(root: Path, inp: Inputs) -> dict[str, str]:
    d = root / "trials"
    d.mkdir()
    good = [inp.audio["good.wav"].path, inp.audio["good.flac"].path]
    t: dict[str, str] = {}

    def put(name: str, content: bytes | str) -> None:
        p = d / name
        p.write_bytes(content if isinstance(content, bytes) else content.encode())
        t[name] = str(p)

    put("good.txt", f"1 {good[0]} {good[1]}\n0 {good[0]} {inp.audio['good.ogg'].path}\n")
    put("binary.txt", np.random.default_rng(6).bytes(2000))
    put("empty.txt", "")
    put("wrong_columns.txt", "1 only_one_path\nfoo\n")
    put("bad_label.txt", f"nan {good[0]} {good[1]}\n")
    put("missing_files.txt", f"1 {d}/a.wav {d}/b.wav\n")
    put("nan_audio.txt", f"1 {good[0]} {inp.audio['float_nan.wav'].path}\n0 {good[0]} {good[1]}\n")
    put("huge_audio.txt", f"1 {good[0]} {inp.audio['float_huge.wav'].path}\n0 {good[0]} {good[1]}\n")
    put("rate1_audio.txt", f"1 {good[0]} {inp.audio['rate_1.wav'].path}\n0 {good[0]} {good[1]}\n")
    return t


def _texts(root: Path) -> dict[str, str]:
    d = root / "texts"
    d.mkdir()
    t = {}
    for name, content in (("good.txt", b"the cat sat\nthe dog ran\nthe cat ran\n"),
                          ("binary.txt", np.random.default_rng(7).bytes(3000)),
                          ("empty.txt", b""),
                          ("latin1.txt", "caf\u00e9 na\u00efve\n".encode("latin-1")),
                          ("one_long_line.txt", b"word " * 200_000)):
        (d / name).write_bytes(content)
        t[name] = str(d / name)
    t["folder"] = str(d)
    return t


def _folders(root: Path, inp: Inputs) -> dict[str, str]:
    """Corpus folders for ``data import folder`` / ``kaldi`` / ``real-dev`` and noise banks."""
    p: dict[str, str] = {}
    good = inp.audio["good.wav"].path
    # data import folder: a good file with a binary transcript; a latin-1 transcript
    for name, transcript in (("binary_transcript", np.random.default_rng(8).bytes(500)),
                             ("latin1_transcript", "caf\u00e9\n".encode("latin-1"))):
        d = root / "folders" / name / "spk"
        d.mkdir(parents=True)
        (d / "a.wav").write_bytes(Path(good).read_bytes())
        (d / "a.txt").write_bytes(transcript)
        p[f"folder:{name}"] = str(d.parent)
    d = root / "folders" / "only_bad"
    d.mkdir(parents=True)
    for case in ("float_nan.wav", "garbage_bytes.wav", "rate_1.wav"):
        (d / case).write_bytes(Path(inp.audio[case].path).read_bytes())
    p["folder:only_bad"] = str(d)
    d = root / "yesno"            # the lhotse 'yesno' layout: 60 files named by their 8 yes/no words
    d.mkdir()
    short = pcm16_wav(speech(0.2))
    for i in range(60):
        (d / ("_".join(format(i * 4 + 1, "08b")) + ".wav")).write_bytes(short)
    p["yesno"] = str(d)
    d = root / "audio_ok" / "spk"
    d.mkdir(parents=True)
    (d / "a.wav").write_bytes(Path(good).read_bytes())
    (d / "a.txt").write_text("hello world\n")
    # Kaldi data directories
    for name, scp in (("good", f"u1 {good}\n".encode()),
                      ("binary_wavscp", np.random.default_rng(9).bytes(800)),
                      ("empty_wavscp", b""),
                      ("hostile_wavscp", f"u1 {inp.audio['rate_1.wav'].path}\nu2 {good}\n".encode()),
                      ("piped_wavscp", b"u1 sox x.wav -t wav - |\n"),
                      ("missing_audio", b"u1 /nonexistent/a.wav\n")):
        d = root / "kaldi" / name
        d.mkdir(parents=True)
        (d / "wav.scp").write_bytes(scp)
        p[f"kaldi:{name}"] = str(d)
    # real_dev-style folders (manifest.jsonl), also used as noise banks
    row = {"audio": "a.wav", "sample_rate": RATE, "duration": 2.0, "kind": "noise", "source": "x"}
    talk = {**row, "kind": "speech", "language": "en", "text": "Where is the ship?", "text_quality": "exact",
              "speaker": "x:0"}          # keyword-free speech of a training speaker: kws negatives
    for name, lines in (("good", (json.dumps(row) + "\n" + json.dumps(talk)).encode()),
                        ("binary", np.random.default_rng(10).bytes(700)),
                        ("wrong_types", json.dumps({**row, "duration": "long"}).encode()),
                        ("nan_duration", json.dumps({**row, "duration": float("nan")}).encode()),
                        ("negative_rate", json.dumps({**row, "sample_rate": -16000}).encode()),
                        ("not_objects", b"[1, 2]\n\"x\"\n"),
                        ("hostile_noise", json.dumps({**row, "audio": "rate_1.wav"}).encode()),
                        ("huge_noise", json.dumps({**row, "audio": "float_huge.wav"}).encode())):
        d = root / "realdev" / name
        d.mkdir(parents=True)
        (d / "manifest.jsonl").write_bytes(lines + b"\n")
        (d / "a.wav").write_bytes(Path(good).read_bytes())
        for case in ("rate_1.wav", "float_huge.wav"):
            (d / case).write_bytes(Path(inp.audio[case].path).read_bytes())
        p[f"realdev:{name}"] = str(d)
    return p


# ------------------------------------------------------------------ recipes
TOY = ROOT / "recipes" / "toy" / "dense_frames.yaml"


def _recipes(root: Path) -> dict[str, str]:
    d = root / "recipes"
    d.mkdir()
    r: dict[str, str] = {}
    base = TOY.read_text().replace("n: 2000", "n: 200").replace("max_epochs: 5", "max_epochs: 1")
    for name, content in (("good.yaml", base.encode()),
                          ("binary.yaml", np.random.default_rng(11).bytes(1500)),
                          ("utf16.yaml", base.encode("utf-16")),
                          ("empty.yaml", b""),
                          ("list.yaml", b"- 1\n- 2\n"),
                          ("scalar.yaml", b"just a string\n"),
                          ("bad_yaml.yaml", b"task: {name: classify\n  oops: [\n"),
                          ("wrong_type.yaml", base.replace("max_epochs: 1", "max_epochs: many").encode()),
                          ("nan_lr.yaml", base.replace("lr: 0.01", "lr: .nan").encode()),
                          ("inf_lr.yaml", base.replace("lr: 0.01", "lr: .inf").encode()),
                          ("negative_epochs.yaml", base.replace("max_epochs: 1", "max_epochs: -3").encode()),
                          ("zero_batch.yaml", base.replace("batch_size: 64", "batch_size: 0").encode()),
                          ("unknown_key.yaml", (base + "bogus: 1\n").encode()),
                          ("section_list.yaml", base.replace("optim: {name: adam, lr: 0.01, weight_decay: 0.0}",
                                                             "optim: [adam, 0.01]").encode())):
        (d / name).write_bytes(content)
        r[name] = str(d / name)
    r["folder"] = str(d)
    r["missing.yaml"] = str(d / "missing.yaml")
    return r


# ------------------------------------------------------------------ SQLite stores
def _stores(root: Path) -> dict[str, str]:
    d = root / "stores"
    d.mkdir()
    s: dict[str, str] = {}
    s["missing"] = str(d / "missing.db")
    (d / "empty.db").write_bytes(b"")
    s["empty"] = str(d / "empty.db")
    (d / "garbage.db").write_bytes(np.random.default_rng(12).bytes(5000))
    s["garbage"] = str(d / "garbage.db")
    (d / "text.db").write_text("name,embedding\nalice,1 2 3\n")
    s["text"] = str(d / "text.db")
    (d / "folder.db").mkdir()
    s["folder"] = str(d / "folder.db")
    # SQLite files of another application, or of another schema
    for name, statements in (
            ("foreign_app", ["CREATE TABLE photos (id INTEGER PRIMARY KEY, path TEXT)",
                             "INSERT INTO photos VALUES (1, 'a.jpg')"]),
            ("foreign_schema", ["CREATE TABLE speakers (who TEXT, vec TEXT)", "INSERT INTO speakers VALUES ('x','y')",
                                "CREATE TABLE meta (k TEXT)"]),
            ("future_version", _our_schema() + ["INSERT INTO meta VALUES ('schema', '99')"]),
            ("corrupt_blob", _our_schema() + [
                "INSERT INTO meta VALUES ('schema', '1')", "INSERT INTO meta VALUES ('dim', '4')",
                "INSERT INTO speakers VALUES ('alice', 1, x'0102', 0, 0)",
                "INSERT INTO embeddings (speaker, vector, source, added) VALUES ('alice', x'010203', 'a', 0)"]),
            ("nan_mean", _our_schema() + [
                "INSERT INTO meta VALUES ('schema', '1')", "INSERT INTO meta VALUES ('dim', '4')",
                f"INSERT INTO speakers VALUES ('alice', 1, x'{_f32_hex([float('nan')] * 4)}', 0, 0)",
                f"INSERT INTO speakers VALUES ('bob', 1, x'{_f32_hex([1, 0, 0, 0])}', 0, 0)",
                "INSERT INTO embeddings (speaker, vector, source, added) VALUES "
                f"('alice', x'{_f32_hex([float('nan')] * 4)}', 'a', 0)",
                f"INSERT INTO embeddings (speaker, vector, source, added) VALUES ('bob', x'{_f32_hex([1, 0, 0, 0])}', "
                "'b', 0)"]),
            ("text_columns", _our_schema() + [
                "INSERT INTO meta VALUES ('schema', '1')", "INSERT INTO meta VALUES ('dim', 'four')",
                "INSERT INTO speakers VALUES ('alice', 'many', 'not a blob', 'yesterday', 'today')"])):
        path = d / f"{name}.db"
        db = sqlite3.connect(str(path))
        for st in statements:
            db.execute(st)
        db.commit()
        db.close()
        s[name] = str(path)
    return s


def _our_schema() -> list[str]:
    return ["CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
            "CREATE TABLE speakers (name TEXT PRIMARY KEY, count INTEGER NOT NULL, mean BLOB NOT NULL,"
            " created REAL NOT NULL, updated REAL NOT NULL)",
            "CREATE TABLE embeddings (id INTEGER PRIMARY KEY AUTOINCREMENT, speaker TEXT NOT NULL REFERENCES "
            "speakers(name) ON DELETE CASCADE, vector BLOB NOT NULL, source TEXT, added REAL NOT NULL)"]


def _f32_hex(values: list[float]) -> str:
    return np.asarray(values, dtype="<f4").tobytes().hex()


# ------------------------------------------------------------------ everything
def build(root: str | os.PathLike) -> Inputs:
    """Write every case under ``root`` (an empty folder) and return them."""
    root = Path(root)
    inp = Inputs(root)
    inp.audio = audio_cases(root)
    good = [inp.audio[n].path for n in ("good.wav", "good.flac", "good.ogg", "good.mp3")]
    inp.manifests = _manifests(root, good, inp)
    inp.trials = _trials(root, inp)
    inp.texts = _texts(root)
    inp.paths = _folders(root, inp)
    inp.recipes = _recipes(root)
    inp.stores = _stores(root)
    # output places: a file where a folder is expected, a place that cannot be created
    (root / "a_file").write_text("I am a file\n")
    inp.paths["a_file"] = str(root / "a_file")
    (root / "a_folder").mkdir()
    inp.paths["a_folder"] = str(root / "a_folder")
    # a real_dev manifest with English transcripts: 'asr lm corpus --sources real_train' builds offline from it
    (root / "lm_real_dev").mkdir()
    (root / "lm_real_dev" / "manifest.jsonl").write_text(json.dumps(
        {"source": "x", "speaker": "x:a", "language": "en", "text": "Hello there, my old friend.",
         "text_quality": "exact"}) + "\n")
    inp.paths["lm_real_dev"] = str(root / "lm_real_dev")
    (root / "actor_dev").mkdir()   # `vocode data actor`: one clip of one actor (an absolute audio path)
    (root / "actor_dev" / "manifest.jsonl").write_text(json.dumps(
        {"audio": inp.audio["good.wav"].path, "actor": "Ann", "speaker": "x:ann", "sample_rate": 16000}) + "\n")
    inp.paths["actor_manifest"] = str(root / "actor_dev" / "manifest.jsonl")
    inp.paths.update(_parallel(root))
    return inp


def _parallel(root: Path) -> dict[str, str]:
    """Parallel corpora (``text translate prepare``): a good one, wrong columns, binary, empty."""
    good = "".join(f"Ref {i}:1\tthe cat {i % 5} sat.\tel gato {i % 5} se sentó.\n" for i in range(30))
    cases = {"good": good.encode(), "two_columns": b"Ref 1:1\tonly one side\n" * 5,
             "binary": np.random.default_rng(3).bytes(2000), "empty": b""}
    out = {}
    for name, content in cases.items():
        d = root / "parallel" / name
        d.mkdir(parents=True)
        for split in ("train", "dev", "test"):
            (d / f"{split}.tsv").write_bytes(content)
        out[f"parallel:{name}"] = str(d)
    return out

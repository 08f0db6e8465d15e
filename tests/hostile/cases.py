"""The hostile inputs, generated at test time (no binary blobs in the repo).

:func:`build` writes every case under one folder and returns the :class:`Inputs`: audio files in every
format soundfile writes (good, truncated, corrupt, NaN/Inf and huge-valued floats, headers that claim
gigabytes or hours, absurd sample rates and channel counts, empty files, a folder named ``x.wav``, a
symlink loop, a FIFO, odd names), manifests, trial lists, text files, Kaldi and real_dev folders,
recipes and SQLite stores (corrupt, foreign, NaN rows). It imports nothing from speechdl: the cases
do not depend on the code they attack.

``AudioCase.seconds`` is what the file really holds (an upper bound): an exit-0 run that reports a
longer duration is impossible output.
"""

from __future__ import annotations

import gzip
import json
import os
import sqlite3
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "speechdl" / "assets" / "sample.flac"
RATE = 16000


@dataclass(frozen=True)
class AudioCase:
    """One audio input: ``path`` (may be a folder, link, FIFO or device), what it holds at most (s)."""

    name: str
    path: str
    seconds: float
    quick: bool = False   # part of the fast-tier subset


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


# ------------------------------------------------------------------ raw audio bytes
def speech(seconds: float = 2.0, offset: float = 1.0) -> np.ndarray:
    """``seconds`` of the shipped sample (real speech), float32 at 16 kHz."""
    x, sr = sf.read(str(SAMPLE), dtype="float32", start=int(offset * RATE), stop=int((offset + seconds) * RATE))
    assert sr == RATE
    return x


def wav_header(data_size: int, rate: int = RATE, channels: int = 1, bits: int = 16, tag: int = 1,
               riff_size: int | None = None) -> bytes:
    """A canonical 44-byte WAV header; sizes are written as given (they may lie)."""
    block = max(1, channels * bits // 8)
    fmt = struct.pack("<HHIIHH", tag, channels, rate & 0xFFFFFFFF, (rate * block) & 0xFFFFFFFF, block & 0xFFFF,
                      bits)
    riff = 36 + data_size if riff_size is None else riff_size
    return (b"RIFF" + struct.pack("<I", min(riff, 0xFFFFFFFF)) + b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt
            + b"data" + struct.pack("<I", min(data_size, 0xFFFFFFFF)))


def pcm16(x: np.ndarray) -> bytes:
    return (np.clip(x, -1, 32767 / 32768) * 32768).astype("<i2").tobytes()


def rf64(payload: bytes, claimed: int) -> bytes:
    """An RF64 file whose ds64 chunk claims ``claimed`` bytes of data."""
    fmt = struct.pack("<HHIIHH", 1, 1, RATE, 2 * RATE, 2, 16)
    ds64 = struct.pack("<QQQI", claimed + 100, claimed, claimed // 2, 0)
    return (b"RF64" + struct.pack("<I", 0xFFFFFFFF) + b"WAVE" + b"ds64" + struct.pack("<I", len(ds64)) + ds64
            + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", 0xFFFFFFFF) + payload)


def encoded(x: np.ndarray, ext: str, rate: int = RATE) -> bytes:
    """``x`` written by soundfile in the container of ``ext`` (bytes)."""
    import io

    buf = io.BytesIO()
    kw = {"format": "OGG", "subtype": "OPUS"} if ext == "opus" else {"format": ext.upper()}
    sf.write(buf, x, rate, **kw)
    return buf.getvalue()


def flac_claiming(x: np.ndarray, frames: int) -> bytes:
    """A FLAC file whose STREAMINFO says ``frames`` samples (36-bit field)."""
    b = bytearray(encoded(x, "flac"))
    off = 8 + 10   # "fLaC", block header (4), min/max block (4), min/max frame (6)
    v = int.from_bytes(b[off:off + 8], "big")
    v = (v & ~((1 << 36) - 1)) | (frames & ((1 << 36) - 1))
    b[off:off + 8] = v.to_bytes(8, "big")
    return bytes(b)


def mp3_claiming(x: np.ndarray, mp3_frames: int) -> bytes:
    """An MP3 file whose Xing header claims ``mp3_frames`` frames (1152 or 576 samples each)."""
    b = bytearray(encoded(x, "mp3"))
    i = b.find(b"Xing")
    if i < 0:
        i = b.find(b"Info")
    b[i + 8:i + 12] = struct.pack(">I", mp3_frames)
    return bytes(b)


def corrupt(b: bytes, seed: int = 0) -> bytes:
    """``b`` with 300 random bytes written over its middle."""
    bb = bytearray(b)
    mid = len(bb) // 2
    bb[mid:mid + 300] = np.random.default_rng(seed).integers(0, 256, 300, dtype=np.uint8).tobytes()
    return bytes(bb)


def float_wav(x: np.ndarray, subtype: str = "FLOAT", rate: int = RATE) -> bytes:
    import io

    buf = io.BytesIO()
    sf.write(buf, x, rate, format="WAV", subtype=subtype)
    return buf.getvalue()


# ------------------------------------------------------------------ the audio cases
def _audio_cases(root: Path) -> dict[str, AudioCase]:
    d = root / "audio"
    d.mkdir(parents=True)
    x = speech(2.0)
    cases: dict[str, AudioCase] = {}

    def put(name: str, content: bytes | None, seconds: float, quick: bool = False, filename: str | None = None):
        path = d / (filename or name)
        if content is not None:
            path.write_bytes(content)
        cases[name] = AudioCase(name, str(path), seconds, quick)

    for ext in ("wav", "flac", "ogg", "mp3", "aiff", "opus"):
        good = encoded(x, ext)
        put(f"good.{ext}", good, 2.2, quick=ext == "wav")
        if ext != "opus":
            put(f"trunc_half.{ext}", good[: len(good) // 2], 2.2, quick=ext == "mp3")
            put(f"trunc_head.{ext}", good[:60], 2.2)
            put(f"corrupt_mid.{ext}", corrupt(good), 2.2)
    put("empty.wav", b"", 0)
    put("header_only.wav", wav_header(0), 0)
    put("garbage_bytes.wav", np.random.default_rng(1).bytes(4000), 0)
    put("text_named.wav", b"hello, this is not audio\n" * 40, 0)
    put("png_named.wav", b"\x89PNG\r\n\x1a\n" + b"\x00" * 200, 0)
    # NaN / Inf / absurd amplitudes (float WAVs)
    bad = x.copy()
    bad[1000:1010] = np.nan
    put("float_nan.wav", float_wav(bad), 2.2, quick=True)
    bad = x.copy()
    bad[500] = np.inf
    put("float_inf.wav", float_wav(bad), 2.2)
    put("float_huge.wav", float_wav(x * np.float32(1e30)), 2.2, quick=True)
    put("float_1e6.wav", float_wav(x * np.float32(1e6)), 2.2)
    put("float_loud20.wav", float_wav(x * np.float32(20.0)), 2.2)     # float headroom: still audio
    put("double_huge.wav", float_wav(x.astype(np.float64) * 1e300, "DOUBLE"), 2.2)
    put("float_denormal.wav", float_wav((x * np.float32(1e-38)).astype(np.float32)), 2.2)
    put("silence.wav", pcm16_wav(np.zeros(2 * RATE, np.float32)), 2.2)
    put("one_sample.wav", wav_header(2) + pcm16(x[:1]), 0.01)
    put("short_10ms.wav", wav_header(320) + pcm16(x[:160]), 0.02)
    # headers that claim more than the file holds
    body = pcm16(x)
    put("claim_2gb.wav", wav_header(2_000_000_000) + body, 2.2, quick=True)
    put("claim_4gb.wav", wav_header(0xFFFFFFFF) + body, 2.2)
    put("riff_2gb.wav", wav_header(len(body), riff_size=2_000_000_036) + body, 2.2)
    put("rf64_2gb.wav", rf64(body, 2_000_000_000), 2.2)
    put("flac_claims_2g.flac", flac_claiming(x, 2_000_000_000), 2.2, quick=True)
    put("mp3_claims_20h.mp3", mp3_claiming(x, 60_000), 2.2)
    # sample rates and channels
    put("rate_1.wav", wav_header(200_000, rate=1) + np.random.default_rng(2).integers(
        -3000, 3000, 100_000).astype("<i2").tobytes(), 100_000.0, quick=True)   # 1 Hz: 28 h at 16 kHz
    put("rate_100.wav", wav_header(400, rate=100) + pcm16(x[:200]), 2.2)
    put("rate_4000.wav", pcm16_wav(x[::4], 4000), 2.2)
    put("rate_192k.wav", pcm16_wav(np.repeat(x, 12), 192000), 2.2)
    put("rate_2g.wav", wav_header(len(body), rate=2**31 - 1) + body, 2.2)
    put("rate_0.wav", wav_header(len(body), rate=0) + body, 2.2)
    put("stereo.wav", pcm16_wav(np.stack([x, x[::-1]], 1)), 2.2)
    put("ch8.wav", pcm16_wav(np.repeat(x[:, None], 8, 1)), 2.2)
    put("ch0.wav", wav_header(len(body), channels=0) + body, 2.2)
    put("ch1000.wav", wav_header(len(body), channels=1000) + body, 2.2)
    put("bits0.wav", wav_header(len(body), bits=0) + body, 2.2)
    put("unknown_codec.wav", wav_header(len(body), tag=0x1234) + body, 2.2)
    # not files
    (d / "folder.wav").mkdir()
    put("folder.wav", None, 0)
    os.symlink("loop.wav", d / "loop.wav")
    put("loop.wav", None, 0)
    os.symlink(d / "nowhere.wav", d / "dangling.wav")
    put("dangling.wav", None, 0)
    os.mkfifo(d / "fifo.wav")
    put("fifo.wav", None, 0)
    cases["dev_zero"] = AudioCase("dev_zero", "/dev/zero", 0)
    put("missing.wav", None, 0)
    p = d / "no_permission.wav"
    p.write_bytes(pcm16_wav(x))
    p.chmod(0)
    put("no_permission.wav", None, 2.2)
    # odd names (good audio)
    put("with space.wav", pcm16_wav(x), 2.2)
    put("unicode ünï código 音.wav", pcm16_wav(x), 2.2)
    put("-dash.wav", pcm16_wav(x), 2.2)
    put("long_name", pcm16_wav(x), 2.2, filename="n" * 200 + ".wav")
    put("wav_named.txt", pcm16_wav(x), 2.2)
    put("flac_named.wav", encoded(x, "flac"), 2.2)
    return cases


def pcm16_wav(x: np.ndarray, rate: int = RATE) -> bytes:
    import io

    buf = io.BytesIO()
    sf.write(buf, x, rate, format="WAV", subtype="PCM_16")
    return buf.getvalue()


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
    for name, lines in (("good", json.dumps(row).encode()),
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
    inp.audio = _audio_cases(root)
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
    return inp

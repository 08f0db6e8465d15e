"""Hostile audio files, generated at test time: every format soundfile writes (good, truncated, corrupt),
NaN/Inf and huge-valued floats, headers that claim gigabytes or hours, absurd sample rates and channel
counts, empty files, a folder named ``x.wav``, a symlink loop, a FIFO, ``/dev/zero``, odd names.

Nothing here imports speechdl: the cases do not depend on the code they attack. ``AudioCase.seconds`` is
what the file really holds (an upper bound): an exit-0 run that reports a longer duration is impossible.

Example:
    >>> len(wav_header(100)), wav_header(100)[:4]
    (44, b'RIFF')
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
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
def audio_cases(root: Path) -> dict[str, AudioCase]:
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

"""Uploads are checked before decoding: magic bytes, header sizes, duration, truncation; names are labels."""

from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile as sf

from speechdl.serve.errors import ApiError
from speechdl.serve.uploads import inspect_audio, safe_name, save_upload, sniff
from tests.serve.conftest import SAMPLE
from tests.serve.test_malformed import wav_bytes


@pytest.mark.parametrize("fmt,ext", [("WAV", ".wav"), ("FLAC", ".flac"), ("OGG", ".ogg"), ("MP3", ".mp3"),
                                     ("AIFF", ".aiff"), ("AU", ".au"), ("CAF", ".caf"), ("W64", ".w64"),
                                     ("RF64", ".wav")])
def test_every_supported_container_is_sniffed_saved_and_inspected(tmp_path, fmt, ext):
    buf = io.BytesIO()
    x = (0.1 * np.sin(np.arange(16000) * 0.05)).astype(np.float32)
    sf.write(buf, x, 16000, format=fmt)
    assert sniff(buf.getvalue()[:64]) == ext
    path = save_upload(buf, tmp_path, "audio", "x", limit=10**7)
    assert path.name == f"audio{ext}" and path.read_bytes() == buf.getvalue()
    info = inspect_audio(path, "x", max_seconds=5)
    assert info["sample_rate"] == 16000 and info["channels"] == 1
    assert info["duration"] == pytest.approx(1.0, abs=0.1)   # lossy codecs pad a little


def test_the_sample_passes_and_its_truncation_does_not(tmp_path):
    data = SAMPLE.read_bytes()
    whole = save_upload(io.BytesIO(data), tmp_path, "a", "s.flac", limit=10**7)
    assert inspect_audio(whole, "s.flac", 600)["frames"] == sf.info(str(SAMPLE)).frames
    cut = save_upload(io.BytesIO(data[: len(data) * 9 // 10]), tmp_path, "b", "s.flac", limit=10**7)
    with pytest.raises(ApiError) as err:
        inspect_audio(cut, "s.flac", 600)
    assert err.value.status == 400 and "truncated" in err.value.message


@pytest.mark.parametrize("declared,ok", [(32000, True), (32001, True), (32002, False), (2**31, False)])
def test_wav_data_chunk_size_must_fit_the_file(tmp_path, declared, ok):
    path = tmp_path / "a.wav"
    path.write_bytes(wav_bytes(declared=declared))
    if ok:
        assert inspect_audio(path, "a.wav", 600)["frames"] == 16000
    else:
        with pytest.raises(ApiError) as err:
            inspect_audio(path, "a.wav", 600)
        assert err.value.status == 400 and f"declares {declared} bytes" in err.value.message


def test_wav_with_chunks_before_the_data_is_fine(tmp_path):
    raw = wav_bytes()
    extra = b"LIST" + (6).to_bytes(4, "little") + b"INFOab"
    path = tmp_path / "a.wav"
    path.write_bytes(raw[:4] + (len(raw) - 8 + len(extra)).to_bytes(4, "little") + raw[8:36] + extra + raw[36:])
    assert inspect_audio(path, "a.wav", 600)["frames"] == 16000


def test_duration_limit_reads_the_header_only(tmp_path):
    path = tmp_path / "a.wav"
    path.write_bytes(wav_bytes(seconds=2.0))
    assert inspect_audio(path, "a.wav", 2.0)["duration"] == 2.0
    with pytest.raises(ApiError) as err:
        inspect_audio(path, "a.wav", 1.5)
    assert err.value.status == 413 and "2.0 s of audio" in err.value.message


def test_save_upload_limits(tmp_path):
    with pytest.raises(ApiError) as err:
        save_upload(io.BytesIO(b"fLaC" + b"\x00" * 100), tmp_path, "a", "x.flac", limit=50)
    assert err.value.status == 413
    with pytest.raises(ApiError) as err:
        save_upload(io.BytesIO(b""), tmp_path, "b", "x.flac", limit=50)
    assert err.value.status == 400
    with pytest.raises(ApiError) as err:
        save_upload(io.BytesIO(b"#!/bin/sh\nrm -rf /\n"), tmp_path, "c", "x.wav", limit=50)
    assert err.value.status == 415


@pytest.mark.parametrize("name,label", [("../../etc/passwd", "passwd"), ("/abs/path/take.wav", "take.wav"),
                                        ("C:\\Users\\me\\a.flac", "a.flac"), ("..", "upload"),
                                        ("a\x00b\nc.wav", "abc.wav"), (None, "upload"), ("x" * 300, "x" * 100)])
def test_safe_name_keeps_a_label_only(name, label):
    assert safe_name(name) == label

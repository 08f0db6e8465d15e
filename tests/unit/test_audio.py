"""Audio I/O: round trips, formats, resampling, streaming, and every kind of bad input."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from speechdl import audio
from speechdl.errors import AudioError
from tests.conftest import speechlike


@pytest.mark.parametrize("suffix,subtype,tol", [(".wav", "PCM_16", 1 / 32768), (".wav", "FLOAT", 0.0),
                                                (".flac", "PCM_16", 1 / 32768)])
def test_save_load_round_trip(tmp_path, suffix, subtype, tol):
    x = speechlike(1.0)
    path = tmp_path / f"a{suffix}"
    audio.save(path, x, 16000, subtype=subtype)
    y, sr = audio.load(path)
    assert sr == 16000 and y.dtype == np.float32 and y.shape == x.shape
    assert np.abs(y - x).max() <= tol


def test_lossy_formats_load(tmp_path):
    x = speechlike(1.0)
    for suffix in (".ogg", ".mp3"):
        path = tmp_path / f"a{suffix}"
        audio.save(path, x, 16000)
        y, sr = audio.load(path)
        assert sr == 16000 and abs(len(y) - len(x)) < 2000
        assert np.corrcoef(y[:8000], x[:8000])[0, 1] > 0.8


def test_stereo_mixdown_and_keep_channels(tmp_path):
    left, right = speechlike(0.5, seed=1), speechlike(0.5, seed=2)
    path = tmp_path / "st.wav"
    audio.save(path, np.stack([left, right], 1), 16000, subtype="FLOAT")
    mono, _ = audio.load(path)
    np.testing.assert_allclose(mono, (left + right) / 2, atol=1e-6)
    both, _ = audio.load(path, mono=False)
    assert both.shape == (len(left), 2)


def test_resample_preserves_tone_frequency(tmp_path):
    sr = 44100
    t = np.arange(sr) / sr
    path = tmp_path / "tone.wav"
    audio.save(path, (0.5 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32), sr, subtype="FLOAT")
    y, out_sr = audio.load(path, sample_rate=16000)
    assert out_sr == 16000 and len(y) == 16000
    spec = np.abs(np.fft.rfft(y[2000:14000] * np.hanning(12000)))
    peak_hz = np.argmax(spec) * 16000 / 12000
    assert abs(peak_hz - 1000) < 3
    assert abs(np.sqrt(np.mean(y[2000:14000] ** 2)) - 0.5 / np.sqrt(2)) < 0.01


def test_offset_and_duration(tmp_path):
    x = np.arange(16000, dtype=np.float32) / 16000
    path = tmp_path / "ramp.wav"
    audio.save(path, x, 16000, subtype="FLOAT")
    y, _ = audio.load(path, offset=0.25, duration=0.5)
    np.testing.assert_array_equal(y, x[4000:12000])


@pytest.mark.parametrize("block", [0.1, 0.37, 10.0])
def test_stream_blocks_concatenate_to_load(tmp_path, block):
    x = speechlike(1.3)
    path = tmp_path / "s.wav"
    audio.save(path, x, 16000, subtype="FLOAT")
    blocks = list(audio.stream(path, block_seconds=block))
    assert max(len(b) for b in blocks) <= max(1, int(block * 16000))
    np.testing.assert_array_equal(np.concatenate(blocks), x)


def test_stream_with_resampling_matches_load(tmp_path):
    x = speechlike(3.0, sr=22050)
    path = tmp_path / "s.wav"
    audio.save(path, x, 22050, subtype="FLOAT")
    streamed = np.concatenate(list(audio.stream(path, block_seconds=0.5, sample_rate=16000)))
    whole, _ = audio.load(path, sample_rate=16000)
    assert abs(len(streamed) - len(whole)) <= 1
    n = min(len(streamed), len(whole))
    assert np.abs(streamed[:n] - whole[:n]).max() < 1e-3


def test_int16_float32_conversions():
    x = np.array([-1.0, -0.5, 0.0, 0.5, 0.99997], dtype=np.float32)
    i = audio.to_int16(x)
    assert i.dtype == np.int16 and i[0] == -32768 and i[-1] == 32767
    np.testing.assert_allclose(audio.to_float32(i), x, atol=1 / 32768)


def test_save_is_atomic_and_leaves_no_temp(tmp_path):
    path = tmp_path / "out.wav"
    audio.save(path, np.zeros(100, np.float32), 8000)
    assert [p.name for p in tmp_path.iterdir()] == ["out.wav"]
    with pytest.raises(AudioError, match="NaN"):
        audio.save(path, np.full(10, np.nan, np.float32), 8000)
    assert [p.name for p in tmp_path.iterdir()] == ["out.wav"]  # the old file survives, no temp left


def assert_audio_error(path, match):
    with pytest.raises(AudioError, match=match) as info:
        audio.load(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_missing_file(tmp_path):
    assert_audio_error(tmp_path / "nope.wav", "not found")


def test_empty_file(tmp_path):
    p = tmp_path / "empty.wav"
    p.write_bytes(b"")
    assert_audio_error(p, "empty")


def test_non_audio_file(tmp_path):
    p = tmp_path / "notes.wav"
    p.write_text("this is not audio\n" * 20)
    assert_audio_error(p, "not a readable audio file")


def test_corrupt_file(tmp_path):
    p = tmp_path / "cut.flac"
    audio.save(p, speechlike(1.0), 16000)
    data = p.read_bytes()
    p.write_bytes(data[:60] + b"\x00" * 200 + data[400:1000])
    with pytest.raises(AudioError) as info:
        audio.load(p)
    assert "cut.flac" in str(info.value)


def test_nan_filled_file(tmp_path):
    p = tmp_path / "nan.wav"
    sf.write(p, np.full(1000, np.nan, np.float32), 16000, subtype="FLOAT")
    assert_audio_error(p, "NaN")


def test_directory_and_header_only(tmp_path):
    assert_audio_error(tmp_path, "directory")
    p = tmp_path / "zero.wav"
    sf.write(p, np.zeros(0, np.float32), 16000)
    assert_audio_error(p, "no audio samples")

"""WebRTC and Silero baselines: frame alignment, agreement with the packages, speech > silence."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from speechdl import audio
from speechdl.tasks.vad import baselines as B
from tests.conftest import speechlike

pytest.importorskip("webrtcvad")
pytest.importorskip("onnxruntime")
SPEECH = [(1.0, 2.5), (3.5, 5.0)]


def _silence(seconds: float, rng: np.random.Generator) -> np.ndarray:
    return (0.001 * rng.standard_normal(int(seconds * 16000))).astype(np.float32)


@pytest.fixture(scope="module")
def bursts() -> tuple[np.ndarray, np.ndarray]:
    """1 s silence, 1.5 s speech-like burst, 1 s silence, burst, 1 s silence; labels per frame."""
    rng = np.random.default_rng(0)
    x = np.concatenate([_silence(1, rng), speechlike(1.5, seed=1), _silence(1, rng),
                        speechlike(1.5, seed=2), _silence(1, rng)])
    y = np.zeros(B.num_frames(x.size), bool)
    for a, b in SPEECH:
        y[int(a * 100):int(b * 100)] = True
    return x, y


def test_block_to_frames_by_hand():
    # 512-sample blocks, 1100 samples -> 7 frames centred at samples 0,160,...,960
    out = B.block_to_frames(np.array([0.1, 0.2, 0.3]), 512, 1100)
    np.testing.assert_allclose(out, [0.1, 0.1, 0.1, 0.1, 0.2, 0.2, 0.2])
    # exactly two blocks: the last frame's centre (sample 1024) is past the end -> last block
    np.testing.assert_allclose(B.block_to_frames(np.array([0.0, 1.0]), 512, 1024)[-1], 1.0)
    assert B.block_to_frames(np.array([1.0, 0.0, 1.0]), 480, 1440).tolist() == [1] * 3 + [0] * 3 + [1] * 3 + [1]
    assert B.num_frames(16000) == 101 and B.num_frames(159) == 1


def test_webrtc_frames_follow_its_blocks(bursts):
    x, _ = bursts
    for ms in (10, 20, 30):
        vad = B.WebRTCVAD(3, ms)
        blocks = vad.blocks(x)
        assert blocks.size == -(-x.size // (16 * ms))
        frames = vad(x)
        assert frames.shape == (B.num_frames(x.size),) and set(np.unique(frames)) <= {0.0, 1.0}
        np.testing.assert_array_equal(frames, B.block_to_frames(blocks, 16 * ms, x.size))
    with pytest.raises(ValueError):
        B.WebRTCVAD(4)
    with pytest.raises(ValueError):
        B.WebRTCVAD(0, 15)


@pytest.mark.parametrize("mode", [0, 1, 2, 3])
def test_webrtc_scores_speech_above_silence(bursts, mode):
    x, y = bursts
    s = B.webrtc_scores(x, mode)
    assert s[y].mean() > 0.8 and s[~y].mean() < 0.3


def test_silero_scores_speech_above_silence(bursts):
    x, y = bursts
    s = B.silero_scores(x)
    assert s.shape == y.shape and 0 <= s.min() and s.max() <= 1
    assert s[y].mean() > 5 * s[~y].mean()


def test_silero_on_real_speech_and_other_rates():
    speech, _ = audio.load(Path(B.__file__).parents[2] / "assets" / "sample.flac", 16000)
    rng = np.random.default_rng(1)
    x = np.concatenate([_silence(2, rng), speech[:5 * 16000], _silence(2, rng)])
    s = B.SileroVAD()(x)
    assert s[200:700].mean() > 0.5 and s[20:180].mean() < 0.1 and s[-180:].mean() < 0.1
    s8 = B.SileroVAD()(audio.resample(x, 16000, 8000), 8000)  # resampled back to 16 kHz inside
    assert s8.shape == s.shape and abs(s8[200:700].mean() - s[200:700].mean()) < 0.1


def test_silero_stream_equals_offline_and_the_package_wrapper(bursts):
    x = bursts[0][:40000]  # not a multiple of 512: the last chunk is zero-padded
    stream, offline = B.SileroStream(), B.SileroVAD(max_chunks=7)  # several sequence blocks
    a, b = stream.chunks(x), offline.chunks(x)
    assert a.shape == b.shape == (-(-x.size // 512),)
    np.testing.assert_allclose(a, b, atol=1e-5)
    np.testing.assert_allclose(stream(x), offline(x), atol=1e-5)
    torch = pytest.importorskip("torch")
    from silero_vad.utils_vad import OnnxWrapper

    ref = OnnxWrapper(str(B.silero_onnx_path(B.SILERO_STREAM_ONNX)), force_onnx_cpu=True)
    expected = ref.audio_forward(torch.from_numpy(x), 16000).numpy().reshape(-1)
    np.testing.assert_allclose(a, expected, atol=1e-6)


def test_sizes_and_scorer_set():
    params, size = B.onnx_size(B.silero_onnx_path())
    assert 100_000 < params < 2_000_000 and size > 4 * params * 0.5
    scorers = B.baseline_scorers(webrtc_modes=(0, 3))
    assert list(scorers) == ["webrtc-0", "webrtc-3", "silero"]

"""Reference VADs scored on our frame grid: WebRTC VAD (modes 0-3) and Silero VAD (ONNX).

Our grid: frame ``t`` is centred at ``t * 10 ms``; a signal of ``N`` samples at 16 kHz has
``1 + N // 160`` frames (:func:`num_frames`). Each baseline decides on its own blocks, and frame
``t`` takes the score of the block that contains its centre sample ``t * 160`` (the last frame,
whose centre may sit at the very end of the signal, takes the last block):

* **WebRTC** (``webrtcvad``, fixed-point GMM): 10, 20 or 30 ms blocks of int16 PCM, the last block
  zero-padded; its binary decision is the score (0 or 1).
* **Silero** (``silero-vad``'s ONNX files, run with onnxruntime on 1 thread): 512-sample (32 ms)
  chunks, each fed with the previous chunk's last 64 samples as context and the recurrent state
  carried over, exactly like the package's ``OnnxWrapper`` (zeros before the first chunk; the last
  chunk zero-padded). One chunk probability covers 3-4 of our frames. Offline scoring uses
  ``silero_vad_16k_sequence.onnx`` (many chunks per call, same numbers), streaming uses
  ``silero_vad_op18_ifless.onnx`` one chunk per call (:class:`SileroStream`).

Inputs at other rates are resampled to 16 kHz with :func:`speechdl.audio.resample`.

Example:
    >>> import numpy as np
    >>> num_frames(16000), webrtc_scores(np.zeros(16000, np.float32), mode=3).shape
    (101, (101,))
"""

from __future__ import annotations

import importlib.resources
from collections.abc import Callable
from pathlib import Path

import numpy as np

from speechdl.audio import resample, to_int16

SR = 16000
HOP = 160  # samples per 10 ms frame
SILERO_CHUNK, SILERO_CONTEXT = 512, 64
SILERO_STREAM_ONNX = "silero_vad_op18_ifless.onnx"
SILERO_OFFLINE_ONNX = "silero_vad_16k_sequence.onnx"


def num_frames(num_samples: int) -> int:
    """Frames of our 10 ms grid for ``num_samples`` at 16 kHz: ``1 + N // 160``."""
    return 1 + int(num_samples) // HOP


def block_to_frames(block_scores: np.ndarray, block: int, num_samples: int) -> np.ndarray:
    """Spread scores of consecutive ``block``-sample blocks onto the 10 ms grid ``(1 + N // 160,)``.

    Frame ``t`` takes the block containing sample ``t * 160`` (clamped to the last block).
    """
    b = np.asarray(block_scores, dtype=np.float32).reshape(-1)
    if b.size == 0:
        return np.zeros(num_frames(num_samples), np.float32)
    idx = np.minimum(np.arange(num_frames(num_samples)) * HOP // block, b.size - 1)
    return b[idx]


def _to16k(wave: np.ndarray, sample_rate: int) -> np.ndarray:
    x = np.asarray(wave, dtype=np.float32).reshape(-1)
    return resample(x, sample_rate, SR) if sample_rate != SR else x


# --------------------------------------------------------------------------------------- WebRTC


class WebRTCVAD:
    """WebRTC VAD with ``mode`` 0 (least aggressive) to 3 on ``frame_ms`` = 10, 20 or 30 ms blocks."""

    def __init__(self, mode: int = 3, frame_ms: int = 10) -> None:
        import webrtcvad

        if mode not in (0, 1, 2, 3):
            raise ValueError(f"WebRTC VAD mode must be 0-3, got {mode}")
        if frame_ms not in (10, 20, 30):
            raise ValueError(f"WebRTC VAD frames are 10, 20 or 30 ms, got {frame_ms}")
        self.mode, self.frame_ms = mode, frame_ms
        self.block = SR * frame_ms // 1000
        self._vad = webrtcvad.Vad(mode)

    def decide(self, pcm: bytes) -> bool:
        """Decision for one block of int16 little-endian PCM (``2 * block`` bytes)."""
        return self._vad.is_speech(pcm, SR)

    def blocks(self, wave_16k: np.ndarray) -> np.ndarray:
        """0/1 decision per block ``(ceil(N / block),)``; the last block zero-padded.

        A fresh detector is used for each signal (WebRTC keeps hangover state between blocks).
        """
        import webrtcvad

        self._vad = webrtcvad.Vad(self.mode)
        x = to_int16(np.asarray(wave_16k, dtype=np.float32))
        n = -(-x.size // self.block)
        pcm = np.zeros(n * self.block, np.int16)
        pcm[: x.size] = x
        data, step = pcm.tobytes(), 2 * self.block
        is_speech = self._vad.is_speech
        return np.fromiter((is_speech(data[i:i + step], SR) for i in range(0, len(data), step)),
                           dtype=np.float32, count=n)

    def __call__(self, wave: np.ndarray, sample_rate: int = SR) -> np.ndarray:
        """0/1 score per 10 ms frame of our grid ``(1 + N // 160,)``."""
        x = _to16k(wave, sample_rate)
        return block_to_frames(self.blocks(x), self.block, x.size)


def webrtc_scores(wave: np.ndarray, mode: int = 3, sample_rate: int = SR, frame_ms: int = 10) -> np.ndarray:
    """WebRTC VAD decisions (0/1) per 10 ms frame of our grid; see :class:`WebRTCVAD`."""
    return WebRTCVAD(mode, frame_ms)(wave, sample_rate)


# --------------------------------------------------------------------------------------- Silero


def silero_onnx_path(name: str = SILERO_OFFLINE_ONNX) -> Path:
    """Path of an ONNX file shipped inside the ``silero-vad`` package (not imported: no torch)."""
    try:
        path = Path(str(importlib.resources.files("silero_vad.data").joinpath(name)))
    except ModuleNotFoundError:
        raise ImportError("silero-vad is not installed (pip install 'speechdl[bench]')") from None
    if not path.is_file():
        raise FileNotFoundError(f"{name} is not in the installed silero-vad package ({path.parent})")
    return path


def _session(path: Path, threads: int = 1):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3  # the op18 file triggers harmless "unused initializer" warnings
    return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])


class SileroStream:
    """Silero VAD one 512-sample chunk per call, carrying state and context like ``OnnxWrapper``.

    ``chunk(x)`` takes exactly 512 float32 samples at 16 kHz and returns the speech probability.
    """

    def __init__(self, path: str | Path | None = None, threads: int = 1) -> None:
        self.session = _session(Path(path) if path else silero_onnx_path(SILERO_STREAM_ONNX), threads)
        self._sr = np.array(SR, dtype=np.int64)
        self.reset()

    def reset(self) -> None:
        """Zero state and context (a new stream)."""
        self._state = np.zeros((2, 1, 128), np.float32)
        self._input = np.zeros((1, SILERO_CONTEXT + SILERO_CHUNK), np.float32)

    def chunk(self, x: np.ndarray) -> float:
        """Speech probability of one 32 ms chunk ``(512,)``."""
        inp = self._input
        inp[0, :SILERO_CONTEXT] = inp[0, -SILERO_CONTEXT:]  # context = last 64 samples fed so far
        inp[0, SILERO_CONTEXT:] = x
        out, self._state = self.session.run(None, {"input": inp, "state": self._state, "sr": self._sr})
        return float(out[0, 0])

    def chunks(self, wave_16k: np.ndarray) -> np.ndarray:
        """Probability per chunk of a whole signal ``(ceil(N / 512),)``, from a fresh state."""
        self.reset()
        x = _pad_chunks(np.asarray(wave_16k, dtype=np.float32).reshape(-1))
        return np.array([self.chunk(c) for c in x.reshape(-1, SILERO_CHUNK)], np.float32)

    def __call__(self, wave: np.ndarray, sample_rate: int = SR) -> np.ndarray:
        """Probability per 10 ms frame of our grid ``(1 + N // 160,)``."""
        x = _to16k(wave, sample_rate)
        return block_to_frames(self.chunks(x), SILERO_CHUNK, x.size)


def _pad_chunks(x: np.ndarray) -> np.ndarray:
    n = -(-x.size // SILERO_CHUNK) * SILERO_CHUNK
    return np.pad(x, (0, n - x.size)) if n != x.size else x


class SileroVAD:
    """Silero VAD offline: ``silero_vad_16k_sequence.onnx``, up to ``max_chunks`` chunks per call.

    Same context/state handling as :class:`SileroStream` (the package's ``frame_blocks``), so the
    probabilities agree with streaming to float rounding.
    """

    def __init__(self, path: str | Path | None = None, threads: int = 1, max_chunks: int = 512) -> None:
        self.session = _session(Path(path) if path else silero_onnx_path(SILERO_OFFLINE_ONNX), threads)
        self.max_chunks = max_chunks

    def chunks(self, wave_16k: np.ndarray) -> np.ndarray:
        """Probability per 512-sample chunk ``(ceil(N / 512),)``."""
        x = _pad_chunks(np.asarray(wave_16k, dtype=np.float32).reshape(-1))
        frames = x.reshape(-1, SILERO_CHUNK)
        h = np.zeros((1, 1, 128), np.float32)
        c = np.zeros((1, 1, 128), np.float32)
        context = np.zeros(SILERO_CONTEXT, np.float32)
        out = []
        for i in range(0, len(frames), self.max_chunks):
            block = frames[i:i + self.max_chunks]
            ctx = np.empty((len(block), SILERO_CONTEXT), np.float32)
            ctx[0] = context
            ctx[1:] = block[:-1, -SILERO_CONTEXT:]
            context = block[-1, -SILERO_CONTEXT:].copy()
            p, h, c = self.session.run(["speech_probs", "hn", "cn"],
                                       {"input": np.concatenate([ctx, block], axis=1), "h": h, "c": c})
            out.append(np.asarray(p, np.float32).reshape(-1))
        return np.concatenate(out) if out else np.zeros(0, np.float32)

    def __call__(self, wave: np.ndarray, sample_rate: int = SR) -> np.ndarray:
        """Probability per 10 ms frame of our grid ``(1 + N // 160,)``."""
        x = _to16k(wave, sample_rate)
        return block_to_frames(self.chunks(x), SILERO_CHUNK, x.size)


def silero_scores(wave: np.ndarray, sample_rate: int = SR) -> np.ndarray:
    """Silero VAD speech probability per 10 ms frame of our grid (offline, 1 thread)."""
    return SileroVAD()(wave, sample_rate)


def onnx_size(path: str | Path) -> tuple[int, int]:
    """``(parameters, bytes on disk)`` of an ONNX file: elements of its float initializers."""
    import onnx

    model = onnx.load(str(path))
    params = sum(int(np.prod(t.dims)) for t in model.graph.initializer if t.data_type in (1, 10, 11, 16))
    return params, Path(path).stat().st_size


def baseline_scorers(webrtc_modes: tuple[int, ...] = (0, 1, 2, 3), webrtc_ms: int = 10,
                     silero: bool = True) -> dict[str, Callable[[np.ndarray], np.ndarray]]:
    """``{name: scorer(wave_16k) -> scores per frame}`` for the reference systems."""
    out: dict[str, Callable[[np.ndarray], np.ndarray]] = {
        f"webrtc-{m}": WebRTCVAD(m, webrtc_ms) for m in webrtc_modes}
    if silero:
        out["silero"] = SileroVAD()
    return out

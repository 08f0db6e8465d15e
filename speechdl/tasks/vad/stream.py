"""Streaming VAD: audio chunks of any size in, frame probabilities and segment events out.

The per-hop path makes no torch call: the front-end (window, FFT, mel, log, DCT), the deltas /
stacking and the network (dense, or a unidirectional rnn/gru/lstm cell) run in numpy
(:func:`speechdl.tasks.vad.net.numpy_net`); per-call overhead dominates a 10 ms hop, and numpy
has far less of it than ``nn.Module`` calls (shared/PERF.md). For a dense net, :class:`FusedDense`
folds dB scaling, DCT, deltas (and stacking), the input normalisation and the first Linear into one
matrix applied to the last ``2L + 1`` ln-mel frames, so a hop costs one FFT and a few small products
(measured, 1 thread on a shared 2-core machine: lecture DNN about 27 us p50 per 10 ms hop, 2x64 LSTM
about 48 us). Other models (``vad_crnn``) stream through their torch ``forward_chunk``.

**Latency.** Frame ``t`` is centred on sample ``t * hop`` and needs ``n_fft // 2`` samples after
it (16 ms at 16 kHz, n_fft 512); deltas need ``delta_window`` more frames per order (MFCC39: 2 x 2
= 4 frames, 40 ms) and stacking ``+-k`` needs ``k`` frames. So a probability for frame ``t``
comes ``latency`` seconds after the audio of frame ``t`` arrived (MFCC39: 56 ms); segment events
add the smoothing half-window and the ``min_speech`` / silence confirmation. The emitted frames
are the same frames, in the same order, as the offline ones: nothing is shifted.

The features come from :mod:`speechdl.features.incremental`, the dense fast path from
:mod:`speechdl.tasks.vad.fused`.

Example:
    >>> import numpy as np
    >>> from speechdl.tasks.vad.infer import load_vad
    >>> s = load_vad("vad").stream()
    >>> outs = [s.push(np.zeros(160, np.float32)) for _ in range(50)] + [s.flush()]   # 10 ms pieces
    >>> sum(len(o.probabilities) for o in outs), [e for o in outs for e in o.events]   # 0.5 s of silence
    (17, [])
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from speechdl.errors import ConfigError
from speechdl.features import FrontendConfig
from speechdl.features.incremental import FeaturePipeline
from speechdl.tasks.vad.fused import FusedDense
from speechdl.tasks.vad.post import Event, PostConfig, SegmentTracker

__all__ = ["FeaturePipeline", "FusedDense", "StreamOutput", "VADStream"]


@dataclass
class StreamOutput:
    """What :meth:`VADStream.push` returns: probabilities of frames ``first_frame ...`` and new events."""

    first_frame: int
    probabilities: np.ndarray
    events: list[Event] = field(default_factory=list)


class VADStream:
    """Streaming VAD over a loaded :class:`~speechdl.tasks.vad.infer.VAD`.

    ``push(samples)`` (mono float32 at the model's rate, any length, even 0) returns a
    :class:`StreamOutput`: the probabilities ``(n,)`` of the frames that became final and the segment
    events (``{"event": "start"|"end", "time": s}``); ``flush()`` ends the audio. Concatenated,
    the probabilities equal ``VAD.probabilities`` of the whole signal (to 1e-4).

    Example:
        >>> from speechdl.tasks.vad.infer import load_vad
        >>> s = load_vad("vad-lecture").stream()
        >>> len(s.push(np.zeros(1600, np.float32)).probabilities) + len(s.flush().probabilities)
        11
    """

    def __init__(self, model: Any, frontend: FrontendConfig, post: PostConfig | None = None,
                 engine: str = "numpy") -> None:
        from speechdl.tasks.vad.net import numpy_net

        self.features = FeaturePipeline(frontend, engine="numpy")
        self.frontend = frontend
        self.tracker = SegmentTracker(frontend.frame_shift, post or PostConfig())
        self.np_net = None
        if engine == "numpy":
            try:
                self.np_net = numpy_net(model)
            except ConfigError:
                self.np_net = None
        self.fused = None
        if (self.np_net is not None and hasattr(self.np_net, "after_first") and frontend.kind != "power"
                and frontend.cmvn == "none" and (frontend.pad_mode == "constant" or not frontend.center)):
            self.fused = FusedDense(frontend, self.np_net)
        self.model = model
        self.state = self.np_net.init_state() if self.np_net is not None else model.init_state()
        st = self.features.static
        # one hop in, one frame out, for a one-frame numpy step (the band-norm LSTM): the feature pipeline's
        # general path costs more Python than the arithmetic (the same arithmetic, fewer calls)
        self.hop_step = (getattr(self.np_net, "step_w", None) is not None and not self.features.stages
                         and getattr(st, "spec_out", None) is not None and frontend.kind == "logmel"
                         and frontend.power == 2.0 and not frontend.preemphasis)
        self.frames = 0
        self.samples = 0

    @property
    def latency(self) -> float:
        """Seconds between a frame's audio and its probability (see the module docstring)."""
        return self.features.latency

    def _logits(self, feats: np.ndarray) -> np.ndarray:
        if not len(feats):
            return np.zeros(0, np.float32)
        if self.np_net is not None:
            logits, self.state = self.np_net(feats, self.state)
            return logits
        with torch.no_grad():
            out, self.state = self.model.forward_chunk(torch.from_numpy(feats)[None], self.state)
        return out[0].numpy()

    def _emit(self, feats: np.ndarray, final: bool) -> StreamOutput:
        if not len(feats) and not final:
            return StreamOutput(self.frames, feats[:, 0], [])
        return self._emit_logits(self._logits(feats), final)

    def _emit_logits(self, logits: np.ndarray, final: bool) -> StreamOutput:
        if len(logits) == 1:  # one frame per hop: a scalar sigmoid is cheaper than an array one
            probs = np.array([0.5 + 0.5 * math.tanh(0.5 * float(logits[0]))], np.float32)
        else:
            probs = 1.0 / (1.0 + np.exp(-logits))
        out = StreamOutput(self.frames, probs, self.tracker.push(probs) if len(probs) else [])
        if final:
            out.events += self.tracker.flush(self.samples / self.frontend.sample_rate)
        self.frames += len(probs)
        return out

    def push(self, samples: np.ndarray) -> StreamOutput:
        """Add audio; returns the newly final frame probabilities and segment events."""
        self.samples += len(samples)
        if self.fused is not None:
            return self._emit_logits(self.fused.push(samples), False)
        if self.hop_step and isinstance(samples, np.ndarray) and samples.dtype == np.float32 and samples.ndim == 1:
            st, cfg = self.features.static, self.frontend
            buf = np.concatenate((st.buf, samples))
            if len(buf) < cfg.n_fft:
                st.buf = buf
                return StreamOutput(self.frames, st.empty[:, 0], [])
            if len(buf) < cfg.n_fft + cfg.hop_length:   # exactly one new frame
                st.buf = buf[cfg.hop_length:]
                logits, self.state = self.np_net._step(st.frame_log_mel(buf[:cfg.n_fft])[None], self.state)
                return self._emit_logits(logits, False)
            st.buf, samples = buf, samples[:0]
        return self._emit(self.features.push(samples), False)

    def flush(self) -> StreamOutput:
        """End of audio: the remaining probabilities and the closing events."""
        if self.fused is not None:
            return self._emit_logits(self.fused.flush(), True)
        return self._emit(self.features.flush(), True)

    @property
    def segments(self) -> list[dict[str, float]]:
        """Segments finished so far ``[{start, end}]`` (s)."""
        return self.tracker.segments

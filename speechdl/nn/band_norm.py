"""A recurrent frame model that also sees each band against its own recent past (``band_norm_rnn``).

Steady noise (engine rumble, rain, a fan, a sustained chord) is a level offset per band that lasts seconds;
speech moves in and out of every band within a few hundred ms. :class:`CausalBandMean` estimates each
feature's recent level with a causal, exponentially weighted mean over the last ``taps`` frames, and
:class:`BandNormRNN` feeds the recurrence both the features and their difference to that level
(``[x, x - mean_recent(x)]``, a log-domain automatic gain control per band, in the spirit of PCEN's
per-channel normalisation). Everything is causal and finite, so it streams exactly, exports to ONNX
(a depthwise convolution) and has a numpy twin (:func:`speechdl.tasks.vad.net.numpy_net`).

Example:
    >>> import torch
    >>> net = BandNormRNN(4, tau=3.0, taps=8, hidden_size=6, out_dim=1).eval()
    >>> x = torch.randn(1, 20, 4)
    >>> a, s = net.forward_chunk(x[:, :7]); b, _ = net.forward_chunk(x[:, 7:], s)
    >>> bool(torch.allclose(torch.cat([a, b], 1), net(x), atol=1e-5))
    True
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from speechdl.errors import ConfigError
from speechdl.nn.recurrent import RecurrentNet
from speechdl.nn.registry import register


def band_weights(tau: float, taps: int) -> torch.Tensor:
    """Causal weights ``(taps,)``, newest frame first: ``exp(-k / tau)`` for ``k = 0 .. taps - 1``."""
    return torch.exp(-torch.arange(int(taps), dtype=torch.float64) / float(tau)).float()


class CausalBandMean(nn.Module):
    """Per-feature causal weighted mean of the last ``taps`` frames: ``(B, T, F) -> (B, T, F)``.

    ``m_t = sum_k w_k x_{t-k} / sum_k w_k`` over the frames that exist (``k <= t``), so the first frames
    average what has been seen so far (no zero padding pulls them down).
    """

    def __init__(self, dim: int, tau: float, taps: int) -> None:
        super().__init__()
        if not (tau > 0 and math.isfinite(tau)) or int(taps) < 1:
            raise ConfigError("model 'band_norm_rnn'", f"tau={tau!r}, taps={taps!r} are not positive",
                              "use e.g. tau: 33, taps: 100 (frames)")
        self.dim, self.taps = int(dim), int(taps)
        w = band_weights(tau, taps)
        self.register_buffer("weights", w, persistent=False)
        # conv1d correlates: oldest tap first; one depthwise filter per feature
        self.register_buffer("kernel", w.flip(0).repeat(self.dim, 1, 1), persistent=False)
        self.register_buffer("cumw", torch.cumsum(w, 0), persistent=False)

    def forward(self, x: torch.Tensor, past: int | torch.Tensor = 0,
                history: torch.Tensor | None = None) -> torch.Tensor:
        """``x (B, T, F)`` -> means ``(B, T, F)``; ``history`` ``(B, taps - 1, F)`` (zeros where unseen) and
        ``past`` (frames seen before this chunk) continue a stream."""
        B, T, _ = x.shape
        if history is None:
            history = x.new_zeros(B, self.taps - 1, self.dim)
        h = torch.cat([history, x], 1).transpose(1, 2)  # (B, F, taps - 1 + T)
        num = F.conv1d(h, self.kernel, groups=self.dim).transpose(1, 2)  # (B, T, F)
        seen = torch.arange(T, device=x.device) + past  # frames before frame t in the stream
        den = self.cumw[torch.clamp(seen, max=self.taps - 1)]
        return num / den[None, :, None]


@register("band_norm_rnn")
class BandNormRNN(nn.Module):
    """:class:`~speechdl.nn.recurrent.RecurrentNet` (unidirectional, frame-level) on ``[x, x - band mean]``.

    Args:
        in_dim: input features F (the recurrence sees ``2 F``).
        tau: time constant of the band mean in frames (``exp(-k / tau)``).
        taps: frames the mean spans (its memory, at most).
        kwargs: :class:`RecurrentNet`'s (``hidden_size``, ``num_layers``, ``cell``, ``out_dim``, ...).

    Shapes: ``(B, T, F)`` [+ ``(B,)`` lengths] -> ``(B, T, out)``.
    """

    def __init__(self, in_dim: int, tau: float = 33.0, taps: int = 100, **kwargs: Any) -> None:
        super().__init__()
        if kwargs.get("bidirectional") or kwargs.get("pool"):
            raise ConfigError("model 'band_norm_rnn'", "is causal and frame-level", "drop bidirectional and pool")
        self.band = CausalBandMean(in_dim, tau, taps)
        self.tau, self.taps = float(tau), int(taps)
        self.inner = RecurrentNet(2 * int(in_dim), **kwargs)
        self.bidirectional = False

    def features(self, x: torch.Tensor, past: int = 0, history: torch.Tensor | None = None) -> torch.Tensor:
        """``(B, T, F) -> (B, T, 2F)``: the features and their offset from the recent band level."""
        return torch.cat([x, x - self.band(x, past, history)], -1)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """``(B, T, F)`` [+ lengths] -> ``(B, T, out)`` (padding after a sequence never reaches its frames)."""
        return self.inner(self.features(x), lengths)

    def init_state(self, batch_size: int = 1) -> None:
        """Zero state (built by :meth:`forward_chunk`)."""
        return None

    def forward_chunk(self, x: torch.Tensor, state: Any = None) -> tuple[torch.Tensor, Any]:
        """``(B, t, F)`` chunk -> ``((B, t, out), state)``; chunks in sequence give :meth:`forward`'s frames."""
        past, history, inner = (0, None, None) if state is None else state
        z = self.features(x, past, history)
        full = torch.cat([history if history is not None else x.new_zeros(x.shape[0], self.taps - 1, x.shape[2]),
                          x], 1)
        y, inner = self.inner.forward_chunk(z, inner)
        return y, (past + x.shape[1], full[:, full.shape[1] - (self.taps - 1):], inner)

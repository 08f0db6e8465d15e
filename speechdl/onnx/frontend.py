"""The front-end as an ONNX-exportable graph: waveform ``(1, samples)`` -> features ``(1, frames, F)``.

:class:`GraphFrontend` computes what :class:`speechdl.features.Frontend` computes for the same
:class:`~speechdl.features.FrontendConfig`, from operators that every ONNX runtime has:

- pre-emphasis: a pad and a slice; centring: ``Pad`` (constant or reflect);
- framing, window and DFT in one strided ``Conv``: the kernels are the windowed cosine and sine rows of
  the DFT (float64 basis stored as float32), only the bins that the mel filters (or the power output)
  use, and only the ``win_length`` samples where the window is non-zero;
- power and mel filterbank as one ``MatMul`` of the squared cosine and sine outputs; log as ``Max`` + ``Log``;
  DCT as ``MatMul``;
- deltas as a ``Conv`` over time after edge (``replicate``) padding; stacking as edge padding and
  shifted slices; utterance CMVN as ``ReduceMean``; global CMVN from the front-end's buffers.

The length axis is dynamic: one graph serves every signal long enough for one frame (``n_fft // 2 + 1``
samples with reflect centring, 1 sample with constant centring, ``n_fft`` without centring).
A DFT by matrix product rounds differently from the FFT (both err by about 1e-7 of the frame's energy, so
the quietest bands of a loud frame differ most): features agree to about 1.2e-4 in ln or dB units on
speech, and to 6e-5 or better once normalised per feature as the models see them
(``tests/unit/test_onnx_frontend.py``).
The FFT front-end of torch is 3-8x faster than this graph in onnxruntime (``benchmarks/onnx_speed.py``).

Example:
    >>> import torch
    >>> from speechdl.features import Frontend, FrontendConfig
    >>> cfg = FrontendConfig.mfcc39()
    >>> wave = torch.randn(1, 8000)
    >>> ref, got = Frontend(cfg)(wave), GraphFrontend(cfg)(wave)
    >>> tuple(got.shape), bool((got - ref).abs().max() < 1e-3)
    ((1, 51, 39), True)
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from speechdl.errors import ConfigError
from speechdl.features import Frontend, FrontendConfig, dct_matrix, make_window, mel_filterbank


def dft_kernels(cfg: FrontendConfig, lo: int, hi: int) -> tuple[torch.Tensor, int]:
    """Windowed DFT rows as ``Conv1d`` weights ``(2 (hi - lo), 1, win_length)`` and the window's offset.

    Row ``j`` is ``w[n] cos(2 pi k n / n_fft)``, row ``hi - lo + j`` is ``w[n] sin(...)`` for bin
    ``k = lo + j``, with ``n`` the sample's place in the ``n_fft`` frame (the ``win_length`` window sits
    in the middle of it, as ``torch.stft`` places it). Computed in float64.
    """
    window = make_window(cfg.window, cfg.win_length, torch.float64)
    left = (cfg.n_fft - cfg.win_length) // 2
    n = torch.arange(left, left + cfg.win_length, dtype=torch.float64)
    k = torch.arange(lo, hi, dtype=torch.float64)
    phase = (k[:, None] * n[None, :]) % cfg.n_fft * (2.0 * math.pi / cfg.n_fft)  # exact reduction first
    rows = torch.cat([torch.cos(phase), torch.sin(phase)], dim=0) * window  # (2 bins, win)
    return rows.unsqueeze(1).float(), left


class GraphFrontend(nn.Module):
    """:class:`~speechdl.features.Frontend` rebuilt from exportable operators (see the module docstring).

    Args:
        cfg: the front-end settings (a bundle's ``frontend``).
        frontend: the torch front-end whose global CMVN statistics to copy (``cmvn="global"`` only).

    Shapes: ``wave (1, samples)`` float32 at ``cfg.sample_rate`` -> ``(1, cfg.num_frames(samples),
    cfg.feature_dim)``. A batch of equal-length signals ``(B, samples)`` works too.
    """

    def __init__(self, cfg: FrontendConfig, frontend: Frontend | None = None) -> None:
        super().__init__()
        self.cfg = cfg
        fb = mel_filterbank(cfg.sample_rate, cfg.n_fft, cfg.n_mels, cfg.f_min, cfg.f_max, cfg.mel_scale,
                            cfg.mel_norm)
        if cfg.kind == "power":
            lo, hi = 0, cfg.n_freqs
        else:  # the filters are zero outside bins lo:hi, so the DFT skips those bins
            rows = fb.abs().sum(1).nonzero()[:, 0]
            lo, hi = (int(rows[0]), int(rows[-1]) + 1) if len(rows) else (0, 1)
        kernels, self.left = dft_kernels(cfg, lo, hi)
        self.right = cfg.n_fft - self.left - cfg.win_length
        self.register_buffer("kernels", kernels)
        self.register_buffer("mel_fb", fb[lo:hi].contiguous())  # (bins, n_mels)
        self.register_buffer("mel_fb2", torch.cat([fb[lo:hi], fb[lo:hi]]).T.contiguous())  # (n_mels, 2 bins)
        self.register_buffer("dct", dct_matrix(cfg.n_mels, cfg.n_mfcc))
        self.log_scale = 10.0 / math.log(10.0) if cfg.log == "db" else 1.0
        w = cfg.delta_window
        taps = torch.arange(-w, w + 1, dtype=torch.float64) / (2 * sum(n * n for n in range(1, w + 1)))
        self.register_buffer("delta_taps", taps.float().reshape(1, 1, -1))
        dim = cfg.static_dim * (1 + cfg.deltas)
        mean, std = torch.zeros(dim), torch.ones(dim)
        if cfg.cmvn == "global":
            stats = getattr(frontend, "cmvn", None)
            if stats is None or getattr(stats, "mode", "") != "global":
                raise ConfigError("onnx front-end", "cmvn=global needs the front-end holding its statistics",
                                  "pass frontend=<the bundle's Frontend>")
            mean, std = stats.mean.detach().clone(), stats.std.detach().clone()
        self.register_buffer("cmvn_mean", mean)
        self.register_buffer("cmvn_std", std)
        self.cmvn_eps = 1e-5

    @property
    def min_samples(self) -> int:
        """The shortest signal the graph accepts (one frame)."""
        if not self.cfg.center:
            return self.cfg.n_fft
        return self.cfg.n_fft // 2 + 1 if self.cfg.pad_mode == "reflect" else 1

    def static(self, wave: torch.Tensor) -> torch.Tensor:
        """``(B, samples) -> (B, frames, static_dim)``: log-Mel, MFCC or power."""
        cfg = self.cfg
        x = wave.unsqueeze(1)  # (B, 1, N)
        if cfg.preemphasis:
            x = x - cfg.preemphasis * F.pad(x, (1, 0))[..., :-1]
        if cfg.center:
            pad = cfg.n_fft // 2
            x = F.pad(x, (pad, pad), mode="reflect" if cfg.pad_mode == "reflect" else "constant")
        end = -self.right if self.right else None  # frames end where the n_fft frame would end
        x = x[..., self.left:end] if self.left or end else x
        spec = F.conv1d(x, self.kernels, stride=cfg.hop_length)  # (B, 2 bins, T): cosines, then sines
        sq = spec * spec
        if cfg.power == 2.0 and cfg.kind != "power":  # re^2 @ fb + im^2 @ fb in one product
            mel = torch.matmul(self.mel_fb2, sq).transpose(1, 2)  # (B, T, n_mels)
        else:
            bins = sq.shape[1] // 2
            power = (sq[:, :bins] + sq[:, bins:]).transpose(1, 2)  # (B, T, bins)
            if cfg.power != 2.0:
                power = power.pow(cfg.power / 2.0)
            if cfg.kind == "power":
                return power
            mel = torch.matmul(power, self.mel_fb)
        logmel = torch.log(torch.clamp(mel, min=cfg.log_floor))
        if self.log_scale != 1.0:
            logmel = logmel * self.log_scale
        return torch.matmul(logmel, self.dct) if cfg.kind == "mfcc" else logmel

    def deltas(self, feats: torch.Tensor) -> torch.Tensor:
        """Regression deltas over ``+-delta_window`` frames, edges repeated: ``(B, T, S) -> (B, T, S)``."""
        b, _, s = feats.shape
        x = feats.transpose(1, 2).reshape(b * s, 1, -1)  # every feature as its own 1-channel signal
        w = self.cfg.delta_window
        x = F.pad(x, (w, w), mode="replicate")
        return F.conv1d(x, self.delta_taps).reshape(b, s, -1).transpose(1, 2)

    def stack(self, feats: torch.Tensor) -> torch.Tensor:
        """Frames ``t-k .. t+k`` side by side, edges repeated: ``(B, T, D) -> (B, T, (2k + 1) D)``."""
        k = self.cfg.stack
        x = F.pad(feats.transpose(1, 2), (k, k), mode="replicate")  # (B, D, T + 2k)
        parts = [x[..., j: (j - 2 * k) or None] for j in range(2 * k + 1)]
        return torch.cat(parts, dim=1).transpose(1, 2)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        """``wave (B, samples)`` -> features ``(B, frames, feature_dim)``."""
        x = self.static(wave)
        if self.cfg.deltas:
            levels = [x]
            for _ in range(self.cfg.deltas):
                levels.append(self.deltas(levels[-1]))
            x = torch.cat(levels, dim=-1)
        if self.cfg.cmvn == "utterance":
            x = x - x.mean(dim=1, keepdim=True)
            std = torch.sqrt(torch.mean(x * x, dim=1, keepdim=True))
            x = x / torch.clamp(std, min=self.cmvn_eps)
        elif self.cfg.cmvn == "global":
            x = (x - self.cmvn_mean) / self.cmvn_std
        return self.stack(x) if self.cfg.stack else x

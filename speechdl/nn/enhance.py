"""Speech enhancement networks on :class:`~speechdl.nn.spectral_mask.SpectralMasker` (waveform in, waveform out).

- :class:`BandGRU` (``enhance_gru``): causal and real-time, in the spirit of RNNoise / PercepNet: log
  energies of ``bands`` mel-spaced triangular bands -> a stacked GRU -> one gain per band, interpolated
  back to the bins; 20 ms window, 10 ms hop (algorithmic latency 20 ms). Streams frame by frame
  (``init_state`` / ``mask_chunk``), equal to the offline pass.
- :class:`StackedDAE` (``enhance_dae``): the lecture's denoising autoencoder on log-magnitude frames
  with frame stacking: ``2 context + 1`` frames in, one frame's mask out, through a dense bottleneck
  (encoder ``hidden`` ... decoder); non-causal (it sees ``context`` future frames).
- :class:`MetricDiscriminator` (``metric_discriminator``): MetricGAN's learned quality judge: a small CNN
  on (enhanced, clean) log-magnitude pairs that predicts a normalised quality score in [0, 1].

Both maskers hold their input normalisation (``norm_mean`` / ``norm_std`` buffers, fitted on training
mixtures by the training task) so a bundle is self-contained.

Example:
    >>> import torch
    >>> g = BandGRU(bands=16, hidden=32, layers=1)
    >>> x = torch.randn(1, 1600)
    >>> g(x).shape
    torch.Size([1, 1600])
    >>> re, im = g.analysis(x)
    >>> m1 = g.mask(re, im)
    >>> a, st = g.mask_chunk(re[:, :4], im[:, :4], g.init_state())
    >>> b, st = g.mask_chunk(re[:, 4:], im[:, 4:], st)
    >>> bool(torch.allclose(torch.cat([a, b], 1), m1, atol=1e-6))
    True
    >>> StackedDAE(context=2, hidden=[64, 16, 64])(x).shape
    torch.Size([1, 1600])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from speechdl.errors import ConfigError
from speechdl.nn._parts import InputNorm
from speechdl.nn.registry import register
from speechdl.nn.spectral_mask import SpectralMasker, band_matrix

LOG_FLOOR = 1e-10


@register("enhance_gru")
class BandGRU(SpectralMasker):
    """Causal band-gain GRU: ``(B, N)`` noisy -> ``(B, N)`` enhanced.

    Args:
        n_fft: window (samples); hop ``n_fft / 2``. sample_rate: Hz.
        bands: triangular mel bands (the features and the gains).
        hidden: GRU width. layers: stacked GRU layers.
        min_gain: floor of every gain (keeps some noise: fewer artefacts).
    """

    causal = True

    def __init__(self, n_fft: int = 320, sample_rate: int = 16000, bands: int = 32, hidden: int = 128,
                 layers: int = 2, min_gain: float = 0.0) -> None:
        super().__init__(n_fft, sample_rate)
        self.bands, self.hidden, self.layers, self.min_gain = int(bands), int(hidden), int(layers), float(min_gain)
        self.register_buffer("bands_fb", band_matrix(self.bands, self.n_bins, sample_rate), persistent=False)
        self.norm = InputNorm(self.bands)
        self.inp = nn.Sequential(nn.Linear(self.bands, self.hidden), nn.Tanh())
        self.gru = nn.GRU(self.hidden, self.hidden, num_layers=self.layers, batch_first=True)
        self.head = nn.Linear(self.hidden + self.bands, self.bands)

    def features(self, re: torch.Tensor, im: torch.Tensor) -> torch.Tensor:
        """Log band energies ``(B, T, bands)`` (before normalisation)."""
        energy = self.power(re, im) @ (self.bands_fb / self.bands_fb.sum(1, keepdim=True)).T
        return torch.log10(energy + LOG_FLOOR)

    def _gains(self, feats: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        g = torch.sigmoid(self.head(torch.cat([h, feats], -1)))
        if self.min_gain > 0:
            g = self.min_gain + (1 - self.min_gain) * g
        return g @ self.bands_fb                          # (B, T, F)

    def mask(self, re: torch.Tensor, im: torch.Tensor) -> torch.Tensor:
        """Offline: gains ``(B, T, F)`` for every frame (the GRU starts from zeros)."""
        f = self.norm(self.features(re, im))
        h, _ = self.gru(self.inp(f))
        return self._gains(f, h)

    def init_state(self, batch: int = 1) -> torch.Tensor:
        """GRU state ``(layers, batch, hidden)`` of zeros."""
        return torch.zeros(self.layers, batch, self.hidden)

    def mask_chunk(self, re: torch.Tensor, im: torch.Tensor, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Streaming: the gains of ``t`` more frames ``(B, t, F)`` and the new state."""
        f = self.norm(self.features(re, im))
        h, state = self.gru(self.inp(f), state)
        return self._gains(f, h), state


@register("enhance_dae")
class StackedDAE(SpectralMasker):
    """Denoising autoencoder on stacked log-magnitude frames: ``(B, N)`` -> ``(B, N)``.

    Args:
        n_fft, sample_rate: as :class:`BandGRU`.
        context: frames on each side stacked with the centre one (input ``(2 context + 1) F``).
        hidden: dense widths, encoder to decoder (e.g. ``[512, 256, 512]``: 256 is the bottleneck).
        dropout: between layers (training only).
    """

    def __init__(self, n_fft: int = 320, sample_rate: int = 16000, context: int = 4,
                 hidden: Sequence[int] = (512, 256, 512), dropout: float = 0.0) -> None:
        super().__init__(n_fft, sample_rate)
        if context < 0 or not hidden:
            raise ConfigError("enhance_dae", f"context={context}, hidden={list(hidden)}",
                              "use context >= 0 and at least one hidden layer")
        self.context, self.hidden = int(context), [int(h) for h in hidden]
        self.norm = InputNorm(self.n_bins)
        layers: list[nn.Module] = []
        dim = (2 * self.context + 1) * self.n_bins
        for h in self.hidden:
            layers += [nn.Linear(dim, h), nn.ReLU()] + ([nn.Dropout(dropout)] if dropout else [])
            dim = h
        layers.append(nn.Linear(dim, self.n_bins))
        self.net = nn.Sequential(*layers)

    def features(self, re: torch.Tensor, im: torch.Tensor) -> torch.Tensor:
        """Log magnitudes ``(B, T, F)`` (before normalisation)."""
        return 0.5 * torch.log10(self.power(re, im) + LOG_FLOOR)

    def stack(self, f: torch.Tensor) -> torch.Tensor:
        """``(B, T, F)`` normalised features -> ``(B, T, (2c+1) F)``, zeros beyond the edges."""
        c = self.context
        if c == 0:
            return f
        t = f.shape[1]
        p = nn.functional.pad(f, (0, 0, c, c))
        return torch.cat([p[:, i: i + t] for i in range(2 * c + 1)], -1)

    def mask_from_features(self, f: torch.Tensor) -> torch.Tensor:
        """Normalised features ``(B, T, F)`` -> gains ``(B, T, F)`` (the frames' own edges are zero padded)."""
        return torch.sigmoid(self.net(self.stack(f)))

    def mask(self, re: torch.Tensor, im: torch.Tensor) -> torch.Tensor:
        """Gains ``(B, T, F)``."""
        return self.mask_from_features(self.norm(self.features(re, im)))


@register("metric_discriminator")
class MetricDiscriminator(nn.Module):
    """MetricGAN's discriminator: ``(enhanced, clean)`` magnitudes ``(B, T, F)`` -> score ``(B,)`` in [0, 1]
    (trained to predict the normalised PESQ of the pair).

    Args:
        channels: conv widths. hidden: width of the dense layer after global pooling.
    """

    def __init__(self, channels: Sequence[int] = (16, 32, 32), hidden: int = 64) -> None:
        super().__init__()
        convs: list[nn.Module] = []
        cin = 2
        for c in channels:
            convs += [nn.utils.parametrizations.spectral_norm(nn.Conv2d(cin, c, 5, stride=2, padding=2)),
                      nn.LeakyReLU(0.2)]
            cin = c
        self.convs = nn.Sequential(*convs)
        self.fc = nn.Sequential(nn.Linear(cin, hidden), nn.LeakyReLU(0.2), nn.Linear(hidden, 1))

    def forward(self, enhanced_mag: torch.Tensor, clean_mag: torch.Tensor) -> torch.Tensor:
        """Magnitudes ``(B, T, F)`` (compressed inside: ``|X| ** 0.3``) -> ``(B,)``."""
        x = torch.stack([enhanced_mag.clamp_min(0) ** 0.3, clean_mag.clamp_min(0) ** 0.3], 1)
        h = self.convs(x).mean((2, 3))
        return torch.sigmoid(self.fc(h)).squeeze(-1)


def describe(model: Any) -> dict[str, Any]:
    """A short summary (parameters, causality, latency in ms) of an enhancement network."""
    params = sum(p.numel() for p in model.parameters())
    return {"parameters": int(params), "causal": bool(getattr(model, "causal", False)),
            "latency_ms": round(1000 * model.n_fft / model.sample_rate
                                + (0 if model.causal else 1000 * model.hop * getattr(model, "context", 0)
                                   / model.sample_rate), 1)}

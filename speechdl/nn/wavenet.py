"""WaveNet (van den Oord et al. 2016): an autoregressive model of μ-law waveform samples (or, with
``output="gaussian"``, of float samples through a single Gaussian per sample, ClariNet's teacher), with
fast incremental generation from per-layer cached queues (Fast WaveNet, Paine et al. 2016).

Stacks of dilated causal convolutions (dilations 1, 2, 4, ... 2**(layers-1), repeated ``stacks``
times) with gated activations tanh(W_f * x) ⊙ σ(W_g * x), residual and skip connections; optional
local conditioning (mel frames upsampled to the sample rate by repetition, a transposed
convolution with stride ``hop_length``, or the vocoder's ``conv`` network: a 3-frame convolution, then per
factor of ``upsample_scales`` a repetition and a smoothing convolution, as in Tacotron 2's WaveNet) and
global conditioning (a speaker embedding).

Convention: ``forward(x)`` on class ids x (B, T) returns logits (B, T, n_classes) where
``logits[:, t]`` is the distribution of ``x[:, t + 1]`` and depends on ``x[:, :t + 1]`` only.
The training loss is therefore ``cross_entropy(logits[:, :-1], x[:, 1:])``.

``output="gaussian"`` (Ping, Peng and Chen 2019, ClariNet): x (B, T) is the float waveform in [-1, 1] (no
quantisation; the input layer is a 1x1 convolution instead of the embedding) and ``forward`` returns
(B, T, 2): ``[..., 0]`` the mean μ and ``[..., 1]`` the log standard deviation log σ (floored at
``log_scale_min``, -7 as in ClariNet) of ``x[:, t + 1]``. The loss is the Gaussian negative log-likelihood
(:func:`gaussian_nll`, nats per sample); generation draws ``x_t = μ + temperature · σ · ε`` (0: the mean).

Example:
    >>> import torch
    >>> from speechdl.nn import build
    >>> net = build("wavenet", n_classes=256, residual_channels=8, dilation_channels=8,
    ...             skip_channels=8, layers=3, stacks=1)
    >>> x = mu_law_encode(torch.sin(torch.linspace(0, 20, 100))[None])
    >>> tuple(net(x).shape), net.receptive_field
    ((1, 100, 256), 8)
    >>> tuple(net.generate(10, generator=torch.Generator().manual_seed(0)).shape)
    (1, 10)
    >>> g = build("wavenet", output="gaussian", residual_channels=8, dilation_channels=8, skip_channels=8,
    ...           layers=3, stacks=1)
    >>> tuple(g(torch.zeros(1, 100)).shape), g.generate(5).dtype     # (mu, log sigma); float samples
    ((1, 100, 2), torch.float32)
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from speechdl.nn.registry import register


def mu_law_encode(x: Tensor, n_classes: int = 256) -> Tensor:
    """Waveform in [-1, 1] (any shape) -> μ-law class ids in [0, n_classes) (long, same shape)."""
    mu = n_classes - 1
    x = x.clamp(-1.0, 1.0)
    y = torch.sign(x) * torch.log1p(mu * x.abs()) / math.log1p(mu)
    return ((y + 1) / 2 * mu + 0.5).long().clamp(0, mu)


def gaussian_nll(x: Tensor, mu: Tensor, log_sigma: Tensor) -> Tensor:
    """Elementwise negative log-likelihood (nats) of ``x`` under N(mu, exp(log_sigma)^2) (same shapes).

    >>> round(float(gaussian_nll(torch.zeros(1), torch.zeros(1), torch.zeros(1))), 4)   # 0.5 ln(2 pi)
    0.9189
    """
    return 0.5 * math.log(2 * math.pi) + log_sigma + 0.5 * ((x - mu) * torch.exp(-log_sigma)) ** 2


def mu_law_decode(ids: Tensor, n_classes: int = 256) -> Tensor:
    """μ-law class ids (any shape) -> waveform in [-1, 1] (float32, same shape)."""
    mu = n_classes - 1
    y = 2 * ids.float() / mu - 1
    return torch.sign(y) * ((1 + mu) ** y.abs() - 1) / mu


class ResidualLayer(nn.Module):
    """One gated dilated causal layer; (B, R, T) -> residual (B, R, T), skip (B, S, T)."""

    def __init__(self, residual: int, dilation_ch: int, skip: int, kernel_size: int, dilation: int,
                 cond_dim: int, gc_dim: int, residual_out: bool = True) -> None:
        super().__init__()
        self.dilation, self.kernel_size = dilation, kernel_size
        self.pad = (kernel_size - 1) * dilation
        self.conv = nn.Conv1d(residual, 2 * dilation_ch, kernel_size, dilation=dilation)
        self.cond = nn.Conv1d(cond_dim, 2 * dilation_ch, 1, bias=False) if cond_dim else None
        self.gc = nn.Linear(gc_dim, 2 * dilation_ch, bias=False) if gc_dim else None
        # the last layer feeds only the skip path: a residual output there would be unused
        self.res = nn.Conv1d(dilation_ch, residual, 1) if residual_out else None
        self.skip = nn.Conv1d(dilation_ch, skip, 1)

    def bias_terms(self, cond: Tensor | None, gc: Tensor | None) -> Tensor | int:
        """Conditioning added before the gate: cond (B, C, T), gc (B, G) -> (B, 2D, T or 1) or 0."""
        out: Tensor | int = 0
        if self.cond is not None and cond is not None:
            out = out + self.cond(cond)
        if self.gc is not None and gc is not None:
            out = out + self.gc(gc)[:, :, None]
        return out

    def gate(self, h: Tensor, x: Tensor, extra: Tensor | int) -> tuple[Tensor, Tensor]:
        a, b = (h + extra).chunk(2, dim=1)
        z = torch.tanh(a) * torch.sigmoid(b)
        res = (x + self.res(z)) * math.sqrt(0.5) if self.res is not None else x
        return res, self.skip(z)

    def forward(self, x: Tensor, extra: Tensor | int) -> tuple[Tensor, Tensor]:
        return self.gate(self.conv(F.pad(x, (self.pad, 0))), x, extra)

    def step(self, x: Tensor, queue: Tensor, t: int, extra: Tensor | int) -> tuple[Tensor, Tensor]:
        """One time step with a circular queue of past inputs: x (B, R, 1), queue (B, R, pad) updated
        in place. Costs one kernel-size tap per layer, independent of the receptive field."""
        taps = []
        for j in range(self.kernel_size - 1):  # tap j sees time t - (k - 1 - j) * dilation
            taps.append(queue[:, :, (t - (self.kernel_size - 1 - j) * self.dilation) % self.pad])
        taps.append(x[:, :, 0])
        window = torch.stack(taps, dim=-1)  # (B, R, k)
        h = torch.einsum("brk,ork->bo", window, self.conv.weight) + self.conv.bias
        queue[:, :, t % self.pad] = x[:, :, 0]
        return self.gate(h[:, :, None], x, extra)


class ConvUpsampler(nn.Module):
    """Frames (B, C, Tc) -> (B, C, Tc * prod(scales)): a 3-frame convolution (context across frames), then per
    scale s a repetition by s and a depthwise smoothing convolution of 2s + 1 taps (initialised to a moving
    average, so an untrained upsampler already interpolates)."""

    def __init__(self, channels: int, scales: list[int]) -> None:
        super().__init__()
        self.scales = list(scales)
        self.conv_in = nn.Conv1d(channels, channels, 3, padding=1)
        self.smooth = nn.ModuleList(nn.Conv1d(channels, channels, 2 * s + 1, padding=s, groups=channels, bias=False)
                                    for s in self.scales)
        for conv, s in zip(self.smooth, self.scales):
            nn.init.constant_(conv.weight, 1.0 / (2 * s + 1))

    def forward(self, c: Tensor) -> Tensor:
        c = F.leaky_relu(self.conv_in(c), 0.4) + c
        for s, conv in zip(self.scales, self.smooth):
            c = conv(c.repeat_interleave(s, dim=2))
        return c


@register("wavenet")
class WaveNet(nn.Module):
    """WaveNet over μ-law class ids with optional local (frames) and global (speaker) conditioning.

    Args:
        n_classes: quantisation levels (256 for 8-bit μ-law). residual_channels, dilation_channels,
            skip_channels: widths. layers: layers per stack (dilations 1 .. 2**(layers-1)).
            stacks: repetitions. kernel_size: causal conv width (2 in the paper).
        cond_dim: local conditioning features (e.g. 80 mels; 0 = none). hop_length: samples per
            conditioning frame. upsample: "repeat", "transposed" (learned, stride hop_length) or "conv"
            (:class:`ConvUpsampler`; ``upsample_scales`` multiply to hop_length, e.g. [4, 4, 4, 4] for 256).
        n_speakers: global conditioning speakers (0 = none). speaker_dim: their embedding size.
        output: ``"mulaw"`` (categorical over ``n_classes`` μ-law ids) or ``"gaussian"`` (float samples;
            (μ, log σ) per sample, ``n_classes`` unused). log_scale_min: the floor of log σ (``gaussian``).

    Shapes: x (B, T) long (``gaussian``: float), cond (B, T / hop_length, cond_dim), speaker (B,) long
    -> (B, T, n_classes) (``gaussian``: (B, T, 2)).

    Example:
        >>> import torch
        >>> net = WaveNet(n_classes=16, residual_channels=4, dilation_channels=4, skip_channels=4,
        ...               layers=2, stacks=1, cond_dim=3, hop_length=4, n_speakers=2)
        >>> y = net(torch.randint(0, 16, (2, 8)), cond=torch.randn(2, 2, 3), speaker=torch.tensor([0, 1]))
        >>> tuple(y.shape)
        (2, 8, 16)
    """

    def __init__(self, n_classes: int = 256, residual_channels: int = 64, dilation_channels: int = 64,
                 skip_channels: int = 128, layers: int = 10, stacks: int = 2, kernel_size: int = 2,
                 cond_dim: int = 0, hop_length: int = 256, upsample: str = "repeat", n_speakers: int = 0,
                 speaker_dim: int = 16, upsample_scales: list[int] | None = None, output: str = "mulaw",
                 log_scale_min: float = -7.0) -> None:
        super().__init__()
        if output not in ("mulaw", "gaussian"):
            raise ValueError(f"output must be 'mulaw' or 'gaussian', not {output!r}")
        if kernel_size < 2:
            raise ValueError(f"kernel_size must be >= 2, not {kernel_size}")
        if upsample not in ("repeat", "transposed", "conv"):
            raise ValueError(f"upsample must be 'repeat', 'transposed' or 'conv', not {upsample!r}")
        scales = list(upsample_scales or [])
        if upsample == "conv" and math.prod(scales) != hop_length:
            raise ValueError(f"upsample_scales {scales} must multiply to hop_length={hop_length}")
        self.n_classes, self.cond_dim, self.hop_length, self.upsample = n_classes, cond_dim, hop_length, upsample
        self.output, self.log_scale_min, self.residual_channels = output, float(log_scale_min), residual_channels
        self.embed = (nn.Embedding(n_classes, residual_channels) if output == "mulaw"
                      else nn.Conv1d(1, residual_channels, 1))
        gc_dim = speaker_dim if n_speakers else 0
        self.speaker = nn.Embedding(n_speakers, speaker_dim) if n_speakers else None
        self.upsampler = (nn.ConvTranspose1d(cond_dim, cond_dim, 2 * hop_length, stride=hop_length,
                                             padding=hop_length // 2)
                          if cond_dim and upsample == "transposed" else
                          ConvUpsampler(cond_dim, scales) if cond_dim and upsample == "conv" else None)
        n = stacks * layers
        self.layers = nn.ModuleList(
            ResidualLayer(residual_channels, dilation_channels, skip_channels, kernel_size, 2 ** (j % layers),
                          cond_dim, gc_dim, residual_out=j < n - 1)
            for j in range(n))
        self.head = nn.Sequential(nn.ReLU(), nn.Conv1d(skip_channels, skip_channels, 1), nn.ReLU(),
                                  nn.Conv1d(skip_channels, n_classes if output == "mulaw" else 2, 1))
        self.receptive_field = 1 + sum(layer.pad for layer in self.layers)

    def upsample_cond(self, cond: Tensor | None, n_samples: int) -> Tensor | None:
        """Frames (B, Tc, cond_dim) -> per-sample conditioning (B, cond_dim, n_samples) or None."""
        if cond is None or not self.cond_dim:
            return None
        c = cond.transpose(1, 2)
        if self.upsampler is not None:
            c = self.upsampler(c)
        else:
            c = c.repeat_interleave(self.hop_length, dim=2)
        if c.shape[2] < n_samples:
            raise ValueError(f"conditioning covers {c.shape[2]} samples, {n_samples} requested")
        return c[:, :, :n_samples]

    def _global(self, speaker: Tensor | None) -> Tensor | None:
        return self.speaker(speaker) if self.speaker is not None and speaker is not None else None

    def _embed(self, x: Tensor) -> Tensor:
        """Inputs (B, T) (ids, or float samples for ``gaussian``) -> (B, R, T)."""
        if self.output == "gaussian":
            return self.embed(x[:, None].to(self.embed.weight.dtype))
        return self.embed(x).transpose(1, 2)

    def _out(self, h: Tensor) -> Tensor:
        """Head output (B, C, T) -> (B, T, C); ``gaussian``: log σ floored at ``log_scale_min``."""
        h = h.transpose(1, 2)
        if self.output == "gaussian":
            h = torch.stack([h[..., 0], h[..., 1].clamp_min(self.log_scale_min)], dim=-1)
        return h

    def forward(self, x: Tensor, cond: Tensor | None = None, speaker: Tensor | None = None) -> Tensor:
        """Parallel causal pass: x (B, T) ids -> logits (B, T, n_classes); logits[:, t] predicts x[:, t+1].
        ``gaussian``: float x (B, T) -> (μ, log σ) (B, T, 2) of x[:, t+1]."""
        h = self._embed(x)  # (B, R, T)
        c, g = self.upsample_cond(cond, x.shape[1]), self._global(speaker)
        skips: Tensor | int = 0
        for layer in self.layers:
            h, s = layer(h, layer.bias_terms(c, g))
            skips = skips + s
        return self._out(self.head(skips))

    def loss(self, x: Tensor, cond: Tensor | None = None, speaker: Tensor | None = None) -> Tensor:
        """Next-sample cross entropy (nats) on ids x (B, T); ``gaussian``: the mean Gaussian NLL (nats)."""
        logits = self(x, cond, speaker)
        if self.output == "gaussian":
            return gaussian_nll(x[:, 1:].to(logits.dtype), logits[:, :-1, 0], logits[:, :-1, 1]).mean()
        return F.cross_entropy(logits[:, :-1].reshape(-1, self.n_classes), x[:, 1:].reshape(-1))

    # -- incremental (Fast WaveNet) ---------------------------------------------------------------
    def init_queues(self, batch: int, device: torch.device | None = None,
                    dtype: torch.dtype | None = None) -> list[Tensor]:
        """Zeroed per-layer input queues, each (B, residual_channels, (kernel_size - 1) * dilation)."""
        w = self.embed.weight
        return [torch.zeros(batch, self.residual_channels, layer.pad, device=device or w.device,
                            dtype=dtype or w.dtype) for layer in self.layers]

    def step(self, x_t: Tensor, queues: list[Tensor], t: int, extras: list[Tensor | int]) -> Tensor:
        """Feed sample ids x_t (B,) at time t -> logits (B, n_classes) for time t + 1; queues advance.
        ``gaussian``: float samples x_t (B,) -> (μ, log σ) (B, 2).

        ``extras[i]`` is layer i's conditioning at time t ((B, 2D, 1) or 0), see :meth:`_extras`.
        """
        h = self._embed(x_t[:, None])
        skips: Tensor | int = 0
        for layer, q, e in zip(self.layers, queues, extras):
            h, s = layer.step(h, q, t, e)
            skips = skips + s
        return self._out(self.head(skips))[:, 0]

    def _extras(self, c: Tensor | None, g: Tensor | None) -> list[Tensor | int]:
        """Per-layer conditioning for all samples, precomputed once: each (B, 2D, T), (B, 2D, 1) or 0."""
        return [layer.bias_terms(c, g) for layer in self.layers]

    @staticmethod
    def _at(extra: Tensor | int, t: int) -> Tensor | int:
        if isinstance(extra, Tensor) and extra.shape[2] > 1:
            return extra[:, :, t : t + 1]
        return extra

    @torch.no_grad()
    def incremental_logits(self, x: Tensor, cond: Tensor | None = None, speaker: Tensor | None = None) -> Tensor:
        """Teacher-forced pass through the cached (generation) path: x (B, T) -> (B, T, n_classes or 2).
        Equals :meth:`forward` up to rounding; used to check the queues."""
        queues = self.init_queues(x.shape[0])
        extras = self._extras(self.upsample_cond(cond, x.shape[1]), self._global(speaker))
        out = [self.step(x[:, t], queues, t, [self._at(e, t) for e in extras]) for t in range(x.shape[1])]
        return torch.stack(out, dim=1)

    @torch.no_grad()
    def generate(self, n_samples: int, cond: Tensor | None = None, speaker: Tensor | None = None,
                 temperature: float = 1.0, generator: torch.Generator | None = None,
                 batch_size: int | None = None) -> Tensor:
        """Sample ``n_samples`` ids (B, n_samples) autoregressively at O(layers) cost per sample.

        Generation starts from the silent class (n_classes // 2). ``cond`` (B, Tc, cond_dim) must cover
        n_samples; ``temperature`` 0 picks the argmax; ``generator`` seeds the sampling.
        Decode to a waveform with :func:`mu_law_decode`. ``gaussian``: float samples (B, n_samples) in [-1, 1],
        starting from silence (0.0): ``x_t = μ + temperature · σ · ε`` (0: the mean), clipped to [-1, 1].
        """
        b = batch_size or (cond.shape[0] if cond is not None else speaker.shape[0] if speaker is not None else 1)
        queues = self.init_queues(b)
        extras = self._extras(self.upsample_cond(cond, n_samples), self._global(speaker))
        w = self.embed.weight
        if self.output == "gaussian":
            x_t = torch.zeros(b, dtype=w.dtype, device=w.device)
        else:
            x_t = torch.full((b,), self.n_classes // 2, dtype=torch.long, device=w.device)
        out = []
        for t in range(n_samples):
            logits = self.step(x_t, queues, t, [self._at(e, t) for e in extras])
            if self.output == "gaussian":
                x_t = logits[:, 0]
                if temperature > 0:
                    eps = torch.randn(b, generator=generator, dtype=w.dtype).to(w.device)
                    x_t = x_t + temperature * torch.exp(logits[:, 1]) * eps
                x_t = x_t.clamp(-1.0, 1.0)
            elif temperature <= 0:
                x_t = logits.argmax(-1)
            else:
                probs = torch.softmax(logits.float() / temperature, dim=-1)
                x_t = torch.multinomial(probs, 1, generator=generator).squeeze(1)
            out.append(x_t)
        return torch.stack(out, dim=1)

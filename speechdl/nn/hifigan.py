"""HiFi-GAN (Kong, Kim and Bae 2020): a mel-spectrogram -> waveform generator and its multi-period and
multi-scale discriminators, with the paper's losses.

Generator: a 7-tap conv of the mel frames, then per upsampling stage a leaky ReLU, a transposed conv
(stride ``upsample_rates[i]``, channels halved) and a multi-receptive-field fusion (the mean of residual
blocks of kernel sizes ``resblock_kernel_sizes``); a 7-tap conv to one channel and ``tanh``. ``resblock``
``"1"`` (V1/V2: pairs of dilated and plain convs) or ``"2"`` (V3: one dilated conv per step). The module
names follow the reference implementation, so its checkpoints load after :func:`fold_weight_norm`.

Discriminators (:class:`MultiPeriodDiscriminator`, periods 2, 3, 5, 7, 11; :class:`MultiScaleDiscriminator`,
raw, x2 and x4 average-pooled audio) return per sub-discriminator logits and feature maps; ``width``
scales their channels (1.0 = the paper's). Losses (least squares, as in the paper): :func:`discriminator_loss`,
:func:`generator_adv_loss`, :func:`feature_matching_loss`.

Example:
    >>> import torch
    >>> from speechdl.nn import build
    >>> g = build("hifigan", upsample_rates=[4, 4], upsample_kernel_sizes=[8, 8], upsample_initial_channel=16,
    ...           resblock="2", resblock_kernel_sizes=[3], resblock_dilation_sizes=[[1, 3]])
    >>> g.hop_length, tuple(g(torch.randn(2, 10, 80)).shape)     # mel (B, T, 80) -> wave (B, T * hop)
    (16, (2, 160))
    >>> d = build("hifigan_discriminator", width=0.125)
    >>> logits, feats = d(torch.randn(2, 400))
    >>> len(logits)                                                # 5 periods + 3 scales
    8
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils import parametrizations, parametrize

from speechdl.nn.registry import register

LRELU_SLOPE = 0.1


def _pad(kernel: int, dilation: int = 1) -> int:
    return (kernel * dilation - dilation) // 2


def _wn(module: nn.Module, on: bool) -> nn.Module:
    return parametrizations.weight_norm(module) if on else module


class ResBlock1(nn.Module):
    """V1/V2 block: for each dilation, lrelu -> dilated conv -> lrelu -> conv, residual. (B, C, N) -> (B, C, N)."""

    def __init__(self, channels: int, kernel: int, dilations: Sequence[int], wn: bool) -> None:
        super().__init__()
        self.convs1 = nn.ModuleList(_wn(nn.Conv1d(channels, channels, kernel, dilation=d, padding=_pad(kernel, d)), wn)
                                    for d in dilations)
        self.convs2 = nn.ModuleList(_wn(nn.Conv1d(channels, channels, kernel, padding=_pad(kernel)), wn)
                                    for _ in dilations)

    def forward(self, x: Tensor) -> Tensor:
        for c1, c2 in zip(self.convs1, self.convs2):
            x = x + c2(F.leaky_relu(c1(F.leaky_relu(x, LRELU_SLOPE)), LRELU_SLOPE))
        return x


class ResBlock2(nn.Module):
    """V3 block: for each dilation, lrelu -> dilated conv, residual. (B, C, N) -> (B, C, N)."""

    def __init__(self, channels: int, kernel: int, dilations: Sequence[int], wn: bool) -> None:
        super().__init__()
        self.convs = nn.ModuleList(_wn(nn.Conv1d(channels, channels, kernel, dilation=d, padding=_pad(kernel, d)), wn)
                                   for d in dilations)

    def forward(self, x: Tensor) -> Tensor:
        for c in self.convs:
            x = x + c(F.leaky_relu(x, LRELU_SLOPE))
        return x


@register("hifigan")
class HiFiGANGenerator(nn.Module):
    """Mel frames ``(B, T, n_mels)`` -> waveform ``(B, T * hop_length)`` in [-1, 1].

    Args:
        n_mels: input features per frame. upsample_rates: strides (their product is the hop length).
        upsample_kernel_sizes: transposed-conv kernels (usually 2x the stride).
        upsample_initial_channel: channels after the input conv (halved at each stage).
        resblock: ``"1"`` or ``"2"``. resblock_kernel_sizes / resblock_dilation_sizes: the fusion's blocks.
        weight_norm: weight-normalised convs (training); :meth:`remove_weight_norm` folds them for inference.

    The defaults are a V3-like generator for a hop of 256 (rates 8, 8, 4).
    """

    def __init__(self, n_mels: int = 80, upsample_rates: Sequence[int] = (8, 8, 4),
                 upsample_kernel_sizes: Sequence[int] = (16, 16, 8), upsample_initial_channel: int = 256,
                 resblock: str = "2", resblock_kernel_sizes: Sequence[int] = (3, 5, 7),
                 resblock_dilation_sizes: Sequence[Sequence[int]] = ((1, 2), (2, 6), (3, 12)),
                 weight_norm: bool = True) -> None:
        super().__init__()
        if resblock not in ("1", "2"):
            raise ValueError(f"resblock must be '1' or '2', not {resblock!r}")
        if len(upsample_rates) != len(upsample_kernel_sizes) or len(resblock_kernel_sizes) != len(
                resblock_dilation_sizes):
            raise ValueError("upsample_rates / upsample_kernel_sizes and the resblock lists must pair up")
        self.n_mels, self.num_kernels = n_mels, len(resblock_kernel_sizes)
        self.hop_length = int(math.prod(upsample_rates))
        block = ResBlock1 if resblock == "1" else ResBlock2
        ch = upsample_initial_channel
        self.conv_pre = _wn(nn.Conv1d(n_mels, ch, 7, padding=3), weight_norm)
        self.ups = nn.ModuleList()
        self.resblocks = nn.ModuleList()
        for i, (u, k) in enumerate(zip(upsample_rates, upsample_kernel_sizes)):
            c_in, ch = upsample_initial_channel // 2 ** i, upsample_initial_channel // 2 ** (i + 1)
            self.ups.append(_wn(nn.ConvTranspose1d(c_in, ch, k, u, padding=(k - u) // 2), weight_norm))
            for kr, dil in zip(resblock_kernel_sizes, resblock_dilation_sizes):
                self.resblocks.append(block(ch, kr, dil, weight_norm))
        self.conv_post = _wn(nn.Conv1d(ch, 1, 7, padding=3), weight_norm)
        for m in self.modules():   # the reference initialisation: N(0, 0.01) conv weights
            if isinstance(m, nn.Conv1d | nn.ConvTranspose1d):
                w = m.parametrizations.weight.original1 if parametrize.is_parametrized(m) else m.weight
                nn.init.normal_(w, 0.0, 0.01)

    def forward(self, mel: Tensor) -> Tensor:
        """``mel`` (B, T, n_mels) -> waveform (B, T * hop_length)."""
        x = self.conv_pre(mel.transpose(1, 2))
        for i, up in enumerate(self.ups):
            x = up(F.leaky_relu(x, LRELU_SLOPE))
            blocks = self.resblocks[i * self.num_kernels:(i + 1) * self.num_kernels]
            x = sum(b(x) for b in blocks) / self.num_kernels
        x = self.conv_post(F.leaky_relu(x))   # slope 0.01 here, as in the reference
        return torch.tanh(x)[:, 0]

    def remove_weight_norm(self) -> HiFiGANGenerator:
        """Fold every weight norm into a plain weight (same outputs, faster); returns self."""
        for m in self.modules():
            if parametrize.is_parametrized(m, "weight"):
                parametrize.remove_parametrizations(m, "weight")
        return self


def fold_weight_norm(state: dict[str, Tensor]) -> dict[str, Tensor]:
    """A state dict with weight-normalised tensors (``weight_g``/``weight_v`` of ``torch.nn.utils.weight_norm``
    or ``parametrizations.weight.original0/1``) turned into plain ``weight`` tensors (norm over all but dim 0).

    Example:
        >>> v, g = torch.ones(2, 3, 4), torch.full((2, 1, 1), 2.0)
        >>> w = fold_weight_norm({"c.weight_g": g, "c.weight_v": v, "c.bias": torch.zeros(2)})
        >>> sorted(w), round(float(w["c.weight"].norm(dim=(1, 2))[0]), 4)
        (['c.bias', 'c.weight'], 2.0)
    """
    out: dict[str, Tensor] = {}
    pairs = (("weight_g", "weight_v"), ("parametrizations.weight.original0", "parametrizations.weight.original1"))
    for key, val in state.items():
        for g_name, v_name in pairs:
            if key.endswith(v_name):
                base = key[: -len(v_name)]
                g = state[base + g_name]
                norm = val.flatten(1).norm(dim=1).reshape(-1, *([1] * (val.dim() - 1)))
                out[base + "weight"] = g * val / norm
                break
            if key.endswith(g_name):
                break
        else:
            out[key] = val
    return out


# ----------------------------------------------------------------------------- discriminators
def _ch(c: int, width: float) -> int:
    return max(4, int(round(c * width)))


class PeriodDiscriminator(nn.Module):
    """One MPD branch: audio reshaped to (B, 1, N / p, p), 2-D convs (kernel 5 x 1, stride 3)."""

    def __init__(self, period: int, width: float = 1.0) -> None:
        super().__init__()
        self.period = period
        chans = [1] + [_ch(c, width) for c in (32, 128, 512, 1024, 1024)]
        self.convs = nn.ModuleList(
            parametrizations.weight_norm(nn.Conv2d(chans[i], chans[i + 1], (5, 1), (3 if i < 4 else 1, 1),
                                                   padding=(2, 0)))
            for i in range(5))
        self.conv_post = parametrizations.weight_norm(nn.Conv2d(chans[-1], 1, (3, 1), 1, padding=(1, 0)))

    def forward(self, x: Tensor) -> tuple[Tensor, list[Tensor]]:
        b, n = x.shape
        if n % self.period:
            x = F.pad(x, (0, self.period - n % self.period), mode="reflect")
        return _conv_stack(self.convs, self.conv_post, x.reshape(b, 1, -1, self.period))


def _conv_stack(convs: nn.ModuleList, post: nn.Module, h: Tensor) -> tuple[Tensor, list[Tensor]]:
    """A discriminator branch: leaky-ReLU convs then ``post``; ``(scores (B, -1), every layer's output)``."""
    feats = []
    for c in convs:
        h = F.leaky_relu(c(h), LRELU_SLOPE)
        feats.append(h)
    h = post(h)
    feats.append(h)
    return h.flatten(1), feats


class ScaleDiscriminator(nn.Module):
    """One MSD branch: grouped 1-D convs over (B, 1, N)."""

    def __init__(self, width: float = 1.0, spectral_norm: bool = False) -> None:
        super().__init__()
        norm = nn.utils.spectral_norm if spectral_norm else parametrizations.weight_norm
        spec = [(1, 128, 15, 1, 1), (128, 128, 41, 2, 4), (128, 256, 41, 2, 16), (256, 512, 41, 4, 16),
                (512, 1024, 41, 4, 16), (1024, 1024, 41, 1, 16), (1024, 1024, 5, 1, 1)]
        layers = []
        for c_in, c_out, k, s, g in spec:
            ci, co = (1 if c_in == 1 else _ch(c_in, width)), _ch(c_out, width)
            g = math.gcd(g, math.gcd(ci, co))
            layers.append(norm(nn.Conv1d(ci, co, k, s, groups=g, padding=(k - 1) // 2)))
        self.convs = nn.ModuleList(layers)
        self.conv_post = norm(nn.Conv1d(_ch(1024, width), 1, 3, 1, padding=1))

    def forward(self, x: Tensor) -> tuple[Tensor, list[Tensor]]:
        return _conv_stack(self.convs, self.conv_post, x[:, None])


@register("hifigan_mpd")
class MultiPeriodDiscriminator(nn.Module):
    """Waveform (B, N) -> (logits per period, feature maps per period)."""

    def __init__(self, periods: Sequence[int] = (2, 3, 5, 7, 11), width: float = 1.0) -> None:
        super().__init__()
        self.discriminators = nn.ModuleList(PeriodDiscriminator(p, width) for p in periods)

    def forward(self, x: Tensor) -> tuple[list[Tensor], list[list[Tensor]]]:
        outs = [d(x) for d in self.discriminators]
        return [o[0] for o in outs], [o[1] for o in outs]


@register("hifigan_msd")
class MultiScaleDiscriminator(nn.Module):
    """Waveform (B, N) at 1x, 1/2x and 1/4x (average pooling) -> (logits per scale, feature maps per scale)."""

    def __init__(self, scales: int = 3, width: float = 1.0) -> None:
        super().__init__()
        self.discriminators = nn.ModuleList(ScaleDiscriminator(width, spectral_norm=i == 0) for i in range(scales))
        self.pool = nn.AvgPool1d(4, 2, padding=2)

    def forward(self, x: Tensor) -> tuple[list[Tensor], list[list[Tensor]]]:
        logits, feats = [], []
        for i, d in enumerate(self.discriminators):
            if i:
                x = self.pool(x[:, None])[:, 0]
            lo, fe = d(x)
            logits.append(lo)
            feats.append(fe)
        return logits, feats


@register("hifigan_discriminator")
class HiFiGANDiscriminator(nn.Module):
    """MPD and MSD together: waveform (B, N) -> (8 logits, 8 feature-map lists) with the default settings."""

    def __init__(self, periods: Sequence[int] = (2, 3, 5, 7, 11), scales: int = 3, width: float = 1.0) -> None:
        super().__init__()
        self.mpd = MultiPeriodDiscriminator(periods, width)
        self.msd = MultiScaleDiscriminator(scales, width)

    def forward(self, x: Tensor) -> tuple[list[Tensor], list[list[Tensor]]]:
        lp, fp = self.mpd(x)
        ls, fs = self.msd(x)
        return lp + ls, fp + fs


# ----------------------------------------------------------------------------- losses
def discriminator_loss(real: Sequence[Tensor], fake: Sequence[Tensor]) -> Tensor:
    """Least squares: ``sum_k mean((1 - D_k(x))^2) + mean(D_k(G(s))^2)`` over sub-discriminators."""
    return sum(torch.mean((1 - r) ** 2) + torch.mean(f ** 2) for r, f in zip(real, fake))


def generator_adv_loss(fake: Sequence[Tensor]) -> Tensor:
    """Least squares: ``sum_k mean((1 - D_k(G(s)))^2)``."""
    return sum(torch.mean((1 - f) ** 2) for f in fake)


def feature_matching_loss(real: Sequence[Sequence[Tensor]], fake: Sequence[Sequence[Tensor]]) -> Tensor:
    """``sum_k sum_l mean|D_k^l(x) - D_k^l(G(s))|`` (real features detached)."""
    return sum(torch.mean(torch.abs(r.detach() - f)) for rs, fs in zip(real, fake) for r, f in zip(rs, fs))

"""Generative adversarial networks: generator/discriminator pairs, LSGAN and hinge losses, one training step.

A generator G maps an input (random latent codes, or a noisy segment for enhancement) to a sample; a
discriminator D scores samples with a real-valued *logit* (high = "real"). Training alternates one D
update (tell real from generated) with one G update (fool D), :func:`adversarial_step`.

* :class:`MLPGenerator` / :class:`MLPDiscriminator`: vectors or frames ``(B, F)`` / ``(B, T, F)``.
* :class:`ConvGenerator`: SEGAN-like 1-D encoder-decoder with skip connections, noisy -> clean segments
  ``(B, L)`` waveform, ``(B, C, L)`` or, with ``channels_last=True``, spectrogram frames ``(B, T, F)``.
* :class:`ConvDiscriminator`: strided 1-D convs (optional spectral norm) -> one logit per segment;
  SEGAN's conditional D is obtained with ``forward(x, cond)`` (cond concatenated on channels).

Losses (``kind``): ``"lsgan"`` (least squares, Mao et al. 2017, targets 1 for real and 0 for fake,
with the 1/2 factors), ``"hinge"`` (Lim & Ye 2017; Miyato et al. 2018) and ``"bce"`` (non-saturating).

Example:
    >>> import torch
    >>> from speechdl.nn import build
    >>> g = build("mlp_generator", latent_dim=4, out_dim=2)
    >>> d = build("mlp_discriminator", in_dim=2)
    >>> d(g(torch.randn(8, 4))).shape
    torch.Size([8])
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from speechdl.errors import ConfigError
from speechdl.nn.autoencoder import make_activation
from speechdl.nn.registry import register

LOSS_KINDS = ("lsgan", "hinge", "bce")


def _check_kind(kind: str) -> None:
    if kind not in LOSS_KINDS:
        raise ConfigError(f"GAN loss {kind!r}", "unknown loss kind", f"choose one of: {', '.join(LOSS_KINDS)}")


def d_loss(real_logits: Tensor, fake_logits: Tensor, kind: str = "lsgan") -> Tensor:
    """Discriminator loss (scalar) from D's logits on real and on generated samples (any shapes).

    * lsgan: ``0.5 * mean((real - 1)^2) + 0.5 * mean(fake^2)``
    * hinge: ``mean(relu(1 - real)) + mean(relu(1 + fake))``
    * bce:   ``mean(softplus(-real)) + mean(softplus(fake))`` (= BCE with targets 1 / 0)
    """
    _check_kind(kind)
    if kind == "lsgan":
        return 0.5 * ((real_logits - 1) ** 2).mean() + 0.5 * (fake_logits ** 2).mean()
    if kind == "hinge":
        return F.relu(1 - real_logits).mean() + F.relu(1 + fake_logits).mean()
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def g_loss(fake_logits: Tensor, kind: str = "lsgan") -> Tensor:
    """Generator adversarial loss (scalar) from D's logits on generated samples.

    * lsgan: ``0.5 * mean((fake - 1)^2)``;  hinge: ``-mean(fake)``;  bce: ``mean(softplus(-fake))``.
    """
    _check_kind(kind)
    if kind == "lsgan":
        return 0.5 * ((fake_logits - 1) ** 2).mean()
    if kind == "hinge":
        return -fake_logits.mean()
    return F.softplus(-fake_logits).mean()


def _call_disc(disc: nn.Module, x: Tensor, condition: Tensor | None) -> Tensor:
    return disc(x) if condition is None else disc(x, condition)


def adversarial_step(gen: nn.Module, disc: nn.Module, opt_g: torch.optim.Optimizer, opt_d: torch.optim.Optimizer,
                     real: Tensor, gen_input: Tensor, kind: str = "lsgan", recon_weight: float = 0.0,
                     recon_target: Tensor | None = None, condition: Tensor | None = None) -> dict[str, float]:
    """One GAN iteration: a discriminator update, then a generator update.

    Args:
        gen, disc: the two networks; ``opt_g`` / ``opt_d`` optimise their parameters.
        real: a batch of real samples, shaped like ``gen(gen_input)``.
        gen_input: the generator's input (latent codes, or noisy segments for enhancement).
        kind: ``"lsgan"`` | ``"hinge"`` | ``"bce"``.
        recon_weight: weight of an L1 term ``mean|gen(gen_input) - recon_target|`` added to G's loss
            (SEGAN uses 100 with the clean segment as target); 0 disables it.
        recon_target: the L1 target (default ``real``, as for paired noisy/clean data).
        condition: if given, D is called as ``disc(x, condition)`` (conditional D, e.g. the noisy input).

    Returns:
        ``{"d_loss", "g_loss", "g_total", "recon", "d_real", "d_fake"}`` as floats: D's loss, G's
        adversarial loss, G's total loss, the L1 term (0 when disabled), and D's mean logits on the
        real and generated batch (before the D update).
    """
    _check_kind(kind)
    if recon_weight > 0 and recon_target is None:
        recon_target = real
    # discriminator update on a detached fake batch
    fake = gen(gen_input)
    opt_d.zero_grad(set_to_none=True)
    real_logits = _call_disc(disc, real, condition)
    fake_logits = _call_disc(disc, fake.detach(), condition)
    ld = d_loss(real_logits, fake_logits, kind)
    ld.backward()
    opt_d.step()
    # generator update through the freshly updated discriminator (D's parameters get no gradient)
    opt_g.zero_grad(set_to_none=True)
    trainable = [p for p in disc.parameters() if p.requires_grad]
    for p in trainable:
        p.requires_grad_(False)
    try:
        lg = g_loss(_call_disc(disc, fake, condition), kind)
        recon = (fake - recon_target).abs().mean() if recon_weight > 0 else torch.zeros((), device=fake.device)
        total = lg + recon_weight * recon
        total.backward()
    finally:
        for p in trainable:
            p.requires_grad_(True)
    opt_g.step()
    return {"d_loss": ld.item(), "g_loss": lg.item(), "g_total": total.item(), "recon": float(recon.item()),
            "d_real": real_logits.detach().mean().item(), "d_fake": fake_logits.detach().mean().item()}


def _sn(module: nn.Module, on: bool) -> nn.Module:
    return nn.utils.parametrizations.spectral_norm(module) if on else module


@register("mlp_generator")
class MLPGenerator(nn.Module):
    """MLP generator ``(..., latent_dim) -> (..., out_dim)``; linear output unless ``out_activation``.

    Args: latent_dim, out_dim, hidden sizes, activation (default leaky ReLU 0.2), out_activation.
    """

    def __init__(self, latent_dim: int, out_dim: int, hidden: Sequence[int] = (64, 64), activation="leaky_relu",
                 out_activation=None) -> None:
        super().__init__()
        self.latent_dim, self.out_dim = latent_dim, out_dim
        dims = [latent_dim, *hidden, out_dim]
        mods: list[nn.Module] = []
        for i, (a, b) in enumerate(zip(dims[:-1], dims[1:])):
            mods += [nn.Linear(a, b), make_activation(activation if i < len(dims) - 2 else out_activation)]
        self.net = nn.Sequential(*mods)

    def sample_latent(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """``(n, latent_dim)`` standard-normal codes on the model's device."""
        dev = next(self.parameters()).device
        return torch.randn(n, self.latent_dim, generator=generator).to(dev)

    def forward(self, z: Tensor) -> Tensor:
        """``(..., latent_dim) -> (..., out_dim)``."""
        return self.net(z)


@register("mlp_discriminator")
class MLPDiscriminator(nn.Module):
    """MLP discriminator ``(..., in_dim) -> (...)`` logits (one per vector/frame).

    Args: in_dim, hidden sizes, activation (leaky ReLU 0.2), spectral_norm on every Linear, dropout.
    ``forward(x, cond)`` concatenates ``cond`` on the last dimension first (then ``in_dim`` must count it).
    """

    def __init__(self, in_dim: int, hidden: Sequence[int] = (64, 64), activation="leaky_relu",
                 spectral_norm: bool = False, dropout: float = 0.0) -> None:
        super().__init__()
        self.in_dim = in_dim
        dims = [in_dim, *hidden]
        mods: list[nn.Module] = []
        for a, b in zip(dims[:-1], dims[1:]):
            mods += [_sn(nn.Linear(a, b), spectral_norm), make_activation(activation)]
            if dropout > 0:
                mods.append(nn.Dropout(dropout))
        mods.append(_sn(nn.Linear(dims[-1], 1), spectral_norm))
        self.net = nn.Sequential(*mods)

    def forward(self, x: Tensor, cond: Tensor | None = None) -> Tensor:
        """``(..., in_dim) -> (...)`` logits."""
        if cond is not None:
            x = torch.cat([x, cond], dim=-1)
        return self.net(x).squeeze(-1)


def _to_channels_first(x: Tensor, channels_last: bool, name: str) -> tuple[Tensor, bool]:
    """(B, L) -> (B, 1, L); (B, T, F) -> (B, F, T) when channels_last; returns (tensor, was_2d)."""
    if x.dim() == 2:
        return x.unsqueeze(1), True
    if x.dim() != 3:
        raise ValueError(f"{name}: expected (B, L) or (B, C, L) input, got {tuple(x.shape)}")
    return (x.transpose(1, 2) if channels_last else x), False


@register("conv_generator")
class ConvGenerator(nn.Module):
    """SEGAN-like 1-D encoder-decoder generator with skip connections (noisy -> clean segments).

    Encoder: ``len(channels)`` strided Conv1d + PReLU (each halves the length for stride 2); an optional
    Gaussian latent of ``latent_dim`` channels is concatenated at the bottleneck (SEGAN's z); decoder:
    transposed convs + PReLU, each concatenating the mirror encoder output (skip), back to
    ``in_channels``; ``out_activation`` (default tanh, for waveforms in [-1, 1]).

    Input ``(B, L)`` waveform segments (returns ``(B, L)``), ``(B, C, L)``, or ``(B, T, F)`` spectrogram
    frames with ``channels_last=True`` and ``in_channels=F``. Any length works: the input is
    zero-padded to a multiple of ``stride ** len(channels)`` and the output is cropped back.
    """

    def __init__(self, in_channels: int = 1, channels: Sequence[int] = (16, 32, 64), kernel_size: int = 15,
                 stride: int = 2, latent_dim: int = 0, out_activation="tanh", channels_last: bool = False) -> None:
        super().__init__()
        if kernel_size < stride or (stride == 1 and kernel_size % 2 == 0):
            raise ConfigError(f"kernel_size={kernel_size}, stride={stride}", "kernel too small for the stride",
                              "use kernel_size >= stride (odd when stride is 1), e.g. 15 with stride 2")
        self.in_channels, self.stride, self.latent_dim = in_channels, stride, latent_dim
        self.channels_last = channels_last
        self.depth = len(channels)
        # lengths divide exactly: conv maps m*stride -> m, the transposed conv m -> m*stride
        pad = (kernel_size - stride + 1) // 2
        out_pad = stride + 2 * pad - kernel_size
        dims = [in_channels, *channels]
        self.enc = nn.ModuleList(
            nn.Sequential(nn.Conv1d(a, b, kernel_size, stride, pad), nn.PReLU(b)) for a, b in zip(dims[:-1], dims[1:]))
        self.dec = nn.ModuleList()
        for i in reversed(range(self.depth)):
            # the deepest layer sees the code (+ latent); the others their input and the mirror skip
            c_in = dims[i + 1] + (latent_dim if i == self.depth - 1 else dims[i + 1])
            self.dec.append(nn.Sequential(
                nn.ConvTranspose1d(c_in, dims[i], kernel_size, stride, pad, out_pad),
                make_activation(out_activation) if i == 0 else nn.PReLU(dims[i])))

    def forward(self, x: Tensor, z: Tensor | None = None) -> Tensor:
        """Enhance/generate: same shape out as in. ``z``: optional latent ``(B, latent_dim, L / stride^depth)``."""
        h, was_2d = _to_channels_first(x, self.channels_last, "ConvGenerator")
        length = h.shape[-1]
        mult = self.stride ** self.depth
        h = F.pad(h, (0, (-length) % mult))
        skips = []
        for layer in self.enc:
            h = layer(h)
            skips.append(h)
        if self.latent_dim:
            if z is None:
                z = torch.randn(h.shape[0], self.latent_dim, h.shape[-1], device=h.device, dtype=h.dtype)
            h = torch.cat([h, z], dim=1)
        for j, layer in enumerate(self.dec):
            if j > 0:
                h = torch.cat([h, skips[self.depth - 1 - j]], dim=1)
            h = layer(h)
        h = h[..., :length]
        if was_2d:
            return h.squeeze(1)
        return h.transpose(1, 2) if self.channels_last else h


@register("conv_discriminator")
class ConvDiscriminator(nn.Module):
    """1-D conv discriminator: strided Conv1d + LeakyReLU(0.2) blocks, global average pool, Linear -> logit.

    Input as :class:`ConvGenerator` (``(B, L)``, ``(B, C, L)`` or channels-last frames); returns
    ``(B,)`` logits. ``forward(x, cond)`` concatenates ``cond`` (same layout) on the channel axis,
    SEGAN's conditional discriminator (then ``in_channels`` counts both). ``spectral_norm`` wraps
    every conv and the final Linear (Miyato et al. 2018), the usual partner of the hinge loss.
    """

    def __init__(self, in_channels: int = 1, channels: Sequence[int] = (16, 32, 64), kernel_size: int = 15,
                 stride: int = 2, spectral_norm: bool = True, channels_last: bool = False) -> None:
        super().__init__()
        self.channels_last = channels_last
        dims = [in_channels, *channels]
        mods: list[nn.Module] = []
        for a, b in zip(dims[:-1], dims[1:]):
            mods += [_sn(nn.Conv1d(a, b, kernel_size, stride, kernel_size // 2), spectral_norm), nn.LeakyReLU(0.2)]
        self.convs = nn.Sequential(*mods)
        self.out = _sn(nn.Linear(dims[-1], 1), spectral_norm)

    def forward(self, x: Tensor, cond: Tensor | None = None) -> Tensor:
        """``(B, [C,] L) -> (B,)`` logits."""
        h, _ = _to_channels_first(x, self.channels_last, "ConvDiscriminator")
        if cond is not None:
            c, _ = _to_channels_first(cond, self.channels_last, "ConvDiscriminator")
            h = torch.cat([h, c], dim=1)
        return self.out(self.convs(h).mean(dim=-1)).squeeze(-1)

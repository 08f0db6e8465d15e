"""Autoencoders: MLP, denoising and 1-D convolutional, plus bottleneck-feature extraction.

An autoencoder learns to reproduce its input through a narrow *bottleneck*; the bottleneck
activations are compact learned features (the lecture's *bottleneck features*), and a denoising
autoencoder, trained to map a corrupted input back to the clean one, is the building block of
greedy layer-wise pretraining (:mod:`speechdl.train.pretrain`) and of simple speech enhancement.

Shapes: MLP models accept ``(B, F)`` or ``(B, T, F)`` (any leading dimensions; each frame is coded
independently); :class:`ConvAutoEncoder` takes spectrogram frames ``(B, T, F)`` and convolves over T.

Example:
    >>> import torch
    >>> from speechdl.nn import build
    >>> ae = build("autoencoder", in_dim=40, hidden=[32], bottleneck_dim=8)
    >>> x = torch.randn(2, 50, 40)
    >>> ae(x).shape, ae.encode(x).shape
    (torch.Size([2, 50, 40]), torch.Size([2, 50, 8]))
    >>> bottleneck_features(ae, x).shape
    torch.Size([2, 50, 8])
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn

from speechdl.errors import ConfigError
from speechdl.nn.registry import register

_ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "relu": nn.ReLU,
    "leaky_relu": lambda: nn.LeakyReLU(0.2),
    "prelu": nn.PReLU,
    "sigmoid": nn.Sigmoid,
    "tanh": nn.Tanh,
    "gelu": nn.GELU,
    "elu": nn.ELU,
    "silu": nn.SiLU,
    "softplus": nn.Softplus,
    "identity": nn.Identity,
    "linear": nn.Identity,
}


def make_activation(spec: str | nn.Module | type[nn.Module] | Callable[[Tensor], Tensor] | None) -> nn.Module:
    """A fresh activation module from a name (``"relu"``, ``"sigmoid"``, ...), a module, a class or None.

    None means identity (a linear layer). A module instance is deep-copied (so learnable activations
    such as PReLU are never shared); a plain function such as ``torch.tanh`` is wrapped.
    """
    if spec is None:
        return nn.Identity()
    if isinstance(spec, str):
        key = spec.lower()
        if key not in _ACTIVATIONS:
            raise ConfigError(f"activation {spec!r}", "unknown activation", f"choose one of: {', '.join(_ACTIVATIONS)}")
        return _ACTIVATIONS[key]()
    if isinstance(spec, nn.Module):
        return copy.deepcopy(spec)
    if isinstance(spec, type) and issubclass(spec, nn.Module):
        return spec()
    if callable(spec):
        return _Lambda(spec)
    raise ConfigError(f"activation {spec!r}", "not an activation", "pass a name such as 'relu' or an nn.Module")


class _Lambda(nn.Module):
    def __init__(self, fn: Callable[[Tensor], Tensor]) -> None:
        super().__init__()
        self.fn = fn

    def forward(self, x: Tensor) -> Tensor:
        return self.fn(x)


def _mlp(dims: Sequence[int], activation, last_activation, dropout: float) -> nn.Sequential:
    """Linear layers through ``dims``; ``activation`` (+dropout) between them, ``last_activation`` at the end."""
    mods: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(dims[:-1], dims[1:])):
        mods.append(nn.Linear(a, b))
        if i < len(dims) - 2:
            mods.append(make_activation(activation))
            if dropout > 0:
                mods.append(nn.Dropout(dropout))
        else:
            mods.append(make_activation(last_activation))
    return nn.Sequential(*mods)


def _check_dims(**dims: int) -> None:
    for name, v in dims.items():
        if not isinstance(v, int) or v < 1:
            raise ConfigError(f"{name}={v!r}", "must be a positive integer", "fix the model config")


@register("autoencoder")
class AutoEncoder(nn.Module):
    """MLP autoencoder ``in_dim -> hidden... -> bottleneck_dim -> reversed(hidden)... -> in_dim``.

    Args:
        in_dim: feature dimension F of each frame/vector.
        bottleneck_dim: size of the code (bottleneck) layer.
        hidden: encoder hidden sizes; the decoder mirrors them.
        activation: hidden-layer non-linearity (name or module).
        bottleneck_activation: non-linearity on the code; None (default) = linear bottleneck.
        out_activation: non-linearity on the reconstruction; None = linear (real-valued features).
        dropout: dropout after each hidden activation.

    ``encode(x)``: ``(..., F) -> (..., bottleneck_dim)``; ``decode(z)``: the reverse;
    ``forward(x)`` returns the reconstruction ``(..., F)``.
    """

    def __init__(self, in_dim: int, bottleneck_dim: int, hidden: Sequence[int] = (), activation="relu",
                 bottleneck_activation=None, out_activation=None, dropout: float = 0.0) -> None:
        super().__init__()
        _check_dims(in_dim=in_dim, bottleneck_dim=bottleneck_dim, **{f"hidden[{i}]": h for i, h in enumerate(hidden)})
        self.in_dim, self.bottleneck_dim, self.hidden = in_dim, bottleneck_dim, list(hidden)
        self.encoder = _mlp([in_dim, *hidden, bottleneck_dim], activation, bottleneck_activation, dropout)
        self.decoder = _mlp([bottleneck_dim, *reversed(hidden), in_dim], activation, out_activation, dropout)

    def _check_input(self, x: Tensor) -> None:
        if x.dim() < 1 or x.shape[-1] != self.in_dim:
            raise ValueError(f"{type(self).__name__}: expected (..., {self.in_dim}) input, got {tuple(x.shape)}")

    def encode(self, x: Tensor) -> Tensor:
        """``(..., in_dim) -> (..., bottleneck_dim)``: the code (bottleneck activations)."""
        self._check_input(x)
        return self.encoder(x)

    def decode(self, z: Tensor) -> Tensor:
        """``(..., bottleneck_dim) -> (..., in_dim)``: reconstruction from a code."""
        return self.decoder(z)

    def forward(self, x: Tensor) -> Tensor:
        """``(..., in_dim) -> (..., in_dim)`` reconstruction."""
        return self.decode(self.encode(x))

    def reconstruction_loss(self, x: Tensor) -> Tensor:
        """Mean squared error between ``forward(x)`` and the clean ``x`` (a scalar)."""
        return nn.functional.mse_loss(self(x), x)


def corrupt(x: Tensor, gaussian_std: float = 0.0, mask_prob: float = 0.0,
            generator: torch.Generator | None = None) -> Tensor:
    """Denoising-AE corruption: add N(0, gaussian_std^2) noise, then zero each element with prob ``mask_prob``.

    Shapes are kept; the input is not modified.
    """
    out = x
    if gaussian_std > 0:
        noise = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
        out = out + gaussian_std * noise
    if mask_prob > 0:
        keep = torch.rand(x.shape, generator=generator, device=x.device) >= mask_prob
        out = out * keep.to(x.dtype)
    return out


@register("denoising_autoencoder")
class DenoisingAutoEncoder(AutoEncoder):
    """An :class:`AutoEncoder` that, in training mode, corrupts its input before encoding.

    Corruption (see :func:`corrupt`): additive Gaussian noise of std ``gaussian_std`` and/or masking
    noise that zeroes each input element with probability ``mask_prob``. The training target is the
    clean input: ``loss = mse(model(x), x)`` (``reconstruction_loss``). In eval mode no corruption is
    applied, so ``encode``/``forward`` are deterministic. Other arguments as :class:`AutoEncoder`.
    """

    def __init__(self, in_dim: int, bottleneck_dim: int, hidden: Sequence[int] = (), activation="relu",
                 bottleneck_activation=None, out_activation=None, dropout: float = 0.0,
                 gaussian_std: float = 0.1, mask_prob: float = 0.0) -> None:
        super().__init__(in_dim, bottleneck_dim, hidden, activation, bottleneck_activation, out_activation, dropout)
        if gaussian_std < 0 or not 0 <= mask_prob < 1:
            raise ConfigError(f"gaussian_std={gaussian_std}, mask_prob={mask_prob}",
                              "invalid noise level", "use gaussian_std >= 0 and 0 <= mask_prob < 1")
        self.gaussian_std, self.mask_prob = float(gaussian_std), float(mask_prob)

    def corrupt(self, x: Tensor) -> Tensor:
        """The corrupted copy of ``x`` used in training (same shape)."""
        return corrupt(x, self.gaussian_std, self.mask_prob)

    def forward(self, x: Tensor) -> Tensor:
        """``(..., in_dim) -> (..., in_dim)``: reconstruction of the clean input from a corrupted copy."""
        return self.decode(self.encode(self.corrupt(x) if self.training else x))


@register("conv_autoencoder")
class ConvAutoEncoder(nn.Module):
    """1-D convolutional autoencoder over time for spectrogram frames ``(B, T, F)``.

    The F spectral bins are the input channels; ``len(channels)`` conv layers (kernel
    ``kernel_size``, stride 1, "same" padding, so T is kept) lead to a ``bottleneck_dim``-channel code,
    mirrored by the decoder back to F channels. Because T is preserved, the code is a per-frame
    bottleneck feature ``(B, T, bottleneck_dim)`` and the output is frame-aligned with the input, as an
    enhancement model (noisy -> clean spectra) needs.

    Args:
        in_dim: F, bins per frame. bottleneck_dim: code channels. channels: hidden conv channels.
        kernel_size: odd temporal kernel. activation: non-linearity. out_activation: on the output.
    """

    def __init__(self, in_dim: int, bottleneck_dim: int = 16, channels: Sequence[int] = (64, 32),
                 kernel_size: int = 5, activation="relu", bottleneck_activation=None, out_activation=None) -> None:
        super().__init__()
        _check_dims(in_dim=in_dim, bottleneck_dim=bottleneck_dim, kernel_size=kernel_size)
        if kernel_size % 2 == 0:
            raise ConfigError(f"kernel_size={kernel_size}", "must be odd to keep frames aligned", "use e.g. 3 or 5")
        self.in_dim, self.bottleneck_dim = in_dim, bottleneck_dim

        def stack(dims, last_act):
            mods: list[nn.Module] = []
            for i, (a, b) in enumerate(zip(dims[:-1], dims[1:])):
                mods.append(nn.Conv1d(a, b, kernel_size, padding=kernel_size // 2))
                mods.append(make_activation(activation if i < len(dims) - 2 else last_act))
            return nn.Sequential(*mods)

        self.encoder = stack([in_dim, *channels, bottleneck_dim], bottleneck_activation)
        self.decoder = stack([bottleneck_dim, *reversed(channels), in_dim], out_activation)

    def encode(self, x: Tensor) -> Tensor:
        """``(B, T, F) -> (B, T, bottleneck_dim)`` per-frame code."""
        if x.dim() != 3 or x.shape[-1] != self.in_dim:
            raise ValueError(f"ConvAutoEncoder: expected (B, T, {self.in_dim}) input, got {tuple(x.shape)}")
        return self.encoder(x.transpose(1, 2)).transpose(1, 2)

    def decode(self, z: Tensor) -> Tensor:
        """``(B, T, bottleneck_dim) -> (B, T, F)``."""
        return self.decoder(z.transpose(1, 2)).transpose(1, 2)

    def forward(self, x: Tensor) -> Tensor:
        """``(B, T, F) -> (B, T, F)`` reconstruction."""
        return self.decode(self.encode(x))

    def reconstruction_loss(self, x: Tensor, target: Tensor | None = None) -> Tensor:
        """MSE between ``forward(x)`` and ``target`` (default: ``x``; pass clean frames for enhancement)."""
        return nn.functional.mse_loss(self(x), x if target is None else target)


@torch.no_grad()
def bottleneck_features(model: nn.Module, x: Tensor, layer: str | int | None = None) -> Tensor:
    """Bottleneck features: the activations of a narrow layer, computed in eval mode without gradients.

    Args:
        model: an autoencoder (anything with ``encode``), or any network when ``layer`` is given.
        x: input frames ``(B, T, F)`` (or ``(B, F)`` for MLP models).
        layer: for a supervised network (e.g. a DenseNet with a narrow hidden layer) the module whose
            output is the bottleneck: an index into ``model.layers`` or a dotted module name. With a
            Linear layer this is its pre-activation output (the usual linear bottleneck).

    Returns:
        ``(B, T, bottleneck_dim)`` (or ``(B, bottleneck_dim)``); the model's train/eval mode is restored.
    """
    was_training = model.training
    model.eval()
    try:
        if layer is None:
            if not hasattr(model, "encode"):
                raise ConfigError(type(model).__name__, "has no encode()", "pass layer= to pick the bottleneck layer")
            return model.encode(x)
        if isinstance(layer, int):
            target = model.layers[layer]  # type: ignore[index]
        else:
            modules = dict(model.named_modules())
            if layer not in modules:
                raise ConfigError(f"layer {layer!r}", "no such module", "use a name from model.named_modules()")
            target = modules[layer]
        captured: list[Tensor] = []
        handle = target.register_forward_hook(lambda _m, _i, out: captured.append(out))
        try:
            model(x)
        finally:
            handle.remove()
        return captured[-1]
    finally:
        model.train(was_training)

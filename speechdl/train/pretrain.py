"""Greedy layer-wise unsupervised pretraining of a deep feed-forward net with (denoising) autoencoders.

The lecture's recipe (Bengio et al. 2007; Vincent et al. 2008): before supervised training, initialise
each hidden layer of a deep MLP in turn, bottom-up. For layer i a one-hidden-layer (denoising)
autoencoder whose hidden layer has the shape of layer i is trained to reconstruct the *outputs of the
already-pretrained layers 0..i-1* (the raw input for i = 0) from a corrupted copy; its encoder weights
are then copied into layer i. The output layer keeps its random initialisation. Supervised
*fine-tuning* is then ordinary training of the whole net (all layers, including the pretrained ones).

Works with :class:`speechdl.nn.dense.DenseNet` (``build("dense", ...)``): the inputs of layer i are
computed through the net's own ``layers[j]`` + ``post[j]`` (norm, activation; eval mode, so no dropout),
and each AE uses the activation found in ``post[i]``. With ``norm="batch"`` the AE sees no BatchNorm,
so pretraining is then only an approximate initialisation. Any module with a ``layers`` ModuleList of
``nn.Linear`` applied in sequence with one activation between them works too.

Example:
    >>> import torch
    >>> from torch import nn
    >>> class Net(nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.layers = nn.ModuleList([nn.Linear(20, 8), nn.Linear(8, 4), nn.Linear(4, 1)])
    ...         self.activation = "sigmoid"
    >>> losses = pretrain_layerwise(Net(), torch.randn(64, 20), epochs=2, lr=1e-2)
    >>> len(losses)  # one per hidden layer
    2
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Iterator, Mapping

import torch
from torch import Tensor, nn

from speechdl.errors import ConfigError, DataError
from speechdl.nn.autoencoder import _ACTIVATIONS, DenoisingAutoEncoder, make_activation

__all__ = ["pretrain_layerwise", "infer_activation"]

_ACT_TYPES = (nn.ReLU, nn.LeakyReLU, nn.PReLU, nn.Sigmoid, nn.Tanh, nn.GELU, nn.ELU, nn.SiLU, nn.Softplus, nn.ReLU6,
              nn.Hardtanh, nn.SELU, nn.Mish)


def infer_activation(net: nn.Module) -> nn.Module:
    """The hidden-layer activation of ``net``: its ``activation``/``act`` attribute (name, module or
    function), else the first activation module found inside it. Raises ConfigError if there is none."""
    for attr in ("activation", "act", "nonlinearity"):
        spec = getattr(net, attr, None)
        if spec is None:
            continue
        if isinstance(spec, str) and spec.lower() not in _ACTIVATIONS:
            continue
        if isinstance(spec, (str, nn.Module)) or callable(spec):
            return make_activation(spec)
    for mod in net.modules():
        if isinstance(mod, _ACT_TYPES):
            return copy.deepcopy(mod)
    raise ConfigError(type(net).__name__, "cannot tell its hidden activation", "pass activation='relu' (or similar)")


def _linear_layers(net: nn.Module) -> list[nn.Linear]:
    layers = getattr(net, "layers", None)
    if not isinstance(layers, (nn.ModuleList, nn.Sequential, list)):
        raise ConfigError(type(net).__name__, "has no `layers` list of nn.Linear", "use a DenseNet (build('dense'))")
    linears = [m for m in layers if isinstance(m, nn.Linear)]
    if not linears:
        raise ConfigError(type(net).__name__, "`layers` holds no nn.Linear", "use a DenseNet (build('dense'))")
    for a, b in zip(linears[:-1], linears[1:]):
        if a.out_features != b.in_features:
            raise ConfigError(type(net).__name__, f"layer sizes do not chain ({a} -> {b})",
                              "layers must be applied in sequence")
    return linears


def _features(batch) -> Tensor:
    """The input tensor of one batch: a tensor, the first item of a tuple/list, or a dict's 'x'/'features'."""
    if isinstance(batch, Tensor):
        return batch
    if isinstance(batch, (tuple, list)) and batch and isinstance(batch[0], Tensor):
        return batch[0]
    if isinstance(batch, Mapping):
        for key in ("x", "features", "feats", "inputs"):
            if isinstance(batch.get(key), Tensor):
                return batch[key]
    raise DataError(None, f"pretraining batch of type {type(batch).__name__} holds no input tensor",
                    "yield tensors, (x, y) tuples or dicts with an 'x' entry")


def pretrain_layerwise(net: nn.Module, data: Tensor | Iterable, epochs: int = 10, lr: float = 1e-3,
                       noise: float = 0.1, mask_prob: float = 0.0, num_layers: int | None = None,
                       batch_size: int = 64, activation=None, optimizer: str = "adam",
                       seed: int | None = None,
                       callback: Callable[[int, DenoisingAutoEncoder, list[float]], None] | None = None,
                       ) -> list[float]:
    """Greedy layer-wise denoising-autoencoder pretraining of ``net.layers`` (in place).

    Args:
        net: a DenseNet-like model: ``net.layers`` holds its ``nn.Linear`` layers in order.
        data: unlabelled inputs: a tensor ``(N, F)`` or ``(N, T, F)`` (frames are pooled), or a
            re-iterable of batches (tensors, ``(x, y)`` tuples or dicts with ``"x"``), e.g. a DataLoader.
        epochs: passes over the data per layer. lr: learning rate of the per-layer AE optimiser.
        noise: std of the additive Gaussian corruption (0 = plain autoencoder).
        mask_prob: probability of zeroing each input element (masking noise), 0 = off.
        num_layers: how many layers to pretrain, bottom-up; default all but the output layer (all
            layers when the net has ``out_dim=None``).
        batch_size: mini-batch size when ``data`` is a tensor.
        activation: the hidden activation (name or module); default inferred from ``net``.
        optimizer: ``"adam"`` or ``"sgd"``.
        seed: if given, seeds torch's RNG first (initialisation, shuffling, corruption).
        callback: called after each layer as ``callback(i, autoencoder, epoch_losses)``, right after
            the AE's encoder weights were copied into layer i.

    Returns:
        the final reconstruction loss (MSE, mean over the last epoch) of each pretrained layer.
    """
    if seed is not None:
        torch.manual_seed(seed)
    linears = _linear_layers(net)
    post = getattr(net, "post", None)  # DenseNet: post[i] (norm, activation, dropout) follows layers[i]
    if not (isinstance(post, nn.ModuleList) and len(post) == len(linears)):
        post = None
    has_output_layer = getattr(net, "out_dim", 0) is not None  # DenseNet(out_dim=None) ends at a hidden layer
    if num_layers is None:
        n = len(linears) - 1 if has_output_layer else len(linears)
    else:
        n = int(num_layers)
    if not 0 <= n <= len(linears):
        raise ConfigError(f"num_layers={num_layers}", f"net has {len(linears)} layers", "choose a smaller number")
    if epochs < 1 or lr <= 0:
        raise ConfigError(f"epochs={epochs}, lr={lr}", "invalid pretraining schedule", "use epochs >= 1 and lr > 0")
    act = infer_activation(net) if activation is None else make_activation(activation)

    def layer_activation(i: int) -> nn.Module:
        """The AE's hidden activation for layer i: the one given, else the one the net applies after layer i."""
        if activation is None and post is not None:
            found = [m for m in post[i].modules() if isinstance(m, _ACT_TYPES)]
            if found:
                return copy.deepcopy(found[0])
        return act
    device = linears[0].weight.device
    if isinstance(data, Tensor):
        x_all = data.reshape(-1, data.shape[-1]).to(device=device, dtype=linears[0].weight.dtype)
        if x_all.shape[0] == 0:
            raise DataError(None, "no pretraining data", "pass a non-empty tensor")
        batches_src: Iterable | None = None
    else:
        x_all = None
        batches_src = data if iter(data) is not data else list(data)  # one-shot generators: keep them

    def propagate(x: Tensor, depth: int) -> Tensor:
        with torch.no_grad():
            for j, lin in enumerate(linears[:depth]):
                x = post[j](lin(x)) if post is not None else act(lin(x))
        return x

    def batches(depth: int, feats: Tensor | None) -> Iterator[Tensor]:
        if feats is not None:
            order = torch.randperm(feats.shape[0], device=device)
            for s in range(0, feats.shape[0], batch_size):
                yield feats[order[s: s + batch_size]]
        else:
            for b in batches_src:  # type: ignore[union-attr]
                x = _features(b)
                x = x.reshape(-1, x.shape[-1]).to(device=device, dtype=linears[0].weight.dtype)
                yield propagate(x, depth)

    was_training = net.training
    net.eval()  # dropout off while computing the inputs of the layer being pretrained
    losses: list[float] = []
    try:
        for i in range(n):
            lin = linears[i]
            ae_act = layer_activation(i)
            ae = DenoisingAutoEncoder(lin.in_features, lin.out_features, hidden=(), activation=ae_act,
                                      bottleneck_activation=ae_act, out_activation=None,
                                      gaussian_std=noise, mask_prob=mask_prob).to(device=device, dtype=lin.weight.dtype)
            if lin.bias is None:  # e.g. a DenseNet hidden layer followed by BatchNorm: encoder without bias too
                ae.encoder[0].register_parameter("bias", None)
            params = list(ae.parameters())
            opt = torch.optim.Adam(params, lr=lr) if optimizer == "adam" else torch.optim.SGD(params, lr=lr)
            feats = propagate(x_all, i) if x_all is not None else None
            history: list[float] = []
            ae.train()
            for _ in range(epochs):
                total, count = 0.0, 0
                for x in batches(i, feats):
                    if x.shape[-1] != lin.in_features:
                        raise DataError(None, f"pretraining inputs have {x.shape[-1]} features, layer 0 expects "
                                              f"{lin.in_features}", "check the data / the net's in_dim")
                    loss = nn.functional.mse_loss(ae(x), x)
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                    total += loss.item() * x.shape[0]
                    count += x.shape[0]
                if count == 0:
                    raise DataError(None, "no pretraining data", "the batch iterable yielded nothing")
                history.append(total / count)
            enc = ae.encoder[0]
            with torch.no_grad():
                lin.weight.copy_(enc.weight)
                if lin.bias is not None:
                    lin.bias.copy_(enc.bias)
            losses.append(history[-1])
            if callback is not None:
                callback(i, ae, history)
    finally:
        net.train(was_training)
    return losses

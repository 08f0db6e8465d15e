"""What a speaker bundle holds: ``speaker_net``, an encoder from :mod:`speechdl.nn` with a softmax or an
additive angular margin (AAM, ArcFace) head over the training speakers. No Lightning import: inference
builds it through the catalogue; the training module is :mod:`speechdl.tasks.speaker.train`.

* Encoders (``encoder:``): the x-vector TDNN (:class:`speechdl.nn.tdnn.XVector`: frame TDNN -> statistics
  pooling -> segment layers; the embedding is the first segment layer's affine output, as in Snyder et al.
  2018) or a ResNet (:class:`speechdl.nn.resnet.ResNet`, 2-D, statistics pooling over time of the
  ``C x F'`` maps, then the embedding layer). ``"resnet34"`` is the thin ResNet-34 (basic blocks 3-4-6-3,
  channels 16-32-64-128); ``"xvector"`` the paper's TDNN. A mapping gives the architecture's own
  arguments, e.g. ``{name: xvector, widths: [256, 256, 256, 256, 768]}``.
* Heads (``head:``): ``softmax`` keeps the encoder's own classifier (x-vector: segment layer 7 then the
  output layer; ResNet: a linear layer on the embedding); ``aam`` replaces it with :class:`AAMSoftmax` on the
  embedding (``margin`` m, ``scale`` s). For an x-vector with ``aam`` the embedding layer must be the
  last segment layer (``num_segment_layers: 1``), or the layers after it would never be trained.
* ``mean_norm``: subtract each utterance's mean feature vector (over its valid frames) first, the
  cepstral-mean normalisation of speaker recognition (channel removal) inside the model; padded frames
  stay zero, so an utterance's embedding does not depend on what it is batched with (exactly for the
  x-vector, which masks padding after every layer).

Example:
    >>> import torch
    >>> from speechdl.nn import build
    >>> net = build("speaker_net", in_dim=40, num_speakers=5, embed_dim=16, head="aam",
    ...             encoder={"name": "resnet", "layers": [1, 1], "channels": [4, 8]})
    >>> x, n = torch.randn(3, 60, 40), torch.tensor([60, 50, 40])
    >>> net.embed(x, n).shape, net(x, n, torch.tensor([0, 1, 4])).shape
    (torch.Size([3, 16]), torch.Size([3, 5]))
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from speechdl.errors import ConfigError
from speechdl.nn import build
from speechdl.nn._parts import check_choice, length_mask
from speechdl.nn.registry import register
from speechdl.nn.tdnn import StatsPooling

PRESETS: dict[str, dict[str, Any]] = {
    "xvector": {"name": "xvector"},
    "resnet34": {"name": "resnet", "dims": 2, "block": "basic", "layers": [3, 4, 6, 3],
                 "channels": [16, 32, 64, 128], "pool": "stats"},
}
# encoder name -> (its class-count argument, its output-layer attribute)
ENCODERS = {"xvector": ("num_classes", "classifier"), "resnet": ("out_dim", "out")}


class AAMSoftmax(nn.Module):
    """Additive angular margin softmax logits (Deng et al. 2019, "ArcFace").

    ``logit_j = s · cos θ_j`` with ``θ_j`` the angle between the embedding and class ``j``'s weight; for the
    true class (when ``labels`` are given) ``s · cos(θ_y + m)``. Past ``θ_y > π - m`` (where ``cos(θ + m)``
    would rise again) the usual linear extension ``cos θ - m sin m`` is used.

    Shapes: ``emb (B, D)`` [+ ``labels (B,)``] -> ``(B, C)``.

    Example:
        >>> head = AAMSoftmax(4, 3, margin=0.2, scale=10.0)
        >>> e = torch.randn(2, 4); y = torch.tensor([0, 2])
        >>> bool((head(e, y).gather(1, y[:, None]) < head(e).gather(1, y[:, None])).all())   # margin costs
        True
    """

    def __init__(self, embed_dim: int, num_classes: int, margin: float = 0.2, scale: float = 30.0) -> None:
        super().__init__()
        if not 0.0 <= margin < math.pi / 2 or scale <= 0:
            raise ConfigError("model 'speaker_net'", f"margin={margin}, scale={scale}",
                              "use 0 <= margin < pi/2 (e.g. 0.2) and scale > 0 (e.g. 30)")
        self.weight = nn.Parameter(torch.empty(num_classes, embed_dim))
        nn.init.xavier_uniform_(self.weight)
        self.margin, self.scale = margin, scale

    def cosine(self, emb: torch.Tensor) -> torch.Tensor:
        """``(B, D) -> (B, C)`` cosines with the class weights."""
        return F.linear(F.normalize(emb, dim=-1), F.normalize(self.weight, dim=-1))

    def forward(self, emb: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        cos = self.cosine(emb)
        if labels is None or self.margin == 0:
            return self.scale * cos
        c = cos.clamp(-1 + 1e-7, 1 - 1e-7)
        m = self.margin
        shifted = c * math.cos(m) - torch.sqrt(1 - c * c) * math.sin(m)          # cos(θ + m)
        shifted = torch.where(c > math.cos(math.pi - m), shifted, c - math.sin(math.pi - m) * m)
        onehot = F.one_hot(labels.long(), cos.shape[1]).to(cos.dtype)
        return self.scale * (onehot * shifted + (1 - onehot) * cos)


@register("speaker_net")
class SpeakerNet(nn.Module):
    """Speaker embedding network for training by speaker classification.

    Args:
        in_dim: features per frame F.
        num_speakers: training speakers (classes).
        encoder: ``"xvector"`` | ``"resnet34"`` or ``{name: xvector | resnet, **its arguments}`` (without
            ``in_dim``, the class count and ``embed_dim``).
        embed_dim: embedding size (the x-vector's segment layer width; the ResNet's embedding layer).
        head: ``softmax`` | ``aam``; margin, scale: of the AAM head.
        mean_norm: subtract the utterance's mean feature vector first.

    Shapes: ``x (B, T, F)``, ``lengths (B,)`` [, ``labels (B,)``] -> logits ``(B, num_speakers)``;
    :meth:`embed` -> ``(B, embed_dim)``.
    """

    def __init__(self, in_dim: int, num_speakers: int, encoder: str | dict[str, Any] = "xvector",
                 embed_dim: int = 256, head: str = "softmax", margin: float = 0.2, scale: float = 30.0,
                 mean_norm: bool = True) -> None:
        super().__init__()
        where = "model 'speaker_net'"
        check_choice(head, ["softmax", "aam"], "head", where)
        spec = dict(PRESETS[encoder]) if isinstance(encoder, str) and encoder in PRESETS else encoder
        if not isinstance(spec, dict) or spec.get("name") not in ENCODERS:
            raise ConfigError(where, f"encoder {encoder!r} is not known",
                              f"use one of {', '.join(PRESETS)} or a mapping with name: xvector | resnet")
        kwargs = {k: v for k, v in spec.items() if k != "name"}
        count_arg, self._out_attr = ENCODERS[spec["name"]]
        taken = sorted({"in_dim", "embed_dim", count_arg} & set(kwargs))
        if taken:
            raise ConfigError(where, f"encoder sets {taken[0]}", "set it on speaker_net itself (in_dim, embed_dim, "
                              "num_speakers)")
        if head == "aam" and spec["name"] == "xvector":
            layers = int(kwargs.get("num_segment_layers", 2))
            if int(kwargs.get("embed_layer", 0)) != layers - 1:
                raise ConfigError(where, "with head aam the x-vector's embedding must be its last segment layer",
                                  "set encoder.num_segment_layers: 1")
        self.encoder = build(spec["name"], in_dim=in_dim, embed_dim=embed_dim, **{count_arg: num_speakers}, **kwargs)
        self.head_kind, self.embed_dim, self.num_speakers = head, embed_dim, num_speakers
        self.aam: AAMSoftmax | None = None
        if head == "aam":
            setattr(self.encoder, self._out_attr, None)   # the encoder's own output layer is not used
            self.aam = AAMSoftmax(embed_dim, num_speakers, margin, scale)
        self.mean_norm = StatsPooling(std=False) if mean_norm else None

    def _normed(self, x: torch.Tensor, lengths: torch.Tensor | None) -> torch.Tensor:
        if self.mean_norm is None:
            return x
        x = x - self.mean_norm(x, lengths)[:, None]
        return x if lengths is None else x * length_mask(lengths.to(x.device), x.shape[1])[..., None].to(x.dtype)

    def embed(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """Speaker embeddings: ``(B, T, F)`` [+ ``(B,)`` lengths] -> ``(B, embed_dim)``."""
        return self.encoder.embed(self._normed(x, lengths), lengths)

    def outputs(self, x: torch.Tensor, lengths: torch.Tensor | None = None,
                labels: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """One pass: ``embedding (B, D)``, ``logits (B, C)`` (AAM: with its margin where ``labels`` are given)
        and ``plain`` logits without a margin (for accuracy; the same tensor for a softmax head)."""
        h = self._normed(x, lengths)
        if self.aam is not None:
            emb = self.encoder.embed(h, lengths)
            plain = self.aam(emb)
            return {"embedding": emb, "logits": self.aam(emb, labels) if labels is not None else plain,
                    "plain": plain}
        if self._out_attr == "out":   # ResNet: one linear layer on the embedding
            emb = self.encoder.embed(h, lengths)
            logits = self.encoder.out(emb)
        else:                         # x-vector: the segment layers after the embedding, then its classifier
            emb, logits = self.encoder.embed_and_logits(h, lengths)
        return {"embedding": emb, "logits": logits, "plain": logits}

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None,
                labels: torch.Tensor | None = None) -> torch.Tensor:
        """``(B, T, F)`` [+ lengths, labels] -> logits ``(B, num_speakers)``."""
        return self.outputs(x, lengths, labels)["logits"]

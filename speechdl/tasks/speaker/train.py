"""Speaker training task ``speaker``: speaker classification of a ``speaker_net`` (softmax or AAM head)
whose segment-level layer becomes the speaker embedding.

Batches (``speaker_utts`` / ``speaker_toy``, padded by the engine): ``x (B, T, F)``, ``lengths (B,)``,
``y (B,)`` speaker ids.

* Loss: cross-entropy of the head's logits (AAM: with the margin on the true speaker; ``margin_warmup``
  epochs ramp the margin up from 0, which helps AAM start), optional ``label_smoothing``.
* Distillation (``distill_weight`` w > 0, batches with teacher targets ``t (B, D)``, ``data.teacher``): plus
  ``w · mean(1 - cos(embedding, t))``, so the embedding itself (``embed_dim`` = the teacher's D) learns the
  teacher's space, and utterances without a speaker (``y = -1``) teach through it alone. Logged: ``distill``.
* Metrics: ``acc`` (margin-free logits) and, in validation, ``val_eer`` (equal error rate of cosine
  scores of all pairs of validation embeddings, up to ``eer_items`` of them) and ``val_min_dcf``
  (p_target 0.05): what the embedding is for, not only what the classifier does.
* Before a fresh fit the task checks ``model.num_speakers`` and ``model.in_dim`` against the training
  set; the front-end and the speaker names are stored in every checkpoint (``checkpoint["speaker"]``),
  so ``speechdl speaker export`` needs nothing else.

The network is :mod:`speechdl.tasks.speaker.net` (what the bundle holds); this module is training only.

Example recipe::

    task: {name: speaker, margin_warmup: 2}
    model: {name: speaker_net, in_dim: 80, num_speakers: 1000, encoder: resnet34, embed_dim: 256, head: aam}
    data: {name: speaker_utts, manifests: [/data/spk/train], crop_seconds: [2, 4]}
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from speechdl.errors import ConfigError
from speechdl.metrics.verification import verification_metrics
from speechdl.train.datamodule import dataset_attr
from speechdl.train.tasks import TaskModule, register_task


def pair_trials(embeddings: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cosine scores and target flags of every pair of rows: ``(N, D), (N,) -> (N(N-1)/2,), (N(N-1)/2,)``."""
    from speechdl.tasks.speaker.backends import cosine_matrix

    i, j = np.triu_indices(len(embeddings), 1)
    return cosine_matrix(embeddings, embeddings)[i, j], labels[i] == labels[j]


@register_task("speaker")
class SpeakerTask(TaskModule):
    """Speaker classification training of ``speaker_net`` (see the module docstring).

    Args (recipe ``task:`` keys): ``label_smoothing``; ``margin_warmup`` (epochs of linear margin ramp-up,
    AAM only); ``eer_items`` (validation embeddings used for ``val_eer``, the first ones).
    """

    def __init__(self, model, optim=None, scheduler=None, monitor="val_loss", mode="min", *,
                 label_smoothing: float = 0.0, margin_warmup: int = 0, eer_items: int = 2000,
                 distill_weight: float = 0.0) -> None:
        super().__init__(model, optim, scheduler, monitor, mode)
        if not hasattr(self.model, "outputs"):
            raise ConfigError(f"model {model['name']!r}", "is not a speaker embedding network",
                              "use model: {name: speaker_net, ...}")
        self.label_smoothing, self.margin_warmup, self.eer_items = label_smoothing, margin_warmup, eer_items
        self.distill_weight = float(distill_weight)
        aam = getattr(self.model, "aam", None)
        self.margin = aam.margin if aam is not None else 0.0
        self.frontend: dict[str, Any] | None = None
        self.speakers: list[str] = []
        self._val: list[tuple[torch.Tensor, torch.Tensor]] = []

    # -- data-dependent set-up ------------------------------------------------------------------
    def on_fit_start(self) -> None:
        super().on_fit_start()
        data = getattr(getattr(self.trainer, "datamodule", None), "train_set", None)
        speakers, cfg = dataset_attr(data, "speakers"), dataset_attr(data, "cfg")
        if speakers is None:
            return
        if len(speakers) != self.model.num_speakers:
            raise ConfigError("model.num_speakers", f"is {self.model.num_speakers} but the training data has "
                              f"{len(speakers)} speakers", f"set model.num_speakers={len(speakers)}")
        in_dim = int(self.hparams["model"].get("in_dim", 0))
        if cfg is not None and in_dim != cfg.feature_dim:
            raise ConfigError("model.in_dim", f"is {in_dim} but the front-end gives {cfg.feature_dim} features",
                              f"set model.in_dim={cfg.feature_dim}")
        self.speakers = list(speakers)
        self.frontend = cfg.to_dict() if cfg is not None else None

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["speaker"] = {"frontend": self.frontend, "speakers": self.speakers}

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        meta = checkpoint.get("speaker") or {}
        self.frontend, self.speakers = meta.get("frontend"), list(meta.get("speakers") or [])

    def on_train_epoch_start(self) -> None:
        aam = getattr(self.model, "aam", None)
        if aam is not None and self.margin_warmup > 0:
            aam.margin = self.margin * min(1.0, self.current_epoch / self.margin_warmup)

    # -- loss and metrics -----------------------------------------------------------------------
    def compute(self, batch: dict[str, torch.Tensor], stage: str) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        y = batch["y"].long()
        known = (y >= 0) & (y < self.model.num_speakers)    # open-set validation speakers, unlabeled: no CE
        out = self.model.outputs(batch["x"], batch.get("lengths"), torch.where(known, y, 0))
        if known.all():
            loss = F.cross_entropy(out["logits"], y, label_smoothing=self.label_smoothing)
            acc = (out["plain"].detach().argmax(-1) == y).float().mean()
        elif known.any():
            loss = F.cross_entropy(out["logits"][known], y[known], label_smoothing=self.label_smoothing)
            acc = (out["plain"].detach()[known].argmax(-1) == y[known]).float().mean()
        else:
            loss = acc = out["embedding"].new_zeros(())
        logs = {"acc": acc}
        if self.distill_weight > 0 and "t" in batch:
            t = batch["t"].to(out["embedding"].dtype)
            if t.shape[-1] != out["embedding"].shape[-1]:
                raise ConfigError("model.embed_dim", f"is {out['embedding'].shape[-1]} but the teacher's embeddings "
                                  f"have {t.shape[-1]} dimensions", f"set model.embed_dim={t.shape[-1]}")
            distill = (1 - F.cosine_similarity(out["embedding"], t, dim=-1)).mean()
            loss = loss + self.distill_weight * distill
            logs["distill"] = distill.detach()
        if stage == "val" and sum(len(e) for e, _ in self._val) < self.eer_items:
            self._val.append((out["embedding"].detach().float().cpu(), y.cpu()))
        return loss, logs

    def on_validation_epoch_start(self) -> None:
        self._val = []

    def on_validation_epoch_end(self) -> None:
        if not self._val or self.trainer.sanity_checking:
            return
        emb = torch.cat([e for e, _ in self._val])[: self.eer_items].numpy()
        labels = torch.cat([y for _, y in self._val])[: self.eer_items].numpy()
        scores, target = pair_trials(emb, labels)
        if target.any() and (~target).any():
            m = verification_metrics(scores, target, p_targets=(0.05,))
            self.log("val_eer", float(m["eer"]), prog_bar=True)
            self.log("val_min_dcf", float(m["min_dcf_0.05"]))
        self._val = []

"""The ``vad`` training task (Lightning): frame-level BCE, F1 and ROC-AUC, input normalisation fitted first.

Example:
    >>> task = VadTask({"name": "dense", "in_dim": 39, "hidden": [12, 8, 4], "out_dim": 1})
    >>> type(task.norm).__name__
    'InputNorm'
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from speechdl.metrics.detection import roc_auc
from speechdl.tasks.vad.net import InputNorm, _squeeze
from speechdl.train.tasks import TaskModule, frame_mask, register_task


@register_task("vad")
class VadTask(TaskModule):
    """Frame-level speech / non-speech: BCE with logits over the valid frames of a padded batch.

    Batch: ``x`` ``(B, T, F)``, ``y`` ``(B, T)`` 0/1 (padding ignored), ``lengths`` ``(B,)``.
    The model returns ``(B, T, 1)`` or ``(B, T)`` logits. Task keys: ``pos_weight`` (weight of speech
    frames in the loss), ``input_norm`` (measure feature mean / std on up to ``norm_frames``
    training frames before fitting; they are buffers of the checkpoint and of the exported bundle).
    The front-end is the dataset's (``data.frontend``); ``speechdl vad export`` copies it into the bundle.
    """

    def __init__(self, model, optim=None, scheduler=None, monitor="val_loss", mode="min", *,
                 pos_weight: float | None = None, input_norm: bool = True, norm_frames: int = 200_000) -> None:
        super().__init__(model, optim, scheduler, monitor, mode)
        self.pos_weight, self.input_norm, self.norm_frames = pos_weight, input_norm, norm_frames
        self.norm = InputNorm(int(model.get("in_dim", 0)))
        self._val_scores: list[torch.Tensor] = []
        self._val_labels: list[torch.Tensor] = []

    def on_fit_start(self) -> None:
        super().on_fit_start()
        if not self.input_norm or self.trainer.ckpt_path is not None:
            return
        dm = getattr(self.trainer, "datamodule", None)
        data = getattr(dm, "train_set", None)
        if data is None:
            return
        frames, count = [], 0
        for i in range(len(data)):
            x = torch.as_tensor(data[i]["x"]).float()
            frames.append(x.reshape(-1, x.shape[-1]))
            count += len(frames[-1])
            if count >= self.norm_frames:
                break
        if frames:
            self.norm.fit(torch.cat(frames))

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """``(B, T, F)`` -> ``(B, T)`` logits."""
        return _squeeze(super().forward(self.norm(x), lengths))

    def compute(self, batch: dict[str, torch.Tensor], stage: str) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        x, y = batch["x"], batch["y"]
        lengths = batch.get("lengths", batch.get("length"))
        logits = self(x, lengths)
        if x.dim() == 2:  # single frames (B, F): one logit each
            logits = logits.reshape(y.shape)
        mask = frame_mask(lengths, y.shape[1], y.device) if (lengths is not None and y.dim() == 2) else None
        valid = (y >= 0) if mask is None else (mask & (y >= 0))
        z, t = logits[valid], y[valid].float()
        pw = None if self.pos_weight is None else torch.tensor(float(self.pos_weight), device=z.device)
        loss = F.binary_cross_entropy_with_logits(z, t, pos_weight=pw)
        pred = (z > 0).float()
        tp = (pred * t).sum()
        f1 = 2 * tp / (pred.sum() + t.sum()).clamp_min(1.0)
        metrics = {"acc": (pred == t).float().mean(), "f1": f1}
        if stage == "val":
            self._val_scores.append(z.detach().cpu())
            self._val_labels.append(t.detach().cpu())
        return loss, metrics

    def on_validation_epoch_end(self) -> None:
        if not self._val_scores:
            return
        s, t = torch.cat(self._val_scores), torch.cat(self._val_labels)
        self._val_scores, self._val_labels = [], []
        self.log("val_auc", roc_auc(s.numpy(), t.numpy()) if 0 < float(t.sum()) < len(t) else 0.5,
                 sync_dist=True)


"""Tasks for autoregressive sequence models: ``seq2seq`` (attention encoder-decoder) and ``wavenet``.

``seq2seq``: batches ``{"x" (B, T, F), "lengths" (B,), "y" (B, U) token ids padded with -100}``; the
end-of-sequence id is appended and padding becomes the model's ``pad_id``. Loss: the model's
teacher-forced cross entropy (:meth:`speechdl.nn.seq2seq.Seq2Seq.loss`). Metrics: ``acc``
(teacher-forced token accuracy) and, in validation, ``ter``, the token error rate of greedy decoding
(edit distance / reference tokens, over the first ``decode_batches`` validation batches).

``wavenet``: batches ``{"x" (B, L) μ-law class ids, optional "cond" (B, L / hop, C), "speaker" (B,)}``.
Loss: next-sample cross entropy (nats); metrics ``acc`` (next-sample accuracy) and ``bits`` (the
loss in bits per sample). With a Gaussian WaveNet (``model.output: gaussian``, ClariNet's teacher) ``x`` is the
float waveform (B, L) and the loss is the Gaussian negative log-likelihood (nats per sample, negative once the
model predicts better than a unit Gaussian); metrics ``mae`` (|x - μ|) and ``log_sigma`` (mean predicted log σ).

Example (recipe)::

    task: {name: seq2seq, label_smoothing: 0.0, decode_batches: 2, max_decode_len: 20}
    model: {name: seq2seq, in_dim: 12, vocab_size: 11, attention: location, ...}
    data: {name: toy_reverse, vocab: 8, dim: 12}
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F

from speechdl.errors import ConfigError
from speechdl.train.tasks import TaskModule, register_task

__all__ = ["Seq2SeqTask", "WaveNetTask", "edit_distance", "targets_with_eos"]


def edit_distance(ref: list[int], hyp: list[int]) -> int:
    """Levenshtein distance (substitutions, insertions, deletions, each cost 1) between token lists."""
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        cur = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h))
        prev = cur
    return prev[-1]


def targets_with_eos(y: torch.Tensor, eos_id: int, pad_id: int) -> tuple[torch.Tensor, list[list[int]]]:
    """Padded labels (B, U) (padding ``-100`` or negative) -> targets (B, U + 1) with eos, padded with
    ``pad_id``; and the reference token lists (without eos)."""
    y = y.long()
    if y.dim() == 1:
        y = y[:, None]
    valid = y >= 0
    lengths = valid.sum(1)
    out = torch.full((y.shape[0], y.shape[1] + 1), pad_id, dtype=torch.long, device=y.device)
    refs: list[list[int]] = []
    for i in range(y.shape[0]):
        n = int(lengths[i])
        tokens = y[i][valid[i]]
        out[i, :n] = tokens
        out[i, n] = eos_id
        refs.append(tokens.tolist())
    width = int(lengths.max()) + 1 if len(lengths) else 1
    return out[:, :width], refs


@register_task("seq2seq")
class Seq2SeqTask(TaskModule):
    """Frames -> tokens with an attention encoder-decoder (``model: {name: seq2seq, ...}``).

    Args (recipe ``task:`` keys):
        label_smoothing: of the cross entropy.
        teacher_forcing: overrides the model's scheduled-sampling ratio in training (None: the model's).
        decode_batches: validation batches greedily decoded per epoch for ``val_ter`` (0: none).
        max_decode_len: longest greedy hypothesis (tokens).
    """

    def __init__(self, model, optim=None, scheduler=None, monitor="val_loss", mode="min", *,
                 label_smoothing: float = 0.0, teacher_forcing: float | None = None, decode_batches: int = 4,
                 max_decode_len: int = 100) -> None:
        super().__init__(model, optim, scheduler, monitor, mode)
        for attr in ("loss", "greedy_decode", "eos_id", "pad_id"):
            if not hasattr(self.model, attr):
                raise ConfigError(f"model {model['name']!r}", f"has no {attr} (not an attention seq2seq model)",
                                  "use model: {name: seq2seq, ...}")
        self.label_smoothing, self.teacher_forcing = label_smoothing, teacher_forcing
        self.decode_batches, self.max_decode_len = decode_batches, max_decode_len
        self._decoded = 0
        self._errors = self._ref_tokens = 0

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> list[list[int]]:  # type: ignore[override]
        """Greedy transcription: (B, T, F) -> B token id lists (without sos/eos)."""
        return self.model.greedy_decode(x, lengths, max_len=self.max_decode_len)

    def compute(self, batch: dict[str, torch.Tensor], stage: str) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        x, lengths = batch["x"], batch.get("lengths")
        targets, refs = targets_with_eos(batch["y"], self.model.eos_id, self.model.pad_id)
        ratio = self.teacher_forcing if stage == "train" else 1.0
        logits = self.model(x, lengths, targets, teacher_forcing=ratio)
        loss = self.model.loss(logits, targets, self.label_smoothing)
        keep = targets != self.model.pad_id
        acc = (logits.detach().argmax(-1)[keep] == targets[keep]).float().mean()
        if stage == "val" and self._decoded < self.decode_batches:
            hyps = self(x, lengths)
            self._errors += sum(edit_distance(r, h) for r, h in zip(refs, hyps))
            self._ref_tokens += sum(len(r) for r in refs)
            self._decoded += 1
        return loss, {"acc": acc}

    def on_validation_epoch_start(self) -> None:
        self._decoded, self._errors, self._ref_tokens = 0, 0, 0

    def on_validation_epoch_end(self) -> None:
        if not self._ref_tokens:
            return
        counts = torch.tensor([float(self._errors), float(self._ref_tokens)], device=self.device)
        if self.trainer is not None and self.trainer.world_size > 1:
            counts = self.trainer.strategy.reduce(counts, reduce_op="sum")
        self.log("val_ter", counts[0] / counts[1].clamp_min(1), prog_bar=True)


@register_task("wavenet")
class WaveNetTask(TaskModule):
    """Autoregressive waveform modelling (``model: {name: wavenet, ...}``): μ-law ids, or float samples through a
    Gaussian per sample (``model.output: gaussian``).

    Args (recipe ``task:`` keys):
        conditioning: feed the batch's ``cond`` (local, frames) and ``speaker`` (global) when present.
        skip_receptive_field: leave the first ``receptive_field - 1`` predictions (which see the
            zero padding before the segment) out of the loss.
    """

    def __init__(self, model, optim=None, scheduler=None, monitor="val_loss", mode="min", *,
                 conditioning: bool = True, skip_receptive_field: bool = False) -> None:
        super().__init__(model, optim, scheduler, monitor, mode)
        if not hasattr(self.model, "n_classes") or not hasattr(self.model, "receptive_field"):
            raise ConfigError(f"model {model['name']!r}", "is not a WaveNet", "use model: {name: wavenet, ...}")
        self.conditioning, self.skip = conditioning, skip_receptive_field

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None = None,  # type: ignore[override]
                speaker: torch.Tensor | None = None) -> torch.Tensor:
        """Logits (B, L, n_classes) for ids x (B, L); ``logits[:, t]`` predicts ``x[:, t + 1]``."""
        return self.model(x, cond, speaker)

    def compute(self, batch: dict[str, Any], stage: str) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        gaussian = getattr(self.model, "output", "mulaw") == "gaussian"
        x = batch["x"].float() if gaussian else batch["x"].long()
        cond = batch.get("cond") if self.conditioning else None
        speaker = batch.get("speaker") if self.conditioning else None
        logits = self(x, cond, speaker)
        start = self.model.receptive_field - 1 if self.skip else 0
        if gaussian:
            return self._gaussian(x, logits[:, start:-1], start)
        pred, target = logits[:, start:-1], x[:, start + 1:]
        if target.numel() == 0:
            raise ConfigError("task 'wavenet'", f"segments of {x.shape[1]} samples leave nothing to predict",
                              "use longer segments or skip_receptive_field: false")
        loss = F.cross_entropy(pred.reshape(-1, pred.shape[-1]), target.reshape(-1))
        acc = (pred.detach().argmax(-1) == target).float().mean()
        return loss, {"acc": acc, "bits": loss.detach() / math.log(2.0)}

    @staticmethod
    def _gaussian(x: torch.Tensor, pred: torch.Tensor, start: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Gaussian NLL of samples ``x[:, start + 1:]`` under ``pred`` (B, L', 2) = (μ, log σ); metrics."""
        from speechdl.nn.wavenet import gaussian_nll

        target = x[:, start + 1:]
        if target.numel() == 0:
            raise ConfigError("task 'wavenet'", f"segments of {x.shape[1]} samples leave nothing to predict",
                              "use longer segments or skip_receptive_field: false")
        loss = gaussian_nll(target, pred[..., 0], pred[..., 1]).mean()
        return loss, {"mae": (target - pred[..., 0]).abs().mean().detach(), "log_sigma": pred[..., 1].mean().detach()}

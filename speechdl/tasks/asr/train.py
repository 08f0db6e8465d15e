"""ASR training tasks (Lightning): ``asr_ctc`` (Deep Speech 2) and ``asr_joint`` (attention + CTC).

The networks they train are in :mod:`speechdl.tasks.asr.net` (what the bundle holds; inference never
imports this module).

Batches (``asr_utts``, padded by the engine): ``x (B, T, F)``, ``lengths (B,)``, ``y (B, U)`` token ids
padded with -100.

* Before a fresh fit the task takes the tokenizer of the training dataset (its vocabulary must match
  ``model.vocab_size``) and fits the model's global CMVN on up to ``cmvn_utts`` clean training
  utterances. The tokenizer and front-end are stored in every checkpoint (``checkpoint["asr"]``), so
  ``speechdl asr export`` needs nothing else.
* ``asr_ctc`` loss: CTC (blank 0), summed over an utterance and averaged over the batch.
  ``asr_joint`` loss: ``ctc_weight * CTC + (1 - ctc_weight) * CE`` (teacher-forced attention,
  optional label smoothing), both per target token; ``ctc_weight=0`` trains plain attention.
* Metrics: ``train/val_loss``; in validation ``val_cer`` and ``val_wer`` of greedy decoding (CTC greedy
  for ``asr_ctc``; attention greedy on the first ``decode_batches`` batches for ``asr_joint``).
* ``average: N`` keeps the N best checkpoints by the monitored metric in ``checkpoints/top/``;
  ``speechdl asr export`` averages them.

Example recipe::

    task: {name: asr_ctc, average: 5}
    model: {name: deepspeech2, in_dim: 80, vocab_size: 30}
    data: {name: asr_utts, manifests: [...], val_manifests: ..., max_batch_seconds: 160}
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from speechdl.errors import ConfigError
from speechdl.metrics.wer import errors
from speechdl.tasks.asr.decode import ctc_greedy
from speechdl.tasks.asr.net import fit_cmvn
from speechdl.tasks.asr.tokens import CharTokenizer, tokenizer_from_dict
from speechdl.train.tasks import TaskModule, register_task
from speechdl.train.tasks_seq2seq import targets_with_eos


def ctc_loss(log_probs: torch.Tensor, out_lengths: torch.Tensor, y: torch.Tensor,
             per_token: bool = False) -> torch.Tensor:
    """CTC of ``(B, T', V)`` log-probabilities against ``(B, U)`` ids padded with negatives: summed per
    utterance and averaged over the batch, or (``per_token``) divided by the number of target tokens."""
    y = y.long()
    target_lengths = (y >= 0).sum(1)
    loss = F.ctc_loss(log_probs.float().transpose(0, 1), y.clamp_min(0), out_lengths.long(), target_lengths,
                      blank=0, reduction="sum", zero_infinity=True)
    return loss / max(1, int(target_lengths.sum()) if per_token else y.shape[0])


class ASRTask(TaskModule):
    """Shared part of the ASR tasks: tokenizer, CMVN fitting, error-rate bookkeeping, top-k checkpoints."""

    def __init__(self, model, optim=None, scheduler=None, monitor="val_loss", mode="min", *,
                 cmvn_utts: int = 200, average: int = 0) -> None:
        super().__init__(model, optim, scheduler, monitor, mode)
        self.cmvn_utts, self.average = cmvn_utts, average
        self.tokenizer: Any = CharTokenizer()
        self.frontend: dict[str, Any] | None = None
        self._counts = torch.zeros(4, dtype=torch.float64)   # char errors, chars, word errors, words

    # -- data-dependent set-up -----------------------------------------------------------------
    def _train_dataset(self) -> Any:
        dm = getattr(self.trainer, "datamodule", None)
        data = getattr(dm, "train_set", None)
        while data is not None and not hasattr(data, "tokenizer") and hasattr(data, "dataset"):
            data = data.dataset
        return data

    def on_fit_start(self) -> None:
        super().on_fit_start()
        data = self._train_dataset()
        if data is None or not hasattr(data, "tokenizer"):
            return
        self.tokenizer = data.tokenizer
        self.frontend = data.cfg.to_dict() if hasattr(data, "cfg") else None
        vocab = int(self.hparams["model"].get("vocab_size", getattr(self.model, "vocab_size", 0)))
        if vocab != self.tokenizer.vocab_size:
            raise ConfigError("model.vocab_size", f"is {vocab} but the {self.tokenizer.kind} tokenizer has "
                              f"{self.tokenizer.vocab_size} ids", f"set model.vocab_size={self.tokenizer.vocab_size}")
        if self.trainer.ckpt_path is None and not self.init_from and self.cmvn_utts > 0 and hasattr(data, "wave"):
            n = min(len(data), self.cmvn_utts)
            fit_cmvn(self.model, [data.features(data.wave(i)) for i in range(n)])

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["asr"] = {"tokenizer": self.tokenizer.to_dict(), "frontend": self.frontend}

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        meta = checkpoint.get("asr") or {}
        if meta.get("tokenizer"):
            self.tokenizer = tokenizer_from_dict(meta["tokenizer"])
        self.frontend = meta.get("frontend")

    def configure_callbacks(self):
        if not self.average:
            return []
        from speechdl.train.averaging import TOP_DIR, TopKCheckpoint

        root = Path(self.trainer.default_root_dir) / "checkpoints" / TOP_DIR
        return [TopKCheckpoint(root, self.average, self.monitor, self.mode)]

    # -- error rates ---------------------------------------------------------------------------
    def _score(self, y: torch.Tensor, hyps: list[list[int]]) -> None:
        for ref_ids, hyp in zip(y.tolist(), hyps):
            ref = self.tokenizer.decode([i for i in ref_ids if i >= 0])
            hyp_text = self.tokenizer.decode(hyp)
            c, w = errors(ref, hyp_text, "char"), errors(ref, hyp_text, "word")
            self._counts += torch.tensor([c["errors"], c["ref_len"], w["errors"], w["ref_len"]], dtype=torch.float64)

    def on_validation_epoch_start(self) -> None:
        self._counts.zero_()
        self._decoded = 0

    def on_validation_epoch_end(self) -> None:
        counts = self._counts.to(self.device, torch.float32)
        if self.trainer is not None and self.trainer.world_size > 1:
            counts = self.trainer.strategy.reduce(counts, reduce_op="sum")
        if float(counts[1]) > 0:
            self.log("val_cer", counts[0] / counts[1], prog_bar=True)
            self.log("val_wer", counts[2] / counts[3].clamp_min(1))


@register_task("asr_ctc")
class CTCTask(ASRTask):
    """CTC training of a model returning ``(log_probs (B, T', V), lengths (B,))`` (``deepspeech2``).

    Args (recipe ``task:`` keys): ``cmvn_utts`` (utterances for the global CMVN; 0, or a run that
    starts from ``init_from``: keep the model's),
    ``average`` (keep this many best checkpoints for averaging).
    """

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None):  # type: ignore[override]
        """``(B, T, F)`` -> ``(log_probs (B, T', V), lengths (B,))``."""
        return self.model(x, lengths)

    def compute(self, batch: dict[str, torch.Tensor], stage: str) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        logp, n = self(batch["x"], batch.get("lengths"))
        loss = ctc_loss(logp, n, batch["y"])
        if stage == "val":
            self._score(batch["y"], ctc_greedy(logp.detach(), n))
        return loss, {}


@register_task("asr_joint")
class JointTask(ASRTask):
    """Joint CTC + attention training of ``las`` (``loss = ctc_weight * CTC + (1 - ctc_weight) * CE``).

    Args (recipe ``task:`` keys): ``ctc_weight`` (λ in [0, 1]), ``label_smoothing``,
    ``teacher_forcing`` (overrides the model's ratio in training), ``decode_batches`` (validation
    batches decoded greedily for ``val_cer``), ``max_decode_len``, and those of ``asr_ctc``.
    """

    def __init__(self, model, optim=None, scheduler=None, monitor="val_loss", mode="min", *,
                 ctc_weight: float = 0.3, label_smoothing: float = 0.0, teacher_forcing: float | None = None,
                 decode_batches: int = 4, max_decode_len: int = 200, cmvn_utts: int = 200, average: int = 0) -> None:
        super().__init__(model, optim, scheduler, monitor, mode, cmvn_utts=cmvn_utts, average=average)
        if not 0.0 <= ctc_weight <= 1.0:
            raise ConfigError("task.ctc_weight", f"must lie in [0, 1], got {ctc_weight}", "e.g. 0.3")
        if ctc_weight > 0 and getattr(self.model, "ctc_head", None) is None:
            raise ConfigError(f"model {model['name']!r}", "has no CTC head for ctc_weight > 0",
                              "use model: {name: las, ctc: true} or task.ctc_weight=0")
        self.ctc_weight, self.label_smoothing, self.teacher_forcing = ctc_weight, label_smoothing, teacher_forcing
        self.decode_batches, self.max_decode_len = decode_batches, max_decode_len
        self._decoded = 0

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> list[list[int]]:  # type: ignore[override]
        """Attention greedy transcription: ``(B, T, F)`` -> B id lists."""
        return self.model.greedy_decode(x, lengths, max_len=self.max_decode_len)

    def compute(self, batch: dict[str, torch.Tensor], stage: str) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        x, lengths, y = batch["x"], batch.get("lengths"), batch["y"]
        targets, _ = targets_with_eos(y, self.model.eos_id, self.model.pad_id)
        ratio = self.teacher_forcing if stage == "train" else 1.0
        out = self.model(x, lengths, targets, teacher_forcing=ratio)
        att = self.model.loss(out["logits"], targets, self.label_smoothing)
        keep = targets != self.model.pad_id
        metrics = {"acc": (out["logits"].detach().argmax(-1)[keep] == targets[keep]).float().mean(),
                   "att": att.detach()}
        loss = att
        if self.ctc_weight > 0:
            ctc = ctc_loss(out["ctc_log_probs"], out["enc_lengths"], y, per_token=True)  # on the CE's scale
            metrics["ctc"] = ctc.detach()
            loss = self.ctc_weight * ctc + (1 - self.ctc_weight) * att
        if stage == "val" and self._decoded < self.decode_batches:
            self._score(y, self.model.greedy_decode(x, lengths, max_len=self.max_decode_len))
            self._decoded += 1
        return loss, metrics

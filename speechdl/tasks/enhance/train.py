"""The ``enhance`` training task (Lightning): spectral and SI-SDR losses on the enhanced waveform.

The loss compares the enhanced and clean signals through the network's own STFT (20 ms / 10 ms):
``spectral`` weights the compressed-magnitude and compressed-complex mean squared errors (``|X| ** compress``,
0.7 / 0.3, as DeepFilterNet and PercepNet do: the compression weighs the quiet parts that PESQ hears),
``si_sdr`` weights ``-SI-SDR`` in dB. The input normalisation of the network (its ``norm`` buffers) is
measured on ``norm_items`` training mixtures before a fresh run starts. Validation logs ``val_si_sdr``
and ``val_si_sdri`` (improvement over the mixture), in dB.

Example:
    >>> import torch
    >>> task = EnhanceTask({"name": "enhance_gru", "bands": 8, "hidden": 16, "layers": 1})
    >>> x, y = torch.randn(2, 3200), torch.randn(2, 3200)
    >>> loss, metrics = task.compute({"x": x, "target": y}, "val")
    >>> bool(loss > 0), sorted(metrics)
    (True, ['si_sdr', 'si_sdri'])
"""

from __future__ import annotations

import torch

from speechdl.metrics.quality import si_sdr
from speechdl.train.tasks import TaskModule, register_task


def spectral_loss(model: torch.nn.Module, est: torch.Tensor, ref: torch.Tensor, compress: float = 0.3,
                  eps: float = 1e-8) -> torch.Tensor:
    """0.7 MSE of compressed magnitudes + 0.3 MSE of compressed complex spectra, ``(B, N)`` signals."""
    er, ei = model.analysis(est)
    cr, ci = model.analysis(ref)
    em = (er * er + ei * ei + eps).sqrt()
    cm = (cr * cr + ci * ci + eps).sqrt()
    emc, cmc = em ** compress, cm ** compress
    mag = torch.mean((emc - cmc) ** 2)
    cplx = torch.mean((er * emc / em - cr * cmc / cm) ** 2 + (ei * emc / em - ci * cmc / cm) ** 2)
    return 0.7 * mag + 0.3 * cplx


@register_task("enhance")
class EnhanceTask(TaskModule):
    """Mask-based enhancement: batch ``x`` noisy ``(B, N)``, ``target`` clean ``(B, N)``.

    Task keys: ``spectral`` (weight of :func:`spectral_loss`, scaled by 100), ``si_sdr`` (weight of
    ``-SI-SDR / 10``), ``compress`` (magnitude exponent), ``norm_items`` (mixtures measured for the input
    normalisation).
    """

    def __init__(self, model, optim=None, scheduler=None, monitor="val_loss", mode="min", *,
                 spectral: float = 1.0, si_sdr: float = 0.1, compress: float = 0.3, norm_items: int = 64) -> None:
        super().__init__(model, optim, scheduler, monitor, mode)
        self.w_spec, self.w_sisdr, self.compress, self.norm_items = spectral, si_sdr, compress, norm_items

    @torch.no_grad()
    def fit_norm(self, data) -> None:
        """Measure the network's input normalisation on up to ``norm_items`` items of ``data``."""
        feats = []
        for i in range(min(len(data), self.norm_items)):
            x = torch.as_tensor(data[i]["x"]).float()[None]
            feats.append(self.model.features(*self.model.analysis(x))[0])
        if feats:
            self.model.norm.fit(torch.cat(feats))

    def on_fit_start(self) -> None:
        super().on_fit_start()
        if self.trainer.ckpt_path is not None or getattr(self, "init_from", None):
            return
        dm = getattr(self.trainer, "datamodule", None)
        data = getattr(dm, "train_set", None)
        if data is not None:
            self.fit_norm(data)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """Noisy ``(B, N)`` -> enhanced ``(B, N)``."""
        return self.model(x)

    def compute(self, batch, stage):
        x, y = batch["x"], batch["target"]
        est = self(x)
        loss = torch.zeros((), device=x.device)
        if self.w_spec:
            loss = loss + self.w_spec * 100 * spectral_loss(self.model, est, y, self.compress)
        sdr = si_sdr(y, est)
        if self.w_sisdr:
            loss = loss - self.w_sisdr * sdr.mean() / 10
        metrics = {}
        if stage == "val":
            with torch.no_grad():
                metrics = {"si_sdr": sdr.mean(), "si_sdri": (sdr - si_sdr(y, x)).mean()}
        return loss, metrics

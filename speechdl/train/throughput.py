"""Training throughput of a recipe: audio per wall-clock hour, FLOPs per step and the share of the matmul peak.

:func:`measure_training` builds a recipe's task module, optimizer and training batches exactly as
``speechdl train`` does (same dataset, augmentation and batching; no validation set), then times
``steps`` optimizer steps (forward, loss, backward, gradient clipping, optimizer step) after ``warmup``
untimed ones, with ``threads`` torch threads. Batches are read before timing (their reading time is
reported on its own, so the compute rate and the end-to-end rate can both be given).

FLOPs are counted with ``torch.utils.flop_counter.FlopCounterMode`` on forward + backward of every timed
batch (matrix products and convolutions; element-wise work is not counted, the convention of "model
FLOPs"). On CPU ``nn.LSTM`` runs as ``aten.mkldnn_rnn_layer``, which the counter does not know:
:data:`RNN_FLOPS` adds it (``2 x positions x gates x hidden x (input + hidden)`` forward, twice that
backward). Audio per batch is the valid feature frames (``lengths``) x the front-end's hop.

Example:
    >>> r = measure_training("recipes/asr/toy_ctc.yaml", steps=2, warmup=1, threads=1)
    >>> r["seconds_per_step"] > 0 and 0 <= r["peak_fraction"] < 1
    True
"""

from __future__ import annotations

import itertools
import os
import time
from typing import Any

import torch

PEAK_GFLOPS_PER_THREAD = 171.0   # torch sgemm fp32, 1 thread, measured on the 2-core machine (shared/PERF.md)


def _rnn_forward_flops(input_shape, w_ih_shape, w_hh_shape) -> int:
    positions = 1
    for d in input_shape[:-1]:
        positions *= int(d)
    return 2 * positions * int(w_ih_shape[0]) * (int(w_ih_shape[1]) + int(w_hh_shape[1]))


def _mkldnn_rnn_layer(input, weight0, weight1, *args: Any, out_shape=None, **kwargs: Any) -> int:  # noqa: A002
    return _rnn_forward_flops(input, weight0, weight1)


def _mkldnn_rnn_layer_backward(input, weight1, weight2, *args: Any, out_shape=None, **kwargs: Any) -> int:  # noqa: A002
    return 2 * _rnn_forward_flops(input, weight1, weight2)   # gradients of the inputs and of the weights


RNN_FLOPS = {torch.ops.aten.mkldnn_rnn_layer: _mkldnn_rnn_layer,
             torch.ops.aten.mkldnn_rnn_layer_backward: _mkldnn_rnn_layer_backward}


def count_flops(fn, *args: Any) -> int:
    """FLOPs (multiply-add = 2) of ``fn(*args)`` under ``FlopCounterMode`` with :data:`RNN_FLOPS` added."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False, custom_mapping=RNN_FLOPS)
    with counter:
        fn(*args)
    return int(counter.get_total_flops())


def measure_training(recipe: str | os.PathLike, steps: int = 10, warmup: int = 2, threads: int = 2,
                     overrides: list[str] | tuple[str, ...] = (), manifests: list[str] | None = None,
                     peak_gflops_per_thread: float = PEAK_GFLOPS_PER_THREAD) -> dict[str, Any]:
    """Time ``steps`` training steps of ``recipe`` (``key=value`` ``overrides``; ``manifests`` replaces
    ``data.manifests``) on ``threads`` threads. Returns audio hours per hour (compute only, and with
    batch reading), wall and process CPU seconds per step (CPU well below ``threads x`` wall: other jobs
    held the cores), GFLOP per step, GFLOP/s and the fraction of ``threads x peak_gflops_per_thread``."""
    from speechdl.errors import DataError
    from speechdl.train.components import check_components
    from speechdl.train.config import RecipeConfig
    from speechdl.train.datamodule import RecipeDataModule, dataset_attr
    from speechdl.train.optim import as_dict, build_optimizer
    from speechdl.train.tasks import task_class

    cfg = RecipeConfig.load(recipe, overrides)
    check_components(cfg)
    kwargs = {k: v for k, v in cfg.data.kwargs.items() if k != "val_manifests"}
    kwargs["val_fraction"] = 0.0
    if manifests:
        kwargs["manifests"] = list(manifests)
    torch.manual_seed(cfg.trainer.seed)
    module = task_class(cfg.task.name)(model=cfg.model.to_dict(), optim=as_dict(cfg.optim),
                                       scheduler=as_dict(cfg.scheduler), **cfg.task.kwargs).train()
    opt = build_optimizer(module.parameters(), as_dict(cfg.optim))
    data = RecipeDataModule(cfg.data.name, kwargs, cfg.trainer.batch_size, 0, cfg.trainer.seed)
    data.setup("fit")
    frontend = dataset_attr(data.train_set, "cfg")
    frame_s = frontend.hop_length / frontend.sample_rate if frontend is not None else 0.01

    t0 = time.perf_counter()
    loader = data.train_dataloader()
    batches = list(itertools.islice(itertools.chain.from_iterable(itertools.repeat(loader, warmup + steps)),
                                    warmup + steps))
    load_s = (time.perf_counter() - t0) / max(1, len(batches))
    if not batches or "lengths" not in batches[0]:
        raise DataError(recipe, "no sequence batches (x with lengths) to time", "use a recipe with sequence data")

    def forward_backward(batch: dict[str, torch.Tensor]) -> None:
        loss, _ = module.compute(batch, "train")
        loss.backward()

    def step(batch: dict[str, torch.Tensor]) -> None:
        opt.zero_grad(set_to_none=True)
        forward_backward(batch)
        if cfg.trainer.grad_clip:
            torch.nn.utils.clip_grad_norm_(module.parameters(), cfg.trainer.grad_clip)
        opt.step()

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        for b in batches[:warmup]:
            step(b)
        timed = batches[warmup:]
        flops = [count_flops(forward_backward, b) for b in timed]
        opt.zero_grad(set_to_none=True)
        t0, c0 = time.perf_counter(), time.process_time()
        for b in timed:
            step(b)
        compute_s, cpu_s = time.perf_counter() - t0, time.process_time() - c0
    finally:
        torch.set_num_threads(before)
    audio_s = sum(float(b["lengths"].sum()) * frame_s for b in timed)
    gflops = sum(flops) / 1e9
    peak = threads * peak_gflops_per_thread
    return {
        "recipe": str(recipe), "model": cfg.model.name, "task": cfg.task.name,
        "params": sum(p.numel() for p in module.parameters()), "threads": threads, "steps": len(timed),
        "warmup": warmup, "batch_items": sum(len(b["lengths"]) for b in timed) / len(timed),
        "batch_audio_seconds": audio_s / len(timed), "seconds_per_step": compute_s / len(timed),
        "cpu_seconds_per_step": cpu_s / len(timed),
        "load_seconds_per_step": load_s, "hours_per_hour": audio_s / compute_s,
        "hours_per_hour_with_loading": audio_s / (compute_s + load_s * len(timed)),
        "gflop_per_step": gflops / len(timed), "gflops": gflops / compute_s,
        "peak_gflops": peak, "peak_fraction": gflops / compute_s / peak,
    }

"""Exact resume inside an epoch: the training loader's position, the random streams, the data's counters.

Lightning saves weights, optimizer, scheduler and loop counters. To continue an interrupted run so
that it ends with the *same* metrics as an uninterrupted one, a checkpoint must also hold what decides
the next batches and the next random numbers. :class:`ResumableLoader` (the training ``DataLoader`` of
:class:`~speechdl.train.datamodule.RecipeDataModule`) gives that state (saved in the checkpoint under
``callbacks.FaultTolerance.loader``):

- ``epoch`` and ``position``: batches of this epoch already handed to the training loop. A resumed
  run skips exactly those (same seeded epoch order, same batches, same order); a checkpoint written
  at the end of an epoch resumes at the start of the next one.
- ``rng``: the global torch (and CUDA), NumPy and Python random states when the checkpoint was
  written (dropout, SpecAugment, anything drawing from the global generators). They are put back
  right before the next batch is fetched (mid-epoch), or before the next epoch's iterator is made
  (at an epoch end, where an uninterrupted run draws its iterator seed).
- ``data``: the datasets' own random state (train and validation sets): ``state_dict()`` where a
  dataset defines it, else its integer draw counter ``_draws`` (the task datasets seed each item's
  generator from ``(seed, index, draws)``).

With ``num_workers > 0`` the workers' generators cannot be carried over, so every batch is fetched
with seeds derived from ``(seed, epoch, batch position)`` (global torch/NumPy/Python generators and
the dataset's draw counter, or its ``reseed(n)`` method): the data a batch gets no longer depends on
which worker made it nor on where a run was resumed.

Example:
    >>> import torch
    >>> from torch.utils.data import BatchSampler, SequentialSampler, TensorDataset
    >>> ds = TensorDataset(torch.arange(10.0))
    >>> loader = ResumableLoader(ds, BatchSampler(SequentialSampler(ds), 3, False))
    >>> it = iter(loader); _ = next(it); _ = next(it)          # two batches trained, then a checkpoint
    >>> state = loader.checkpoint_state()
    >>> again = ResumableLoader(ds, BatchSampler(SequentialSampler(ds), 3, False))
    >>> again.resume_from(state)                               # what a resumed run does
    >>> [b[0].tolist() for b in again]                         # only the rest of the epoch
    [[6.0, 7.0, 8.0], [9.0]]
"""

from __future__ import annotations

import random
import signal
from collections.abc import Iterator
from itertools import islice
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from speechdl.errors import ConfigError

STATE_VERSION = 1


# ------------------------------------------------------------------------------------------------
# random streams
def capture_rng() -> dict[str, Any]:
    """The global random states (torch CPU, CUDA when initialised, NumPy, Python) as checkpoint-safe values."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {"kind": str(kind), "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "gauss": float(gauss)},
        "python": random.getstate(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    """Put back what :func:`capture_rng` returned."""
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state((n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["gauss"]))
    py = state["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def derived_seed(*parts: int) -> int:
    """A 63-bit seed mixed from integers (``(seed, epoch, position)``): distinct inputs, unrelated streams."""
    return int(np.random.SeedSequence([int(p) & 0xFFFFFFFFFFFF for p in parts]).generate_state(2, np.uint64)[0] >> 1)


# ------------------------------------------------------------------------------------------------
# the datasets' own state
def dataset_layers(*datasets: Dataset | None) -> list[Any]:
    """Every distinct object of ``datasets`` and of what they wrap (``.dataset`` chains, e.g. ``Subset``)."""
    seen: dict[int, Any] = {}
    for ds in datasets:
        while ds is not None and id(ds) not in seen:
            seen[id(ds)] = ds
            ds = getattr(ds, "dataset", None)
    return list(seen.values())


def capture_data(layers: list[Any]) -> list[Any]:
    """Per layer: its ``state_dict()`` if it defines one, its integer ``_draws`` counter, or None."""
    out: list[Any] = []
    for layer in layers:
        if callable(getattr(layer, "state_dict", None)) and callable(getattr(layer, "load_state_dict", None)):
            out.append({"state_dict": layer.state_dict()})
        elif isinstance(getattr(layer, "_draws", None), int):
            out.append({"draws": layer._draws})
        else:
            out.append(None)
    return out


def restore_data(layers: list[Any], states: list[Any]) -> None:
    """Put back what :func:`capture_data` returned (layers in the same order)."""
    for layer, state in zip(layers, states):
        if not state:
            continue
        if "state_dict" in state:
            layer.load_state_dict(state["state_dict"])
        elif "draws" in state:
            layer._draws = int(state["draws"])


def reseed_batch(seed: int, epoch: int, position: int, layers: list[Any]) -> None:
    """Seed a worker's generators and the dataset's draw counter for batch ``position`` of ``epoch``."""
    s = derived_seed(seed, epoch, position)
    torch.manual_seed(s)
    np.random.seed(s % 2**32)
    random.seed(s)
    for layer in layers:
        if callable(getattr(layer, "reseed", None)):
            layer.reseed(s)
        elif isinstance(getattr(layer, "_draws", None), int):
            layer._draws = (epoch * 1_000_003 + position) * 100_000


# ------------------------------------------------------------------------------------------------
def _worker_init(worker_id: int) -> None:
    """Workers ignore Ctrl-C and SIGTERM sent to the whole process group: the main process decides when to
    stop (at the end of a step) and shuts them down; a worker that died first would fail that step."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


class _Batch(list):
    """A batch of indices that knows its epoch and position (read by :class:`SeededFetch` in a worker)."""

    epoch: int = 0
    position: int = 0


class SeededFetch(Dataset):
    """Wraps the training set when ``num_workers > 0``: each batch is fetched with derived seeds."""

    def __init__(self, dataset: Dataset, seed: int) -> None:
        self.dataset, self.seed = dataset, seed

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, i: int) -> Any:
        return self.dataset[i]

    def __getitems__(self, batch: list[int]) -> list[Any]:
        if isinstance(batch, _Batch):
            reseed_batch(self.seed, batch.epoch, batch.position, dataset_layers(self.dataset))
        return [self.dataset[i] for i in batch]


class EpochBatches(Sampler[list[int]]):
    """A batch sampler over ``batches`` (``BatchSampler`` or a bucket sampler) that can start mid-epoch.

    ``set_epoch`` is forwarded; ``skip`` batches are dropped from the next iteration only (then reset).
    ``keyed``: yield :class:`_Batch` lists carrying ``(epoch, position)`` for :class:`SeededFetch`.
    """

    def __init__(self, batches: Sampler[list[int]], keyed: bool = False) -> None:
        self.batches, self.keyed, self.epoch, self.skip = batches, keyed, 0, 0
        self.sampler = _EpochHook(self)   # Lightning calls ``batch_sampler.sampler.set_epoch``

    def set_epoch(self, epoch: int) -> None:
        if epoch != self.epoch:
            self.skip = 0
        self.epoch = epoch
        for obj in (self.batches, getattr(self.batches, "sampler", None)):
            if callable(getattr(obj, "set_epoch", None)) and not isinstance(obj, _EpochHook):
                obj.set_epoch(epoch)

    def __len__(self) -> int:
        return len(self.batches)

    def __iter__(self) -> Iterator[list[int]]:
        skip, self.skip = self.skip, 0
        for position, batch in enumerate(islice(iter(self.batches), skip, None), start=skip):
            if self.keyed:
                batch = _Batch(batch)
                batch.epoch, batch.position = self.epoch, position
            yield batch


class _EpochHook:
    def __init__(self, owner: EpochBatches) -> None:
        self.owner = owner

    def set_epoch(self, epoch: int) -> None:
        self.owner.set_epoch(epoch)


class ResumableLoader(DataLoader):
    """The training ``DataLoader``: it can stop and resume mid-epoch exactly (see the module doc).

    :meth:`checkpoint_state` and :meth:`resume_from` are called by
    :class:`~speechdl.train.faults.FaultTolerance` when a checkpoint is written and on resume (not through
    Lightning's stateful-loader hooks: a task that reads ``trainer.estimated_stepping_batches`` in
    ``configure_optimizers`` makes Lightning build the loader before it restores the loops, so those
    hooks never fire). The underlying iterator is created at the first ``next()``, so a state loaded any
    time before that still decides the epoch, the skipped batches and the random draws.

    Args:
        dataset: the training set. batches: a batch sampler (its ``set_epoch`` gives the epoch order).
        seed: of the per-batch worker seeds (``num_workers > 0``). extra_datasets: other datasets whose
            state travels with the checkpoint (the validation set). **kwargs: ``DataLoader`` arguments
            (``collate_fn``, ``num_workers``, ``persistent_workers``, ...), not ``batch_size``/``sampler``.
    """

    def __init__(self, dataset: Dataset, batches: Sampler[list[int]], seed: int = 0,
                 extra_datasets: tuple[Dataset | None, ...] = (), **kwargs: Any) -> None:
        workers = int(kwargs.get("num_workers", 0))
        if workers > 0:
            kwargs.setdefault("worker_init_fn", _worker_init)
        epoch_batches = EpochBatches(batches, keyed=workers > 0)
        super().__init__(SeededFetch(dataset, seed) if workers > 0 else dataset, batch_sampler=epoch_batches,
                         **kwargs)
        self.epoch_batches = epoch_batches
        self.layers = dataset_layers(dataset, *extra_datasets)
        self.position = 0                       # batches of the current epoch handed out so far
        self.pending: dict[str, Any] | None = None

    def checkpoint_state(self) -> dict[str, Any]:
        """Where the epoch stands and the random states now (when a checkpoint is written)."""
        return {"version": STATE_VERSION, "epoch": self.epoch_batches.epoch, "position": self.position,
                "num_batches": len(self), "rng": capture_rng(), "data": capture_data(self.layers)}

    def resume_from(self, state: dict[str, Any]) -> None:
        """Continue from ``state`` at the next iteration's first batch (a resumed run, before it trains)."""
        if state.get("version") != STATE_VERSION:
            return
        if int(state["num_batches"]) != len(self):
            raise ConfigError("checkpoint", f"was written with {state['num_batches']} batches per epoch, the recipe "
                              f"now gives {len(self)} (batch size or data changed)",
                              "use the run's trainer.batch_size and data, or trainer.resume=false to start over")
        epoch, position = int(state["epoch"]), int(state["position"])
        if position >= len(self):
            epoch, position = epoch + 1, 0
        self.epoch_batches.set_epoch(epoch)
        self.epoch_batches.skip = position
        self.pending = {"rng": state["rng"], "data": state["data"], "position": position}

    def __iter__(self) -> Iterator[Any]:
        return _Lazy(self)


class _Lazy(Iterator[Any]):
    """Creates the ``DataLoader`` iterator at the first ``next()`` and counts the batches handed out.

    A pending resume state is applied there: at an epoch start before the iterator is made (it draws its
    seed from the global generator, as it did in the uninterrupted run), mid-epoch after it (the
    uninterrupted run made it at the epoch start) and before the first batch is fetched.
    """

    def __init__(self, owner: ResumableLoader) -> None:
        self.owner, self.inner = owner, None

    def __len__(self) -> int:
        return len(self.owner)

    def __next__(self) -> Any:
        owner = self.owner
        if self.inner is None:
            pending, owner.pending = owner.pending, None
            start = pending["position"] if pending else 0
            if pending and not start:
                _restore(owner, pending)
            self.inner = DataLoader.__iter__(owner)
            if pending and start:
                _restore(owner, pending)
            owner.position = start
        batch = next(self.inner)
        owner.position += 1
        return batch


def _restore(owner: ResumableLoader, pending: dict[str, Any]) -> None:
    restore_rng(pending["rng"])
    restore_data(owner.layers, pending["data"])

"""Duration-bucketed batches: utterances of similar length together, at most ``max_seconds`` of padded audio.

Sorting by duration before batching keeps padding small (a batch costs ``size x longest item``);
a budget in seconds instead of a fixed batch size keeps memory flat from short to long utterances.
Batches are fixed (formed once from the sorted order, so ``len`` is stable for schedulers); their
order is shuffled per epoch with a generator seeded by ``(seed, epoch)``, and data-parallel
processes get interleaved shares of equal length, as :class:`~speechdl.train.datamodule.ShardSampler`.

Recipe use: ``data: {max_batch_seconds: 120, ...}`` with a dataset that has a ``durations`` list
(seconds per item), e.g. ``asr_utts``; ``trainer.batch_size`` is then ignored.

Example:
    >>> s = BucketBatchSampler([1.0, 5.0, 1.2, 4.8, 2.0], max_seconds=5.0, shuffle=False)
    >>> list(s)
    [[0, 2], [4], [3], [1]]
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch
from torch.utils.data import Dataset, Sampler, Subset

from speechdl.errors import ConfigError


def item_durations(ds: Dataset) -> list[float]:
    """Per-item durations of a dataset with a ``durations`` attribute (through ``Subset`` wrappers)."""
    if isinstance(ds, Subset):
        inner = item_durations(ds.dataset)
        return [inner[i] for i in ds.indices]
    durations = getattr(ds, "durations", None)
    if durations is None:
        raise ConfigError("data.max_batch_seconds", f"dataset {type(ds).__name__} has no item durations",
                          "use trainer.batch_size with this dataset")
    return [float(d) for d in durations]


class BucketBatchSampler(Sampler[list[int]]):
    """Batches of item indices whose padded duration ``len(batch) * max(duration)`` is <= ``max_seconds``.

    Args:
        durations: seconds per item. max_seconds: budget per batch (an item longer than that is a
            batch of its own). max_items: cap on the batch size (None: no cap).
        shuffle: shuffle the batch order every epoch. seed: of that order.
        rank, world: this process's share when data-parallel.
    """

    def __init__(self, durations: Sequence[float], max_seconds: float, max_items: int | None = None,
                 shuffle: bool = True, seed: int = 0, rank: int = 0, world: int = 1) -> None:
        if max_seconds <= 0:
            raise ConfigError("data.max_batch_seconds", f"must be positive, got {max_seconds}", "e.g. 120")
        self.shuffle, self.seed, self.rank, self.world, self.epoch = shuffle, seed, rank, world, 0
        order = sorted(range(len(durations)), key=lambda i: (durations[i], i))
        self.batches: list[list[int]] = []
        batch: list[int] = []
        longest = 0.0
        for i in order:
            d = float(durations[i])
            if batch and ((len(batch) + 1) * max(longest, d) > max_seconds or len(batch) == (max_items or 1 << 62)):
                self.batches.append(batch)
                batch, longest = [], 0.0
            batch.append(i)
            longest = max(longest, d)
        if batch:
            self.batches.append(batch)
        self.sampler = _EpochSetter(self)   # Lightning sets the epoch on ``batch_sampler.sampler``

    def set_epoch(self, epoch: int) -> None:
        """Use the order of ``epoch`` (called at the start of every epoch)."""
        self.epoch = epoch

    def __len__(self) -> int:
        return -(-len(self.batches) // self.world)

    def __iter__(self) -> Iterator[list[int]]:
        n = len(self.batches)
        if self.shuffle:
            g = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
            order = torch.randperm(n, generator=g).tolist()
        else:
            order = list(range(n))
        total = len(self) * self.world
        order = (order * (total // max(n, 1) + 1))[:total] if n else []
        return iter([self.batches[k] for k in order[self.rank::self.world]])


class _EpochSetter:
    """What Lightning finds as ``batch_sampler.sampler``: forwards ``set_epoch`` to the batch sampler."""

    def __init__(self, owner: BucketBatchSampler) -> None:
        self.owner = owner

    def set_epoch(self, epoch: int) -> None:
        self.owner.set_epoch(epoch)

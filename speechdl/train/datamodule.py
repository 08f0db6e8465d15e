"""Batching for recipes: a padding collate and a ``LightningDataModule`` with a seeded split.

Batches are dicts: ``x`` ``(B, T, F)`` padded with zeros (or ``(B, F)`` for frame items), ``lengths``
``(B,)`` int64 (only for sequences), ``y`` ``(B,)`` or ``(B, T)`` (padded frame labels are
``ignore_index`` = -100 for integer labels, 0 for float ones), ``target`` padded like ``x``.

Example:
    >>> import torch
    >>> b = pad_collate([{"x": torch.ones(3, 2), "y": torch.tensor(1)}, {"x": torch.ones(5, 2), "y": torch.tensor(0)}])
    >>> b["x"].shape, b["lengths"].tolist()
    (torch.Size([2, 5, 2]), [3, 5])
"""

from __future__ import annotations

from typing import Any

import lightning as L
import torch
from torch.utils.data import BatchSampler, DataLoader, Dataset, Sampler, Subset

from speechdl.errors import ConfigError, DataError
from speechdl.train.datasets import build_dataset
from speechdl.train.resume import ResumableLoader

IGNORE_INDEX = -100
# recipe ``data:`` keys consumed by the data module; everything else goes to the dataset constructor
SPLIT_KEYS = {"val_fraction": 0.2, "shuffle": True, "drop_last": False, "max_batch_seconds": None}


def _pad(tensors: list[torch.Tensor], value: float) -> torch.Tensor:
    return torch.nn.utils.rnn.pad_sequence(tensors, batch_first=True, padding_value=value)


def pad_collate(items: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Stack items of equal shape; pad variable-length ``(T, ...)`` items and add ``lengths``."""
    batch: dict[str, torch.Tensor] = {}
    xs = [it["x"] for it in items]
    sequences = xs[0].dim() >= 2
    for key in items[0]:
        vals = [torch.as_tensor(it[key]) for it in items]
        if len({v.shape for v in vals}) == 1:
            batch[key] = torch.stack(vals)
        else:
            pad = IGNORE_INDEX if not vals[0].is_floating_point() else 0.0
            batch[key] = _pad(vals, 0.0 if key in ("x", "target") else pad)
    if sequences:
        batch["lengths"] = torch.tensor([x.shape[0] for x in xs], dtype=torch.long)
    return batch


def dataset_attr(ds: Any, name: str) -> Any:
    """Attribute ``name`` of a dataset, looked up through ``Subset`` (and other ``.dataset``) wrappers; None
    when no layer has it. E.g. the front-end (``cfg``) of a :class:`RecipeDataModule`'s ``train_set``."""
    while ds is not None and not hasattr(ds, name) and hasattr(ds, "dataset"):
        ds = ds.dataset
    return getattr(ds, name, None)


class ShardSampler(Sampler[int]):
    """This process's share of a seeded epoch order (the same on every process and every run).

    The order is ``randperm`` seeded by ``(seed, epoch)`` (or ``0..n-1`` without ``shuffle``), padded
    by wrapping to a multiple of ``world`` and dealt round-robin: rank ``r`` gets ``order[r::world]``.
    So a step of ``world`` processes × batch ``b`` sees exactly the items a single process sees with
    batch ``world × b``, and a resumed run sees the same epochs. Lightning calls :meth:`set_epoch`.
    """

    def __init__(self, n: int, seed: int = 0, shuffle: bool = True, rank: int = 0, world: int = 1) -> None:
        self.n, self.seed, self.shuffle, self.rank, self.world, self.epoch = n, seed, shuffle, rank, world, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return -(-self.n // self.world)

    def __iter__(self):
        if self.shuffle:
            g = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
            order = torch.randperm(self.n, generator=g).tolist()
        else:
            order = list(range(self.n))
        total = len(self) * self.world
        order = (order * (total // max(self.n, 1) + 1))[:total]
        return iter(order[self.rank::self.world])


class RecipeDataModule(L.LightningDataModule):
    """Train/val loaders for a registered dataset.

    ``data`` holds the dataset ``name`` and kwargs plus the split keys ``val_fraction`` (0.2),
    ``shuffle`` (True; the order is seeded, so runs repeat), ``drop_last`` (False) and
    ``max_batch_seconds`` (None: batches of ``batch_size`` items; a number: duration-bucketed batches
    of at most that much padded audio, :class:`~speechdl.train.bucketing.BucketBatchSampler`, for
    datasets with item ``durations``). The split is
    a seeded random permutation (``seed``), the same on every process and every run. Training
    batches come from a :class:`ShardSampler` (the trainer runs with ``use_distributed_sampler=False``)
    through a :class:`~speechdl.train.resume.ResumableLoader`, which a checkpoint can stop and resume
    mid-epoch exactly; every process validates on the whole validation set.
    """

    def __init__(self, name: str, kwargs: dict[str, Any], batch_size: int = 32, num_workers: int = 0,
                 seed: int = 0) -> None:
        super().__init__()
        self.name = name
        self.split = {k: kwargs.get(k, v) for k, v in SPLIT_KEYS.items()}
        self.ds_kwargs = {k: v for k, v in kwargs.items() if k not in SPLIT_KEYS}
        self.batch_size, self.num_workers, self.seed = batch_size, num_workers, seed
        self.train_set: Dataset | None = None
        self.val_set: Dataset | None = None

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None:
            return
        built = build_dataset(self.name, **self.ds_kwargs)
        if isinstance(built, tuple):
            self.train_set, self.val_set = built
        else:
            frac = float(self.split["val_fraction"])
            if not 0.0 <= frac < 1.0:
                raise ConfigError("data.val_fraction", f"expected a number in [0, 1), got {frac}", "e.g. 0.2")
            n = len(built)
            n_val = int(round(n * frac))
            if n - n_val < 1:
                raise DataError(f"data {self.name!r}", f"only {n} items", "use a larger dataset")
            perm = torch.randperm(n, generator=torch.Generator().manual_seed(self.seed)).tolist()
            self.train_set = Subset(built, perm[n_val:])
            self.val_set = Subset(built, perm[:n_val]) if n_val else None

    def train_dataloader(self) -> DataLoader:
        trainer = self.trainer
        rank, world = (trainer.global_rank, trainer.world_size) if trainer is not None else (0, 1)
        if self.split["max_batch_seconds"]:
            return self._bucketed(self.train_set, bool(self.split["shuffle"]), rank, world)
        sampler = ShardSampler(len(self.train_set), self.seed, bool(self.split["shuffle"]), rank, world)
        batches = BatchSampler(sampler, self.batch_size, drop_last=bool(self.split["drop_last"]))
        return ResumableLoader(self.train_set, batches, seed=self.seed, extra_datasets=(self.val_set,),
                               collate_fn=pad_collate, num_workers=self.num_workers,
                               persistent_workers=self.num_workers > 0)

    def val_dataloader(self) -> DataLoader | list:
        if self.val_set is None:
            return []
        if self.split["max_batch_seconds"]:
            return self._bucketed(self.val_set, False, 0, 1)
        return DataLoader(self.val_set, batch_size=self.batch_size, shuffle=False, collate_fn=pad_collate,
                          num_workers=self.num_workers)

    def _bucketed(self, ds: Dataset, shuffle: bool, rank: int, world: int) -> DataLoader:
        from speechdl.train.bucketing import BucketBatchSampler, item_durations

        sampler = BucketBatchSampler(item_durations(ds), float(self.split["max_batch_seconds"]), shuffle=shuffle,
                                     seed=self.seed, rank=rank, world=world)
        if ds is self.train_set:
            return ResumableLoader(ds, sampler, seed=self.seed, extra_datasets=(self.val_set,), collate_fn=pad_collate,
                                   num_workers=self.num_workers, persistent_workers=self.num_workers > 0)
        return DataLoader(ds, batch_sampler=sampler, collate_fn=pad_collate, num_workers=self.num_workers,
                          persistent_workers=self.num_workers > 0 and shuffle)
